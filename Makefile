# edtrack: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
INPUT ?=
DEMO_COUNT ?= 3280
# make demo AUTH=ldap: logins through the stack's LDAP directory, and one customer's
# own login answering for its exams only.
AUTH ?=
# make bench: attempts per size, and the port offset of the benchmark's private stack.
SIZES ?= 3280 100000 1000000
BENCH_PORT_OFFSET ?= 12000
export DBT_PROFILES_DIR := $(CURDIR)/profiles

.PHONY: packages setup demo test unit integration reliability lint bench stack-up stack-down clean

# Debian packages: a Java 17 JDK and Maven for the stack; slapd and ldap-utils (the
# stack's own LDAP directory, `stack up --auth ldap`), postgresql (the stack's own
# metastore database, `stack up --metastore postgres`) and kcat (the benchmark's peer),
# which `make test` needs too. `make demo` and `make test` install them when missing,
# without starting their system services; not as root, they stop at once and say the
# one command to run.
packages:
	@.ci/install-packages

# Set-up: a virtualenv in .venv with the pinned packages, the project installed editable.
$(BIN)/edtrack: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed: install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==25.3"
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/python -m core.pyhive_compat
	@touch $@

setup: $(BIN)/edtrack

# One command, end to end: stack up, generate or take INPUT, publish, land, dbt build,
# answer client questions. Leaves the stack running.
demo: packages setup
	$(BIN)/edtrack demo $(if $(INPUT),--input "$(INPUT)",--count $(DEMO_COUNT)) $(if $(AUTH),--auth $(AUTH))

# The whole suite: unit tests, then integration tests against private stacks that the
# tests start on their own ports and state dirs, and stop at the end (one of them with
# LDAP auth and a PostgreSQL metastore).
test: packages setup
	$(BIN)/ruff check core edtrack ingestion serving stack tests bench
	$(BIN)/pytest tests

unit: setup
	$(BIN)/pytest tests/unit

# The whole reliability suite (tests/reliability) against a private stack of its own:
# the lander killed at random instants, Kafka, NameNode, DataNode and Thrift Server
# killed and restarted, an HDFS quota, duplicates, the bad-input corpus, 16 query
# clients under load. Ends with `faults=N records=N lost=0 duplicated=0`; results go to
# tests/reliability/results/. `make test` runs only its CI subset.
reliability: setup
	EDTRACK_RELIABILITY_RESULTS=$(CURDIR)/tests/reliability/results \
		$(BIN)/pytest tests/reliability -m reliability -s --durations=0

# sqlfluff's dbt templater needs the running stack (it checks which incremental models
# exist); `make test` lints against its private stack.
lint: setup
	$(BIN)/ruff check core edtrack ingestion serving stack tests bench
	$(BIN)/ruff format --check core edtrack ingestion serving stack tests bench
	$(BIN)/sqlfluff lint warehouse

# The benchmark suite against peers (kcat, Spark Structured Streaming, a Spark batch job)
# at each of SIZES on a private stack; writes bench/results/latest.{json,md} and plots.
bench: setup
	@command -v kcat >/dev/null || { echo "kcat is needed as a peer: apt-get install -y kcat"; exit 2; }
	$(BIN)/python -m bench.suite --sizes $(SIZES) --port-offset $(BENCH_PORT_OFFSET)

stack-up: setup
	$(BIN)/edtrack stack up

stack-down: setup
	$(BIN)/edtrack stack down

clean:
	-$(BIN)/edtrack stack down
	rm -rf $(VENV) .cache .state
