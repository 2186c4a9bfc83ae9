#!/usr/bin/env bash
# Start LocalStack on this host, without Docker, on 127.0.0.1:$S3H_LOCALSTACK_PORT (default 4566), installing
# it first if needed.
#
#   tools/localstack/up.sh                 install if needed, start in the background, wait until healthy
#   tools/localstack/up.sh --install-only  only create/refresh .localstack/venv and the Lambda runtime libraries
#
# Lambda functions run as local Python subprocesses (our executor plugin, tools/localstack/s3h_localstack),
# DynamoDB is served from moto (our provider plugin). Everything lives under .localstack/ (gitignored):
#   venv/                  LocalStack + plugins (Python 3.13)
#   lambda-runtime/py313/  what the AWS Python runtime provides besides the stdlib (boto3), for the functions
#   state/ tmp/            LocalStack's FILESYSTEM_ROOT and TMPDIR (tmp holds the unzipped function code)
#   localstack.log localstack.pid
# Any LocalStack setting below can be overridden from the caller's environment.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tools/localstack"
STATE="$ROOT/.localstack"
VENV="$STATE/venv"
RUNTIME_LIBS="$STATE/lambda-runtime/py313"
PID_FILE="$STATE/localstack.pid"
LOG_FILE="$STATE/localstack.log"
PORT="${S3H_LOCALSTACK_PORT:-4566}"
HEALTH_URL="http://127.0.0.1:$PORT/_localstack/health"
START_TIMEOUT_S="${LOCALSTACK_START_TIMEOUT_S:-90}"

LOCALSTACK_SPEC=(
  "localstack-core[runtime]==2026.3.0" "cbor2<6" "pyopenssl<25" "cryptography<45" "service_identity"
)
# The SDK the Lambda Python runtime ships (functions may rely on it without packaging it).
RUNTIME_LIBS_SPEC=("boto3==1.42.72" "botocore==1.42.72")

log() { echo "[localstack] $*" >&2; }

pip_q() { "$VENV/bin/python" -m pip "$@" -q --disable-pip-version-check; }

install_stamp() {
  { printf '%s\n' "${LOCALSTACK_SPEC[@]}" "${RUNTIME_LIBS_SPEC[@]}"; cat "$HERE/pyproject.toml"; } | sha256sum | cut -c1-16
}

install() {
  local stamp; stamp="$(install_stamp)"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.s3h-stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  local py313 started=$SECONDS install_log="$STATE/install.log"
  py313="$("$ROOT/tools/find-python313")"
  log "installing LocalStack into $VENV (about 1-2 minutes, 500 MB; pip output in $install_log)"
  : > "$install_log"
  if ! {
    { [ -x "$VENV/bin/python" ] || "$py313" -m venv "$VENV"; } &&
    pip_q install --upgrade pip &&
    pip_q install "${LOCALSTACK_SPEC[@]}" &&
    pip_q install -e "$HERE" &&
    rm -rf "$RUNTIME_LIBS" &&
    pip_q install --target "$RUNTIME_LIBS" "${RUNTIME_LIBS_SPEC[@]}"
  } >>"$install_log" 2>&1; then
    log "install failed; last lines of $install_log:"; grep -v 'is ignored: it is neither' "$install_log" | tail -n 20 >&2
    exit 1
  fi
  echo "$stamp" > "$VENV/.s3h-stamp"
  log "installed in $((SECONDS - started)) s"
}

healthy() { curl -sf -o /dev/null --max-time 2 "$HEALTH_URL"; }

port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
  fi
}

running_pid() {
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

mkdir -p "$STATE"
install
if [ "${1:-}" = "--install-only" ]; then exit 0; fi

if pid="$(running_pid)" && [ -n "$pid" ]; then
  if healthy; then log "already running (pid $pid)"; exit 0; fi
  log "pid $pid is running but not healthy: stop it with tools/localstack/down.sh"; exit 1
fi
if port_in_use; then
  log "port $PORT is already in use by another process: not starting"; exit 1
fi

rm -rf "$STATE/tmp"
mkdir -p "$STATE/state" "$STATE/tmp"

export OVERRIDE_IN_DOCKER=0 DNS_ADDRESS=0 SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1
export GATEWAY_LISTEN="127.0.0.1:$PORT" LOCALSTACK_HOST="${LOCALSTACK_HOST:-127.0.0.1:$PORT}"
export FILESYSTEM_ROOT="$STATE/state" TMPDIR="$STATE/tmp"
export SQS_ENDPOINT_STRATEGY="${SQS_ENDPOINT_STRATEGY:-path}"
export LAMBDA_RUNTIME_EXECUTOR="${LAMBDA_RUNTIME_EXECUTOR:-s3h-local}"
export PROVIDER_OVERRIDE_DYNAMODB="${PROVIDER_OVERRIDE_DYNAMODB:-s3h_moto}"
# Resource types community LocalStack lacks (AWS::CloudWatch::Dashboard, AWS::Logs::QueryDefinition) deploy as no-ops.
export CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES="${CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES:-1}"
# SQS event source mappings: poll again at once after a batch, back off at most 1 s when the queue is empty.
export LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC="${LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC:-0}"
export LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC="${LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC:-1}"
# Concurrent poll loops per SQS event source mapping (our plugin; AWS starts 5), capped by the mapping's
# ScalingConfig.MaximumConcurrency.
export S3H_ESM_POLLERS="${S3H_ESM_POLLERS:-5}"
# Async invoke retries after 1 s, 2 s (AWS: 60 s, 120 s).
export LAMBDA_RETRY_BASE_DELAY="${LAMBDA_RETRY_BASE_DELAY:-1}"
export S3H_LAMBDA_PYTHON313="${S3H_LAMBDA_PYTHON313:-$("$ROOT/tools/find-python313")}"
export S3H_LAMBDA_RUNTIME_LIBS313="${S3H_LAMBDA_RUNTIME_LIBS313:-$RUNTIME_LIBS}"

started_ms=$(($(date +%s%N) / 1000000))
[ -f "$LOG_FILE" ] && mv -f "$LOG_FILE" "$LOG_FILE.1"
# setsid: LocalStack leads its own process group, and the Lambda runtimes it starts stay in it,
# so down.sh can end all of them at once.
setsid "$VENV/bin/python" -m localstack.runtime.main >>"$LOG_FILE" 2>&1 </dev/null &
pid=$!
echo "$pid" > "$PID_FILE"
log "starting (pid $pid, log $LOG_FILE)"

deadline=$((SECONDS + START_TIMEOUT_S))
until healthy; do
  if ! kill -0 "$pid" 2>/dev/null; then
    log "LocalStack exited during startup; last log lines:"; tail -n 30 "$LOG_FILE" >&2
    rm -f "$PID_FILE"; exit 1
  fi
  if [ $SECONDS -ge $deadline ]; then
    log "not healthy after ${START_TIMEOUT_S} s; last log lines:"; tail -n 30 "$LOG_FILE" >&2
    "$HERE/down.sh"; exit 1
  fi
  sleep 0.2
done
elapsed_ms=$(($(date +%s%N) / 1000000 - started_ms))
log "ready on http://127.0.0.1:$PORT after $((elapsed_ms / 1000)).$((elapsed_ms % 1000 / 100)) s"
