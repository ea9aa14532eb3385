#!/usr/bin/env bash
# Stop what tools/setup-host.sh started (and only that), by the pid it recorded.
source "$(dirname "$0")/lib.sh"
marker="$RUN_DIR/dockerd.started-by-us"
if [ -f "$marker" ]; then
  pid=$(cat "$marker")
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
    stage "stopping the dockerd this project started (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 30); do [ -e "/proc/$pid" ] || break; sleep 1; done
  fi
  rm -f "$marker"
fi
