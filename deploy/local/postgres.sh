#!/usr/bin/env bash
# Local PostgreSQL for development and tests.
#   deploy/local/postgres.sh start   print DATABASE_URL, starting a private cluster if needed
#   deploy/local/postgres.sh stop    stop the cluster this script started (by PID), remove its data
#   deploy/local/postgres.sh status
# With DATABASE_URL set, that server is used and nothing is started. Otherwise Debian's
# `postgresql` package is installed if absent (without its default cluster) and a throwaway
# cluster with the project's role and database is initialised and run on 127.0.0.1:$PG_PORT.
# It runs as `postgres` when we are root (the server refuses root), else as us, with its data in
# $PG_HOME (below $STACK_RUN_DIR, owned by that user, mode 700: reachable whatever the checkout's
# permissions), which `stop` and the watchdog remove. When the default port is taken by a process
# this checkout did not start, free ports are drawn instead (a PG_PORT you set is never replaced).
# Idempotent: a cluster this script already runs is reused.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_PORT_SET=${PG_PORT:-}
PG_PORT=${PG_PORT:-55432}
PG_HOME="$STACK_RUN_DIR/alice-report-ingestor-postgres-$STACK_ID"
PIDFILE="$STACK_DIR/postgres.pid"
LOGFILE="$STACK_DIR/postgres.log"
DB_USER=ingestor
DB_PASSWORD=ingestor
DB_NAME=alice_report_ingestor

url() { echo "postgresql+asyncpg://$DB_USER:$DB_PASSWORD@127.0.0.1:$1/$DB_NAME"; }

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
  # Our cluster lives in a private folder of its own; the package's own would be left running.
  grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf \
    || echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Options::=--force-confold postgresql >&2
}

# Run a PostgreSQL binary as the cluster's owner (root may not run the server), from / so that it
# never needs to enter a working directory that user cannot reach.
as_owner() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi
}

# A fresh $PG_HOME with a new cluster in it; what a run that did not stop cleanly left goes first.
# mkdir (not -p) fails on anything already there, so the folder is always the one we made.
init_cluster() {
  local bin=$1 stale
  stale=$(head -n 1 "$PG_HOME/data/postmaster.pid" 2>/dev/null || true)
  if pid_alive "$stale"; then
    die "a PostgreSQL server (pid $stale) this checkout's scripts do not know of runs from $PG_HOME: stop it by that PID"
  fi
  rm -rf "$PG_HOME"
  mkdir -m 700 "$PG_HOME" || die "could not create $PG_HOME (set STACK_RUN_DIR to pick another parent folder)"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PG_HOME"; fi
  log "initialising a PostgreSQL cluster in $PG_HOME/data"
  as_owner "$bin/initdb" -D "$PG_HOME/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
}

# EXIT trap while a server is starting: a failed or interrupted start leaves nothing behind.
abandon_start() {
  if pid_alive "${launched:-}"; then kill -INT "$launched" 2>/dev/null || true; fi
  for _ in $(seq 1 20); do pid_alive "${launched:-}" || break; sleep 0.5; done
  if pid_alive "${launched:-}"; then kill -KILL "$launched" 2>/dev/null || true; fi
  rm -rf "$PG_HOME"
}

# Launch the server on $PG_PORT and wait until it accepts connections. Returns 1 when another
# process bound the port first (the caller retries on another), dies on any other failure.
launch() {
  local bin=$1
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT (data in $PG_HOME)"
  # setpriv changes user and execs (no wrapper process left between us and the postmaster).
  local owner_exec=()
  [ "$(id -u)" = 0 ] && owner_exec=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --)
  # Durability settings are relaxed: this cluster holds throwaway dev and test data only.
  # No Unix socket (-k ''): clients connect over TCP, and no folder of ours must be shared.
  (cd / && exec setsid "${owner_exec[@]}" "$bin/postgres" -D "$PG_HOME/data" -h 127.0.0.1 \
      -p "$PG_PORT" -k '' -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
      -c max_connections=200 -c shared_buffers=256MB -c log_min_messages=warning \
      </dev/null > "$LOGFILE" 2>&1) &
  launched=$!
  for _ in $(seq 1 60); do
    if ! pid_alive "$launched"; then
      grep -q 'Address already in use' "$LOGFILE" && return 1
      cat "$LOGFILE" >&2; die "PostgreSQL exited during start-up"
    fi
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && return 0
    sleep 0.5
  done
  die "PostgreSQL did not become ready in 30 s (see $LOGFILE)"
}

