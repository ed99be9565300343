#!/usr/bin/env bash
# The Lambda benchmark, one command: the packaged Rust functions (`gen package`, the `lambda`
# profile) against a Python boto3 peer doing the same Create (tests/bench/lambda_peer.py), each a
# cold start on the played Lambda Runtime API (tests/src/lambda_harness.rs) with moto as AWS;
# tests/tests/lambda_bench.rs prints the table. Needs moto (tests/scripts/moto.sh start). Not part
# of tests/run.sh: a benchmark, not a test.
#
#   lambda-bench.sh    LAMBDA_BENCH_RUNS (default 3); LAMBDA_BENCH_PROFILE (default lambda) to
#                      package with another cargo profile, e.g. release; LAMBDA_BENCH_TARGET_DIR
#                      (default CARGO_TARGET_DIR) for the Lambda builds only, so that a profile
#                      overridden from the environment (CARGO_PROFILE_LAMBDA_OPT_LEVEL=3) builds
#                      beside the usual one instead of over it
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/kafka-platform/target}
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
# The peer's packages, pinned (boto3 as moto.sh's moto 5.2.5 venv has it).
BOTO3_VERSION=1.44.8
CRYPTOGRAPHY_VERSION=50.0.2
VENV="$TOOLS_DIR/lambda-peer-boto3-$BOTO3_VERSION-cryptography-$CRYPTOGRAPHY_VERSION"
PROFILE=${LAMBDA_BENCH_PROFILE:-lambda}
LAMBDA_TARGET_DIR=${LAMBDA_BENCH_TARGET_DIR:-$CARGO_TARGET_DIR}

if [[ ! -x "$VENV/bin/python" || ! -f "$VENV/.complete" ]]; then
    echo "lambda-bench.sh: installing boto3 $BOTO3_VERSION and cryptography $CRYPTOGRAPHY_VERSION into $VENV" >&2
    rm -rf "$VENV"
    mkdir -p "$TOOLS_DIR"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
        "boto3==$BOTO3_VERSION" "cryptography==$CRYPTOGRAPHY_VERSION"
    touch "$VENV/.complete"
fi

eval "$(bash "$ROOT/tests/scripts/moto.sh" env)"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ZIPS=$WORK/zips
cd "$ROOT"
# gen itself builds in the shared target dir; a copy, since others' builds replace debug/gen.
cargo build --quiet --locked -p kafka-gen --bin gen >&2
cp "$CARGO_TARGET_DIR/debug/gen" "$WORK/gen"
CARGO_TARGET_DIR=$LAMBDA_TARGET_DIR "$WORK/gen" package --profile "$PROFILE" --out "$ZIPS" \
    --function secure-password --function private-certificate --function reconciler >&2
LAMBDA_BENCH_ZIPS=$ZIPS LAMBDA_BENCH_PYTHON="$VENV/bin/python" \
    cargo test --quiet --locked -p platform-tests --test lambda_bench -- --ignored --nocapture
