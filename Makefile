# ektp-print — every target creates or updates .venv first, so a fresh machine needs only Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast coverage lint format typecheck bench clean

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

# The whole suite with coverage.py on, in pytest's workers and in every Python process the tests start (services,
# `ektp up`, emulators: [tool.coverage.run] patch = subprocess in pyproject.toml); processes killed with SIGKILL
# lose their data. Prints a per-file report (weakest first), the totals of services/ and drivers/, and htmlcov/.
coverage: $(STAMP)
	@rm -rf .coverage .coverage.* htmlcov
	@$(BIN)/python -m pytest -n 2 --dist loadgroup --cov --cov-report= ; status=$$?; \
	$(BIN)/coverage combine --append --quiet 2>/dev/null; \
	$(BIN)/coverage report --sort=cover; \
	echo; \
	echo "services/ $$($(BIN)/coverage report --include='services/*' --format=total)%   drivers/ $$($(BIN)/coverage report --include='drivers/*' --format=total)%   (line coverage, all processes)"; \
	$(BIN)/coverage html --quiet && echo "HTML report: htmlcov/index.html"; \
	exit $$status

# Mutation testing of the rule modules (mutmut, [tool.mutmut] in pyproject.toml, tests/mutation.py): slow, not
# part of `make test`. One workspace per rule module under mutants/; `make mutation RULES="recovery reply-parser"`
# runs only those, MUTATION_CHILDREN (2) mutants at a time. Scores and survivors: docs/testing.md.
.PHONY: mutation
mutation: $(STAMP)
	@test -x $(BIN)/mutmut || $(BIN)/python -m pip install --quiet -e ".[mutation]"
	nice -n 10 $(BIN)/python tests/mutation.py $(RULES)

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
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache htmlcov .coverage .coverage.*
