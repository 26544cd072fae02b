# The two commands of the README: `make demo` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv chromium demo demo-down test test-unit test-fast test-dags test-e2e test-stateful test-password lint format bench clean stack stack-down

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## Sets everything up and runs the customer full syncs on the ASPIRE emulator through Airflow.
demo: venv
	$(PY) scripts/demo.py

## Stops the embedded PostgreSQL `make demo` left running (by the pid in its data folder; the data stays).
demo-down: venv
	$(PY) scripts/demo.py --down

# Test processes side by side (pytest-xdist), each test file on one of them: its module fixtures are built once.
# Files are handed out in the order tests/conftest.py puts them (longest first), not xdist's most-tests-first, which
# leaves the one-test live stack (4 minutes) to the end with the other workers idle.
TEST_WORKERS ?= 3
XDIST := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

## What CI runs: lint, then every test (unit, integration, DAG runs, end to end) against a real PostgreSQL
## (TEST_PG_DSN, default postgresql://postgres@127.0.0.1:5432/postgres), except those marked `passwords`, which run
## once, on a throw-away server that checks passwords (test-password, below). About 11 minutes here
## (docs/development.md).
test: lint chromium
	$(PY) -m pytest $(XDIST) -m "not passwords"
	$(MAKE) --no-print-directory test-password

## Unit tests only: no database, no Airflow (seconds).
test-unit: venv
	$(PY) -m pytest -m unit

## The fast loop: unit and integration tests (the engine on PostgreSQL), no DAG runs, no live stack.
test-fast: venv
	$(PY) -m pytest $(XDIST) -m "unit or integration"

## The DAGs run with dag.test() against real databases.
test-dags: venv
	$(PY) -m pytest $(XDIST) -m dags

## End to end: a live Celery stack, the README's blocks pasted in order, the demo with secrets.
test-e2e: venv chromium
	$(PY) -m pytest $(XDIST) -m e2e

## Debian's chromium, for the browser test of the trigger forms (tests/test_trigger_forms.py): installed (quietly)
## when missing and this is root with apt-get, as in CI; elsewhere that test says how to install it, and skips.
chromium:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser test (apt-get install -y chromium)"; \
		export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq chromium >/dev/null 2>&1 \
		|| { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; }

## The tests that log in as roles of their own, open connections of their own from a connection string, or hand the
## server to other programs (marker `passwords`: the sync's role, the change watcher, the demo, the README's blocks),
## against a throw-away PostgreSQL that checks passwords (scram-sha-256) on a free port, removed after:
## scripts/password_server.sh (needs PostgreSQL's initdb and pg_ctl). About 2 minutes here. The other integration
## tests use the connections the tests open, the same on either server, and run in `make test`.
test-password: venv
	scripts/password_server.sh $(PY) -m pytest $(XDIST) -m passwords

## The model-based test at length: random examples with shrinking (make test runs a fixed, short sample of it).
## STATEFUL_EXAMPLES (default 200) and STATEFUL_STEPS (default 40) set how long.
test-stateful: venv
	STATEFUL_EXAMPLES=$(or $(STATEFUL_EXAMPLES),200) STATEFUL_STEPS=$(or $(STATEFUL_STEPS),40) \
		$(PY) -m pytest -p no:cacheprovider tests/test_stateful_sync.py

## ruff (rules and format) and the import contract of the engine's layers (pyproject.toml, [tool.importlinter]).
lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	PYTHONPATH=plugins $(VENV)/bin/lint-imports

format: venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

## A live Airflow on this machine: CeleryExecutor, two workers, Redis, PostgreSQL metadata (docs/live-stack.md).
## STACK_ARGS="--port 8081 --customers 20" passes options to `scripts/stack.py up`.
stack: venv
	$(PY) scripts/stack.py up $(STACK_ARGS)

## Stops what `make stack` started, by pid (its databases stay; `scripts/stack.py down --drop-databases` drops them).
stack-down: venv
	$(PY) scripts/stack.py down

## Benchmarks: the engine beside the limit and its peers (docs/benchmarks.md). SIZE=medium|large.
bench: venv
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) -m bench --size $(or $(SIZE),medium)

clean:
	rm -rf .demo bench/results .pytest_cache
