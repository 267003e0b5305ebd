#!/bin/sh
# Replicas of the app that come and go behind one name. nginx resolves the name in
# NGINX_UPSTREAM (compose's "web", a Kubernetes headless Service) once, when it loads its
# configuration, and balances over every address it got. The nginx image runs this from
# /docker-entrypoint.d/; it then looks the name up every NGINX_UPSTREAM_CHECK_SECONDS (5)
# in the background and reloads nginx when the addresses changed: a replica added by
# `docker compose up --scale web=N`, one removed, one restarted elsewhere. A reload is
# graceful: requests in flight finish on the old workers.
#
# Between a replica's end and the next check, nginx retries idempotent requests that
# fail to connect on another replica (proxy_next_upstream in the template), so no GET is
# lost meanwhile. nginx's own `resolve` parameter would do this without reloads, but only
# from nginx 1.27.3; this works with any version.
set -eu

CHECK_SECONDS=${NGINX_UPSTREAM_CHECK_SECONDS:-5}
upstream=${NGINX_UPSTREAM:-}
host=${upstream%:*}

log() { echo "upstream-replicas: $*" >&2; }

# The name's IPv4 addresses, sorted, on one line; empty when it does not resolve.
addresses() {
  getent ahostsv4 "$host" 2>/dev/null | awk '{ print $1 }' | sort -u | tr '\n' ' '
}

watch() {
  current=$(addresses)
  while sleep "$CHECK_SECONDS"; do
    now=$(addresses)
    # No address at all: every replica is gone for a moment (a restart). nginx keeps
    # the ones it had, since a reload now would fail on a name that does not resolve.
    if [ -z "$now" ] || [ "$now" = "$current" ]; then
      continue
    fi
    if checked=$(nginx -t -q 2>&1) && nginx -s reload; then
      log "$host is now ${now% }: nginx reloaded (was ${current% })"
      current=$now
    else
      log "$host is now ${now% }, but nginx did not reload; trying again at the next check: $checked"
    fi
  done
}

case ${1:-start} in
  start)
    case $upstream in
      # A socket or a literal address: nothing to look up.
      "" | unix:* | [0-9]*.[0-9]*.[0-9]*.[0-9]*:* | \[*) exit 0 ;;
    esac
    if ! command -v getent >/dev/null; then
      log "no getent in this image: replicas added after the start are not noticed"
      exit 0
    fi
    log "balancing over ${host}'s addresses: $(addresses)"
    # In the background, for as long as the container runs (nginx, PID 1, reaps it).
    "$0" watch &
    ;;
  watch) watch ;;
  *)
    echo "usage: $0 [start|watch]" >&2
    exit 2
    ;;
esac
