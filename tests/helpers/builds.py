# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The holder images the cluster tests run, built by the collection's own build playbook and pushed to the
registry on 127.0.0.1. holder_build caches every binary by its inputs under $MULTIARCH_CACHE/build, so a second
call rebuilds nothing; make test calls ``builds.py all`` as its own stage so that the build time is seen apart
from the tests, and the fixtures then find everything built.

- cluster(): 1.20.2 from Debian's source, the node components for four platforms, the control plane for amd64.
- patched(): the same tree with Debian's patches (kubelet, kube-proxy; kubeadm, kubectl for amd64).
- standin(version): a stand-in kubelet from the fixture Go module (tests/fixtures/standin), named a stand-in
  everywhere: versions that cannot be had offline (v1.22.0 for the skew guard, v1.20.3 that never registers,
  v1.20.3-broken that exits 1).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from cluster import CACHE, CP_COMPONENTS, HOLDER, NODE_COMPONENTS, PATCHED, STANDIN_DIR
from runner import run_playbook

STANDINS = ("v1.22.0", "v1.20.3", "v1.20.3-broken")


def _build(extra):
    with tempfile.TemporaryDirectory(prefix="mk8s-lock-") as tmp:
        res = run_playbook("multiarch.k8s.build", dict({
            "multiarch_k8s_build_dir": os.path.join(CACHE, "build"), "multiarch_k8s_build_components": ["kubelet"],
            "multiarch_k8s_lock_file": os.path.join(tmp, "lock.yml")}, **extra), timeout=5400)
    assert res.ok, res.failures()
    return extra["multiarch_k8s_build_dest"]


def cluster():
    return _build({"multiarch_k8s_build_dest": HOLDER, "multiarch_k8s_build_components": NODE_COMPONENTS,
                   "multiarch_k8s_build_platform_components": {"linux/amd64": CP_COMPONENTS}})


def patched():
    return _build({"multiarch_k8s_build_dest": PATCHED, "multiarch_k8s_build_debian_patches": True,
                   "multiarch_k8s_build_components": ["kubelet", "kube-proxy"],
                   "multiarch_k8s_build_platform_components": {"linux/amd64": ["kubeadm", "kubectl"]}})


def standin(version):
    """A holder with only a stand-in kubelet of ``version`` for the four platforms (upgrade.yml keeps the node's
    other binaries from the release it runs)."""
    assert version in STANDINS, version
    return _build({"multiarch_k8s_build_source": STANDIN_DIR, "multiarch_k8s_build_version": version,
                   "multiarch_k8s_build_dest": "docker://127.0.0.1:5000/multiarch-k8s-tests/standin-kubelet:" + version})


def main(argv):
    if argv != ["all"]:
        sys.exit("usage: builds.py all")
    for name, call in [("cluster", cluster), ("patched", patched)] + [
            ("stand-in " + v, (lambda v=v: standin(v))) for v in STANDINS]:
        started = time.monotonic()
        ref = call()
        print("%-22s %s (%.0f s)" % (name + ":", ref, time.monotonic() - started), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
