#!/usr/bin/env bash
# `make enrich`: one enrichment pass against the DynamoDB Local that `make dev`
# uses: DYNAMODB_ENDPOINT if set, else http://127.0.0.1:$DYNAMODB_PORT
# (default 8000), which must be running (`make dev` or `make ddb-start`).
# ENRICH_* variables configure the job (docs/enrichment.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export AWS_REGION="${AWS_REGION:-us-east-1}"
if [[ -z "${DYNAMODB_ENDPOINT:-}" ]]; then
    port="${DYNAMODB_PORT:-8000}"
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "enrich: nothing listens on 127.0.0.1:$port; start \`make dev\` (or \`make ddb-start\`) first" >&2
        exit 1
    fi
    export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
fi
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
exec cargo run --quiet -p devtools --bin enrich -- "$@"
