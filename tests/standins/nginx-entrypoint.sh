#!/bin/sh
# The official nginx image's start, as its docker-entrypoint.sh does it: every file in
# /docker-entrypoint.d/ in version order, *.envsh sourced and *.sh run, each only when
# executable (the official image skips the others, so the stand-in does too); then
# nginx. 20-envsubst-on-templates.sh (this image's copy of the official script's job)
# renders the templates, substituting only variables that are set.
set -eu
if [ "$1" = "nginx" ]; then
  find /docker-entrypoint.d/ -follow -type f -print | sort -V | while read -r script; do
    case "$script" in
      *.envsh)
        if [ -x "$script" ]; then . "$script"; else echo "Ignoring $script, not executable"; fi ;;
      *.sh)
        if [ -x "$script" ]; then "$script"; else echo "Ignoring $script, not executable"; fi ;;
      *) echo "Ignoring $script" ;;
    esac
  done
fi
exec "$@"
