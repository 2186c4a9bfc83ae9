# Build and deploy (tools/build.py, tools/deploy_stacks.py) and template lint (infra/*.yaml).
#
# AWS: each team deploys its own stack from its own configuration file, in SAM CLI's format, one environment
# per section (docs/deploy.md):
#   make deploy-producer ENV=prod     producer team: deploy/samconfig.producer.toml [prod]
#   make deploy-consumer ENV=prod     consumer team: deploy/samconfig.consumer.toml [prod] (builds the zip)
#   make deploy ENV=prod              both, in that order (one person with both accounts' profiles)
#   make teardown-consumer ENV=prod   delete a stack: asks for its name; tables, bucket and key are retained
# `sam deploy` shows each change set and asks before executing it; CONFIRM=1: no question (CI). The outputs
# land in dist/<env>-<stack>.json. sam comes pinned (SAM_VERSION) through uv; SAM=sam uses your own.
# LocalStack: make localstack-up (mk/localstack.mk; never asks).

LAMBDA_ZIP := dist/s3-hydration-lambda.zip
ENV ?= default
SAM_VERSION := 1.170.0
SAM ?= $(UV) tool run --python $(PY313) --from aws-sam-cli==$(SAM_VERSION) sam
DEPLOY := $(PY) tools/deploy_stacks.py --target aws --config-env $(ENV) $(if $(filter 1,$(CONFIRM)),--yes)

.PHONY: build
build: dev ## build the reproducible Lambda zip (dist/s3-hydration-lambda.zip, prints its sha256)
	$(PY) tools/build.py --output $(LAMBDA_ZIP)

.PHONY: deploy-producer
deploy-producer: dev ## AWS, producer team: the producer stack from deploy/samconfig.producer.toml [ENV]
	SAM="$(SAM)" $(DEPLOY) --stack producer

.PHONY: deploy-consumer
deploy-consumer: build ## AWS, consumer team: the zip, then the consumer stack from deploy/samconfig.consumer.toml [ENV]
	SAM="$(SAM)" $(DEPLOY) --stack consumer --zip $(LAMBDA_ZIP)

.PHONY: deploy
deploy: deploy-producer deploy-consumer ## AWS: both stacks of ENV (producer, then consumer; CONFIRM=1: no questions)

.PHONY: teardown-consumer
teardown-consumer: dev ## AWS: delete the consumer stack of ENV, once you type its name (tables, bucket, key retained)
	$(PY) tools/deploy_stacks.py --target aws --config-env $(ENV) --stack consumer --delete

.PHONY: teardown-producer
teardown-producer: dev ## AWS: delete the producer stack of ENV, once you type its name
	$(PY) tools/deploy_stacks.py --target aws --config-env $(ENV) --stack producer --delete

.PHONY: lint-cfn
lint-cfn: dev ## cfn-lint the CloudFormation templates (infra/*.yaml)
	$(VENV)/bin/cfn-lint infra/*.yaml
