#!/usr/bin/env bash
# Run a command with the local stack up: start what is missing (tagged as ours), export its
# settings, run the command, and stop what we started, also on failure or Ctrl-C.
#   deploy/local/with-stack.sh COMMAND [ARGS...]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
set +e
export STACK_OWNER="run-$$"
export STACK_OWNER_PID=$$
cleanup() { "$ROOT_DIR/deploy/local/stack.sh" down >&2; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
exports=$("$ROOT_DIR/deploy/local/stack.sh" up) || exit 1
eval "$exports"
printf '%s\n' "$exports" | sed 's/:[^:@/]*@/:***@/' >&2
"$@"
