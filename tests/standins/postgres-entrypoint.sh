#!/bin/sh
# The part of the official postgres entrypoint the compose file relies on: initialise
# PGDATA on first start from POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, then run
# the server as the postgres user, listening on every interface.
set -eu
if [ "$1" = "postgres" ]; then
  if [ "$(id -u)" = "0" ]; then
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    user="${POSTGRES_USER:-postgres}"
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    db="${POSTGRES_DB:-$user}"
    if [ "$db" != "postgres" ]; then
      pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
      createdb --username="$user" "$db"
      pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
  fi
  shift
  exec postgres -c listen_addresses='*' "$@"
fi
exec "$@"
