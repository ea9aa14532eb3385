# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The holder images the cluster tests run, built by the collection's own build playbook from its Go modules
(gomod/) and pushed to the registry on 127.0.0.1. holder_build caches every binary by its inputs under
$MULTIARCH_CACHE/build, so a second call rebuilds nothing; make test calls ``builds.py all`` (what make test's modules use:
cluster() and the stand-ins) as its own stage so that the build time is seen apart from the tests, and the
fixtures then find everything built; the slow targets' modules build what else they need through their fixtures.

- cluster(): the default line (cluster.VERSION): the node components (kubelet, kube-proxy, pause, the CNI
  plugins, containerd, its runc shim, runc) for the fleet's four platforms, the control plane for amd64.
- previous(): the previous minor (cluster.PREVIOUS) for what test_upgrade forms its cluster from (make
  test-upgrade): the control plane and node components for amd64, the node components for arm/v6 (etcd, the CNI
  plugins, containerd and runc are the same builds as cluster()'s).
- previous_fleet(): the previous minor for every platform of the fleet (make test-upgrade).
- patch(): the patch release before VERSION (cluster.PATCH), kubelet and kube-proxy for the three workers'
  platforms: the second real release make test-faults rolls the workers between (built by that target only).
- standin(version): a stand-in kubelet from the fixture Go module (tests/fixtures/standin), named a stand-in
  everywhere, for faults no real release has: a kubelet that never registers (STANDINS[0]) and one that exits
  1 (STANDINS[1]).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from cluster import (CACHE, CP, CP_COMPONENTS, HA_CONTROL_PLANE, HA_HOLDER, HOLDER, NODE_COMPONENTS, NODES, PATCH, PATCH_HOLDER, PREVIOUS, PREVIOUS_HOLDER,
                     STANDIN_DIR, STANDINS, VERSION, WORKERS)
import fleet
from runner import run_playbook


def _build(extra):
    with tempfile.TemporaryDirectory(prefix="mk8s-lock-") as tmp:
        res = run_playbook("multiarch.k8s.build", dict({
            "multiarch_k8s_build_dir": os.path.join(CACHE, "build"), "multiarch_k8s_build_components": ["kubelet"],
            "multiarch_k8s_lock_file": os.path.join(tmp, "lock.yml")}, **extra), timeout=5400)
    assert res.ok, res.failures()
    return extra["multiarch_k8s_build_dest"]


def cluster():
    return _build({"multiarch_k8s_build_source": "gomod:kubernetes-" + VERSION, "multiarch_k8s_build_dest": HOLDER,
                   "multiarch_k8s_build_components": NODE_COMPONENTS,
                   "multiarch_k8s_build_platform_components": {NODES[CP][0]: CP_COMPONENTS}})


def ha():
    """make test-ha: the node set for the four platforms and the control plane for each HA control-plane host's
    platform (what cluster() built comes from the build cache)."""
    return _build({"multiarch_k8s_build_source": "gomod:kubernetes-" + VERSION, "multiarch_k8s_build_dest": HA_HOLDER,
                   "multiarch_k8s_build_components": NODE_COMPONENTS,
                   "multiarch_k8s_build_platform_components": dict((NODES[n][0], CP_COMPONENTS) for n in HA_CONTROL_PLANE)})


def previous():
    return _build({"multiarch_k8s_build_source": "gomod:kubernetes-" + PREVIOUS, "multiarch_k8s_build_dest": PREVIOUS_HOLDER,
                   "multiarch_k8s_build_platforms": ["linux/amd64", "linux/arm/v6"],
                   "multiarch_k8s_build_components": NODE_COMPONENTS,
                   "multiarch_k8s_build_platform_components": {"linux/amd64": CP_COMPONENTS}})


def previous_fleet():
    """The previous minor for the whole fleet (make test-upgrade): previous() plus kubelet and kube-proxy for the
    other platforms; what previous() built comes from the build cache."""
    return _build({"multiarch_k8s_build_source": "gomod:kubernetes-" + PREVIOUS,
                   "multiarch_k8s_build_dest": PREVIOUS_HOLDER.replace("/cluster:", "/fleet:"),
                   "multiarch_k8s_build_platforms": sorted(set(n[0] for n in NODES.values())),
                   "multiarch_k8s_build_components": NODE_COMPONENTS,
                   "multiarch_k8s_build_platform_components": {"linux/amd64": CP_COMPONENTS}})


def patch():
    return _build({"multiarch_k8s_build_source": "gomod:kubernetes-" + PATCH, "multiarch_k8s_build_dest": PATCH_HOLDER,
                   "multiarch_k8s_build_platforms": sorted(set(NODES[n][0] for n in WORKERS)),
                   "multiarch_k8s_build_components": ["kubelet", "kube-proxy"]})


def standin(version):
    """A holder with only a stand-in kubelet of ``version`` for the four platforms (upgrade.yml keeps the node's
    other binaries from the release it runs)."""
    assert version in STANDINS, version
    return _build({"multiarch_k8s_build_source": STANDIN_DIR, "multiarch_k8s_build_version": version,
                   "multiarch_k8s_build_dest": "docker://127.0.0.1:5000/multiarch-k8s-tests/standin-kubelet:" + version})


def main(argv):
    if argv in (["patch"], ["ha"]):  # make test-faults: its second real release; make test-ha: its control plane
        started = time.monotonic()
        name, call = {"patch": ("patch " + PATCH, patch), "ha": ("ha " + VERSION, ha)}[argv[0]]
        print("%-22s %s (%.0f s)" % (name + ":", call(), time.monotonic() - started), flush=True)
        return
    if argv != ["all"]:
        sys.exit("usage: builds.py all|patch|ha")
    for name, call in [("cluster " + VERSION, cluster)] + [
            ("stand-in " + v, (lambda v=v: standin(v))) for v in STANDINS]:
        started = time.monotonic()
        ref = call()
        print("%-22s %s (%.0f s)" % (name + ":", ref, time.monotonic() - started), flush=True)
    # the emulated nodes' host-native runc shim and runc: the amd64 ones of the cluster's own holder image
    fleet.cmd_host_native(argparse.Namespace(holder=HOLDER))


if __name__ == "__main__":
    main(sys.argv[1:])
