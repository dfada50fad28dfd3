#!/usr/bin/env bash
# Install everything and run the whole suite: ruff, mypy (strict), the import-linter layer
# contracts (pyproject.toml), then pytest
# twice: on SQLite (embedded) and on a real PostgreSQL server that this script installs (apt)
# and starts on 127.0.0.1:55432. This is the README's test command; .ci/run calls exactly it.
# Extra arguments go to both pytest runs (e.g. -k journeys).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/ruff check pathways service tests bench
.venv/bin/mypy
.venv/bin/lint-imports

echo "== pytest on SQLite"
CAREPATH_TEST_DATABASE=sqlite .venv/bin/pytest -q "$@"

echo "== pytest on PostgreSQL"
# The server this starts is stopped when the script ends, however it ends (a failed run
# too); the script's exit status stays pytest's.
trap 'bash scripts/postgres.sh stop' EXIT
export CAREPATH_TEST_POSTGRES_URL
CAREPATH_TEST_POSTGRES_URL=$(bash scripts/postgres.sh start)
CAREPATH_TEST_DATABASE=postgres .venv/bin/pytest -q "$@"
