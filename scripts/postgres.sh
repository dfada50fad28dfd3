#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite, on 127.0.0.1:${CAREPATH_PG_PORT:-55432}.
# Installs Debian's postgresql package if missing. Prints the database URL on success.
#   bash scripts/postgres.sh start   # install if needed, init (once) and start
#   bash scripts/postgres.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${CAREPATH_PG_PORT:-55432}
DATA=${CAREPATH_PG_DATA:-/tmp/carepath-pg-$PORT}
URL="postgresql+psycopg://carepath@127.0.0.1:$PORT/carepath_test"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

ensure_installed() {
  if [ -z "$(bin_dir)" ]; then
    [ -f /tmp/.carepath-apt-updated ] || { as_root apt-get update -qq && touch /tmp/.carepath-apt-updated; }
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
  fi
}

# PostgreSQL refuses to run as root: run it as the postgres user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    ensure_installed
    BIN=$(bin_dir)
    if [ ! -f "$DATA/PG_VERSION" ]; then
      mkdir -p "$DATA"
      [ "$(id -u)" = 0 ] && chown postgres "$DATA"
      as_pg "$BIN/initdb" -D "$DATA" -A trust -U postgres >/dev/null
    fi
    if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
        -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        start >/dev/null
    fi
    as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qtc \
      "SELECT 1 FROM pg_roles WHERE rolname='carepath'" | grep -q 1 \
      || as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE ROLE carepath LOGIN SUPERUSER"
    as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qtc \
      "SELECT 1 FROM pg_database WHERE datname='carepath_test'" | grep -q 1 \
      || as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE DATABASE carepath_test OWNER carepath"
    echo "$URL"
    ;;
  stop)
    BIN=$(bin_dir)
    [ -n "$BIN" ] && as_pg "$BIN/pg_ctl" -D "$DATA" stop -m fast >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
