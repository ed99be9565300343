#!/usr/bin/env bash
# A 3-node Apache Kafka cluster (KRaft, combined broker+controller) for the integration tests.
#
#   kafka.sh install                 fetch the pinned Kafka jars from Maven Central into $TOOLS_DIR (idempotent)
#   kafka.sh start                   install if needed, make certificates, write the broker settings, draw a
#                                    new admin password, format fresh storage with the rendered launcher's
#                                    step (`gen format-storage-step`: the admin SCRAM credential goes into
#                                    the bootstrap metadata), start 3 nodes on 127.0.0.1 and wait until
#                                    they serve
#   kafka.sh stop                    stop the nodes started by `start`
#   kafka.sh env                     print the variables the tests read (eval "$(kafka.sh env)")
#   kafka.sh stop-node N | start-node N
#                                    stop or restart one node (keeps its data), for failure tests
#   kafka.sh kill-node N             kill one node at once (SIGKILL, as a lost host; keeps its data)
#   kafka.sh client-cert NAME        issue a client certificate with CN=NAME (idempotent); prints its directory
#   kafka.sh server-cert NAME        make the test CA if needed and issue a node certificate with CN=NAME and
#                                    SANs 127.0.0.1 and NAME (idempotent); prints its directory
#   kafka.sh client-config sasl USER PASSWORD_FILE | mtls NAME
#                                    write a Java client properties file for that identity; prints its path
#   kafka.sh console-producer PROPS TOPIC [ARGS...]
#                                    the console producer of the same Kafka release; records on stdin
#   kafka.sh console-consumer PROPS TOPIC GROUP [ARGS...]
#                                    the console consumer (reads from the beginning; add --max-messages N)
#   kafka.sh tool CLASS [ARGS...]    any other Kafka tool class with the same classpath
#
# Listeners (fixed ports of the team brief, 127.0.0.1 only):
#   SASL_SSL (SCRAM-SHA-512) 19092-19094, SSL with client certificates (mTLS) 19192-19194,
#   CONTROLLER (SSL, mTLS) 19292-19294. Brokers talk to each other over the SSL listener.
#   Metrics: each node runs the Prometheus JMX exporter javaagent the rendered nodes run, with the
#   rules `gen metrics-exporter-config` prints (render::metrics), on 127.0.0.1:19491-19493.
#
# The broker settings are written as KAFKA_* environment files (the convention of the Confluent image,
# which the rendered ECS task definitions use) and translated into server.properties by
# `env_to_properties`, the same way the image does. KAFKA_NODE_ENV_DIR may point at a directory with
# node-1.env..node-3.env from elsewhere (e.g. rendered by `gen`); otherwise the hand-written ones below
# are used.
#
# State lives in $RUN_DIR/kafka: certs/, secrets/, bin/ (kafka-run-class), node-N/ (env, properties, data,
# format.log, server.log). Needs GEN_BIN (default $CARGO_TARGET_DIR/debug/gen) to start.
set -euo pipefail

KAFKA_VERSION=4.2.1
SCALA_VERSION=2.13
# The log4j binding matches the log4j-core that the Kafka release depends on.
LOG4J_VERSION=2.24.3
# The JMX exporter of the rendered nodes (render::metrics::EXPORTER_VERSION and EXPORTER_SHA256).
EXPORTER_VERSION=1.0.1
EXPORTER_SHA256=7d61f737fd661610ccc14aea79764faa1ea94a340cbc8f0029b3d2edea3d80c1
METRICS_BASE_PORT=19490
NODES=(1 2 3)
HOST=127.0.0.1
SASL_BASE_PORT=19091
SSL_BASE_PORT=19191
CONTROLLER_BASE_PORT=19291
HEAP_OPTS=${KAFKA_TEST_HEAP_OPTS:--Xms256m -Xmx512m}

SCRIPT_PATH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
RUN_DIR=${RUN_DIR:-$HOME/.cache/kafka-platform/run}
KAFKA_HOME="$TOOLS_DIR/kafka-$KAFKA_VERSION"
STATE="$RUN_DIR/kafka"
CERTS="$STATE/certs"
SECRETS="$STATE/secrets"
CLIENTS="$STATE/clients"
ADMIN_USER='admin'
CERT_ORG="kafka-platform-test"

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

sasl_port() { echo $((SASL_BASE_PORT + $1)); }
ssl_port() { echo $((SSL_BASE_PORT + $1)); }
controller_port() { echo $((CONTROLLER_BASE_PORT + $1)); }
metrics_port() { echo $((METRICS_BASE_PORT + $1)); }
exporter_jar() { echo "$TOOLS_DIR/jmx-exporter-$EXPORTER_VERSION/jmx_prometheus_javaagent.jar"; }

