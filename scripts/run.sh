#!/usr/bin/env bash
# Install carepath and start it with an embedded SQLite database (var/carepath.sqlite3):
# apply migrations, deploy the reference pathway, load demo data if the database is empty
# (printing the demo logins), then serve on 127.0.0.1:8000 with the timer worker inside.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/carepath serve --demo-if-empty "$@"
