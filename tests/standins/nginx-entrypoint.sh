#!/bin/sh
# The official nginx image's start: source /docker-entrypoint.d/*.envsh, then render the
# templates, substituting only variables that are set, so nginx's own $variables survive.
set -eu
for script in /docker-entrypoint.d/*.envsh; do
  [ -f "$script" ] && . "$script"
done
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
