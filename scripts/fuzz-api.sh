#!/usr/bin/env bash
# `make fuzz-api`: Schemathesis, with all its checks (positive and negative
# data, auth, stateful links), against the dev server on a DynamoDB Local of
# its own. Settings: schemathesis.toml. Exits non-zero on any failure.
#   FUZZ_API_EXAMPLES (default 30) examples per operation, FUZZ_API_SEED (default 1).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SCHEMATHESIS_VERSION="4.32.5"
DDB_PORT="${DYNAMODB_FUZZ_PORT:-8091}"
PORT="${FUZZ_API_PORT:-3091}"
KEY="sm_schemathesis_$(date +%s)"
VENV="$ROOT/.tools/venv"

log() { printf 'fuzz-api: %s\n' "$*" >&2; }

"$ROOT/scripts/tools.sh" ddb
"$ROOT/scripts/tools.sh" py
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "installing schemathesis $SCHEMATHESIS_VERSION into .tools/venv"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

server_pid=""
started_ddb=0
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    (( started_ddb )) && DYNAMODB_PORT="$DDB_PORT" "$ROOT/scripts/dynamodb-local.sh" stop
    return 0
}
trap cleanup EXIT

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
if [[ -z "${DYNAMODB_ENDPOINT:-}" ]]; then
    DYNAMODB_PORT="$DDB_PORT" "$ROOT/scripts/dynamodb-local.sh" start
    started_ddb=1
    export DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT"
fi

cargo build --quiet -p devtools --bin dev-server
DEV_API_KEY="$KEY" PORT="$PORT" RUST_LOG=warn "$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/dev-server" &
server_pid=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/openapi.json" >/dev/null 2>&1 && break
    sleep 0.2
done

log "schemathesis against http://127.0.0.1:$PORT"
"$VENV/bin/schemathesis" --config-file "$ROOT/schemathesis.toml" run "http://127.0.0.1:$PORT/openapi.json" \
    --checks all \
    --header "X-SM-Key: $KEY" \
    --max-examples "${FUZZ_API_EXAMPLES:-30}" \
    --seed "${FUZZ_API_SEED:-1}" \
    --workers 2 \
    --report junit --report-dir "$ROOT/target/schemathesis"
