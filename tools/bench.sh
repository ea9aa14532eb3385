#!/usr/bin/env bash
# `make bench-pull` (and later benches): set up, run a benchmark script from bench/, stop what was started.
source "$(dirname "$0")/lib.sh"
trap '"$REPO/tools/stop-services.sh"' EXIT
"$REPO/tools/setup-host.sh"
"$REPO/tools/setup-python.sh" >/dev/null
if [ "$1" = release ]; then
    python "$REPO/tests/fleet/fleet.py" up
fi
PYTHONPATH="$COLLECTIONS" python "$REPO/bench/$1.py" "${@:2}"
