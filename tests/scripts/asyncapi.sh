#!/usr/bin/env bash
# The official AsyncAPI parser, pinned, from the npm registry, and the check of `gen catalog`'s
# AsyncAPI documents with it (tests/tests/catalog_tools.rs).
#
#   asyncapi.sh install            install under $TOOLS_DIR (once; node and npm from the machine)
#   asyncapi.sh validate PATH...   every asyncapi.json / asyncapi.yaml below PATH; exit 1 on an error
set -euo pipefail

PARSER_VERSION=3.6.6             # @asyncapi/parser
AVRO_PARSER_VERSION=3.1.0        # @asyncapi/avro-schema-parser: the topics' Avro schemas
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
DIR="$TOOLS_DIR/asyncapi-parser-$PARSER_VERSION-avro-$AVRO_PARSER_VERSION"
HERE=$(cd "$(dirname "$0")" && pwd)

need_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "asyncapi.sh: node and npm are missing; installing the Debian packages" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
}

install() {
  if [ -f "$DIR/.installed" ]; then
    return
  fi
  need_node
  local started=$SECONDS
  local staging="$DIR.tmp-$$"
  rm -rf "$staging"
  mkdir -p "$staging"
  # --ignore-scripts: nothing from the registry runs at install time.
  (cd "$staging" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error \
    "@asyncapi/parser@$PARSER_VERSION" "@asyncapi/avro-schema-parser@$AVRO_PARSER_VERSION" >/dev/null)
  touch "$staging/.installed"
  rm -rf "$DIR"
  mv "$staging" "$DIR"
  echo "asyncapi.sh: @asyncapi/parser $PARSER_VERSION installed in $((SECONDS - started)) s"
}

validate() {
  if [ ! -f "$DIR/.installed" ]; then
    echo "asyncapi.sh: the parser is not installed: run tests/scripts/asyncapi.sh install" >&2
    exit 1
  fi
  # ES modules resolve packages next to the script, so the script runs from the install.
  cp "$HERE/asyncapi-validate.mjs" "$DIR/asyncapi-validate.mjs"
  node "$DIR/asyncapi-validate.mjs" "$@"
}

case "${1:-}" in
  install) install ;;
  validate) shift; [ $# -gt 0 ] || { echo "usage: asyncapi.sh validate PATH..." >&2; exit 1; }; validate "$@" ;;
  *) echo "usage: asyncapi.sh install | validate PATH..." >&2; exit 1 ;;
esac
