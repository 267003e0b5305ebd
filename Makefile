# The template's commands; CI (.ci/run) runs `make test`. `make` lists the targets.
.DEFAULT_GOAL := help
UV ?= uv
RUN := $(UV) run --locked
# pytest-xdist workers: two cores here; override with `make test JOBS=4`. Whole files go to
# one worker (--dist loadfile): a module's served project or compose stack starts once.
JOBS ?= 2

.PHONY: help install test lint docs lock bake screenshots bench bench-uploads bench-streams bench-cache bench-request-path bench-workers django-asgi-tests

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-19s %s\n", $$1, $$2}'

install:  ## Install the template's tooling into .venv
	$(UV) sync --locked

# The generated project is linted by its own config, after baking (tests/test_bake.py).
LINT_PATHS := hooks tests scripts local_extensions.py

lint:  ## ruff on the template's own code
	$(RUN) ruff check $(LINT_PATHS)
	$(RUN) ruff format --check $(LINT_PATHS)

docs:  ## Build the documentation site (strict: warnings fail)
	$(RUN) mkdocs build --strict --site-dir .site

test: lint docs  ## Everything: lint, docs, then bake every combination and test it
	$(RUN) pytest -n $(JOBS) --dist loadfile

lock:  ## Regenerate the generated project's uv.lock after changing its dependencies
	$(RUN) python scripts/lock.py

bake:  ## Bake the default project into ./.baked/
	$(RUN) cookiecutter --no-input --overwrite-if-exists --output-dir .baked .

screenshots:  ## Regenerate docs/screenshots/ from a freshly baked project's browser tests (needs Chromium)
	$(RUN) python scripts/screenshots.py

bench:  ## Measure bake time and the generated suite's run time
	$(RUN) python scripts/bench_bake.py

bench-uploads:  ## Measure server memory and /healthz latency while uploads stream in
	$(RUN) python scripts/bench_uploads.py

bench-streams:  ## Memory, CPU and /healthz latency with 1,000 open live-status streams on one worker (PostgreSQL, Redis, nginx)
	$(RUN) python scripts/bench_streams.py

bench-cache:  ## Throughput of a cached page vs the same page uncached (gunicorn + uvicorn, wrk)
	$(RUN) python scripts/bench_cache.py

bench-request-path:  ## Server CPU/req and req/s, stock vs lean ASGI path (needs wrk; ~4 min)
	$(RUN) python scripts/bench_request_path.py

django-asgi-tests:  ## Django's own ASGI handler tests against the project's lean handler
	$(RUN) python scripts/django_asgi_tests.py

bench-workers:  ## Compare gunicorn's uvicorn and native asgi workers (needs wrk)
	$(RUN) python scripts/bench_workers.py
