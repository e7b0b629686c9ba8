# Contacts API - developer entry points. Tools (DynamoDB Local, cargo-lambda,
# sam, cfn-lint) are installed under .tools/ by scripts/tools.sh.

SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

# cargo-lambda, sam and cfn-lint from the project venv come first (sam build
# runs cargo-lambda from PATH).
export PATH := $(ROOT)/.tools/venv/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0

ARM64_TARGET := aarch64-unknown-linux-gnu
ARGS ?=

.PHONY: enrich enrich-bench dev test lint tools py-tools build zip deploy api-key openapi fuzz fuzz-api bench bench-size \
        ddb-start ddb-stop ddb-status arm64-target clean distclean

## dev: DynamoDB Local + local API server (Ctrl-C stops both)
dev:
	@scripts/dev.sh

## test: cargo test against DynamoDB Local, then cfn-lint + sam validate
test:
	@scripts/test.sh

## enrich: one enrichment pass against the `make dev` DynamoDB (progress bar + summary)
enrich:
	@scripts/enrich.sh $(ARGS)

## enrich-bench: enrichment figures on a DynamoDB Local of its own (docs/enrichment.md)
enrich-bench:
	@scripts/enrich-bench.sh $(ARGS)

## bench: capacity units, round trips and latency of every route at each size
## in BENCH_SIZES (default 1000,10000,100000) -> bench/results.{json,md}, bench/capacity.png
bench:
	@scripts/bench.sh

## bench-size: cold start vs a hello-world (coldstart.py) and peak memory -> bench/size.json (zip sizes: make zip)
bench-size: py-tools
	@scripts/bench-size.sh

## lint: template lints, rustfmt check, clippy with warnings as errors
lint: py-tools
	cfn-lint template.yaml
	sam validate --lint
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

## tools: install DynamoDB Local and the Python tools into .tools/
tools:
	@scripts/tools.sh all

py-tools:
	@scripts/tools.sh py

# The Lambda functions are arm64 (Graviton); tests never need this target.
arm64-target:
	@rustup target list --installed | grep -qx '$(ARM64_TARGET)' || rustup target add $(ARM64_TARGET)

## build: sam build (cargo-lambda, arm64) into .aws-sam/
build: py-tools arm64-target
	sam build

## zip: one bootstrap.zip per function under target/lambda/<binary>/, sizes -> bench/zip-sizes.json
# Only the function crates: the workspace's other binaries (dev server,
# api-key, bench) are not Lambda functions and would only add LTO links.
FUNCTION_PACKAGES := $(foreach f,$(notdir $(wildcard functions/*)),-p $(f))

zip: py-tools arm64-target
	cargo lambda build --release --arm64 --output-format zip $(FUNCTION_PACKAGES)
	python3 bench/zipsizes.py

## deploy: sam build + sam deploy (settings in samconfig.toml)
deploy: build
	sam deploy

## fuzz-api: schemathesis (all checks) against the dev server on its own DynamoDB Local
fuzz-api:
	@scripts/fuzz-api.sh

## fuzz: each cargo-fuzz target for FUZZ_SECONDS (default 60); fails on a crash
fuzz:
	@scripts/fuzz.sh

## openapi: regenerate openapi.json from the code (a test fails when it drifts)
openapi:
	cargo run -q -p devtools --bin openapi

## api-key: run the api-key tool, e.g. make api-key ARGS="--help"
api-key:
	cargo run -q -p devtools --bin api-key -- $(ARGS)

## ddb-start / ddb-stop / ddb-status: DynamoDB Local on DYNAMODB_PORT (default 8000)
ddb-start:
	@scripts/tools.sh ddb
	@scripts/dynamodb-local.sh start

ddb-stop:
	@scripts/dynamodb-local.sh stop

ddb-status:
	@scripts/dynamodb-local.sh status || true

## clean: remove build outputs (keeps the installed tools in .tools/)
clean:
	cargo clean
	rm -rf .aws-sam
	rm -f *.zip

## distclean: clean, and remove .tools/ too (stops DynamoDB Local on DYNAMODB_PORT first)
distclean: clean
	-@scripts/dynamodb-local.sh stop
	rm -rf .tools
