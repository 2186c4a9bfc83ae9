# Build and deploy (tools/build.py, tools/deploy_stacks.py) and template lint (infra/*.yaml).
#
# make deploy targets real AWS with two named profiles; the other settings come from the environment:
#   PRODUCER_PROFILE=producer CONSUMER_PROFILE=consumer AWS_REGION=eu-west-1 \
#   EXTERNAL_ID=... ORGANISATION_ID=o-... PRODUCER_BUCKET=... [PRODUCER_KMS_KEY_ARN=arn:aws:kms:...] \
#   [CODE_BUCKET=...] make deploy DEPLOY_ARGS='--param TransferPrefix=data/ --param AlarmEmail=ops@example.com'
# Each stack goes through a CloudFormation change set: shown (resource, action, replacement), then executed once
# confirmed at the terminal; CONFIRM=1 executes without asking; without a terminal and without CONFIRM=1 the
# deploy shows the change set and stops (exit 3). Outputs land in dist/aws-outputs.json.
# LocalStack: make localstack-up (mk/localstack.mk; never asks).

LAMBDA_ZIP := dist/s3-hydration-lambda.zip
DEPLOY_ARGS ?=

.PHONY: build
build: dev ## build the reproducible Lambda zip (dist/s3-hydration-lambda.zip, prints its sha256)
	$(PY) tools/build.py --output $(LAMBDA_ZIP)

.PHONY: deploy
deploy: build ## deploy both stacks to AWS, each change set shown and confirmed (CONFIRM=1: no question; see mk/infra.mk)
	$(PY) tools/deploy_stacks.py --target aws --zip $(LAMBDA_ZIP) --no-build $(if $(filter 1,$(CONFIRM)),--yes) $(DEPLOY_ARGS)

.PHONY: lint-cfn
lint-cfn: dev ## cfn-lint the CloudFormation templates (infra/*.yaml)
	$(VENV)/bin/cfn-lint infra/*.yaml
