#!/bin/sh
# The official nginx image's template step: substitute only variables that are set in
# the environment, so nginx's own $variables survive.
set -eu
template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
defined_envs=$(printf '${%s} ' $(env | cut -d= -f1))
if [ -d "$template_dir" ]; then
  find "$template_dir" -follow -type f -name "*$suffix" | while read -r template; do
    relative="${template#"$template_dir/"}"
    output="$output_dir/${relative%"$suffix"}"
    mkdir -p "$(dirname "$output")"
    envsubst "$defined_envs" < "$template" > "$output"
  done
fi
exec "$@"
