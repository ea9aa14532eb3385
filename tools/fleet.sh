#!/usr/bin/env bash
# `make fleet` / `make fleet-down`: the emulated fleet on its own (tests/fleet/fleet.py).
source "$(dirname "$0")/lib.sh"
case "${1:-up}" in
  up)
    "$REPO/tools/setup-host.sh"
    "$REPO/tools/setup-python.sh"
    python "$REPO/tests/fleet/fleet.py" up ;;
  down)
    if [ -x "$VENV/bin/python" ] && docker info >/dev/null 2>&1; then
      python "$REPO/tests/fleet/fleet.py" down
    fi
    "$REPO/tools/stop-services.sh" ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
