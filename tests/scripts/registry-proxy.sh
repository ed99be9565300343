#!/usr/bin/env bash
# The Schema Registry's rendered authenticating proxy (render::registry_proxy), run here in front of
# the suite's Apicurio Registry, for tests/tests/schema_registry_auth.rs. 127.0.0.1 only.
#
#   registry-proxy.sh install   nginx from Debian's archive (pinned version; `apt-get download` and
#                               `dpkg-deb -x` into $TOOLS_DIR: no service is started, nothing installed
#                               system-wide)
#   registry-proxy.sh start     take the proxy container's start script from the cluster template gen
#                               renders for tests/fixtures/local-environment/ (stage dev), localise it
#                               (below) and run it, with the test CA's certificate for
#                               schema-registry.kafka.local.test (kafka.sh server-cert: SAN 127.0.0.1)
#                               and two generated passwords
#   registry-proxy.sh stop      stop what `start` started
#   registry-proxy.sh env       SCHEMA_REGISTRY_PROXY_URL, _CA_FILE, _WRITER, _WRITER_PASSWORD_FILE,
#                               _READER, _READER_PASSWORD_FILE
#
# Localised, each exactly once (a rendered change that no longer matches fails the start): the
# working directory, the listener (127.0.0.1:18443 instead of every address on 8081), the upstream
# (Apicurio's Confluent API over HTTP instead of the registry's HTTPS loopback listener), and the
# nginx binary. The user file, the TLS files, the read/write rules and the authentication are run
# exactly as rendered. Needs GEN_BIN, Apicurio (schema-registry.sh) and the test CA (kafka.sh).
set -euo pipefail

# Debian bookworm's nginx as tested; the security archive keeps only the newest build, so an older
# pin may be gone: then the current one is installed and named. The rendered image is the official
# nginx image (SchemaRegistrySettings::DEFAULT_PROXY_TAG); the directives used exist in both.
NGINX_VERSION=1.22.1-9+deb12u11
HOST=127.0.0.1
PORT=18443
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FIXTURE="$SCRIPTS/../fixtures/local-environment"
STAGE=dev
SERVER_NAME=schema-registry.kafka.local.test
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
RUN_DIR=${RUN_DIR:-$HOME/.cache/kafka-platform/run}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/kafka-platform/target}
GEN_BIN=${GEN_BIN:-$CARGO_TARGET_DIR/debug/gen}
NGINX_DIR="$TOOLS_DIR/nginx-$NGINX_VERSION"
NGINX_BIN="$NGINX_DIR/usr/sbin/nginx"
STATE="$RUN_DIR/registry-proxy"
SECRETS="$RUN_DIR/registry-proxy-secrets"
PID_FILE="$RUN_DIR/registry-proxy.pid"
LOG_FILE="$RUN_DIR/registry-proxy.log"
UPSTREAM_PATH=/apis/ccompat/v7

log() { echo "registry-proxy.sh: $*" >&2; }
die() { log "$*"; exit 1; }

install() {
    [[ -x $NGINX_BIN ]] && return 0
    local started=$SECONDS work version=$NGINX_VERSION
    work=$(mktemp -d)
    chmod 755 "$work" # apt's download user writes into it
    if ! (cd "$work" && apt-get download -qq "nginx=$version" 2>/dev/null); then
        version=$(apt-cache policy nginx | awk '/Candidate/ {print $2}')
        log "nginx $NGINX_VERSION is no longer in the archive; using $version"
        (cd "$work" && apt-get download -qq "nginx=$version") || { rm -rf "$work"; die "apt-get download nginx failed"; }
    fi
    rm -rf "$NGINX_DIR"
    dpkg-deb -x "$work"/nginx_*.deb "$NGINX_DIR"
    rm -rf "$work"
    [[ -x $NGINX_BIN ]] || die "no nginx binary in the package"
    log "$("$NGINX_BIN" -v 2>&1) unpacked into $NGINX_DIR in $((SECONDS - started)) s"
}

# yaml for the template: the system python3's, else the one cfn-lint's venv brings.
python_with_yaml() {
    local p
    for p in python3 "$TOOLS_DIR"/cfn-lint-*/bin/python; do
        if "$p" -c 'import yaml' 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    die "no python3 with PyYAML (tests/scripts/lint-templates.sh install brings one)"
}

# The rendered start script of the proxy container.
rendered_script() {
    local out
    out=$(mktemp -d)
    local messages
    messages=$("$GEN_BIN" --environments "$FIXTURE" render "$STAGE" --out "$out" 2>&1) ||
        { rm -rf "$out"; die "gen render $STAGE failed: $messages"; }
    "$(python_with_yaml)" - "$out/$STAGE/cluster.yaml" <<'PY'
import sys, yaml
t = yaml.safe_load(open(sys.argv[1]))
c = [c for c in t["Resources"]["SchemaRegistryTaskDefinition"]["Properties"]["ContainerDefinitions"] if c["Name"] == "registry-proxy"]
assert len(c) == 1 and c[0]["EntryPoint"] == ["sh", "-c"], "no registry-proxy container with sh -c"
sys.stdout.write(c[0]["Command"][0])
PY
    rm -rf "$out"
}

