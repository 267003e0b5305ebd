#!/bin/sh
# The certificate the proxy container serves. The nginx image runs this from
# /docker-entrypoint.d/ before nginx starts; it installs a certificate, then keeps
# checking in the background (every TLS_CHECK_SECONDS) and reloads nginx when the one to
# serve changes: a renewal, a newly mounted pair, a first Let's Encrypt certificate.
#
# The first of these that is usable is served:
#   1. files you mount: TLS_MOUNT_DIR/fullchain.pem and privkey.pem (compose: deploy/tls/);
#   2. Let's Encrypt's for TLS_DOMAIN, written by the certbot service (compose profile
#      "letsencrypt") under /etc/letsencrypt/live/;
#   3. a self-signed certificate for the names in TLS_SERVER_NAMES (ALLOWED_HOSTS),
#      generated here and kept in TLS_SELF_SIGNED_DIR (a volume), renewed before it expires.
# Usable: both files parse, and the key is the certificate's. When the first source whose
# files are there is not usable (a wrong key, a copy half done), it is logged and nginx
# keeps serving what it served; a lower source is never put in its place. A change is
# acted on once the files have stayed the same for one more check.
#
# The chosen pair is copied to NGINX_TLS_CERTIFICATE and NGINX_TLS_CERTIFICATE_KEY,
# where the nginx template reads it. On a VM, without this script, point those two at
# your files and let certbot's deploy hook reload nginx (docs/deployment.md).
set -eu
# Names like "*" are data, never file patterns.
set -f

MOUNT_DIR=${TLS_MOUNT_DIR:-/etc/nginx/tls}
LETSENCRYPT_DIR=/etc/letsencrypt/live/${TLS_DOMAIN:-}
SELF_SIGNED_DIR=${TLS_SELF_SIGNED_DIR:-/var/lib/nginx-tls}
CHECK_SECONDS=${TLS_CHECK_SECONDS:-60}
CERTIFICATE=${NGINX_TLS_CERTIFICATE:?set NGINX_TLS_CERTIFICATE}
CERTIFICATE_KEY=${NGINX_TLS_CERTIFICATE_KEY:?set NGINX_TLS_CERTIFICATE_KEY}
# A self-signed certificate is replaced when it has less than 30 days left.
RENEW_BEFORE_SECONDS=2592000

# To stderr: choose() prints its answer on stdout.
log() { echo "tls-certificate: $*" >&2; }

usable() {
  [ -s "$1" ] && [ -s "$2" ] || return 1
  if ! certificate_key=$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null); then
    log "$1 is not a PEM certificate: not served"
    return 1
  fi
  if ! private_key=$(openssl pkey -in "$2" -pubout 2>/dev/null); then
    log "$2 is not a PEM private key: not served"
    return 1
  fi
  if [ "$certificate_key" != "$private_key" ]; then
    log "$2 is not the key of $1: not served"
    return 1
  fi
}

# TLS_SERVER_NAMES (ALLOWED_HOSTS' syntax) as a subjectAltName: ".example.com" covers
# the domain and its subdomains, "*" and empty entries are skipped, IPs are IP entries.
subject_alt_names() {
  names=""
  for name in $(printf '%s' "${TLS_SERVER_NAMES:-localhost}" | tr ',' ' '); do
    name=$(printf '%s' "$name" | tr -d '[]')
    case $name in
      "*" | "") ;;
      .*) names="$names,DNS:${name#.},DNS:*$name" ;;
      *:*) names="$names,IP:$name" ;;
      *[!0-9.]*) names="$names,DNS:$name" ;;
      *) names="$names,IP:$name" ;;
    esac
  done
  printf '%s' "${names#,}"
}

self_signed() {
  names=$(subject_alt_names)
  names=${names:-DNS:localhost}
  certificate=$SELF_SIGNED_DIR/fullchain.pem
  key=$SELF_SIGNED_DIR/privkey.pem
  if [ "$(cat "$SELF_SIGNED_DIR/names" 2>/dev/null)" = "$names" ] \
    && openssl x509 -in "$certificate" -noout -checkend "$RENEW_BEFORE_SECONDS" >/dev/null 2>&1 \
    && usable "$certificate" "$key" 2>/dev/null; then
    return 0
  fi
  mkdir -p "$SELF_SIGNED_DIR" || return 1
  common_name=$(printf '%s' "$names" | sed -n 's/^[A-Z]*:\([^,]*\).*/\1/p' | cut -c1-64)
  if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -nodes -days 397 \
    -subj "/CN=$common_name" -addext "subjectAltName=$names" \
    -keyout "$key.new" -out "$certificate.new" 2>/dev/null; then
    log "could not generate a self-signed certificate for $names"
    return 1
  fi
  chmod 600 "$key.new" && mv "$key.new" "$key" && mv "$certificate.new" "$certificate" || return 1
  printf '%s' "$names" >"$SELF_SIGNED_DIR/names" || return 1
  log "generated a self-signed certificate for $names (browsers will warn; see docs/deployment.md)"
}

