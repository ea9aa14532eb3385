#!/usr/bin/env bash
# Stop what tools/setup-host.sh started (and only that), by the pid it recorded.
source "$(dirname "$0")/lib.sh"
stop_ours() {  # name, process name (comm)
  local marker="$RUN_DIR/$1.started-by-us" pid
  [ -f "$marker" ] || return 0
  pid=$(cat "$marker")
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]; then
    stage "stopping the $1 this project started (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 30); do [ -e "/proc/$pid" ] || break; sleep 1; done
  fi
  rm -f "$marker"
}
stop_ours registry docker-registry
stop_ours dockerd dockerd
