#!/usr/bin/env bash
# `make dev`: local API server backed by DynamoDB Local.
#
#   1. installs DynamoDB Local if needed (scripts/tools.sh ddb)
#   2. unless DYNAMODB_ENDPOINT is set, starts DynamoDB Local on DYNAMODB_PORT
#      (default 8000) and exports DYNAMODB_ENDPOINT=http://127.0.0.1:$DYNAMODB_PORT
#   3. runs `cargo run -p devtools --bin dev-server` (creates the tables,
#      registers DEV_API_KEY and prints it, listens on PORT, default 3000)
#
# Ctrl-C (or SIGTERM) stops the server and the DynamoDB Local it started.
# A DynamoDB Local that was already running (e.g. `make ddb-start`) is reused
# and left running.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'dev: %s\n' "$*" >&2; }

export AWS_REGION="${AWS_REGION:-us-east-1}"
DDB_PORT="${DYNAMODB_PORT:-8000}"

started_ddb=0
server_pid=""

# shellcheck disable=SC2329  # invoked through trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        log "stopping dev-server (pid $server_pid)"
        kill -TERM "$server_pid" 2>/dev/null || true
        local _
        for _ in $(seq 1 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if (( started_ddb )); then
        DYNAMODB_PORT="$DDB_PORT" "$ROOT/scripts/dynamodb-local.sh" stop || true
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$ROOT/scripts/tools.sh" ddb

if [[ -z "${DYNAMODB_ENDPOINT:-}" ]]; then
    if DYNAMODB_PORT="$DDB_PORT" "$ROOT/scripts/dynamodb-local.sh" status >/dev/null 2>&1; then
        log "reusing the DynamoDB Local already running on port $DDB_PORT (it stays running afterwards)"
    else
        DYNAMODB_PORT="$DDB_PORT" "$ROOT/scripts/dynamodb-local.sh" start
        started_ddb=1
    fi
    export DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT"
    # DynamoDB Local accepts any credentials; provide some so the SDK does not
    # go looking for real ones (instance metadata etc.).
    export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
    export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
fi
log "DYNAMODB_ENDPOINT=$DYNAMODB_ENDPOINT AWS_REGION=$AWS_REGION"

# Started in the background so that the traps run as soon as a signal arrives
# (bash defers traps while a foreground child runs). `cargo run` execs the
# binary, so $! is the server itself once it has been built.
cargo run --quiet -p devtools --bin dev-server &
server_pid=$!
status=0
wait "$server_pid" || status=$?
server_pid=""
exit "$status"
