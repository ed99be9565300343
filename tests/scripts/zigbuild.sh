#!/usr/bin/env bash
# cargo-zigbuild and zig from PyPI (pinned), for `gen package --toolchain zig`, which links the
# Lambda binaries against glibc 2.34 (provided.al2023) whatever glibc the build host has.
#
#   zigbuild.sh install   create the venv under $TOOLS_DIR/zigbuild-<version> (idempotent)
#   zigbuild.sh env       print the PATH that puts cargo-zigbuild and python -m ziglang first
set -euo pipefail

CARGO_ZIGBUILD_VERSION=0.24.0
ZIGLANG_VERSION=0.15.2
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
VENV="$TOOLS_DIR/zigbuild-$CARGO_ZIGBUILD_VERSION-zig-$ZIGLANG_VERSION"

install() {
    if [[ -x "$VENV/bin/cargo-zigbuild" && -f "$VENV/.complete" ]]; then
        return 0
    fi
    echo "zigbuild.sh: installing cargo-zigbuild $CARGO_ZIGBUILD_VERSION and ziglang $ZIGLANG_VERSION into $VENV" >&2
    rm -rf "$VENV"
    mkdir -p "$TOOLS_DIR"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION" "ziglang==$ZIGLANG_VERSION"
    touch "$VENV/.complete"
}

case "${1:-}" in
    install) install ;;
    # cargo-zigbuild runs `python3 -m ziglang` when no `zig` is on PATH; the venv's python3
    # has the module.
    env) install && echo "export PATH=$VENV/bin:\$PATH" ;;
    *)
        echo "usage: $0 {install|env}" >&2
        exit 2
        ;;
esac
