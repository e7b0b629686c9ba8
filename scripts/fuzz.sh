#!/usr/bin/env bash
# `make fuzz`: runs each cargo-fuzz target for FUZZ_SECONDS (default 60) and
# fails on any crash. cargo-fuzz is installed under .tools/cargo on first use.
# libFuzzer needs nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them (no other toolchain can be fetched here).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO_FUZZ_VERSION="0.13.2"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
BIN="$ROOT/.tools/cargo/bin"

log() { printf 'fuzz: %s\n' "$*" >&2; }

if [[ ! -x "$BIN/cargo-fuzz" ]]; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools/cargo"
    CARGO_TARGET_DIR="$ROOT/.tools/cargo-build" cargo install --quiet --locked --root "$ROOT/.tools/cargo" "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi
export PATH="$BIN:$PATH"
export RUSTC_BOOTSTRAP=1

status=0
for target in $(cargo fuzz list); do
    log "== $target for ${SECONDS_EACH}s"
    mkdir -p "fuzz/corpus/$target"
    if cargo fuzz run "$target" -- -max_total_time="$SECONDS_EACH" -print_final_stats=1 2> "fuzz/$target.log"; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz/$target.log" | tail -n1)
        log "$target: ${runs:-?} executions, 0 crashes"
    else
        status=1
        log "$target: FAILED, a crash or a build error (see fuzz/$target.log and fuzz/artifacts/$target/)"
        tail -n 40 "fuzz/$target.log" >&2
    fi
done
exit "$status"
