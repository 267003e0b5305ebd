#!/bin/sh
# The official nginx image's 20-envsubst-on-templates.sh, reduced to what the project
# relies on: /etc/nginx/templates/*.template rendered into /etc/nginx/conf.d/ with every
# set variable, so nginx's own $variables survive.
set -eu
template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
# Names from awk's ENVIRON, as the official script does: a value may span lines.
defined_envs=$(printf '${%s} ' $(awk 'END { for (name in ENVIRON) print name }' </dev/null))
[ -d "$template_dir" ] || exit 0
find "$template_dir" -follow -type f -name "*$suffix" | while read -r template; do
  relative="${template#"$template_dir/"}"
  output="$output_dir/${relative%"$suffix"}"
  mkdir -p "$(dirname "$output")"
  envsubst "$defined_envs" < "$template" > "$output"
done
