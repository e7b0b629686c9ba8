#!/usr/bin/env bash
# `make bench-size`: start-up and size of the Lambda functions -> bench/size.json
#
#   1. release builds (host) of list-contacts, get-contact and the
#      hello-world baseline (bench's `hello`), with the Lambda release profile
#   2. a DynamoDB Local on BENCH_DDB_PORT (default 8021) seeded by the bench
#      runner at BENCH_MEM_SIZE contacts (default 10000)
#   3. ../shared/tools/coldstart.py (through bench/coldstart_settled.py):
#      each function vs hello-world, with the DynamoDB connection opened in
#      init (the default) and without it, and list-contacts with the platform's CA
#      bundle (DYNAMODB_TLS_ROOTS=native) for comparison
#   4. bench/peakmem.py: peak RSS of list-contacts serving BENCH_MEM_EVENTS
#      list/search requests of 100 items
# The arm64 zip sizes come from `make zip` (bench/zip-sizes.json).
# Slow (fat LTO builds), so CI does not run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf 'bench-size: %s\n' "$*" >&2; }
COLDSTART="${COLDSTART:-$ROOT/../shared/tools/coldstart.py}"
PORT="${BENCH_DDB_PORT:-8021}"
RUNS="${COLDSTART_RUNS:-30}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
WORK="$(mktemp -d)"
started=0
cleanup() {
    rm -rf "$WORK"
    if (( started )); then DYNAMODB_PORT="$PORT" scripts/dynamodb-local.sh stop || true; fi
}
trap cleanup EXIT

[[ -f "$COLDSTART" ]] || { log "coldstart.py not found at $COLDSTART (set COLDSTART)"; exit 1; }

log "release builds (fat LTO; slow on 2 cores)"
# (--bin names select across every -p package, so name all three bins.)
cargo build --release -q --bin list-contacts --bin get-contact --bin hello

scripts/tools.sh ddb
if [[ -z "${DYNAMODB_ENDPOINT:-}" ]]; then
    if ! DYNAMODB_PORT="$PORT" scripts/dynamodb-local.sh status >/dev/null 2>&1; then
        DYNAMODB_PORT="$PORT" scripts/dynamodb-local.sh start
        started=1
    fi
    export DYNAMODB_ENDPOINT="http://127.0.0.1:$PORT"
fi
log "seeding ${BENCH_MEM_SIZE:-10000} contacts"
BENCH_SIZES="${BENCH_MEM_SIZE:-10000}" BENCH_ITERATIONS=1 BENCH_WRITE_RESULTS=0 \
    BENCH_ENV_OUT="$WORK/env.json" RUST_LOG=warn \
    cargo run --profile bench -q -p bench --bin bench

# Events carrying the seeded key, and the function environment.
python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
env = json.load(open(f"{work}/env.json"))
base = json.load(open("events/list-contacts.json"))
def event(query):
    e = json.loads(json.dumps(base))
    e["headers"]["x-sm-key"] = env["X_SM_KEY"]
    e["queryStringParameters"] = query
    e["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    return e
for name, q in [("list", {"limit": "100"}), ("type", {"type": "lead", "limit": "100"}),
                ("search", {"search": "smith", "limit": "100"})]:
    json.dump(event(q), open(f"{work}/{name}.json", "w"))
# GET /api/contacts/{id} of a seeded contact.
get = json.load(open("events/get-contact.json"))
get["headers"]["x-sm-key"] = env["X_SM_KEY"]
get["pathParameters"] = {"id": env["CONTACT_ID"]}
old_id = get["rawPath"].rsplit("/", 1)[1]
get["rawPath"] = get["rawPath"].replace(old_id, env["CONTACT_ID"])
get["requestContext"]["http"]["path"] = get["requestContext"]["http"]["path"].replace(old_id, env["CONTACT_ID"])
json.dump(get, open(f"{work}/get.json", "w"))
with open(f"{work}/env.args", "w") as f:
    for k in ("CONTACTS_TABLE", "COMPANIES_TABLE", "API_KEYS_TABLE", "DYNAMODB_ENDPOINT"):
        f.write(f"--env\n{k}={env[k]}\n")
PY
mapfile -t ENV_ARGS < "$WORK/env.args"

coldstart() {   # coldstart BINARY EVENT EXTRA_ENV...
    local bin="$1" event="$2"; shift 2
    # coldstart.py itself, with a settle pause between runs (see the script).
    python3 bench/coldstart_settled.py --coldstart "$COLDSTART" --runs "$RUNS" --event "$event" "${ENV_ARGS[@]}" "$@" \
        "target/release/$bin" --vs target/release/hello
}
log "cold starts ($RUNS runs each)"
cold_list="$(coldstart list-contacts "$WORK/list.json")"
cold_list_nowarm="$(coldstart list-contacts "$WORK/list.json" --env DYNAMODB_WARM_UP=0)"
cold_list_native="$(coldstart list-contacts "$WORK/list.json" --env DYNAMODB_WARM_UP=0 --env DYNAMODB_TLS_ROOTS=native)"
cold_get="$(coldstart get-contact "$WORK/get.json")"

log "peak memory"
mem="$(python3 bench/peakmem.py target/release/list-contacts "${ENV_ARGS[@]}" \
    --count "${BENCH_MEM_EVENTS:-60}" \
    --event "$WORK/list.json" --event "$WORK/type.json" --event "$WORK/search.json")"

# Written to a temporary file first: a failed check leaves the committed figures.
python3 - "$cold_list" "$cold_list_nowarm" "$cold_list_native" "$cold_get" "$mem" <<'PY' > "$WORK/size.json"
import json, sys
cl, cn, cnat, cg, mem = (json.loads(a) for a in sys.argv[1:])
# coldstart.py counts only Runtime API errors; a 4xx/5xx answer is a failed
# measurement too.
for name, c in (("list-contacts", cl), ("list-contacts without warm-up", cn),
                ("list-contacts with native roots", cnat), ("get-contact", cg)):
    if '"statusCode":200' not in c["a"]["sample_body"].replace(" ", ""):
        sys.exit(f"bench-size: {name} did not answer 200: {c['a']['sample_body'][:200]}")
def brief(c):
    return {"ratio_vs_hello": c["ratio_a_over_b"], "median_ms": {k: c["a"][k]["median"] for k in ("init_ms", "first_invoke_ms", "total_ms")},
            "hello_median_ms": {k: c["b"][k]["median"] for k in ("init_ms", "first_invoke_ms", "total_ms")},
            "errors": c["a"]["errors"], "runs": c["runs"]}
print(json.dumps({"coldstart": {"list-contacts": brief(cl), "list-contacts (DYNAMODB_WARM_UP=0)": brief(cn),
                                "list-contacts (DYNAMODB_WARM_UP=0 DYNAMODB_TLS_ROOTS=native)": brief(cnat),
                                "get-contact": brief(cg)},
                  "peak_memory": mem}, indent=2))
PY
mv "$WORK/size.json" bench/size.json
cat bench/size.json
