# The template's commands; CI (.ci/run) runs `make test`. `make` lists the targets.
.DEFAULT_GOAL := help
UV ?= uv
RUN := $(UV) run --locked
# pytest-xdist workers: two cores here; override with `make test JOBS=4`.
JOBS ?= 2

.PHONY: help install test lint docs lock bake bench bench-workers

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

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
	$(RUN) pytest -n $(JOBS) --dist loadgroup

lock:  ## Regenerate the generated project's uv.lock after changing its dependencies
	$(RUN) python scripts/lock.py

bake:  ## Bake the default project into ./.baked/
	$(RUN) cookiecutter --no-input --overwrite-if-exists --output-dir .baked .

bench:  ## Measure bake time and the generated suite's run time
	$(RUN) python scripts/bench_bake.py

bench-workers:  ## Compare gunicorn's uvicorn and native asgi workers (needs wrk)
	$(RUN) python scripts/bench_workers.py
