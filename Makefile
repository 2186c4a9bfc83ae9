# s3-hydration: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13 (the Lambda runtime). pyenv shims need PYENV_VERSION, so find the real interpreter.
PY313 ?= $(shell tools/find-python313)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PY313) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

.PHONY: dev
dev: $(STAMP) ## create the dev venv (.venv, Python 3.13) with every dev dependency

.PHONY: lint
lint: dev ## ruff, mypy and cfn-lint
	$(VENV)/bin/ruff check src tests tools bench
	$(VENV)/bin/ruff format --check src tests tools bench
	$(VENV)/bin/mypy
	$(MAKE) --no-print-directory lint-cfn

.PHONY: format
format: dev ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix src tests tools bench
	$(VENV)/bin/ruff format src tests tools bench

.PHONY: unit
unit: dev ## tests that need no server: unit, moto integration, infra assertions, CLI
	$(PY) -m pytest -q -m "not e2e" tests/unit tests/integration tests/infra tests/cli

.PHONY: e2e
e2e: dev ## end-to-end tests on LocalStack (starts it, deploys both stacks, always stops it)
	@status=0; $(MAKE) --no-print-directory localstack-up || status=$$?; \
	if [ $$status -eq 0 ]; then \
		eval "$$(tools/localstack/env.sh)"; $(PY) -m pytest -q -m e2e tests/localstack_smoke tests/e2e || status=$$?; \
	fi; \
	$(MAKE) --no-print-directory localstack-down; exit $$status

.PHONY: test
test: unit e2e ## every test tier (the README's test command; CI runs it)

.PHONY: clean
clean: ## remove build output and caches
	rm -rf dist build .pytest_cache .mypy_cache .ruff_cache

-include mk/*.mk

.PHONY: demo
demo: dev ## the README's first command: LocalStack, both stacks, sample data, a full verified run, stop
	@status=0; $(MAKE) --no-print-directory localstack-up || status=$$?; \
	if [ $$status -eq 0 ]; then \
		eval "$$(tools/localstack/env.sh)"; $(PY) tools/demo.py || status=$$?; \
	fi; \
	$(MAKE) --no-print-directory localstack-down; exit $$status