# replace_once TEXT OLD NEW: TEXT with OLD (which must occur exactly once) replaced.
replace_once() {
    local text=$1 old=$2 new=$3 rest=${1#*"$2"}
    [[ $text == *"$old"* ]] || die "the rendered proxy no longer contains '$old'"
    [[ $rest != *"$old"* ]] || die "the rendered proxy contains '$old' more than once"
    printf '%s' "${text%%"$old"*}$new$rest"
}

localise() {
    local s=$1 d=/tmp/registry-proxy
    [[ $s == *"d=$d"* ]] || die "the rendered proxy no longer works in $d"
    s=${s//"$d"/"$STATE"}
    s=$(replace_once "$s" "listen 8081 ssl;" "listen $HOST:$PORT ssl;")
    s=$(replace_once "$s" "server 127.0.0.1:8082;" "server $REGISTRY_UPSTREAM;")
    # shellcheck disable=SC2016 # nginx's $request_uri, literally
    s=$(replace_once "$s" 'proxy_pass https://registry$request_uri;' "proxy_pass http://registry$UPSTREAM_PATH\$request_uri;")
    s=$(replace_once "$s" "exec nginx " "exec '$NGINX_BIN' ")
    if [[ $(id -u) == 0 ]]; then
        # The task runs nginx as the image's unprivileged user; here a root master would hand its
        # workers to `nobody`, who cannot read the user file.
        s=$(replace_once "$s" "daemon off;" "daemon off;
user root;")
    fi
    printf '%s\n' "$s"
}

running() {
    [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

password() { # FILE: a generated password (no ':'), kept
    [[ -s $1 ]] || (umask 077 && openssl rand -base64 33 | tr -d '\n/+=:' >"$1")
}

start() {
    install
    if running; then
        log "already running (pid $(cat "$PID_FILE"))"
        return 0
    fi
    [[ -x $GEN_BIN ]] || die "$GEN_BIN not found; build it with 'cargo build -p kafka-gen' (or set GEN_BIN)"
    eval "$("$SCRIPTS/schema-registry.sh" env)"
    [[ $SCHEMA_REGISTRY_URL == http://127.0.0.1:*"$UPSTREAM_PATH" ]] || die "unexpected Apicurio URL $SCHEMA_REGISTRY_URL"
    REGISTRY_UPSTREAM=${SCHEMA_REGISTRY_URL#http://}
    REGISTRY_UPSTREAM=${REGISTRY_UPSTREAM%%/*}
    local certs ca script
    certs=$("$SCRIPTS/kafka.sh" server-cert "$SERVER_NAME")
    ca=$(dirname "$(dirname "$certs")")/ca.crt
    [[ -f $ca ]] || die "no test CA at $ca"
    mkdir -p "$RUN_DIR" "$SECRETS"
    chmod 700 "$SECRETS"
    password "$SECRETS/writer"
    password "$SECRETS/reader"
    cp "$ca" "$SECRETS/ca.pem"
    rm -rf "$STATE"
    script=$(localise "$(rendered_script)")
    printf '%s' "$script" >"$RUN_DIR/registry-proxy.localised.sh"
    # The container's secrets arrive as environment variables, as ECS passes them.
    TLS_CERTIFICATE=$(cat "$certs/cert.pem") TLS_CHAIN=$(cat "$ca") TLS_PRIVATE_KEY=$(cat "$certs/key.pem") \
        WRITER_PASSWORD=$(cat "$SECRETS/writer") READER_PASSWORD=$(cat "$SECRETS/reader") \
        nohup sh -c "$script" >"$LOG_FILE" 2>&1 &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 40); do
        # Anonymous: the proxy answers 401 once it is up.
        if [[ $(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" "https://$HOST:$PORT/subjects" 2>/dev/null) == 401 ]]; then
            log "$("$NGINX_BIN" -v 2>&1) in front of $SCHEMA_REGISTRY_URL on https://$HOST:$PORT (log $LOG_FILE)"
            return 0
        fi
        if ! running; then
            log "exited during start-up; last log lines:"
            tail -n 20 "$LOG_FILE" >&2 || true
            rm -f "$PID_FILE"
            return 1
        fi
        sleep 0.25
    done
    log "did not answer 401 on https://$HOST:$PORT within 10 s (log $LOG_FILE)"
    stop
    return 1
}

stop() {
    if running; then
        local pid
        pid=$(cat "$PID_FILE")
        kill "$pid" # nginx's master: SIGTERM stops it and its worker
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
    echo "export SCHEMA_REGISTRY_PROXY_URL=https://$HOST:$PORT"
    echo "export SCHEMA_REGISTRY_PROXY_CA_FILE=$SECRETS/ca.pem"
    echo "export SCHEMA_REGISTRY_PROXY_WRITER=reconciler"
    echo "export SCHEMA_REGISTRY_PROXY_WRITER_PASSWORD_FILE=$SECRETS/writer"
    echo "export SCHEMA_REGISTRY_PROXY_READER=reader"
    echo "export SCHEMA_REGISTRY_PROXY_READER_PASSWORD_FILE=$SECRETS/reader"
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
