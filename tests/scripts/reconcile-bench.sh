#!/usr/bin/env bash
# The reconcile benchmark, one command: `gen apply` and `gen plan` against confluent-kafka
# (librdkafka) on the suite's running cluster (tests/scripts/kafka.sh start), 1,000 topics x 3
# partitions at RF 3 plus their ACLs from scratch, and a plan with nothing to do; time, requests and
# peak RSS beside each (tests/bench/reconcile_bench.py says how each is measured). Not part of
# tests/run.sh: a benchmark, not a test. Deletes what it created.
#
# Heap: made for the suite's default node heap (512 MiB, KAFKA_TEST_HEAP_OPTS unset): only one
# side's objects are on the cluster at a time (RBENCH_TOPICS x 3 partitions on every node, 3,000 by
# default), and the next step starts only once every node has let go of the previous side's
# partitions (a minute or more each: file.delete.delay.ms). Two sides' objects at once, with the
# previous run's deletes still in progress, ran the 512 MiB nodes out of heap. On a 1 GiB
# cluster the heap kept after a collection peaked at 341-452 MiB a node, an
# upper bound of the live data (G1 leaves old garbage until the heap fills); not yet run at 512 MiB.
# More topics need more heap: the bench prints each node's peak heap and stops on an
# OutOfMemoryError in a node log.
#
#   reconcile-bench.sh        RBENCH_RUNS (default 3), RBENCH_TOPICS (default 1000),
#                             RBENCH_NO_WAIT=1 to run gen apply with --no-wait,
#                             RBENCH_GEN=path to bench that gen binary instead of building one
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/kafka-platform/target}
PYTHON=$(bash "$ROOT/tests/scripts/confluent-kafka.sh" python)
eval "$(bash "$ROOT/tests/scripts/kafka.sh" env)"
if [[ -z ${RBENCH_GEN:-} ]]; then
    cargo build --release --locked -p kafka-gen --bin gen --manifest-path "$ROOT/Cargo.toml" >&2
fi
# A copy: the shared target's binary may be rebuilt by someone else while the bench runs.
BIN_DIR=$(mktemp -d)
trap 'rm -rf "$BIN_DIR"' EXIT
cp "${RBENCH_GEN:-$CARGO_TARGET_DIR/release/gen}" "$BIN_DIR/gen"
GEN="$BIN_DIR/gen" "$PYTHON" "$ROOT/tests/bench/reconcile_bench.py"
