# Shared helpers of the local-stack scripts (sourced, not run).
# Servers started here bind 127.0.0.1, write their PID and port into $STACK_DIR, are stopped by
# that PID (never by name), and stop by themselves: a watchdog ends each one when its lifetime
# (STACK_MAX_LIFETIME_S) is over or when the process that owns it (STACK_OWNER_PID) is gone, and
# then removes its data.
# A server that runs as another user (PostgreSQL runs as `postgres` when we are root) may not
# reach the checkout (a home directory or a `mktemp -d` folder is mode 700), so its data lives
# outside it, in $STACK_RUN_DIR/alice-report-ingestor-<name>-<id>, where <id> is a hash of this
# checkout's $STACK_DIR; nothing above the checkout has its permissions changed.

set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK_DIR=${STACK_DIR:-$ROOT_DIR/.stack}
CACHE_DIR=${ALICE_INGESTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/alice-report-ingestor}
STACK_MAX_LIFETIME_S=${STACK_MAX_LIFETIME_S:-14400}
STACK_RUN_DIR=${STACK_RUN_DIR:-/var/tmp}
mkdir -p "$STACK_DIR" "$CACHE_DIR"
STACK_ID=$(cd "$STACK_DIR" && pwd -P | sha256sum | cut -c1-12)

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

read_pid() { [ -f "$1" ] && cat "$1" || true; }

# start_watchdog NAME SERVER_PID [DATA_DIR]: a background loop that stops SERVER_PID when its
# lifetime is over or its owner process is gone, then removes DATA_DIR (also when the server ended
# by itself); its own PID goes to $STACK_DIR/NAME.watchdog.pid.
start_watchdog() {
  local name=$1 server_pid=$2 data_dir=${3:-} owner=${STACK_OWNER_PID:-}
  (
    trap - INT TERM
    deadline=$(( $(date +%s) + STACK_MAX_LIFETIME_S ))
    while kill -0 "$server_pid" 2>/dev/null; do
      if [ "$(date +%s)" -ge "$deadline" ] || { [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; }; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 60); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$server_pid" 2>/dev/null || true
        break
      fi
      sleep 2
    done
    if [ -n "$data_dir" ]; then rm -rf "$data_dir"; fi
  ) </dev/null >/dev/null 2>&1 &
  echo $! > "$STACK_DIR/$name.watchdog.pid"
}

# stop_by_pidfile NAME SIGNAL: stop the server recorded in $STACK_DIR/NAME.pid and its watchdog.
stop_by_pidfile() {
  local name=$1 signal=${2:-TERM} pid wpid
  pid=$(read_pid "$STACK_DIR/$name.pid")
  wpid=$(read_pid "$STACK_DIR/$name.watchdog.pid")
  if pid_alive "$pid"; then
    log "stopping $name (pid $pid)"
    kill -"$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do pid_alive "$pid" || break; sleep 0.5; done
    if pid_alive "$pid"; then log "$name did not stop in 30 s: killing pid $pid"; kill -KILL "$pid" || true; fi
  fi
  if pid_alive "$wpid"; then kill "$wpid" 2>/dev/null || true; fi
  rm -f "$STACK_DIR/$name.pid" "$STACK_DIR/$name.watchdog.pid" "$STACK_DIR/$name.owner" "$STACK_DIR/$name.ports"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The project's Python when its venv exists, else the machine's (for standard-library helpers).
stack_python() { if [ -x "$ROOT_DIR/.venv/bin/python" ]; then echo "$ROOT_DIR/.venv/bin/python"; else echo python3; fi; }

# free_ports N: N distinct ports free on 127.0.0.1 now, one a line, drawn at random.
free_ports() { "$(stack_python)" "$ROOT_DIR/deploy/local/free_ports.py" "$1"; }

# The ports the running server NAME of this checkout listens on (saved by its start), or nothing.
saved_ports() { cat "$STACK_DIR/$1.ports" 2>/dev/null || true; }
