# The two commands of the README: `make demo` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint format bench clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## Sets everything up and runs the customer full syncs on the ASPIRE emulator through Airflow.
demo: venv
	$(PY) scripts/demo.py

## The test suite, against a real PostgreSQL (TEST_PG_DSN, default postgresql://postgres@127.0.0.1:5432/postgres).
test: venv
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

## Benchmarks (issue 5): SIZE=medium|large.
bench: venv
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) -m bench --size $(or $(SIZE),medium)

clean:
	rm -rf .demo bench/results .pytest_cache
