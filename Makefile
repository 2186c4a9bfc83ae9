# s3-hydration: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13 (the Lambda runtime). pyenv shims need PYENV_VERSION, so find the real interpreter.
PY313 ?= $(shell tools/find-python313)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Every Python dependency is installed from uv.lock by uv (docs/develop.md). uv itself is pinned here and
# bootstrapped with pip into .tools/ (UV=/path/to/uv to use another one; the lock is the same either way).
UV_VERSION := 0.13.9
UV_STAMP := .tools/.uv-$(UV_VERSION)
UV ?= .tools/bin/uv
export UV

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(UV_STAMP):
	test -x .tools/bin/python || $(PY313) -m venv .tools
	.tools/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	touch $(UV_STAMP)

$(STAMP): pyproject.toml uv.lock $(UV_STAMP)
	$(UV) sync --locked --extra cli --python $(PY313)
	touch $(STAMP)

.PHONY: dev
dev: $(STAMP) ## create .venv (Python 3.13) from uv.lock: the project (editable), its CLI and every dev tool

.PHONY: lock
lock: $(UV_STAMP) ## update uv.lock after editing pyproject.toml; UPGRADE=1: every package to its newest allowed version, UPGRADE=boto3: that one
	$(UV) lock --python $(PY313) $(if $(filter 1,$(UPGRADE)),--upgrade,$(if $(UPGRADE),--upgrade-package $(UPGRADE)))

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

.PHONY: fuzz
FUZZ_ROUNDS ?= 10
fuzz: dev ## the property tests with fresh random draws, FUZZ_ROUNDS rounds (the gate draws the same examples every run)
	@for round in $$(seq $(FUZZ_ROUNDS)); do \
		echo "fuzz round $$round of $(FUZZ_ROUNDS)"; \
		HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q $$(grep -rl "@given" tests/unit) || exit 1; \
	done

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
