# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test lint bench install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench,fast,engines]'
	touch $@

install: $(BIN)/.installed

## Generate a realistic CI history, ingest it into ./ciscope.duckdb, print the summary.
demo: $(BIN)/.installed
	$(BIN)/ciscope demo --out demo-data

## The whole test suite (DuckDB and PostgreSQL halves; see README).
test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

## ruff (E, F, I, B, UP) and mypy (strict on the query layer): see pyproject.toml.
lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_ingest.py

clean:
	rm -rf $(VENV) demo-data ciscope.duckdb ciscope.duckdb.wal
