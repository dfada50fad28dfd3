#!/usr/bin/env bash
# Install everything and run the whole suite: ruff, mypy (strict, on pathways/) and pytest.
# This is the README's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check pathways service tests bench
.venv/bin/mypy
.venv/bin/pytest "$@"
