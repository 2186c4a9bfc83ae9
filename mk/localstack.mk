# LocalStack on this host, without Docker (tools/localstack/, everything it installs lives in .localstack/).
# Lambda functions run as local Python 3.13 subprocesses; DynamoDB is served by moto. Client environment:
#   eval "$(tools/localstack/env.sh)"   (consumer account 111111111111; `env.sh producer` for 222222222222)
# The port: S3H_LOCALSTACK_PORT (default 4566), e.g. `make e2e S3H_LOCALSTACK_PORT=4567`; the scripts and
# the tests read it from the environment.

LOCALSTACK_TOOLS := tools/localstack
S3H_LOCALSTACK_PORT ?= 4566
export S3H_LOCALSTACK_PORT
# The local deployment: small multipart threshold (the demo's large object is copied in parts), quick
# retries, crash recovery (visibility heartbeat step) and drain confirmation (tests and the demo wait on them),
# schedules off (runs start on demand), four planner workers (each a process on this host) and a minute's worker
# timeout, the inventory bucket.
LOCALSTACK_DEPLOY_ARGS ?= --param MultipartThresholdBytes=8388608 --param PartSizeBytes=5242880 \
	--param DrainConfirmSeconds=1 --param RetryBaseSeconds=1 --param MaxReceiveCount=3 --param StalePlanningSeconds=30 \
	--param VisibilityStepSeconds=10 \
	--param SchedulesEnabled=false --param BatchSize=200 --param MaximumBatchingWindowInSeconds=1 \
	--param PlannerConcurrency=4 --param PlannerShards=8 --param PlannerWorkerTimeout=60 --param InventoryEnabled=true

.PHONY: localstack-install
localstack-install: ## install LocalStack and our plugins into .localstack/venv (no start)
	$(LOCALSTACK_TOOLS)/up.sh --install-only

.PHONY: localstack-start
localstack-start: ## start LocalStack on 127.0.0.1 (port S3H_LOCALSTACK_PORT, default 4566) in the background (installs it first if needed)
	$(LOCALSTACK_TOOLS)/up.sh

.PHONY: localstack-stop
localstack-stop: ## stop LocalStack and every Lambda process it started (its state is in memory: gone)
	$(LOCALSTACK_TOOLS)/down.sh

.PHONY: localstack-up
localstack-up: localstack-start ## start LocalStack and deploy both stacks (tools/deploy_stacks.py)
	@if [ -f tools/deploy_stacks.py ]; then \
		set -e; eval "$$($(LOCALSTACK_TOOLS)/env.sh)"; $(PY) tools/deploy_stacks.py --target localstack $(LOCALSTACK_DEPLOY_ARGS); \
	else \
		echo "tools/deploy_stacks.py does not exist yet: LocalStack is running, no stack deployed"; \
	fi

.PHONY: localstack-down
localstack-down: localstack-stop ## stop LocalStack (same as localstack-stop)

.PHONY: localstack-smoke
localstack-smoke: ## LocalStack plumbing smoke test (starts and stops LocalStack if it is not running)
	$(PY) -m pytest -q tests/localstack_smoke -m e2e
