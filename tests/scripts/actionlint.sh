#!/usr/bin/env bash
# actionlint (a Go module, pinned) on the example pipelines in .github/workflows/.
#
#   actionlint.sh install   go install the pinned version into $TOOLS_DIR/actionlint-<version> (idempotent)
#   actionlint.sh lint      lint every workflow file; any finding fails
set -euo pipefail
cd "$(dirname "$0")/../.."

ACTIONLINT_VERSION=v1.7.12
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
BIN_DIR="$TOOLS_DIR/actionlint-$ACTIONLINT_VERSION"

install() {
    if [[ -x "$BIN_DIR/actionlint" ]]; then
        return 0
    fi
    command -v go >/dev/null || { echo "actionlint.sh: Go is needed to install actionlint (https://go.dev/dl/)" >&2; exit 1; }
    echo "actionlint.sh: installing actionlint $ACTIONLINT_VERSION into $BIN_DIR" >&2
    mkdir -p "$BIN_DIR"
    # GOFLAGS=-mod=mod: resolve from the module's own go.mod, whatever workspace we stand in.
    GOBIN="$BIN_DIR" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
}

lint() {
    local files
    files=$(find .github/workflows -name '*.yml' -o -name '*.yaml' | sort)
    [[ -n "$files" ]] || { echo "no workflow files under .github/workflows" >&2; exit 1; }
    echo "actionlint $ACTIONLINT_VERSION on $(echo "$files" | wc -l) workflow files"
    # ShellCheck and pyflakes are not on its PATH here: actionlint skips those checks when absent.
    # shellcheck disable=SC2086
    "$BIN_DIR/actionlint" -no-color $files
    echo "actionlint: 0 findings"
}

case "${1:-}" in
    install) install ;;
    lint) lint ;;
    *)
        echo "usage: $0 {install|lint}" >&2
        exit 2
        ;;
esac