start() {
  if [ -n "${DATABASE_URL:-}" ]; then
    log "DATABASE_URL is set: using it, starting nothing"
    echo "export DATABASE_URL=$DATABASE_URL"; return
  fi
  local pid; pid=$(read_pid "$PIDFILE")
  if pid_alive "$pid"; then
    local port; port=$(saved_ports postgres)
    log "PostgreSQL already running (pid $pid), reusing it"
    echo "export DATABASE_URL=$(url "${port:-$PG_PORT}")"; return
  fi
  local bin; bin=$(pg_bindir) || { install_postgres; bin=$(pg_bindir) || die "PostgreSQL binaries not found after install"; }
  trap abandon_start EXIT
  local attempt
  for attempt in 1 2 3; do
    if port_open "$PG_PORT"; then
      [ -n "$PG_PORT_SET" ] && die "port $PG_PORT is taken by a process this script did not start; set DATABASE_URL to use it, or PG_PORT to pick another"
      local taken=$PG_PORT
      PG_PORT=$(free_ports 1)
      log "port $taken is taken by a process this checkout did not start: using port $PG_PORT"
    fi
    if [ "${PG_KEEP_DATA:-}" = 1 ] && [ -f "$PG_HOME/data/PG_VERSION" ]; then
      log "restarting the PostgreSQL cluster kept in $PG_HOME/data (PG_KEEP_DATA=1)"
    else
      init_cluster "$bin"
    fi
    launch "$bin" && break
    log "port $PG_PORT was taken while PostgreSQL started (attempt $attempt of 3)"
    [ "$attempt" = 3 ] && die "PostgreSQL lost the race for a port three times"
  done
  echo "$launched" > "$PIDFILE"
  echo "$PG_PORT" > "$STACK_DIR/postgres.ports"
  echo "${STACK_OWNER:-manual}" > "$STACK_DIR/postgres.owner"
  # The watchdog removes the data when the server is gone, unless a restart keeps it.
  if [ "${PG_KEEP_DATA:-}" = 1 ]; then
    start_watchdog postgres "$launched"
  else
    start_watchdog postgres "$launched" "$PG_HOME"
  fi
  local psql=("$bin/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
  "${psql[@]}" -tAc "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'" | grep -q 1 \
    || "${psql[@]}" -c "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
  "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'" | grep -q 1 \
    || "${psql[@]}" -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
  trap - EXIT
  log "PostgreSQL ready on 127.0.0.1:$PG_PORT (pid $launched)"
  echo "export DATABASE_URL=$(url "$PG_PORT")"
}

case "${1:-}" in
  # SIGINT is PostgreSQL's "fast shutdown": roll back open transactions and exit cleanly.
  start) start ;;
  # PG_KEEP_DATA=1: stop the server but keep its cluster, for a later `start` (a restart test).
  stop) stop_by_pidfile postgres INT; [ "${PG_KEEP_DATA:-}" = 1 ] || rm -rf "$PG_HOME" ;;
  status)
    pid=$(read_pid "$PIDFILE")
    port=$(saved_ports postgres)
    if pid_alive "$pid"; then echo "postgres running (pid $pid) on 127.0.0.1:${port:-$PG_PORT}, data in $PG_HOME"
    else echo "postgres not running"; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
