#!/usr/bin/env bash
# moto server, the AWS emulator used by the Lambda and deploy tests. Two instances, each started
# once per run:
#
#   open      127.0.0.1:5310  no IAM: every other moto test (fake credentials `testing`)
#   enforced  127.0.0.1:5311  IAM enforced, as on AWS: the Lambda IAM tests (tests/tests/lambda_iam.rs)
#                             and the access-denied fault test
#
# Why two: moto re-encodes the form body of query-protocol calls (CloudFormation, IAM, STS) when it
# checks a signature, so a body with a space (a template, a parameter value) signed by the Rust
# SDK (%20) fails as SignatureDoesNotMatch; `gen deploy` sends such bodies. Only the IAM tests,
# whose bodies carry no spaces, use the enforced instance.
#
# The enforced instance starts open; `start` creates the IAM user `moto-admin` (Action "*" on "*"),
# then switches enforcement on (moto's INITIAL_NO_AUTH_ACTION_COUNT, set to 0 through
# /moto-api/reset-auth). moto evaluates the actions of SSM, ACM PCA, KMS and CloudFormation calls
# (on Resource "*"), actions and resources of S3 calls, and no conditions.
#
#   moto.sh install   create the venv under $TOOLS_DIR/moto-<version> (idempotent)
#   moto.sh start     install if needed, start both, wait until they answer
#   moto.sh stop      stop what `start` started
#   moto.sh env       print the variables the tests read (eval "$(moto.sh env)"):
#                     MOTO_ENDPOINT (open), MOTO_SERVER_BIN, MOTO_IAM_ENDPOINT (enforced),
#                     MOTO_IAM_ACCESS_KEY_ID and MOTO_IAM_SECRET_ACCESS_KEY (its admin user)
#
# State lives in $RUN_DIR (moto.pid, moto.log, moto-iam.pid, moto-iam.log, moto-iam-admin.env).
# Only 127.0.0.1 is bound.
set -euo pipefail

MOTO_VERSION=5.2.5
MOTO_HOST=127.0.0.1
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
RUN_DIR=${RUN_DIR:-$HOME/.cache/kafka-platform/run}
VENV="$TOOLS_DIR/moto-$MOTO_VERSION"
ADMIN_FILE="$RUN_DIR/moto-iam-admin.env"

# name port: the instances.
INSTANCES=("moto 5310" "moto-iam 5311")

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

running() { # name
    [[ -f "$RUN_DIR/$1.pid" ]] && kill -0 "$(cat "$RUN_DIR/$1.pid")" 2>/dev/null
}

answers() { # url
    # moto_api answers without credentials once the server is up.
    "$VENV/bin/python" - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json", timeout=2).read()
EOF
}

# Creates the admin user on the still-open server at $1, writes its keys to $ADMIN_FILE, then
# turns IAM enforcement on.
enforce_iam() {
    (umask 077 && "$VENV/bin/python" - "$1" "$ADMIN_FILE" <<'EOF'
import json, sys, urllib.request
import boto3
url, out = sys.argv[1], sys.argv[2]
iam = boto3.client("iam", endpoint_url=url, region_name="eu-west-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="moto-admin")
iam.put_user_policy(UserName="moto-admin", PolicyName="everything", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="moto-admin")["AccessKey"]
with open(out, "w") as f:
    f.write(f"export MOTO_IAM_ACCESS_KEY_ID={key['AccessKeyId']}\n")
    f.write(f"export MOTO_IAM_SECRET_ACCESS_KEY={key['SecretAccessKey']}\n")
request = urllib.request.Request(url + "/moto-api/reset-auth", data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
urllib.request.urlopen(request, timeout=10).read()
EOF
    )
}

start_one() { # name port
    local name=$1 url="http://$MOTO_HOST:$2"
    if running "$name"; then
        echo "moto.sh: $name already running (pid $(cat "$RUN_DIR/$name.pid"))" >&2
        return 0
    fi
    if answers "$url"; then
        echo "moto.sh: something else already answers on $url; stop it first" >&2
        return 1
    fi
    # Fake credentials keep boto inside moto from looking for real ones.
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1 \
        nohup "$VENV/bin/moto_server" -H "$MOTO_HOST" -p "$2" >"$RUN_DIR/$name.log" 2>&1 &
    echo $! >"$RUN_DIR/$name.pid"
    for _ in $(seq 1 120); do
        if answers "$url"; then
            if [[ $name == moto-iam ]] && ! enforce_iam "$url"; then
                echo "moto.sh: could not create the admin user of $name and enforce IAM" >&2
                return 1
            fi
            echo "moto.sh: $name (moto $MOTO_VERSION) listening on $url (log $RUN_DIR/$name.log)" >&2
            return 0
        fi
        if ! running "$name"; then
            echo "moto.sh: $name exited during start-up; last log lines:" >&2
            tail -n 20 "$RUN_DIR/$name.log" >&2 || true
            rm -f "$RUN_DIR/$name.pid"
            return 1
        fi
        sleep 0.5
    done
    echo "moto.sh: $name did not answer on $url within 60 s (log $RUN_DIR/$name.log)" >&2
    return 1
}

start() {
    install
    mkdir -p "$RUN_DIR"
    for instance in "${INSTANCES[@]}"; do
        # shellcheck disable=SC2086
        start_one $instance || { stop; return 1; }
    done
}

stop_one() { # name
    if running "$1"; then
        local pid
        pid=$(cat "$RUN_DIR/$1.pid")
        kill "$pid"
        for _ in $(seq 1 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        kill -9 "$pid" 2>/dev/null || true
        echo "moto.sh: $1 stopped (pid $pid)" >&2
    fi
    rm -f "$RUN_DIR/$1.pid"
}

stop() {
    for instance in "${INSTANCES[@]}"; do
        stop_one "${instance%% *}"
    done
    rm -f "$ADMIN_FILE"
}

print_env() {
    echo "export MOTO_ENDPOINT=http://$MOTO_HOST:5310"
    echo "export MOTO_SERVER_BIN=$VENV/bin/moto_server"
    echo "export MOTO_IAM_ENDPOINT=http://$MOTO_HOST:5311"
    if [[ -f "$ADMIN_FILE" ]]; then
        cat "$ADMIN_FILE"
    else
        echo "moto.sh: no admin credentials of the enforced instance ($ADMIN_FILE); run moto.sh start" >&2
    fi
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
