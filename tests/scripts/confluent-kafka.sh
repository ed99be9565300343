#!/usr/bin/env bash
# confluent-kafka (Python, with librdkafka inside its wheel), pinned: the peer the reconcile
# benchmark (tests/scripts/reconcile-bench.sh) measures `gen apply` and `gen plan` against.
#
#   confluent-kafka.sh install   create the venv under $TOOLS_DIR/confluent-kafka-<version> (idempotent)
#   confluent-kafka.sh python    print the venv's python
set -euo pipefail

CONFLUENT_KAFKA_VERSION=2.16.1
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
VENV="$TOOLS_DIR/confluent-kafka-$CONFLUENT_KAFKA_VERSION"

install() {
    if [[ -x "$VENV/bin/python" && -f "$VENV/.complete" ]]; then
        return 0
    fi
    echo "confluent-kafka.sh: installing confluent-kafka $CONFLUENT_KAFKA_VERSION into $VENV" >&2
    rm -rf "$VENV"
    mkdir -p "$TOOLS_DIR"
    python3 -m venv "$VENV"
    # The wheel carries librdkafka; no compiler and no system library needed.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
        "confluent-kafka==$CONFLUENT_KAFKA_VERSION"
    touch "$VENV/.complete"
}

case "${1:-}" in
    install) install ;;
    python) install && echo "$VENV/bin/python" ;;
    *)
        echo "usage: $0 {install|python}" >&2
        exit 2
        ;;
esac
