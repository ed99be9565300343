#!/usr/bin/env bash
# The reconcile benchmark, one command: `gen apply` and `gen plan` against confluent-kafka
# (librdkafka) on the suite's running cluster (tests/scripts/kafka.sh start), 1,000 topics x 3
# partitions at RF 3 plus their ACLs from scratch, and a plan with nothing to do; time, requests and
# peak RSS beside each (tests/bench/reconcile_bench.py says how each is measured). Not part of
# tests/run.sh: a benchmark, not a test. Deletes what it created.
#
#   reconcile-bench.sh        RBENCH_RUNS (default 3), RBENCH_TOPICS (default 1000),
#                             RBENCH_NO_WAIT=1 to run gen apply with --no-wait
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/kafka-platform/target}
PYTHON=$(bash "$ROOT/tests/scripts/confluent-kafka.sh" python)
eval "$(bash "$ROOT/tests/scripts/kafka.sh" env)"
cargo build --release --locked -p kafka-gen --bin gen --manifest-path "$ROOT/Cargo.toml" >&2
GEN="$CARGO_TARGET_DIR/release/gen" exec "$PYTHON" "$ROOT/tests/bench/reconcile_bench.py"
