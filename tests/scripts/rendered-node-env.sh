#!/usr/bin/env bash
# Broker settings for the test cluster, rendered by `gen` from tests/fixtures/local-environment/.
#
#   rendered-node-env.sh OUTDIR      writes OUTDIR/node-1.env..node-3.env (and the nodes' PEM files)
#                                    for `KAFKA_NODE_ENV_DIR=OUTDIR tests/scripts/kafka.sh start`
#
# For b0..b2 of stage dev it takes the exact KAFKA_*/CLUSTER_ID environment of the rendered ECS task
# definition (`gen node-env dev bN`) and changes only what cannot hold on one machine: addresses,
# ports, the PEM file paths, the data directories and the heap. Every security setting (authorizer,
# deny by default, super users, client authentication, SASL mechanisms, principal mapping, TLS
# protocols, endpoint identification) and every replication setting stays exactly as rendered.
#
# Needs: GEN_BIN (default $CARGO_TARGET_DIR/debug/gen; build with `cargo build -p kafka-gen`).
# RUN_DIR as for kafka.sh (the data directories live in kafka.sh's state there).
set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FIXTURE="$SCRIPTS/../fixtures/local-environment"
STAGE=dev
ZONE=kafka.local.test
BROKERS=(0 1 2)
HOST=127.0.0.1
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/kafka-platform/target}
GEN_BIN=${GEN_BIN:-$CARGO_TARGET_DIR/debug/gen}
RUN_DIR=${RUN_DIR:-$HOME/.cache/kafka-platform/run}
# kafka.sh wipes and formats $RUN_DIR/kafka/node-N/data at every start; pointing log.dirs there keeps
# that (stale data elsewhere would survive `format --ignore-formatted`).
STATE="$RUN_DIR/kafka"
HEAP_OPTS=${KAFKA_TEST_HEAP_OPTS:--Xms256m -Xmx512m}

die() { echo "rendered-node-env.sh: $*" >&2; exit 1; }

OUTDIR=${1:?usage: rendered-node-env.sh OUTDIR}
[[ -x $GEN_BIN ]] || die "$GEN_BIN not found; build it with 'cargo build -p kafka-gen' (or set GEN_BIN)"

# The rendered ports of kafka_config.rs and the fixed test ports of the team brief: port P of
# broker bI becomes base(P) + I. Nothing else may be rendered: an unknown listener fails below.
test_port() {
    local port=$1 index=$2
    case $port in
        9094) echo $((19092 + index)) ;; # SCRAM (SASL_SSL): the brief's 19092-19094
        9095) echo $((19192 + index)) ;; # MTLS (SSL, client certificates): 19192-19194
        9097) echo $((19292 + index)) ;; # CONTROLLER: 19292-19294
        9093) echo $((19392 + index)) ;; # INTERNAL (inter-broker SSL): 19392-19394
        *) die "rendered port $port has no test port; add it to test_port()" ;;
    esac
}

