#!/usr/bin/env bash
# `make test`: everything CI checks.
#
#   1. scripts/tools.sh all (DynamoDB Local + cargo-lambda/sam/cfn-lint venv)
#   2. unless DYNAMODB_ENDPOINT is set, a DynamoDB Local on DYNAMODB_TEST_PORT
#      (default 8011, so it never collides with a running `make dev` on 8000),
#      stopped again on exit
#   3. cargo test --workspace (with DYNAMODB_ENDPOINT exported)
#   4. cfn-lint template.yaml
#   5. sam validate --lint
#
# Every step after 1 runs even if an earlier one failed; the last line is a
# summary, and the exit status is non-zero if any step failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

log() { printf 'test: %s\n' "$*" >&2; }

export AWS_REGION="${AWS_REGION:-us-east-1}"
export SAM_CLI_TELEMETRY=0
TEST_PORT="${DYNAMODB_TEST_PORT:-8011}"
VENV_BIN="$ROOT/.tools/venv/bin"

results=()
failed=0
started_ddb=0

record() {   # record NAME STATUS
    if [[ "$2" == 0 ]]; then
        results+=("$1=ok")
    elif [[ "$2" == skip ]]; then
        results+=("$1=skipped")
        failed=1
    else
        results+=("$1=FAILED")
        failed=1
    fi
}

step() {     # step NAME CMD...
    local name="$1"; shift
    log "== $name: $*"
    local rc=0
    "$@" || rc=$?
    record "$name" "$rc"
    return 0
}

summary() {
    echo "test summary: ${results[*]}"
}

# shellcheck disable=SC2329  # invoked through trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if (( started_ddb )); then
        DYNAMODB_PORT="$TEST_PORT" "$ROOT/scripts/dynamodb-local.sh" stop || true
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. tools: nothing else can run without them.
tools_rc=0
"$ROOT/scripts/tools.sh" all || tools_rc=$?
record tools "$tools_rc"
if (( tools_rc != 0 )); then
    summary
    exit 1
fi

# 2. DynamoDB Local for the tests.
ddb_ok=1
if [[ -z "${DYNAMODB_ENDPOINT:-}" ]]; then
    ddb_rc=0
    if DYNAMODB_PORT="$TEST_PORT" "$ROOT/scripts/dynamodb-local.sh" status >/dev/null 2>&1; then
        log "using the DynamoDB Local already running on port $TEST_PORT (left running)"
    else
        DYNAMODB_PORT="$TEST_PORT" "$ROOT/scripts/dynamodb-local.sh" start || ddb_rc=$?
        if (( ddb_rc == 0 )); then started_ddb=1; fi
    fi
    record dynamodb-local "$ddb_rc"
    (( ddb_rc == 0 )) || ddb_ok=0
    export DYNAMODB_ENDPOINT="http://127.0.0.1:$TEST_PORT"
fi
# The tests talk to DynamoDB Local, which accepts any credentials; provide
# some so the SDK does not go looking for real ones.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
log "DYNAMODB_ENDPOINT=$DYNAMODB_ENDPOINT"

# 3. Rust tests.
if (( ddb_ok )); then
    step cargo-test cargo test --workspace
else
    log "skipping cargo test: DynamoDB Local did not start"
    record cargo-test skip
fi

# 4./5. Template lints (offline; sam gets a region for this command only).
step cfn-lint "$VENV_BIN/cfn-lint" template.yaml
step sam-validate env AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" \
    "$VENV_BIN/sam" validate --lint --template-file template.yaml

summary
exit "$failed"