# The pair in directory $1, labelled $2: printed when usable, "keep" when its files are
# there but not usable; fails when neither file is there.
offer() {
  [ -e "$1/fullchain.pem" ] || [ -e "$1/privkey.pem" ] || return 1
  if usable "$1/fullchain.pem" "$1/privkey.pem"; then
    echo "$1/fullchain.pem $1/privkey.pem $2"
  else
    echo keep
  fi
}

offer_self_signed() {
  self_signed || return 1
  echo "$SELF_SIGNED_DIR/fullchain.pem $SELF_SIGNED_DIR/privkey.pem self-signed"
}

# Prints "certificate key source" for the pair to serve, or "keep" when the first source
# whose files are there is not usable. Fails when no certificate can be had at all.
choose() {
  offer "$MOUNT_DIR" mounted && return 0
  if [ -n "${TLS_DOMAIN:-}" ]; then
    offer "$LETSENCRYPT_DIR" letsencrypt && return 0
  fi
  offer_self_signed
}

# Copies the chosen pair where nginx reads it, keeping the one it replaces as *.previous.
# Returns 0 when what nginx serves changed, 1 when it did not, 2 when it could not.
install_chosen() {
  choice=$(choose) || return 2
  if [ "$choice" = keep ]; then
    if [ -s "$CERTIFICATE" ] && [ -s "$CERTIFICATE_KEY" ]; then
      log "keeping the certificate served until then"
      return 1
    fi
    # Nothing served yet (first start): self-signed, so that nginx starts at all.
    choice=$(offer_self_signed) || return 2
  fi
  set -- $choice
  if cmp -s "$1" "$CERTIFICATE" && cmp -s "$2" "$CERTIFICATE_KEY"; then
    return 1
  fi
  mkdir -p "$(dirname "$CERTIFICATE")" "$(dirname "$CERTIFICATE_KEY")" || return 2
  if [ -f "$CERTIFICATE" ]; then
    cp -p "$CERTIFICATE" "$CERTIFICATE.previous" && cp -p "$CERTIFICATE_KEY" "$CERTIFICATE_KEY.previous" || return 2
  fi
  cp "$1" "$CERTIFICATE.new" && (umask 077 && cp "$2" "$CERTIFICATE_KEY.new") || return 2
  mv "$CERTIFICATE_KEY.new" "$CERTIFICATE_KEY" && mv "$CERTIFICATE.new" "$CERTIFICATE" || return 2
  log "installed the $3 certificate: $(openssl x509 -in "$CERTIFICATE" -noout -subject -enddate | tr '\n' ' ')"
}

# Reloads nginx with the installed pair; when nginx refuses its configuration (the
# certificate, or anything else: a name it cannot resolve yet), puts the previous pair
# back and fails, so that the next check tries again.
reload() {
  if checked=$(nginx -t -q 2>&1) && nginx -s reload; then
    log "nginx reloaded"
    return 0
  fi
  log "nginx refused its configuration, so it keeps the previous certificate; trying again at the next check: $checked"
  mv "$CERTIFICATE.previous" "$CERTIFICATE"
  mv "$CERTIFICATE_KEY.previous" "$CERTIFICATE_KEY"
  return 1
}

# A fingerprint of every candidate file: the pairs are only examined again when it
# changes, so a bad mounted pair is reported once, not every few seconds.
candidates() {
  cat "$MOUNT_DIR/fullchain.pem" "$MOUNT_DIR/privkey.pem" \
    "$LETSENCRYPT_DIR/fullchain.pem" "$LETSENCRYPT_DIR/privkey.pem" 2>/dev/null | cksum
}

watch() {
  seen=""  # what start installed is compared again once: files may have changed since
  pending=""
  while sleep "$CHECK_SECONDS"; do
    now=$(candidates)
    if [ "$now" = "$seen" ]; then
      pending=""
    elif [ "$now" != "$pending" ]; then
      pending=$now  # changed: look again next time, in case a copy is under way
      continue
    fi
    expiring=0
    openssl x509 -in "$CERTIFICATE" -noout -checkend "$RENEW_BEFORE_SECONDS" >/dev/null 2>&1 || expiring=1
    if [ "$now" = "$seen" ] && [ "$expiring" = 0 ]; then
      continue
    fi
    seen=$now
    pending=""
    status=0
    install_chosen || status=$?
    case $status in
      0) reload || seen="" ;;
      2) log "could not install a certificate; nginx serves the one it had" ;;
    esac
  done
}

case ${1:-start} in
  start)
    status=0
    install_chosen || status=$?
    if [ "$status" = 2 ] && ! [ -s "$CERTIFICATE" ]; then
      log "no certificate to serve: nginx cannot start"
      exit 1
    fi
    # In the background, for as long as the container runs (nginx, PID 1, reaps it).
    "$0" watch &
    ;;
  watch) watch ;;
  *)
    echo "usage: $0 [start|watch]" >&2
    exit 2
    ;;
esac