# Rewrites every `host:port` of a listener list or quorum voter list. `0.0.0.0` (bind all) is the
# node itself (index $2); `b<j>.<zone>` is broker j. All nodes share 127.0.0.1, so the port tells
# them apart.
localise_addresses() {
    local value=$1 self=$2 out="" rest=$1 prefix host port sep index
    while [[ $rest =~ ^([^:]*://|[0-9]+@)?([^:,/@]+):([0-9]+)(,?)(.*)$ ]]; do
        prefix=${BASH_REMATCH[1]}
        host=${BASH_REMATCH[2]}
        port=${BASH_REMATCH[3]}
        sep=${BASH_REMATCH[4]}
        rest=${BASH_REMATCH[5]}
        if [[ $host == 0.0.0.0 ]]; then
            index=$self
        elif [[ $host == b*".$ZONE" && ${host%".$ZONE"} =~ ^b[0-9]+$ ]]; then
            index=${host%".$ZONE"}
            index=${index#b}
        else
            die "unexpected host '$host' in '$value'"
        fi
        out+="$prefix$HOST:$(test_port "$port" "$index")$sep"
    done
    [[ -z $rest ]] || die "cannot parse '$rest' of '$value'"
    printf '%s' "$out"
}

# Single quotes for bash (kafka.sh sources the env files): the rendered values hold spaces, ';' and '$'.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

mkdir -p "$OUTDIR"
chmod 700 "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd) # the env files name files in it
tmp=$(mktemp -d "$OUTDIR/.partial.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

ca=""
for i in "${BROKERS[@]}"; do
    n=$((i + 1)) # kafka.sh numbers nodes from 1, as gen numbers node ids (b0 is node id 1)
    node=b$i
    dns=$node.$ZONE
    rendered=$("$GEN_BIN" --environments "$FIXTURE" node-env "$STAGE" "$node") ||
        die "gen node-env $STAGE $node failed"
    grep -qx "KAFKA_NODE_ID=$n" <<<"$rendered" || die "$node is not node id $n; kafka.sh node-$n would not be $node"

    # The node's certificate from the test CA of kafka.sh; the inline PEM settings are appended
    # below as the container's launcher sets them (kafka_config.rs launcher_script).
    certs=$("$SCRIPTS/kafka.sh" server-cert "$dns")
    ca=$(dirname "$(dirname "$certs")")/ca.crt

    {
        echo "# Rendered by 'gen node-env $STAGE $node' from tests/fixtures/local-environment/, localised"
        echo "# for one machine by tests/scripts/rendered-node-env.sh (see the comments there)."
        while IFS= read -r line; do
            key=${line%%=*}
            value=${line#*=}
            case $key in
                # Bind 127.0.0.1 instead of 0.0.0.0, and each listener on its test port.
                KAFKA_LISTENERS) value=$(localise_addresses "$value" "$i") ;;
                # b<i>.<zone> does not resolve here: every node is 127.0.0.1 on its own ports.
                KAFKA_ADVERTISED_LISTENERS | KAFKA_CONTROLLER_QUORUM_VOTERS) value=$(localise_addresses "$value" "$i") ;;
                # The EBS volume mount becomes kafka.sh's per-node data directory.
                KAFKA_LOG_DIRS) value="$STATE/node-$n/data" ;;
                # Three nodes and the test build share one small machine.
                KAFKA_HEAP_OPTS) value=$HEAP_OPTS ;;
            esac
            printf '%s=%s\n' "$key" "$(quote "$value")"
        done <<<"$rendered"
        # What the launcher exports from the ECS secrets: key, certificate + chain, trusted CAs
        # (raw PEM here; kafka.sh writes the line breaks as \n, as the launcher's pem_setting does).
        echo "KAFKA_SSL_KEYSTORE_KEY=$(quote "$(cat "$certs/key.pem")")"
        echo "KAFKA_SSL_KEYSTORE_CERTIFICATE_CHAIN=$(quote "$(cat "$certs/chain.pem")")"
        echo "KAFKA_SSL_TRUSTSTORE_CERTIFICATES=$(quote "$(cat "$ca")")"
        echo "# Added for the test cluster only: a metadata snapshot every second (Kafka's default is an"
        echo "# hour). Kafka 3.9-4.2 lose every SCRAM credential of a node that replays, without a snapshot,"
        echo "# a log in which a credential was deleted (ScramDelta.apply; see docs/kafka-admin.md), and the"
        echo "# suite deletes credentials and restarts nodes within minutes of the first start."
        echo "KAFKA_METADATA_LOG_MAX_SNAPSHOT_INTERVAL_MS='1000'"
    } >"$tmp/node-$n.env"
done
cp "$ca" "$tmp/ca.pem"
chmod 600 "$tmp"/*

# Files appear only once every one is complete: a half-written set must never boot a cluster.
for f in "$tmp"/*; do
    mv "$f" "$OUTDIR/"
done
echo "$OUTDIR"
