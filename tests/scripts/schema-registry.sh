#!/usr/bin/env bash
# Apicurio Registry, a real schema registry speaking the Confluent API (at /apis/ccompat/v7), for the
# schema tests (tests/tests/schema_registry.rs). One instance per run, in-memory storage, 127.0.0.1 only.
#
#   schema-registry.sh install   fetch the pinned bundle from Maven Central into $TOOLS_DIR, check its
#                                SHA-256, unpack (idempotent)
#   schema-registry.sh start     install if needed, start, wait until it answers, set the global
#                                compatibility to BACKWARD (Apicurio's default is NONE; Confluent's is
#                                BACKWARD, which the tests and the platform assume)
#   schema-registry.sh stop      stop what `start` started
#   schema-registry.sh env       print the variables the tests read (eval "$(schema-registry.sh env)"):
#                                SCHEMA_REGISTRY_URL (the Confluent API's base URL)
#
# Needs Java 21 or newer: $SCHEMA_REGISTRY_JAVA_HOME, else the Temurin 25 JDK of the build machine, else
# `java` on the PATH if it is new enough. State lives in $RUN_DIR (schema-registry.pid, .log).
set -euo pipefail

APICURIO_VERSION=3.3.3
# From Maven Central's .sha256 next to the bundle (its .sha1 is 71e7918455480cbce405ad45552254eb47ec932d).
APICURIO_SHA256=8bc6751c76d963734224b01d5e7f84ccb3cb61c87d3bd77c36c35f10a5cbed63
MAVEN_CENTRAL=${MAVEN_CENTRAL:-https://repo.maven.apache.org/maven2}
HOST=127.0.0.1
PORT=18081
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
RUN_DIR=${RUN_DIR:-$HOME/.cache/kafka-platform/run}
HOME_DIR="$TOOLS_DIR/apicurio-registry-$APICURIO_VERSION"
PID_FILE="$RUN_DIR/schema-registry.pid"
LOG_FILE="$RUN_DIR/schema-registry.log"
BASE_URL="http://$HOST:$PORT/apis/ccompat/v7"
HEAP_OPTS=${SCHEMA_REGISTRY_HEAP_OPTS:--Xms128m -Xmx512m}

log() { echo "schema-registry.sh: $*" >&2; }
die() { log "$*"; exit 1; }

install() {
    if [[ -f "$HOME_DIR/.complete" ]]; then
        return 0
    fi
    local name="apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
    local url="$MAVEN_CENTRAL/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/$name"
    log "fetching Apicurio Registry $APICURIO_VERSION from Maven Central into $HOME_DIR"
    local work
    work=$(mktemp -d)
    if ! curl -fsSL --retry 3 -o "$work/$name" "$url"; then
        rm -rf "$work"
        die "could not download $url"
    fi
    if ! echo "$APICURIO_SHA256  $work/$name" | sha256sum --check --quiet -; then
        rm -rf "$work"
        die "SHA-256 of $name does not match the pinned $APICURIO_SHA256"
    fi
    rm -rf "$HOME_DIR"
    mkdir -p "$HOME_DIR"
    tar -xzf "$work/$name" -C "$HOME_DIR" --no-same-owner
    rm -rf "$work"
    [[ -f "$(run_jar)" ]] || die "quarkus-run.jar missing after unpacking $name"
    touch "$HOME_DIR/.complete"
}

# The bundle holds a Quarkus fast-jar layout (quarkus-run.jar, lib/, app/) at its root.
run_jar() {
    echo "$HOME_DIR/quarkus-run.jar"
}

java_bin() {
    local candidate
    for candidate in "${SCHEMA_REGISTRY_JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 "${JAVA_HOME:-}"; do
        if [[ -n "$candidate" && -x "$candidate/bin/java" ]] && java_ok "$candidate/bin/java"; then
            echo "$candidate/bin/java"
            return 0
        fi
    done
    if command -v java >/dev/null && java_ok java; then
        command -v java
        return 0
    fi
    die "Apicurio Registry needs Java 21 or newer; set SCHEMA_REGISTRY_JAVA_HOME"
}

java_ok() { # java binary: feature release >= 21
    local version
    version=$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    [[ -n "$version" && "${version%%.*}" -ge 21 ]]
}

running() {
    [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

answers() {
    curl -fsS --max-time 2 "$BASE_URL/subjects" >/dev/null 2>&1
}

start() {
    install
    mkdir -p "$RUN_DIR"
    if running; then
        log "already running (pid $(cat "$PID_FILE"))"
        return 0
    fi
    if answers; then
        die "something else already answers on $BASE_URL; stop it first"
    fi
    local java
    java=$(java_bin)
    # In-memory storage (Apicurio's default H2 in memory), HTTP on 127.0.0.1 only, no management port,
    # no UI. exec: stopping the pid stops Java itself.
    # shellcheck disable=SC2086
    nohup "$java" $HEAP_OPTS \
        -Dquarkus.http.host=$HOST -Dquarkus.http.port=$PORT \
        -Dquarkus.management.enabled=false \
        -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2 \
        -Dapicurio.rest.deletion.artifact.enabled=true \
        -Dapicurio.rest.deletion.artifact-version.enabled=true \
        -Dapicurio.rest.deletion.group.enabled=true \
        -jar "$(run_jar)" >"$LOG_FILE" 2>&1 &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 240); do
        if answers; then
            set_global_compatibility BACKWARD
            log "Apicurio Registry $APICURIO_VERSION listening on $BASE_URL (log $LOG_FILE)"
            return 0
        fi
        if ! running; then
            log "exited during start-up; last log lines:"
            tail -n 30 "$LOG_FILE" >&2 || true
            rm -f "$PID_FILE"
            return 1
        fi
        sleep 0.5
    done
    log "did not answer on $BASE_URL within 120 s (log $LOG_FILE)"
    stop
    return 1
}

set_global_compatibility() { # level
    local body
    body=$(curl -fsS --max-time 10 -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
        --data "{\"compatibility\":\"$1\"}" "$BASE_URL/config") || { stop; die "could not set the global compatibility"; }
    curl -fsS --max-time 10 "$BASE_URL/config" | grep -q "\"$1\"" \
        || { stop; die "global compatibility is not $1 after setting it (answer: $body)"; }
}

stop() {
    if running; then
        local pid
        pid=$(cat "$PID_FILE")
        kill "$pid"
        for _ in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        kill -9 "$pid" 2>/dev/null || true
        log "stopped (pid $pid)"
    fi
    rm -f "$PID_FILE"
}

print_env() {
    echo "export SCHEMA_REGISTRY_URL=$BASE_URL"
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    env) print_env ;;
    *)
        echo "usage: $0 {install|start|stop|env}" >&2
        exit 2
        ;;
esac
