#!/usr/bin/env bash
# Headless Chromium for the HTML catalog's test (tests/tests/catalog_tools.rs): the Debian
# package `chromium`, driven by playwright-core (npm, pinned) through its executable path, so no
# browser build is downloaded.
#
#   browser.sh install                                   chromium (apt) and playwright-core (npm)
#   browser.sh check-catalog DIR STAGE TOPIC SCREENSHOT  see catalog-browser-check.mjs
set -euo pipefail

PLAYWRIGHT_VERSION=1.65.1
# Debian bookworm's chromium as tested; the security archive keeps only the newest build, so an
# older pin may be gone: then the current one is installed and named.
CHROMIUM_VERSION=156.0.8078.108-1~deb12u1
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/kafka-platform/tools}
DIR="$TOOLS_DIR/playwright-core-$PLAYWRIGHT_VERSION"
HERE=$(cd "$(dirname "$0")" && pwd)
export CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}

install_chromium() {
  if [ -x "$CHROMIUM_BIN" ]; then
    return
  fi
  local started=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if ! apt-get install -y -qq --no-install-recommends "chromium=$CHROMIUM_VERSION" >/dev/null 2>&1; then
    echo "browser.sh: chromium $CHROMIUM_VERSION is no longer in the archive; installing $(apt-cache policy chromium | awk '/Candidate/ {print $2}')" >&2
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
  echo "browser.sh: $("$CHROMIUM_BIN" --version 2>/dev/null) installed in $((SECONDS - started)) s"
}

install_playwright() {
  if [ -f "$DIR/.installed" ]; then
    return
  fi
  if ! command -v npm >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  local started=$SECONDS
  local staging="$DIR.tmp-$$"
  rm -rf "$staging"
  mkdir -p "$staging"
  # playwright-core has no install script and downloads no browser.
  (cd "$staging" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error \
    "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null)
  touch "$staging/.installed"
  rm -rf "$DIR"
  mv "$staging" "$DIR"
  echo "browser.sh: playwright-core $PLAYWRIGHT_VERSION installed in $((SECONDS - started)) s"
}

check_catalog() {
  if [ ! -f "$DIR/.installed" ] || [ ! -x "$CHROMIUM_BIN" ]; then
    echo "browser.sh: chromium or playwright-core is missing: run tests/scripts/browser.sh install" >&2
    exit 1
  fi
  cp "$HERE/catalog-browser-check.mjs" "$DIR/catalog-browser-check.mjs"
  node "$DIR/catalog-browser-check.mjs" "$@"
}

case "${1:-}" in
  install) install_chromium; install_playwright ;;
  check-catalog) shift; [ $# -eq 4 ] || { echo "usage: browser.sh check-catalog DIR STAGE TOPIC SCREENSHOT" >&2; exit 1; }; check_catalog "$@" ;;
  *) echo "usage: browser.sh install | check-catalog DIR STAGE TOPIC SCREENSHOT" >&2; exit 1 ;;
esac
