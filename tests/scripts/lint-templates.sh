#!/usr/bin/env bash
# Runs the real validators on every rendered template: cfn-lint (zero errors, zero warnings) and
# checkov (zero failed checks). Skips are declared in the templates' metadata with their reasons.
#   tests/scripts/lint-templates.sh install   # pinned versions, one virtual environment each
#   tests/scripts/lint-templates.sh [DIR]     # lint DIR (default templates/)
set -euo pipefail
CFN_LINT_VERSION=1.58.0
CHECKOV_VERSION=3.3.30
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}

install() {
  # checkov pins an old boto3, so each tool gets its own virtual environment.
  if [ ! -x "$TOOLS_DIR/cfn-lint-$CFN_LINT_VERSION/bin/cfn-lint" ]; then
    python3 -m venv "$TOOLS_DIR/cfn-lint-$CFN_LINT_VERSION"
    "$TOOLS_DIR/cfn-lint-$CFN_LINT_VERSION/bin/pip" install -q "cfn-lint==$CFN_LINT_VERSION"
  fi
  if [ ! -x "$TOOLS_DIR/checkov-$CHECKOV_VERSION/bin/checkov" ]; then
    python3 -m venv "$TOOLS_DIR/checkov-$CHECKOV_VERSION"
    "$TOOLS_DIR/checkov-$CHECKOV_VERSION/bin/pip" install -q "checkov==$CHECKOV_VERSION"
  fi
}

lint() {
  local dir=${1:-templates}
  local templates
  templates=$(find "$dir" -name '*.yaml' | sort)
  [ -n "$templates" ] || { echo "no templates under $dir" >&2; exit 1; }
  local count
  count=$(echo "$templates" | wc -l)
  echo "cfn-lint $CFN_LINT_VERSION on $count templates"
  # shellcheck disable=SC2086
  "$TOOLS_DIR/cfn-lint-$CFN_LINT_VERSION/bin/cfn-lint" --format parseable $templates
  echo "cfn-lint: 0 errors, 0 warnings"
  echo "checkov $CHECKOV_VERSION on $count templates"
  "$TOOLS_DIR/checkov-$CHECKOV_VERSION/bin/checkov" --directory "$dir" --framework cloudformation \
    --compact --quiet --skip-download --output cli
  echo "checkov: 0 failed checks"
}

case "${1:-lint}" in
  install) install ;;
  lint) lint "${2:-templates}" ;;
  *) install; lint "$1" ;;
esac
