#!/usr/bin/env bash
# moto server, the AWS emulator used by the Lambda and deploy tests.
#
#   moto.sh install   create the venv under $TOOLS_DIR/moto-<version> (idempotent)
#   moto.sh start     install if needed, start on 127.0.0.1:5310, wait until it answers
#   moto.sh stop      stop the server started by `start`
#   moto.sh env       print the variables the tests read (eval "$(moto.sh env)"):
#                     MOTO_ENDPOINT (http://127.0.0.1:5310), MOTO_SERVER_BIN
#
# State lives in $RUN_DIR (moto.pid, moto.log). Only 127.0.0.1 is bound.
set -euo pipefail

MOTO_VERSION=5.2.5
MOTO_HOST=127.0.0.1
MOTO_PORT=5310
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
RUN_DIR=${RUN_DIR:-$HOME/.cache/kafka-platform/run}
VENV="$TOOLS_DIR/moto-$MOTO_VERSION"
PID_FILE="$RUN_DIR/moto.pid"
LOG_FILE="$RUN_DIR/moto.log"
URL="http://$MOTO_HOST:$MOTO_PORT"

# `server` brings flask and the dependencies of every service; the service extras are listed
# as well so that a moto release that slims `server` down still serves what the tests use
# (CloudFormation, S3, SSM, ACM PCA, KMS, ECS, EC2, ELBv2, Route53, IAM, Logs, Lambda).
EXTRAS="server,cloudformation,s3,ssm,acmpca,kms,ecs,ec2,elbv2,route53,iam,logs,awslambda"

install() {
    if [[ -x "$VENV/bin/moto_server" && -f "$VENV/.complete" ]]; then
        return 0
    fi
    echo "moto.sh: installing moto[$EXTRAS]==$MOTO_VERSION into $VENV" >&2
    rm -rf "$VENV"
    mkdir -p "$TOOLS_DIR"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[$EXTRAS]==$MOTO_VERSION"
    touch "$VENV/.complete"
}

running() {
    [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

answers() {
    # moto_api answers without credentials once the server is up.
    "$VENV/bin/python" - "$URL" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json", timeout=2).read()
EOF
}

start() {
    install
    mkdir -p "$RUN_DIR"
    if running; then
        echo "moto.sh: already running (pid $(cat "$PID_FILE"))" >&2
        return 0
    fi
    if answers; then
        echo "moto.sh: something else already answers on $URL; stop it first" >&2
        return 1
    fi
    # Fake credentials keep boto inside moto from looking for real ones.
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1 \
        nohup "$VENV/bin/moto_server" -H "$MOTO_HOST" -p "$MOTO_PORT" >"$LOG_FILE" 2>&1 &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 120); do
        if answers; then
            echo "moto.sh: moto $MOTO_VERSION listening on $URL (log $LOG_FILE)" >&2
            return 0
        fi
        if ! running; then
            echo "moto.sh: moto exited during start-up; last log lines:" >&2
            tail -n 20 "$LOG_FILE" >&2 || true
            rm -f "$PID_FILE"
            return 1
        fi
        sleep 0.5
    done
    echo "moto.sh: moto did not answer on $URL within 60 s (log $LOG_FILE)" >&2
    stop
    return 1
}

stop() {
    if running; then
        local pid
        pid=$(cat "$PID_FILE")
        kill "$pid"
        for _ in $(seq 1 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        kill -9 "$pid" 2>/dev/null || true
        echo "moto.sh: stopped (pid $pid)" >&2
    fi
    rm -f "$PID_FILE"
}

print_env() {
    echo "export MOTO_ENDPOINT=$URL"
    # Tests that need a second, isolated moto (e.g. with IAM enforcement) start this binary.
    echo "export MOTO_SERVER_BIN=$VENV/bin/moto_server"
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
