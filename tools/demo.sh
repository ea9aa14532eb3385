#!/usr/bin/env bash
# `make demo`: the emulated fleet up, then multiarch.k8s classifies every node and prints the
# fleet's facts as a table. `make demo-down` removes the fleet (images stay cached).
source "$(dirname "$0")/lib.sh"
case "${1:-up}" in
  up)
    stage "host set-up (apt packages, binfmt_misc, Docker engine)"
    "$REPO/tools/setup-host.sh"
    stage "python set-up (virtualenv, collection build + install)"
    "$REPO/tools/setup-python.sh"
    stage "fleet up"
    python "$REPO/tests/fleet/fleet.py" up
    stage "node facts of every host (multiarch.k8s.node_facts)"
    ANSIBLE_LOAD_CALLBACK_PLUGINS=1 ANSIBLE_STDOUT_CALLBACK=json \
      ansible fleet -m multiarch.k8s.node_facts >"$OUT/demo-facts.json" || true
    python "$REPO/tools/facts_table.py" "$OUT/demo-facts.json"
    stage "demo done; the fleet stays up (make demo-down removes it)" ;;
  down)
    "$REPO/tools/fleet.sh" down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
