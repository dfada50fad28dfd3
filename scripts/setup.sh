#!/usr/bin/env bash
# Shared set-up for scripts/run.sh and scripts/test.sh: a virtualenv in .venv with the locked
# dependencies and development tools and carepath installed (editable), and the pages'
# browser libraries from npm with our bundles of them (scripts/bundle.mjs).
# `--test` also installs Debian's chromium for the browser tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  # Debian packages by name; `apt-get update` once per machine.
  if [ ! -f /tmp/.carepath-apt-updated ]; then
    as_root apt-get update -qq && touch /tmp/.carepath-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv >/dev/null 2>&1; then
    rm -rf .venv
    apt_install python3-venv
    "$PYTHON" -m venv .venv
  fi
fi
# Exactly the versions and files requirements-dev.lock pins (scripts/lock.sh refreshes it);
# then carepath itself, editable, built with the locked setuptools (no download).
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes \
  -r requirements-dev.lock
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
  -e .

# Browser libraries for the pages, exactly as package-lock.json pins them. They are files to
# serve: no install script of theirs runs (swagger-ui-dist's dependency @scarf/scarf would
# report the installation to its vendor).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  command -v npm >/dev/null || apt_install npm  # the brief assumes it; install it if absent
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
# Our own browser code bundled with the libraries it imports (esbuild, about a second), into
# node_modules/.carepath/ beside them: again whenever a source is newer than the bundles.
bundles=(node_modules/.carepath/carepath-editor.js node_modules/.carepath/carepath-diagram.js)
for bundle in "${bundles[@]}"; do
  if [ ! -f "$bundle" ] || [ -n "$(find service/static/src scripts/bundle.mjs package-lock.json \
      -newer "$bundle" -print -quit)" ]; then
    npm run --silent build
    break
  fi
done

if [ "${1:-}" = "--test" ] && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi
