# ektp-print — every target creates or updates .venv first, so a fresh machine needs only Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint format typecheck bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP) ## everything on the embedded default (SQLite + emulated printers)
	$(BIN)/ektp up

test: $(STAMP) ## the whole suite (SQLite and PostgreSQL)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test-fast: $(STAMP) ## the suite without PostgreSQL
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not postgres"

lint: $(STAMP)
	$(BIN)/ruff check services drivers tests bench
	$(BIN)/ruff format --check services drivers tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format services drivers tests bench
	$(BIN)/ruff check --fix services drivers tests bench

bench: $(STAMP) ## benchmarks: each prints a table
	@for script in bench/bench_*.py; do name=$$(basename $$script .py); echo "== $$script"; $(BIN)/python -m bench.$$name || exit 1; done

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
