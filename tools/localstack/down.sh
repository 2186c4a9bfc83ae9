#!/usr/bin/env bash
# Stop the LocalStack started by tools/localstack/up.sh and every process it started (the Lambda runtimes
# share its process group). Idempotent. Exits 1 if something still listens on 127.0.0.1:$S3H_LOCALSTACK_PORT
# (default 4566) afterwards.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$ROOT/.localstack"
PID_FILE="$STATE/localstack.pid"
PORT="${S3H_LOCALSTACK_PORT:-4566}"
STOP_TIMEOUT_S="${LOCALSTACK_STOP_TIMEOUT_S:-20}"

log() { echo "[localstack] $*" >&2; }

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
  fi
}

pid="$(cat "$PID_FILE" 2>/dev/null || true)"
if [ -n "$pid" ] && group_alive "$pid"; then
  log "stopping process group $pid"
  kill -TERM -- "-$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT_S))
  while group_alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if group_alive "$pid"; then
    log "still running after ${STOP_TIMEOUT_S} s: SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do group_alive "$pid" || break; sleep 0.1; done
  fi
  if group_alive "$pid"; then log "process group $pid did not exit"; exit 1; fi
  log "stopped"
else
  log "not running"
fi
rm -f "$PID_FILE"

if port_in_use; then
  log "something else still listens on 127.0.0.1:$PORT (not started by up.sh?)"
  exit 1
fi
