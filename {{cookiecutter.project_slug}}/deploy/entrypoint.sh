#!/bin/sh
# Start the app in production: the container's command, or ExecStart of a systemd unit.
#
#   entrypoint.sh [all|web|worker]
#
# 1. Apply migrations under a PostgreSQL advisory lock (manage.py migrate_with_lock),
#    so several containers can start at once: one migrates, the others wait.
# 2. Replace this shell with what runs the app, which stops gracefully on TERM:
#      all     supervisord, running gunicorn and the task worker (deploy/supervisord.conf):
#              one container, or a VM (the default)
#      web     gunicorn alone (uvicorn workers): compose's web service, a Kubernetes
#              Deployment, scaled on their own
#      worker  the task worker alone: compose's worker service, its own Deployment
#
# Static files are not collected here: the image build runs collectstatic (they are
# the same for every container), and on a VM the deploy step does (docs/deployment.md).
set -eu

# The project is the directory above this script, and its virtualenv .venv, unless
# the environment says otherwise.
APP_DIR=${APP_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
VENV_DIR=${VENV_DIR:-$APP_DIR/.venv}
ROLE=${1:-all}
case $ROLE in
  all | web | worker) ;;
  *)
    echo "usage: $0 [all|web|worker] (got: $ROLE)" >&2
    exit 64
    ;;
esac
: "${SUPERVISOR_RUN_DIR:?set SUPERVISOR_RUN_DIR to a directory for supervisord socket and pid file}"
# supervisord must wait longer than gunicorn's graceful shutdown before it kills.
GUNICORN_GRACEFUL_TIMEOUT=${GUNICORN_GRACEFUL_TIMEOUT:-30}
WEB_STOP_WAIT_SECONDS=$((GUNICORN_GRACEFUL_TIMEOUT + 10))
export APP_DIR VENV_DIR SUPERVISOR_RUN_DIR GUNICORN_GRACEFUL_TIMEOUT WEB_STOP_WAIT_SECONDS

mkdir -p "$SUPERVISOR_RUN_DIR"
{%- if cookiecutter.metrics == "yes" %}
# Prometheus metrics: every process (gunicorn's workers, the task worker) writes its own
# files here and /metrics adds them up. Emptied at each start: counters begin at zero.
PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$SUPERVISOR_RUN_DIR/metrics}
rm -rf "$PROMETHEUS_MULTIPROC_DIR"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
export PROMETHEUS_MULTIPROC_DIR
{%- endif %}
cd "$APP_DIR"
"$VENV_DIR/bin/python" manage.py migrate_with_lock
case $ROLE in
  all) exec "$VENV_DIR/bin/supervisord" --configuration "$APP_DIR/deploy/supervisord.conf" ;;
  web) exec "$VENV_DIR/bin/gunicorn" --config "$APP_DIR/deploy/gunicorn.conf.py" ;;
  # No autoreload in production: a reload does not let the running task finish.
  worker) exec "$VENV_DIR/bin/python" manage.py run_worker --no-reload ;;
esac
