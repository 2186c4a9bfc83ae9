#!/usr/bin/env bash
# Client environment for the local LocalStack (tools/localstack/up.sh).
#
#   eval "$(tools/localstack/env.sh)"            # as the consumer account 111111111111 (the default)
#   eval "$(tools/localstack/env.sh producer)"   # as the producer account 222222222222
#   source tools/localstack/env.sh [consumer|producer]
#
# LocalStack takes a 12-digit access key id as the account id, so the account is chosen by the key id;
# the secret is not checked. Credentials of both accounts are also exported under S3H_* names, so a
# program can build clients for either account:
#   S3H_CONSUMER_ACCOUNT_ID / S3H_PRODUCER_ACCOUNT_ID    111111111111 / 222222222222
#   S3H_CONSUMER_ACCESS_KEY_ID / S3H_PRODUCER_ACCESS_KEY_ID  (same values; secret for both: "test")
# The region is us-east-1; the endpoint is the standard AWS_ENDPOINT_URL (boto3 >= 1.28 and the AWS CLI use it),
# http://127.0.0.1:$S3H_LOCALSTACK_PORT (default 4566).

s3h_localstack_env() {
  local who="${1:-consumer}" account
  case "$who" in
    consumer) account=111111111111 ;;
    producer) account=222222222222 ;;
    *) echo "usage: env.sh [consumer|producer]" >&2; return 2 ;;
  esac
  cat <<EOF
export AWS_ENDPOINT_URL=http://127.0.0.1:${S3H_LOCALSTACK_PORT:-4566}
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$account
export AWS_SECRET_ACCESS_KEY=test
unset AWS_SESSION_TOKEN AWS_PROFILE
export S3H_CONSUMER_ACCOUNT_ID=111111111111
export S3H_PRODUCER_ACCOUNT_ID=222222222222
export S3H_CONSUMER_ACCESS_KEY_ID=111111111111
export S3H_PRODUCER_ACCESS_KEY_ID=222222222222
EOF
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  s3h_localstack_env "$@"
else
  eval "$(s3h_localstack_env "$@")"
  unset -f s3h_localstack_env
fi
