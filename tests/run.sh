#!/usr/bin/env bash
# The whole test suite, servers included: the README's test command, and what CI runs.
#
# Installs the pinned tools it needs (cfn-lint, checkov, moto, Kafka jars, Apicurio Registry) under
# $TOOLS_DIR, checks formatting and clippy lints, checks that templates/ is current, lints every
# template, starts moto, a schema registry and a 3-node Kafka cluster on 127.0.0.1 once, runs every
# test of the workspace, and stops the servers again.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/kafka-platform/target}
export TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
export RUN_DIR=${RUN_DIR:-$HOME/.cache/kafka-platform/run}
export CARGO_TERM_COLOR=never
mkdir -p "$TOOLS_DIR" "$RUN_DIR"

step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "install pinned tools"
tests/scripts/lint-templates.sh install
tests/scripts/moto.sh install
tests/scripts/schema-registry.sh install
tests/scripts/registry-proxy.sh install   # nginx, the rendered registry proxy's server
tests/scripts/kafka.sh install
# gen catalog's proof (tests/tests/catalog_tools.rs): the AsyncAPI parser and headless Chromium.
tests/scripts/asyncapi.sh install
tests/scripts/browser.sh install

# The build directory is reused between runs: sweep what Cargo left behind before it fills the disk.
tests/scripts/sweep-target.sh "$CARGO_TARGET_DIR"

step "style: cargo fmt --check, cargo clippy -D warnings"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# gen builds without a C toolchain: its AWS SDK uses rustls with ring, never aws-lc-rs.
if cargo tree -p kafka-gen --locked -e normal,build --prefix none | grep -q '^aws-lc'; then
  echo "kafka-gen depends on aws-lc: keep the AWS SDK's default features off (generator/cli/Cargo.toml)" >&2
  exit 1
fi

step "build"
cargo build --workspace --all-targets --locked
export GEN_BIN="$CARGO_TARGET_DIR/debug/gen"

step "templates are current (gen render --all --check)"
"$GEN_BIN" validate
"$GEN_BIN" render --all --check
"$GEN_BIN" schema | diff -u environments/schema.json - || { echo "environments/schema.json is stale: run gen schema > environments/schema.json" >&2; exit 1; }

step "cfn-lint and checkov on every rendered template"
tests/scripts/lint-templates.sh lint templates
tests/scripts/actionlint.sh install   # the example pipelines in .github/workflows/
tests/scripts/actionlint.sh lint
tests/scripts/shellcheck.sh install   # every shell script (tests/scripts/*.sh, node scripts)
tests/scripts/shellcheck.sh lint

step "start servers"
cleanup() {
  tests/scripts/kafka.sh stop || true
  tests/scripts/moto.sh stop || true
  tests/scripts/registry-proxy.sh stop || true
  tests/scripts/schema-registry.sh stop || true
}
trap cleanup EXIT
tests/scripts/moto.sh start
eval "$(tests/scripts/moto.sh env)"
# Apicurio Registry (Confluent API at /apis/ccompat/v7, global compatibility BACKWARD) for the
# schema tests (tests/tests/schema_registry.rs).
tests/scripts/schema-registry.sh start
eval "$(tests/scripts/schema-registry.sh env)"
# Every broker and client certificate comes from the private-certificate Lambda against moto's ACM
# Private CA (kafka.sh calls issue-test-cert); tests/tests/kafka_rendered.rs checks that the brokers
# serve what the Lambda stored.
export KAFKA_CERT_ISSUER="$CARGO_TARGET_DIR/debug/issue-test-cert"
# The cluster boots from the broker settings gen renders for tests/fixtures/local-environment/ (stage
# dev), localised for one machine; tests/tests/kafka_rendered.rs checks that they are what runs.
tests/scripts/rendered-node-env.sh "$RUN_DIR/kafka-rendered" >/dev/null
KAFKA_NODE_ENV_DIR="$RUN_DIR/kafka-rendered" tests/scripts/kafka.sh start
eval "$(tests/scripts/kafka.sh env)"
# The Schema Registry proxy as rendered (nginx, basic auth, writes for the reconciler only) in front
# of Apicurio, with a certificate of the test CA (tests/tests/schema_registry_auth.rs).
tests/scripts/registry-proxy.sh start
eval "$(tests/scripts/registry-proxy.sh env)"

step "tests"
# One server set for the whole suite; test binaries run one after another, tests inside in parallel.
cargo test --workspace --locked --no-fail-fast -- --test-threads=4