join_by() { local IFS=$1; shift; echo "$*"; }
bootstrap_sasl() { local a=(); for n in "${NODES[@]}"; do a+=("$HOST:$(sasl_port "$n")"); done; join_by , "${a[@]}"; }
metrics_urls() { local a=(); for n in "${NODES[@]}"; do a+=("http://$HOST:$(metrics_port "$n")/metrics"); done; join_by , "${a[@]}"; }
bootstrap_mtls() { local a=(); for n in "${NODES[@]}"; do a+=("$HOST:$(ssl_port "$n")"); done; join_by , "${a[@]}"; }

# ---------------------------------------------------------------------------------------------------
# install

# The exporter javaagent, pinned by version and SHA-256 (the hash the rendered nodes check).
install_exporter() {
    local dir
    dir=$(dirname "$(exporter_jar)")
    [[ -f "$dir/.complete" ]] && return 0
    command -v mvn >/dev/null || die "mvn not found; Maven is needed to fetch the JMX exporter"
    log "fetching the Prometheus JMX exporter $EXPORTER_VERSION from Maven Central into $dir"
    rm -rf "$dir" && mkdir -p "$dir"
    mvn -B -q dependency:copy -Dartifact="io.prometheus.jmx:jmx_prometheus_javaagent:$EXPORTER_VERSION" \
        -DoutputDirectory="$dir" >"$dir/mvn.log" 2>&1 || { tail -n 20 "$dir/mvn.log" >&2; die "mvn could not fetch the JMX exporter"; }
    mv "$dir/jmx_prometheus_javaagent-$EXPORTER_VERSION.jar" "$(exporter_jar)"
    echo "$EXPORTER_SHA256  $(exporter_jar)" | sha256sum -c --quiet - || die "JMX exporter jar has an unexpected SHA-256"
    touch "$dir/.complete"
}

