#!/usr/bin/env bash
# `make demo`: static binaries built from the collection's Go modules (gomod/) for the fleet's four platforms and
# published to the local registry, the emulated fleet up, then site.yml: facts, one pull per platform, every node gets its
# release, the control plane on the amd64 node, containerd, the pod network, kubelet and kube-proxy on
# every node. Ends with the fleet as a table and `kubectl get nodes`. `make demo-down` removes the fleet
# (caches stay).
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
    HOLDER="docker://$REGISTRY/multiarch-k8s/cluster:$VERSION"
    stage "building static binaries of Kubernetes $VERSION, etcd, containerd, runc and the CNI plugins from their Go modules for four platforms (cached; the first time takes a while)"
    ansible-playbook multiarch.k8s.build -v \
      -e "{\"multiarch_k8s_build_source\": \"gomod:kubernetes-$VERSION\", \"multiarch_k8s_build_dest\": \"$HOLDER\",
           \"multiarch_k8s_build_dir\": \"$CACHE/build\",
           \"multiarch_k8s_build_components\": [\"kubelet\", \"kube-proxy\", \"pause\", \"bridge\", \"host-local\", \"loopback\", \"portmap\",
             \"containerd\", \"containerd-shim-runc-v2\", \"runc\", \"ctr\"],
           \"multiarch_k8s_build_platform_components\": {\"linux/amd64\": [\"kubeadm\", \"kubectl\", \"kube-apiserver\",
             \"kube-controller-manager\", \"kube-scheduler\", \"etcd\"]},
           \"multiarch_k8s_lock_file\": \"$OUT/demo-lock.yml\"}" >"$OUT/demo-build.log" 2>&1 &
    build=$!
    tail --pid="$build" -n +1 -f "$OUT/demo-build.log" | grep --line-buffered -E "holder_build:|fatal|ERROR" || true
    wait "$build" || { echo "the build failed; its whole output is in $OUT/demo-build.log" >&2; exit 1; }
    # one line per platform: binaries, how many came from the build cache, build seconds
    awk '/^    -   cached:/ {c=$3} /^        platform:/ {p=$2; n[p]++; if (c=="true") k[p]++} /^        seconds:/ {s[p]+=$2}
         END {for (p in n) printf "  %-13s %d binaries (%d from the cache; %.0f s of build time when made)\n", p, n[p], k[p], s[p]}' \
      "$OUT/demo-build.log" | sort
    stage "fleet up (amd64, arm64, armhf, armel with an ARM1176 CPU); the emulated nodes' runc shim and runc are the amd64 ones of $HOLDER"
    python "$REPO/tests/fleet/fleet.py" host-native "$HOLDER"
    python "$REPO/tests/fleet/fleet.py" up
    stage "site.yml: facts, one pull per platform, releases, control plane, containerd, pod network, kubelet, kube-proxy"
    rc=0
    # one progress line per play; the whole output goes to the log
    ANSIBLE_DISPLAY_SKIPPED_HOSTS=0 ansible-playbook multiarch.k8s.site -e "{\"multiarch_k8s_holder_src\": \"$HOLDER\", \"multiarch_k8s_hosts\": \"fleet\",
        \"multiarch_k8s_lock_file\": \"$OUT/demo-lock.yml\", \"multiarch_k8s_report_file\": \"$OUT/fleet-report.json\"}" >"$OUT/demo-site.log" 2>&1 &
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
    # the cluster's own amd64 kubectl (built above) and admin kubeconfig; the API server's address is the
    # control-plane node's on the fleet's docker network, which this host reaches
    docker exec mk8s-amd64 cat /usr/local/bin/kubectl >"$bin/kubectl.part" && chmod 755 "$bin/kubectl.part" && mv "$bin/kubectl.part" "$bin/kubectl"
    docker exec mk8s-amd64 cat /etc/kubernetes/admin.conf >"$OUT/demo-kubeconfig.part" && chmod 600 "$OUT/demo-kubeconfig.part" \
      && mv "$OUT/demo-kubeconfig.part" "$OUT/demo-kubeconfig"
    # ansible, ansible-playbook, ...: the project's virtualenv with its collections and settings
    for tool in ansible ansible-playbook ansible-doc ansible-inventory; do
      printf '#!/bin/sh\nANSIBLE_COLLECTIONS_PATH="%s" ANSIBLE_CONFIG="%s" exec "%s" "$@"\n' \
        "$ANSIBLE_COLLECTIONS_PATH" "$ANSIBLE_CONFIG" "$VENV/bin/$tool" >"$bin/$tool"
      chmod 755 "$bin/$tool"
    done
    stage "the cluster"
    "$bin/kubectl" --kubeconfig "$OUT/demo-kubeconfig" get nodes -L multiarch.k8s/platform -o wide
    stage "demo done; the fleet stays up (make demo-down removes it). For kubectl and the playbooks in this shell:"
    echo "export KUBECONFIG=$OUT/demo-kubeconfig PATH=$bin:\$PATH"
    echo "inventory: $REPO/inventory-examples/local-fleet/hosts.yml" ;;
  down)
    "$REPO/tools/fleet.sh" down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
