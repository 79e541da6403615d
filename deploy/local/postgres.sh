#!/usr/bin/env bash
# Local PostgreSQL for development and tests.
#   deploy/local/postgres.sh start   print DATABASE_URL, starting a private cluster if needed
#   deploy/local/postgres.sh stop    stop the cluster this script started (by PID)
#   deploy/local/postgres.sh status
# With DATABASE_URL set, that server is used and nothing is started. Otherwise Debian's
# `postgresql` package is installed if absent (without its default cluster) and a private cluster
# is run from $STACK_DIR/postgres on 127.0.0.1:$PG_PORT, with the project's role and database.
# Idempotent: a cluster this script already runs is reused.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_PORT=${PG_PORT:-55432}
PG_DIR="$STACK_DIR/postgres"
PIDFILE="$STACK_DIR/postgres.pid"
DB_USER=ingestor
DB_PASSWORD=ingestor
DB_NAME=alice_report_ingestor
URL="postgresql+asyncpg://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

install_postgres() {
  command -v apt-get >/dev/null || die "PostgreSQL is not installed and there is no apt-get: install PostgreSQL 13+ or set DATABASE_URL"
  [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed: run 'sudo apt-get install -y postgresql' or set DATABASE_URL"
  log "installing Debian's postgresql package (without its default cluster)"
  mkdir -p /etc/postgresql-common
  # Our cluster lives in the project's stack directory; the package's own would be left running.
  grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf \
    || echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Options::=--force-confold postgresql >&2
}

# Run a PostgreSQL binary as the cluster's owner: root may not run the server.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  if [ -n "${DATABASE_URL:-}" ]; then
    log "DATABASE_URL is set: using it, starting nothing"
    echo "export DATABASE_URL=$DATABASE_URL"; return
  fi
  local pid; pid=$(read_pid "$PIDFILE")
  if pid_alive "$pid"; then
    log "PostgreSQL already running (pid $pid), reusing it"
    echo "export DATABASE_URL=$URL"; return
  fi
  port_open "$PG_PORT" && die "port $PG_PORT is taken by a process this script did not start; set DATABASE_URL to use it, or PG_PORT to pick another"
  local bin; bin=$(pg_bindir) || { install_postgres; bin=$(pg_bindir) || die "PostgreSQL binaries not found after install"; }
  mkdir -p "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    log "initialising a PostgreSQL cluster in $PG_DIR/data"
    as_owner "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  # setpriv changes user and execs (no wrapper process left between us and the postmaster).
  local owner_exec=()
  [ "$(id -u)" = 0 ] && owner_exec=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --)
  # Durability settings are relaxed: this cluster holds throwaway dev and test data only.
  setsid "${owner_exec[@]}" "$bin/postgres" -D "$PG_DIR/data" -h 127.0.0.1 -p "$PG_PORT" \
      -k "$PG_DIR" -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
      -c max_connections=200 -c shared_buffers=256MB -c log_min_messages=warning \
      </dev/null > "$PG_DIR/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 60); do
    pid_alive "$pid" || { cat "$PG_DIR/server.log" >&2; die "PostgreSQL exited during start-up"; }
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 0.5
  done
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || die "PostgreSQL did not become ready in 30 s"
  echo "$pid" > "$PIDFILE"
  echo "${STACK_OWNER:-manual}" > "$STACK_DIR/postgres.owner"
  start_watchdog postgres "$pid"
  local psql=("$bin/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
  "${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'" | grep -q 1 \
    || "${psql[@]}" -c "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
  "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'" | grep -q 1 \
    || "${psql[@]}" -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
  log "PostgreSQL ready on 127.0.0.1:$PG_PORT (pid $pid)"
  echo "export DATABASE_URL=$URL"
}

case "${1:-}" in
  # SIGINT is PostgreSQL's "fast shutdown": roll back open transactions and exit cleanly.
  start) start ;;
  stop) stop_by_pidfile postgres INT ;;
  status) pid=$(read_pid "$PIDFILE"); if pid_alive "$pid"; then echo "postgres running (pid $pid) on 127.0.0.1:$PG_PORT"; else echo "postgres not running"; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