install() {
    install_exporter
    if [[ -f "$KAFKA_HOME/.complete" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found; Maven is needed to fetch the Kafka jars"
    log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_HOME"
    local work
    work=$(mktemp -d)
    # kafka_2.13 is the broker (kafka.Kafka, StorageTool); kafka-tools has the console producer and
    # consumer; log4j-slf4j-impl routes Kafka's slf4j 1.x logging into log4j2.
    cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafka-platform</groupId>
  <artifactId>kafka-test-cluster</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_$SCALA_VERSION</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
    rm -rf "$KAFKA_HOME"
    mkdir -p "$KAFKA_HOME"
    if ! mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/libs.partial" >"$work/mvn.log" 2>&1; then
        tail -n 30 "$work/mvn.log" >&2
        rm -rf "$work"
        die "mvn could not fetch the Kafka $KAFKA_VERSION jars (see above)"
    fi
    rm -rf "$work"
    mv "$KAFKA_HOME/libs.partial" "$KAFKA_HOME/libs"
    [[ -f "$KAFKA_HOME/libs/kafka_$SCALA_VERSION-$KAFKA_VERSION.jar" ]] || die "broker jar missing after download"
    write_log4j_configs
    touch "$KAFKA_HOME/.complete"
}

write_log4j_configs() {
    # Brokers log to stdout, which start() sends to node-N/server.log.
    cat >"$KAFKA_HOME/log4j2-server.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
EOF
    # Tools keep stdout for records, so their logging goes to stderr and only from WARN up.
    cat >"$KAFKA_HOME/log4j2-tools.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
EOF
}

run_tool() {
    local class=$1
    shift
    # TOOL_EXEC=exec (the console and tool commands) replaces the shell with java, so a test that
    # kills the script's process stops the tool instead of leaving it orphaned.
    ${TOOL_EXEC:-} java -Xmx256m -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2-tools.properties" \
        -cp "$KAFKA_HOME/libs/*" "$class" "$@"
}

# ---------------------------------------------------------------------------------------------------
# certificates (PEM, as the platform gets them from ACM Private CA)
#
# Two issuers. By default openssl and a local test CA. With KAFKA_CERT_ISSUER (the issue-test-cert
# binary of the tests crate; tests/run.sh sets it) and MOTO_ENDPOINT: a root CA in moto's ACM
# Private CA, and every certificate issued by the private-certificate Lambda, read back from the
# SSM parameters it wrote. certs/issuer records the choice when the CA is made, so every later
# certificate (client-cert during the tests) comes from the same CA.

# make_test_ca: $CERTS/ca.crt from the configured issuer. A new CA invalidates every certificate
# issued before, so those are removed.
make_test_ca() {
    if [[ -n ${KAFKA_CERT_ISSUER:-} ]]; then
        [[ -n ${MOTO_ENDPOINT:-} ]] || die "KAFKA_CERT_ISSUER needs MOTO_ENDPOINT (eval \"\$(tests/scripts/moto.sh env)\")"
        [[ -x $KAFKA_CERT_ISSUER ]] || die "KAFKA_CERT_ISSUER=$KAFKA_CERT_ISSUER is not an executable"
        rm -f "$CERTS/ca.key"
        local outcome
        outcome=$("$KAFKA_CERT_ISSUER" --moto "$MOTO_ENDPOINT" ca --arn-file "$CERTS/ca.arn" --out "$CERTS/ca.crt") ||
            die "issue-test-cert could not provide the CA in moto at $MOTO_ENDPOINT"
        if [[ $outcome == created || ! -f "$CERTS/issuer" ]]; then
            rm -rf "$CERTS"/broker-* "$CERTS/servers" "$CERTS/clients"
        fi
        # Tests read this file while others ask for certificates (server-cert runs this function):
        # replace it whole by a rename, never truncate it in place.
        printf '%s\n%s\n' "$KAFKA_CERT_ISSUER" "$MOTO_ENDPOINT" >"$CERTS/issuer.$$"
        mv -f "$CERTS/issuer.$$" "$CERTS/issuer"
    else
        if [[ -f "$CERTS/issuer" ]]; then
            # The CA lives in moto and there is no issuer now. Only `start` may start over with
            # openssl: a test asking for a certificate (server-cert) without KAFKA_CERT_ISSUER in its
            # environment must not replace the running cluster's CA; it gets one from the recorded
            # issuer (issue_cert).
            [[ ${CA_MAY_CHANGE:-0} == 1 ]] || return 0
            rm -rf "$CERTS"/broker-* "$CERTS/servers" "$CERTS/clients" "$CERTS/ca.crt" "$CERTS/ca.arn" "$CERTS/issuer"
        fi
        make_openssl_ca ca "Kafka Platform Test CA"
    fi
}

make_openssl_ca() {
    local name=$1 cn=$2
    [[ -f "$CERTS/$name.crt" ]] && return 0
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$CERTS/$name.key" -out "$CERTS/$name.crt" -days 3650 \
        -subj "/O=$CERT_ORG/CN=$cn" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    chmod 600 "$CERTS/$name.key"
}

# issue_cert DIR CN USAGE [SAN...]: DIR/key.pem (PKCS#8, unencrypted), DIR/cert.pem, DIR/chain.pem
# (certificate + CA). USAGE is client or server-and-client; a SAN is DNS:name or IP:address.
issue_cert() {
    local dir=$1 cn=$2 usage=$3
    shift 3
    [[ -f "$dir/chain.pem" ]] && return 0
    # Tests ask for certificates in parallel; one issuer at a time, so two never mix their files.
    local lock
    exec {lock}>"$CERTS/.issue.lock"
    flock "$lock"
    [[ -f "$dir/chain.pem" ]] && { exec {lock}>&-; return 0; }
    mkdir -p "$(dirname "$dir")"
    local tmp
    tmp=$(mktemp -d)
    if [[ -f "$CERTS/issuer" ]]; then
        local issuer moto san args=()
        { read -r issuer && read -r moto; } <"$CERTS/issuer"
        for san in "$@"; do
            case $san in
                DNS:*) args+=(--dns-name "${san#DNS:}") ;;
                IP:*) args+=(--ip-address "${san#IP:}") ;;
            esac
        done
        "$issuer" --moto "$moto" leaf --arn-file "$CERTS/ca.arn" --common-name "$cn" --usage "$usage" \
            "${args[@]}" --out "$tmp" >&2 || { rm -rf "$tmp"; die "the certificate Lambda could not issue $cn"; }
    else
        local ext="basicConstraints=CA:FALSE"
        if [[ $usage == client ]]; then
            ext+=$'\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth'
        else
            ext+=$'\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth'
        fi
        (($# > 0)) && ext+=$'\nsubjectAltName='"$(join_by , "$@")"
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/key.pem" 2>/dev/null
        # O before CN in the sequence makes Java print the subject as "CN=<name>,O=...", which the
        # principal mapping rule of the brokers turns into <name>.
        openssl req -new -key "$tmp/key.pem" -subj "/O=$CERT_ORG/CN=$cn" -out "$tmp/req.csr" 2>/dev/null
        printf '%s\n' "$ext" >"$tmp/ext.cnf"
        openssl x509 -req -in "$tmp/req.csr" -CA "$CERTS/ca.crt" -CAkey "$CERTS/ca.key" \
            -set_serial "0x$(openssl rand -hex 16)" -days 825 -extfile "$tmp/ext.cnf" \
            -out "$tmp/cert.pem" 2>/dev/null
        cat "$tmp/cert.pem" "$CERTS/ca.crt" >"$tmp/chain.pem"
    fi
    chmod 600 "$tmp"/*
    mkdir -p "$dir"
    mv "$tmp"/*.pem "$dir/"
    [[ -f "$tmp/parameter-prefix" ]] && mv "$tmp/parameter-prefix" "$dir/"
    rm -rf "$tmp"
    exec {lock}>&-
}

make_certs() {
    mkdir -p "$CERTS"
    chmod 700 "$CERTS"
    make_test_ca
    # A second CA that nothing trusts, for the "untrusted CA" tests: always openssl.
    make_openssl_ca untrusted-ca "Untrusted Test CA"
    local n
    for n in "${NODES[@]}"; do
        issue_cert "$CERTS/broker-$n" "broker-$n" server-and-client "IP:$HOST" DNS:localhost "DNS:broker-$n"
    done
    client_cert "$ADMIN_USER" >/dev/null
}

client_cert() {
    local name=$1
    [[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "client name '$name' may only contain letters, digits, '.', '_' and '-'"
    issue_cert "$CERTS/clients/$name" "$name" client
    echo "$CERTS/clients/$name"
}

# A node certificate for settings rendered by `gen` (tests/scripts/rendered-node-env.sh): the CN is
# the node's DNS name, because the rendered super.users names nodes that way; 127.0.0.1 is where
# the node really listens, so hostname verification passes.
server_cert() {
    local name=$1
    [[ $name =~ ^[A-Za-z0-9.-]+$ ]] || die "node name '$name' may only contain letters, digits, '.' and '-'"
    make_certs
    issue_cert "$CERTS/servers/$name" "$name" server-and-client "IP:$HOST" "DNS:$name"
    echo "$CERTS/servers/$name"
}

# ---------------------------------------------------------------------------------------------------
# broker settings: KAFKA_* environment -> server.properties

# Escapes a value for a Java properties file: backslashes, and line breaks (PEM values) as \n.
properties_escape() {
    local v=$1
    v=${v//\\/\\\\}
    v=${v//$'\r'/\\r}
    v=${v//$'\n'/\\n}
    printf '%s' "$v"
}

# env_to_properties: prints server.properties for the KAFKA_* variables of the current environment,
# named the way the Confluent image names them: strip KAFKA_, lower-case, `___` -> `-`, `__` -> `_`,
# `_` -> `.` (KAFKA_LISTENER_NAME_SASL__SSL_SCRAM___SHA___512_SASL_JAAS_CONFIG ->
# listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config). Variables that configure the JVM or the
# image itself rather than the broker are skipped.
env_to_properties() {
    local name key
    while IFS= read -r name; do
        case $name in
            KAFKA_*) ;;
            *) continue ;;
        esac
        case $name in
            KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_GC_LOG_OPTS | \
                KAFKA_JMX_* | KAFKA_LOG4J_* | KAFKA_TOOLS_LOG4J_LOGLEVEL | KAFKA_VERSION | KAFKA_DEBUG)
                continue
                ;;
        esac
        key=${name#KAFKA_}
        key=${key,,}
        key=${key//___/-}
        key=${key//__/@}
        key=${key//_/.}
        key=${key//@/_}
        printf '%s=%s\n' "$key" "$(properties_escape "${!name}")"
    done < <(compgen -e | LC_ALL=C sort)
}

# Translates one env file (bash syntax, `KEY=value` lines) in an otherwise empty environment, so
# that the caller's own variables (e.g. the KAFKA_TEST_* ones) never leak into broker settings.
env_file_to_properties() {
    local env_file=$1
    # shellcheck disable=SC2016 # the inner bash expands $1, not this one
    env -i PATH="$PATH" bash -c 'set -euo pipefail; set -a; . "$1"; set +a; shift; '"$(declare -f properties_escape env_to_properties)"'; env_to_properties' \
        _ "$env_file"
}

# Writes one hand-written env file per node. Secrets and PEM material are injected the way ECS
# `Secrets` would inject them: as whole values of environment variables.
write_node_env() {
    local n=$1 file=$2
    local voters=() m
    for m in "${NODES[@]}"; do voters+=("$m@$HOST:$(controller_port "$m")"); done
    local supers="User:$ADMIN_USER"
    for m in "${NODES[@]}"; do supers+=";User:broker-$m"; done
    {
        echo "# Broker settings of node $n in the Confluent image convention (written by kafka.sh)."
        echo "CLUSTER_ID=$(cat "$STATE/cluster.id")"
        echo "KAFKA_NODE_ID=$n"
        echo "KAFKA_PROCESS_ROLES=broker,controller"
        echo "KAFKA_CONTROLLER_QUORUM_VOTERS=$(join_by , "${voters[@]}")"
        echo "KAFKA_LISTENERS=SASL_SSL://$HOST:$(sasl_port "$n"),SSL://$HOST:$(ssl_port "$n"),CONTROLLER://$HOST:$(controller_port "$n")"
        echo "KAFKA_ADVERTISED_LISTENERS=SASL_SSL://$HOST:$(sasl_port "$n"),SSL://$HOST:$(ssl_port "$n")"
        echo "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:SSL"
        echo "KAFKA_INTER_BROKER_LISTENER_NAME=SSL"
        echo "KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER"
        echo "KAFKA_LOG_DIRS=$STATE/node-$n/data"
        echo "KAFKA_SASL_ENABLED_MECHANISMS=SCRAM-SHA-512"
        echo "KAFKA_LISTENER_NAME_SASL__SSL_SCRAM___SHA___512_SASL_JAAS_CONFIG='org.apache.kafka.common.security.scram.ScramLoginModule required;'"
        # Client certificates are required on the mTLS and controller listeners only; with KIP-684
        # a broker-wide ssl.client.auth would not apply to SASL_SSL anyway, so say it per listener.
        echo "KAFKA_LISTENER_NAME_SSL_SSL_CLIENT_AUTH=required"
        echo "KAFKA_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH=required"
        echo "KAFKA_SSL_PRINCIPAL_MAPPING_RULES='RULE:^CN=([^,]+)(,.*)?\$/\$1/,DEFAULT'"
        echo "KAFKA_SSL_KEYSTORE_TYPE=PEM"
        printf 'KAFKA_SSL_KEYSTORE_KEY=%q\n' "$(cat "$CERTS/broker-$n/key.pem")"
        printf 'KAFKA_SSL_KEYSTORE_CERTIFICATE_CHAIN=%q\n' "$(cat "$CERTS/broker-$n/chain.pem")"
        echo "KAFKA_SSL_TRUSTSTORE_TYPE=PEM"
        printf 'KAFKA_SSL_TRUSTSTORE_CERTIFICATES=%q\n' "$(cat "$CERTS/ca.crt")"
        echo "KAFKA_AUTHORIZER_CLASS_NAME=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        echo "KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND=false"
        echo "KAFKA_SUPER_USERS='$supers'"
        echo "KAFKA_AUTO_CREATE_TOPICS_ENABLE=false"
        echo "KAFKA_NUM_PARTITIONS=1"
        echo "KAFKA_DEFAULT_REPLICATION_FACTOR=3"
        echo "KAFKA_MIN_INSYNC_REPLICAS=2"
        echo "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=3"
        echo "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=3"
        echo "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=2"
        echo "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0"
        echo "KAFKA_DELETE_TOPIC_ENABLE=true"
        # A metadata snapshot every second: without one, a restarted node that replays a log with a
        # deleted SCRAM credential can lose all credentials (Kafka bug, see docs/kafka-admin.md).
        echo "KAFKA_METADATA_LOG_MAX_SNAPSHOT_INTERVAL_MS=1000"
        echo "KAFKA_HEAP_OPTS='$HEAP_OPTS'"
    } >"$file"
    chmod 600 "$file"
}

# A fresh admin password at every start (the storage is formatted anew too), drawn from the
# characters the platform's password policy leaves (printable ASCII minus passwords.exclude_characters
# of environments/defaults.yaml), and holding every special one of them, so that the suite proves the
# launcher's format step and every client take any password the secure-password Lambda can make.
new_admin_password() {
    local specials='!#%&()*+-.<=>?[]^_{|}~' random
    random=$(openssl rand -base64 48 | LC_ALL=C tr -dc 'A-Za-z0-9')
    random=${random:0:24}
    ((${#random} == 24)) || die "could not draw a random admin password"
    (umask 077 && printf '%s%s\n' "$random" "$specials" >"$SECRETS/admin.password")
}

configure() {
    mkdir -p "$STATE" "$SECRETS"
    chmod 700 "$STATE" "$SECRETS"
    CA_MAY_CHANGE=1 make_certs
    new_admin_password
    if [[ ! -f "$STATE/cluster.id" ]]; then
        run_tool kafka.tools.StorageTool random-uuid >"$STATE/cluster.id"
    fi
    local n env_file
    for n in "${NODES[@]}"; do
        mkdir -p "$STATE/node-$n"
        env_file="$STATE/node-$n/node.env"
        if [[ -n "${KAFKA_NODE_ENV_DIR:-}" ]]; then
            [[ -f "$KAFKA_NODE_ENV_DIR/node-$n.env" ]] || die "$KAFKA_NODE_ENV_DIR/node-$n.env not found"
            cp "$KAFKA_NODE_ENV_DIR/node-$n.env" "$env_file"
            chmod 600 "$env_file"
        else
            write_node_env "$n" "$env_file"
        fi
        (umask 077 && env_file_to_properties "$env_file" >"$STATE/node-$n/server.properties.tmp")
        mv "$STATE/node-$n/server.properties.tmp" "$STATE/node-$n/server.properties"
    done
}

# The value of one variable of a node's env file (CLUSTER_ID, KAFKA_HEAP_OPTS).
node_env_value() {
    # shellcheck disable=SC2016 # the inner bash expands $1 and $2, not this one
    env -i PATH="$PATH" bash -c 'set -a; . "$1"; set +a; printf "%s" "${!2:-}"' _ "$STATE/node-$1/node.env" "$2"
}

# The launcher's storage step, exactly as the rendered task definitions run it (`gen
# format-storage-step`, kafka_config.rs format_storage_function): on an empty data directory it
# formats the storage with the admin's SCRAM credential in the bootstrap metadata, from the
# password in ADMIN_SCRAM_PASSWORD, through `kafka-run-class` with a Java argument file.
format_step() {
    local gen=${GEN_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/kafka-platform/target}/debug/gen}
    [[ -x $gen ]] || die "$gen not found; build it with 'cargo build -p kafka-gen' (or set GEN_BIN)"
    "$gen" format-storage-step || die "gen format-storage-step failed"
}

# The exporter rules of the rendered nodes, from the same gen.
write_exporter_config() {
    local gen=${GEN_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/kafka-platform/target}/debug/gen}
    [[ -x $gen ]] || die "$gen not found; build it with 'cargo build -p kafka-gen' (or set GEN_BIN)"
    "$gen" metrics-exporter-config >"$STATE/metrics-exporter.yaml" || die "gen metrics-exporter-config failed"
}

# The image's kafka-run-class, for these jars: JVM options, class path, then the arguments as given
# (Java expands the launcher's @argument-file there, as in the image).
write_run_class() {
    mkdir -p "$STATE/bin"
    cat >"$STATE/bin/kafka-run-class" <<EOF
#!/usr/bin/env bash
# Written by kafka.sh: the test cluster's stand-in for the Confluent image's kafka-run-class.
# shellcheck disable=SC2086 # heap options are several words
exec java \${KAFKA_HEAP_OPTS:--Xmx256m} -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2-tools.properties" -cp "$KAFKA_HOME/libs/*" "\$@"
EOF
    chmod 700 "$STATE/bin/kafka-run-class"
}

format_storage() {
    local n step
    step=$(format_step)
    # What ran, for tests/tests/kafka_rendered.rs to compare with the rendered launcher.
    printf '%s\n' "$step" >"$STATE/format-storage.sh"
    write_run_class
    for n in "${NODES[@]}"; do
        rm -rf "$STATE/node-$n/data"
        # The node's own environment (as the container has it), the password read inside the shell
        # so that it is never an argument of any process, and the rendered step.
        # shellcheck disable=SC2016 # the inner bash expands $1..$3, not this one
        env -i PATH="$STATE/bin:$PATH" \
            CLUSTER_ID="$(node_env_value "$n" CLUSTER_ID)" \
            KAFKA_PROCESS_ROLES="$(node_env_value "$n" KAFKA_PROCESS_ROLES)" \
            bash -c 'set -eu; eval "$1"; ADMIN_SCRAM_PASSWORD=$(cat "$2"); format_storage "$3"' \
            _ "$step" "$SECRETS/admin.password" "$STATE/node-$n/server.properties" \
            >"$STATE/node-$n/format.log" 2>&1 ||
            { cat "$STATE/node-$n/format.log" >&2; die "formatting storage of node $n failed"; }
    done
}

# ---------------------------------------------------------------------------------------------------
# processes

pid_file() { echo "$STATE/node-$1/kafka.pid"; }

node_running() {
    local f
    f=$(pid_file "$1")
    [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

launch_node() {
    local n=$1 heap
    heap=$(node_env_value "$n" KAFKA_HEAP_OPTS)
    # shellcheck disable=SC2086 # heap options are several words
    nohup java ${heap:-$HEAP_OPTS} -XX:+UseG1GC -Djava.awt.headless=true \
        -javaagent:"$(exporter_jar)=$HOST:$(metrics_port "$n"):$STATE/metrics-exporter.yaml" \
        -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2-server.properties" \
        -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$STATE/node-$n/server.properties" \
        >>"$STATE/node-$n/server.log" 2>&1 &
    echo $! >"$(pid_file "$n")"
}

wait_started() {
    local deadline=$((SECONDS + 120)) n pending
    while ((SECONDS < deadline)); do
        pending=0
        for n in "$@"; do
            if ! node_running "$n"; then
                log "node $n exited during start-up; last log lines:"
                tail -n 30 "$STATE/node-$n/server.log" >&2 || true
                return 1
            fi
            grep -q "Kafka Server started" "$STATE/node-$n/server.log" 2>/dev/null || pending=1
        done
        ((pending == 0)) && return 0
        sleep 0.5
    done
    log "nodes $* did not start within 120 s (logs in $STATE/node-N/server.log)"
    return 1
}

# A real request as the admin super user over SASL_SSL proves listeners, TLS, SCRAM and the
# authorizer all work together.
check_admin() {
    local props
    props=$(client_config sasl "$ADMIN_USER" "$SECRETS/admin.password")
    local _attempt
    for _attempt in 1 2 3 4 5 6 7 8 9 10; do
        if run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap_sasl)" \
            --command-config "$props" --list >/dev/null 2>"$STATE/check.log"; then
            return 0
        fi
        sleep 2
    done
    cat "$STATE/check.log" >&2
    return 1
}

start() {
    install
    command -v openssl >/dev/null || die "openssl not found"
    local n any=0
    for n in "${NODES[@]}"; do node_running "$n" && any=1; done
    if ((any)); then
        log "already running (state in $STATE)"
        return 0
    fi
    for n in "${NODES[@]}"; do
        if (exec 3<>"/dev/tcp/$HOST/$(sasl_port "$n")") 2>/dev/null; then
            die "something already listens on $HOST:$(sasl_port "$n"); stop it first"
        fi
    done
    configure
    format_storage
    write_exporter_config
    for n in "${NODES[@]}"; do
        : >"$STATE/node-$n/server.log"
        launch_node "$n"
    done
    if ! wait_started "${NODES[@]}"; then
        stop
        return 1
    fi
    if ! check_admin; then
        log "the cluster started but the admin user cannot list topics over SASL_SSL"
        stop
        return 1
    fi
    log "Kafka $KAFKA_VERSION running: SASL_SSL $(bootstrap_sasl), mTLS $(bootstrap_mtls) (state $STATE)"
}

stop_node() {
    local n=$1 f pid
    f=$(pid_file "$n")
    if node_running "$n"; then
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || true
        # A clean shutdown needs the quorum; when all nodes stop together it may never come, and
        # the data is thrown away at the next start anyway.
        for _ in $(seq 1 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        kill -9 "$pid" 2>/dev/null || true
        log "stopped node $n (pid $pid)"
    fi
    rm -f "$f"
}

# A crash rather than a shutdown: no controlled shutdown, open connections just break.
kill_node() {
    local n=$1 f pid
    f=$(pid_file "$n")
    if node_running "$n"; then
        pid=$(cat "$f")
        kill -9 "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
        log "killed node $n (pid $pid)"
    fi
    rm -f "$f"
}

stop() {
    local n
    # Signal all first so that they shut down in parallel.
    for n in "${NODES[@]}"; do
        node_running "$n" && kill "$(cat "$(pid_file "$n")")" 2>/dev/null || true
    done
    for n in "${NODES[@]}"; do stop_node "$n"; done
}

start_node() {
    local n=$1
    [[ -f "$STATE/node-$n/server.properties" ]] || die "node $n was never configured; run start first"
    if node_running "$n"; then
        log "node $n already running"
        return 0
    fi
    local lines
    lines=$(wc -l <"$STATE/node-$n/server.log")
    launch_node "$n"
    local deadline=$((SECONDS + 120))
    while ((SECONDS < deadline)); do
        node_running "$n" || { tail -n 30 "$STATE/node-$n/server.log" >&2; die "node $n exited"; }
        # Not `tail | grep -q`: grep quitting early kills tail with SIGPIPE, which pipefail reports
        # as a failed match.
        if grep -q "Kafka Server started" <(tail -n +"$((lines + 1))" "$STATE/node-$n/server.log"); then
            log "node $n started"
            return 0
        fi
        sleep 0.5
    done
    die "node $n did not start within 120 s"
}

# ---------------------------------------------------------------------------------------------------
# clients

client_config() {
    local kind=${1:-} file
    mkdir -p "$CLIENTS"
    chmod 700 "$CLIENTS"
    case $kind in
        sasl)
            local user=${2:?user} password_file=${3:?password file}
            [[ -f $password_file ]] || die "password file $password_file not found"
            file="$CLIENTS/sasl-$user.properties"
            (
                umask 077
                {
                    echo "security.protocol=SASL_SSL"
                    echo "sasl.mechanism=SCRAM-SHA-512"
                    printf 'sasl.jaas.config=%s\n' "$(properties_escape "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$user\" password=\"$(cat "$password_file")\";")"
                    echo "ssl.truststore.type=PEM"
                    printf 'ssl.truststore.certificates=%s\n' "$(properties_escape "$(cat "$CERTS/ca.crt")")"
                } >"$file.tmp"
            )
            ;;
        mtls)
            local name=${2:?name} dir
            dir=$(client_cert "$name")
            file="$CLIENTS/mtls-$name.properties"
            (
                umask 077
                {
                    echo "security.protocol=SSL"
                    echo "ssl.keystore.type=PEM"
                    printf 'ssl.keystore.key=%s\n' "$(properties_escape "$(cat "$dir/key.pem")")"
                    printf 'ssl.keystore.certificate.chain=%s\n' "$(properties_escape "$(cat "$dir/chain.pem")")"
                    echo "ssl.truststore.type=PEM"
                    printf 'ssl.truststore.certificates=%s\n' "$(properties_escape "$(cat "$CERTS/ca.crt")")"
                } >"$file.tmp"
            )
            ;;
        *) die "usage: client-config sasl USER PASSWORD_FILE | mtls NAME" ;;
    esac
    mv "$file.tmp" "$file"
    echo "$file"
}

bootstrap_for() {
    # SSL clients go to the mTLS listener, SASL clients to the SASL_SSL one.
    if grep -q '^security.protocol=SSL$' "$1"; then bootstrap_mtls; else bootstrap_sasl; fi
}

console_producer() {
    local props=${1:?properties file} topic=${2:?topic}
    shift 2
    run_tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$(bootstrap_for "$props")" \
        --command-config "$props" --topic "$topic" "$@"
}

console_consumer() {
    local props=${1:?properties file} topic=${2:?topic} group=${3:?group}
    shift 3
    run_tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$(bootstrap_for "$props")" \
        --command-config "$props" --topic "$topic" --group "$group" --from-beginning "$@"
}

print_env() {
    cat <<EOF
export KAFKA_TEST_BOOTSTRAP_SASL=$(bootstrap_sasl)
export KAFKA_TEST_BOOTSTRAP_MTLS=$(bootstrap_mtls)
export KAFKA_TEST_CA_FILE=$CERTS/ca.crt
export KAFKA_TEST_UNTRUSTED_CA_FILE=$CERTS/untrusted-ca.crt
export KAFKA_TEST_ADMIN_USER=$ADMIN_USER
export KAFKA_TEST_ADMIN_PASSWORD_FILE=$SECRETS/admin.password
export KAFKA_TEST_CLIENT_CERT_DIR=$CERTS/clients
export KAFKA_TEST_SCRIPT=$SCRIPT_PATH
export KAFKA_TEST_STATE_DIR=$STATE
export KAFKA_TEST_METRICS_URLS=$(metrics_urls)
EOF
}

# shellcheck disable=SC2209 # TOOL_EXEC=exec is an assignment for that one call: the tool functions read it
case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    env) print_env ;;
    stop-node) stop_node "${2:?node number}" ;;
    start-node) start_node "${2:?node number}" ;;
    kill-node) kill_node "${2:?node number}" ;;
    client-cert) mkdir -p "$CERTS" && [[ -f "$CERTS/ca.crt" ]] || die "no CA yet; run start first"; client_cert "${2:?name}" ;;
    server-cert) mkdir -p "$STATE" && chmod 700 "$STATE" && server_cert "${2:?name}" ;;
    client-config) shift; client_config "$@" ;;
    console-producer) shift; TOOL_EXEC=exec console_producer "$@" ;;
    console-consumer) shift; TOOL_EXEC=exec console_consumer "$@" ;;
    tool) shift; TOOL_EXEC=exec run_tool "$@" ;;
    env-to-properties) env_file_to_properties "${2:?env file}" ;;
    *)
        echo "usage: $0 {install|start|stop|env|stop-node N|start-node N|kill-node N|client-cert NAME|server-cert NAME|client-config ...|console-producer ...|console-consumer ...|tool CLASS ...|env-to-properties FILE}" >&2
        exit 2
        ;;
esac
