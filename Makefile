# The two commands of the README:
#   make up      - `pulumi up` of a stack (default: local) after checking prerequisites
#   make test    - everything our CI runs, on a fresh machine included
STACK ?= local
ARGS  ?=
VENV  ?= .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up down preview outputs plan test lint typecheck unit exunit tools venv clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

# ARGS go to pulumi, e.g. `make up ARGS=--yes`, `make outputs ARGS=--show-secrets`.
up: $(STAMP)
	$(PY) -m scripts.stack up --stack $(STACK) -- $(ARGS)

preview: $(STAMP)
	$(PY) -m scripts.stack preview --stack $(STACK) -- $(ARGS)

outputs: $(STAMP)
	$(PY) -m scripts.stack outputs --stack $(STACK) -- $(ARGS)

down: $(STAMP)
	$(PY) -m scripts.stack destroy --stack $(STACK) -- $(ARGS)

# Offline: inventory, diagram, monthly cost (docs/plan.md). BASE=<git ref> compares with that
# commit, FORMAT=json|markdown, ARGS="--log-gb 20" changes an assumption.
BASE   ?=
FORMAT ?= text
plan: $(STAMP)
	$(PY) -m plan $(STACK) $(if $(BASE),--base $(BASE)) --format $(FORMAT) $(ARGS)

tools:
	bash scripts/ensure-tools.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/pyright

exunit: tools
	cd app && mix deps.get && MIX_ENV=test mix test

unit: $(STAMP) tools
	$(VENV)/bin/pytest

test: lint typecheck exunit unit

clean:
	rm -rf $(VENV) app/_build .pytest_cache .ruff_cache
