#!/usr/bin/env bash
# `make enrich-bench`: the enrichment figures of docs/enrichment.md.
# Unless DYNAMODB_ENDPOINT is set, starts DynamoDB Local on
# DYNAMODB_BENCH_PORT (default 8012) and stops it on exit. Each part of the
# bench uses fresh tables. Extra arguments go to the bench, e.g.
#   make enrich-bench ARGS="--contacts 2000 --fault-contacts 500 --fault-percent 30"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
PORT="${DYNAMODB_BENCH_PORT:-8012}"
started=0

# shellcheck disable=SC2329  # invoked through trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if (( started )); then
        DYNAMODB_PORT="$PORT" "$ROOT/scripts/dynamodb-local.sh" stop || true
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z "${DYNAMODB_ENDPOINT:-}" ]]; then
    "$ROOT/scripts/tools.sh" ddb
    if ! DYNAMODB_PORT="$PORT" "$ROOT/scripts/dynamodb-local.sh" status >/dev/null 2>&1; then
        DYNAMODB_PORT="$PORT" "$ROOT/scripts/dynamodb-local.sh" start
        started=1
    fi
    export DYNAMODB_ENDPOINT="http://127.0.0.1:$PORT"
fi
# The job logs warnings only; the bench prints the figures.
export RUST_LOG="${RUST_LOG:-warn}"
# cargo run, not target/debug/…: it honours CARGO_TARGET_DIR.
cargo run --quiet -p devtools --bin enrich-bench -- "$@"
