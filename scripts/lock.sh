#!/usr/bin/env bash
# Refresh the lock files from pyproject.toml with pip-tools (pip-compile), every file hashed:
#   requirements.lock      what carepath needs to run (what the wheel's test installs)
#   requirements-dev.lock  that, plus the development tools (what scripts/setup.sh installs)
# The development lock is constrained by the first, so both pin the same versions.
# pip-tools runs from a throwaway virtualenv. Run it with Python 3.11, the oldest we support.
# Extra arguments go to both runs:
#   bash scripts/lock.sh                         # after editing dependencies in pyproject.toml
#   bash scripts/lock.sh --upgrade               # every pin to the newest its range allows
#   bash scripts/lock.sh --upgrade-package fastapi
set -euo pipefail
cd "$(dirname "$0")/.."
PIP_TOOLS_VERSION=7.7.0

tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
"${PYTHON:-python3}" -m venv "$tools"
"$tools/bin/python" -m pip install -q --disable-pip-version-check "pip-tools==$PIP_TOOLS_VERSION"

# setuptools and pip are pinned like everything else (--allow-unsafe); extras are written as
# their own packages (--strip-extras) so that the runtime lock can serve as a constraints file;
# no index or find-links option of this machine's pip configuration goes into the files.
export CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh"
compile() {
  "$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links "$@"
}
compile --output-file requirements.lock "$@" pyproject.toml
compile --extra dev --constraint requirements.lock --output-file requirements-dev.lock \
  "$@" pyproject.toml
