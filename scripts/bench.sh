#!/usr/bin/env bash
# `make bench`: per-route capacity units, round trips and latency at each
# size in BENCH_SIZES (default 1000,10000,100000), then the chart and the
# criterion benches of the handlers' CPU work.
#
#   1. DynamoDB Local on BENCH_DDB_PORT (default 8021) unless
#      DYNAMODB_ENDPOINT is set; stopped again on exit
#   2. cargo run --profile bench -p bench  -> bench/results.json, bench/results.md
#   3. bench/chart.py (matplotlib in .tools/venv) -> bench/capacity.png
#      (BENCH_OUT_DIR writes both elsewhere, as CI does for its small run)
#   4. cargo bench -p bench --bench handlers (skip with BENCH_CRITERION=0)
#
# Nothing here asserts on times: figures are written, not judged.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf 'bench: %s\n' "$*" >&2; }

export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
PORT="${BENCH_DDB_PORT:-8021}"
started=0

cleanup() {
    if (( started )); then
        DYNAMODB_PORT="$PORT" scripts/dynamodb-local.sh stop || true
    fi
}
trap cleanup EXIT

scripts/tools.sh ddb
scripts/tools.sh plot

if [[ -z "${DYNAMODB_ENDPOINT:-}" ]]; then
    if ! DYNAMODB_PORT="$PORT" scripts/dynamodb-local.sh status >/dev/null 2>&1; then
        DYNAMODB_PORT="$PORT" scripts/dynamodb-local.sh start
        started=1
    fi
    export DYNAMODB_ENDPOINT="http://127.0.0.1:$PORT"
fi
log "DYNAMODB_ENDPOINT=$DYNAMODB_ENDPOINT BENCH_SIZES=${BENCH_SIZES:-1000,10000,100000}"

# Info logs of every request would dominate the timings.
RUST_LOG="${RUST_LOG:-warn}" cargo run --profile bench -q -p bench --bin bench
.tools/venv/bin/python bench/chart.py

if [[ "${BENCH_CRITERION:-1}" != 0 ]]; then
    cargo bench -q -p bench --bench handlers
fi
