#!/usr/bin/env bash
# `make demo`: static binaries built from the collection's Go modules (gomod/) for the fleet's platforms and
# published to the local registry, the emulated fleet up, then site.yml over SSH (user pi, sudo, a key, host keys
# checked): facts, one pull per platform, every node gets its release, the control plane, containerd, the pod
# network, kubelet and kube-proxy on every node. Ends with the fleet as a table, `kubectl get nodes` and the lines
# that give a shell kubectl and the playbooks. MULTIARCH_FLEET=pi: the Raspberry Pi fleet, no amd64 node, the control
# plane on arm64. `make demo-down` removes the fleet (caches stay).
source "$(dirname "$0")/lib.sh"
case "${1:-up}" in
  up)
    stage "host set-up (apt packages, binfmt_misc, Docker engine, registry on $REGISTRY)"
    "$REPO/tools/setup-host.sh"
    stage "python set-up (virtualenv, collection build + install)"
    "$REPO/tools/setup-python.sh"
    # the collection's default line, set in one place (the multiarch_k8s role's defaults)
    VERSION=$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["multiarch_k8s_kubernetes_version"])' \
      "$REPO/roles/multiarch_k8s/defaults/main.yml")
    # the layout (MULTIARCH_FLEET): its control plane's platform, the platforms, its inventory
    layout=$(python "$REPO/tests/fleet/fleet.py" layout)
    field() { python -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$layout" "$1"; }
    # a holder image and a lock file per layout (their platforms differ)
    suffix=$([ "$(field layout)" = default ] || echo "-$(field layout)")
    HOLDER="docker://$REGISTRY/multiarch-k8s/cluster$suffix:$VERSION"
    LOCK="$OUT/demo-lock$suffix.yml"
    CP_PLATFORM=$(field control_plane_platform)
    INVENTORY=$(field inventory)
    PLATFORMS=$(python -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])["platforms"]))' "$layout")
    NODE_SET=$(python -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])["node_components"]))' "$layout")
    CP_SET=$(python -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1])["control_plane_components"]))' "$layout")
    CONTROLLER="docker://$REGISTRY/multiarch-k8s/controller:$VERSION"
    stage "building static binaries of Kubernetes $VERSION, etcd, containerd, runc and the CNI plugins from their Go modules for $PLATFORMS, the control plane for $CP_PLATFORM (cached; the first time takes a while)"
    ansible-playbook multiarch.k8s.build -v \
      -e "{\"multiarch_k8s_build_source\": \"gomod:kubernetes-$VERSION\", \"multiarch_k8s_build_dest\": \"$HOLDER\",
           \"multiarch_k8s_build_dir\": \"$CACHE/build\", \"multiarch_k8s_build_platforms\": $PLATFORMS,
           \"multiarch_k8s_build_components\": $NODE_SET,
           \"multiarch_k8s_build_platform_components\": {\"$CP_PLATFORM\": $CP_SET},
           \"multiarch_k8s_lock_file\": \"$LOCK\"}" >"$OUT/demo-build.log" 2>&1 &
    build=$!
    tail --pid="$build" -n +1 -f "$OUT/demo-build.log" | grep --line-buffered -E "holder_build:|fatal|ERROR" || true
    wait "$build" || { echo "the build failed; its whole output is in $OUT/demo-build.log" >&2; exit 1; }
    # one line per platform: binaries, how many came from the build cache, build seconds
    awk '/^    -   cached:/ {c=$3} /^        platform:/ {p=$2; n[p]++; if (c=="true") k[p]++} /^        seconds:/ {s[p]+=$2}
         END {for (p in n) printf "  %-13s %d binaries (%d from the cache; %.0f s of build time when made)\n", p, n[p], k[p], s[p]}' \
      "$OUT/demo-build.log" | sort
    stage "this host's own: kubectl, and the runc shim and runc the emulated nodes run (amd64, the same versions)"
    ansible-playbook multiarch.k8s.build \
      -e "{\"multiarch_k8s_build_source\": \"gomod:kubernetes-$VERSION\", \"multiarch_k8s_build_dest\": \"$CONTROLLER\",
           \"multiarch_k8s_build_dir\": \"$CACHE/build\", \"multiarch_k8s_build_platforms\": [\"linux/amd64\"],
           \"multiarch_k8s_build_components\": [\"kubectl\", \"containerd-shim-runc-v2\", \"runc\"],
           \"multiarch_k8s_lock_file\": \"$OUT/demo-controller-lock.yml\"}" >"$OUT/demo-build-controller.log" 2>&1 \
      || { echo "the build failed; its whole output is in $OUT/demo-build-controller.log" >&2; exit 1; }
    stage "fleet up ($(field layout) layout: $(python -c 'import json, sys; print(", ".join("%s %s" % (n["name"], n["platform"]) for n in json.loads(sys.argv[1])["nodes"]))' "$layout")), each node over SSH as pi; the emulated nodes' runc shim and runc are the amd64 ones of $CONTROLLER"
    python "$REPO/tests/fleet/fleet.py" host-native "$CONTROLLER"
    python "$REPO/tests/fleet/fleet.py" up
    stage "site.yml: facts, one pull per platform, releases, control plane, containerd, pod network, kubelet, kube-proxy"
    rc=0
    # one progress line per play; the whole output goes to the log
    ANSIBLE_DISPLAY_SKIPPED_HOSTS=0 ansible-playbook -i "$INVENTORY" multiarch.k8s.site -e "{\"multiarch_k8s_holder_src\": \"$HOLDER\", \"multiarch_k8s_hosts\": \"fleet\",
        \"multiarch_k8s_lock_file\": \"$LOCK\", \"multiarch_k8s_report_file\": \"$OUT/fleet-report.json\",
        \"multiarch_k8s_kubeconfig_file\": \"$OUT/demo-kubeconfig/admin.conf\"}" >"$OUT/demo-site.log" 2>&1 &
    site=$!
    tail --pid="$site" -n +1 -f "$OUT/demo-site.log" | while IFS= read -r line; do
      case "$line" in "PLAY ["*) stage "  ${line%% \**}" ;; "fatal:"*|"failed:"*) echo "  $line" | cut -c1-400 ;; esac
    done
    wait "$site" || rc=$?
    stage "site.yml finished (exit $rc); per host, what changed:"
    sed -n '/^PLAY RECAP/,$p' "$OUT/demo-site.log" | tail -n +2 | awk 'NF {print "  " $1, $3, $4, $6}'
    stage "the fleet report (JSON: $OUT/fleet-report.json)"
    PYTHONPATH="$COLLECTIONS" python "$REPO/tools/report_table.py" "$OUT/fleet-report.json" || true
    [ "$rc" = 0 ] || { echo "site.yml failed (exit $rc); its output is in $OUT/demo-site.log" >&2; exit "$rc"; }
    stage "kubectl, its kubeconfig and ansible-playbook for your shell (in $OUT/demo-bin)"
    bin="$OUT/demo-bin"
    mkdir -p "$bin"
    # the collection's own amd64 kubectl, pulled and verified from $CONTROLLER; the kubeconfig is the one site.yml
    # wrote (its server the control plane's address on the fleet's network, which this host reaches)
    python "$REPO/tests/fleet/fleet.py" kubectl "$CONTROLLER" "$bin/kubectl"
    # ansible, ansible-playbook, ...: the project's virtualenv with its collections and settings
    for tool in ansible ansible-playbook ansible-doc ansible-inventory; do
      printf '#!/bin/sh\nANSIBLE_COLLECTIONS_PATH="%s" ANSIBLE_CONFIG="%s" exec "%s" "$@"\n' \
        "$ANSIBLE_COLLECTIONS_PATH" "$ANSIBLE_CONFIG" "$VENV/bin/$tool" >"$bin/$tool"
      chmod 755 "$bin/$tool"
    done
    stage "the cluster"
    "$bin/kubectl" --kubeconfig "$OUT/demo-kubeconfig/admin.conf" get nodes -L multiarch.k8s/platform -o wide
    stage "a pod on each platform (Debian's static busybox of the node's architecture, packed on the node), each asked from the next node"
    (cd "$REPO" && PYTHONPATH="$COLLECTIONS:$REPO/tests/helpers:$REPO/tests/fleet" python "$REPO/tests/helpers/cluster.py" pods)
    stage "demo done; the fleet stays up (make demo-down removes it). For kubectl and the playbooks in this shell:"
    echo "export KUBECONFIG=$OUT/demo-kubeconfig/admin.conf PATH=$bin:\$PATH"
    echo "inventory: $INVENTORY" ;;
  down)
    "$REPO/tools/fleet.sh" down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
