#!/usr/bin/env bash
# The local stack: Apache Kafka + PostgreSQL.
#   deploy/local/stack.sh up     start what is not already running; print `export` lines
#   deploy/local/stack.sh down   stop what `up` started
#   deploy/local/stack.sh status
# STACK_OWNER tags what `up` starts; `down` with the same STACK_OWNER stops only those servers
# (so `make test` never stops a stack it found running). Without it, `down` stops everything
# these scripts started.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
here="$ROOT_DIR/deploy/local"

case "${1:-}" in
  up)
    "$here/postgres.sh" start
    "$here/kafka.sh" start
    ;;
  down)
    for svc in kafka postgres; do
      owner=$(cat "$STACK_DIR/$svc.owner" 2>/dev/null || true)
      if [ -z "${STACK_OWNER:-}" ] || [ "$owner" = "${STACK_OWNER:-}" ]; then "$here/$svc.sh" stop; fi
    done
    ;;
  status) "$here/postgres.sh" status; "$here/kafka.sh" status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
