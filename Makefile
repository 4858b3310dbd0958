# edtrack: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INPUT ?=
DEMO_COUNT ?= 3280
export DBT_PROFILES_DIR := $(CURDIR)/profiles

.PHONY: packages setup demo test unit integration lint stack-up stack-down clean

# Debian packages (as root, once): a Java 17 JDK and Maven for the stack; slapd and
# ldap-utils (the stack's own LDAP directory, `stack up --auth ldap`) and postgresql (the
# stack's own metastore database, `stack up --metastore postgres`), which `make test`
# needs too. Installed only when missing, without starting their system services.
packages:
	.ci/install-packages

# Set-up: a virtualenv in .venv with the pinned packages, the project installed editable.
$(BIN)/edtrack: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed: install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==25.3"
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/python -m edtrack.pyhive_compat
	@touch $@

setup: $(BIN)/edtrack

# One command, end to end: stack up, generate or take INPUT, publish, land, dbt build,
# answer client questions. Leaves the stack running.
demo: setup
	$(BIN)/edtrack demo $(if $(INPUT),--input "$(INPUT)",--count $(DEMO_COUNT))

# The whole suite: unit tests, then integration tests against private stacks that the
# tests start on their own ports and state dirs, and stop at the end (one of them with
# LDAP auth and a PostgreSQL metastore: see `make packages`).
test: setup
	$(BIN)/ruff check edtrack ingestion stack tests benchmarks
	$(BIN)/pytest tests

unit: setup
	$(BIN)/pytest tests/unit

# sqlfluff's dbt templater needs the running stack (it checks which incremental models
# exist); `make test` lints against its private stack.
lint: setup
	$(BIN)/ruff check edtrack ingestion stack tests benchmarks
	$(BIN)/ruff format --check edtrack ingestion stack tests benchmarks
	$(BIN)/sqlfluff lint warehouse

stack-up: setup
	$(BIN)/edtrack stack up

stack-down: setup
	$(BIN)/edtrack stack down

clean:
	-$(BIN)/edtrack stack down
	rm -rf $(VENV) .cache .state
