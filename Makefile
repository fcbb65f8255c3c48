# OneCard developer tasks. Run `make help` for a summary.

PORT ?= 8000
ARGS ?=
TEST_DATABASE_URL := postgres://postgres@127.0.0.1:5432/onecard_test

VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help deps system-deps venv demo test lint bench clean

help:
	@echo "make deps   - install system packages and the Python venv (.venv)"
	@echo "make demo   - migrate, load demo data, run the dev server on 127.0.0.1:$(PORT)"
	@echo "make test   - run the test suite against PostgreSQL (ARGS='...' passes pytest options)"
	@echo "make lint   - ruff, the import-layer contracts (import-linter) and mypy"
	@echo "make bench  - run the benchmarks against PostgreSQL"
	@echo "make clean  - remove var/ and caches (keeps .venv)"

deps: system-deps venv

system-deps:
	bash scripts/install-system-deps.sh

venv: $(STAMP)

# Re-run pip only when a requirements file is newer than the stamp.
# Order-only dependency: pyscard needs the system packages before it can build.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt | system-deps
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q -r requirements-dev.txt -c constraints.txt
	touch $@

# The demo keeps its key-encryption key in var/kek.hex (made once, mode 600) unless
# ONECARD_KEK or ONECARD_KEK_FILE is set; production reads it from the environment.
DEMO_ENV = PORT=$(PORT) ONECARD_KEK_FILE="$${ONECARD_KEK_FILE:-$(CURDIR)/var/kek.hex}" DEBUG="$${DEBUG:-true}"

demo: deps
	mkdir -p var
	test -s var/kek.hex || (umask 077 && python3 -c "import secrets; print(secrets.token_hex(32))" > var/kek.hex)
	$(PYTHON) manage.py compilemessages --ignore=$(VENV) >/dev/null
	$(DEMO_ENV) $(PYTHON) manage.py migrate --noinput
	$(DEMO_ENV) $(PYTHON) manage.py load_demo
	$(DEMO_ENV) $(PYTHON) manage.py runserver --insecure 127.0.0.1:$(PORT)

test: deps
	bash scripts/ensure-postgres.sh
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" DB_CONN_MAX_AGE=0 $(PYTHON) -m pytest -n 2 --dist loadgroup $(ARGS)

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy .

bench: deps
	bash scripts/ensure-postgres.sh
	$(PYTHON) -m bench $(ARGS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
