# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: cross-compiling vs a native build under QEMU user emulation, in one run.

    make bench-build                       (or: python bench/build.py --component bridge --platform linux/arm/v7)
    python bench/build.py --full           the whole set for four platforms, cold then warm (long)

Cross: the controller's Go (Debian's golang-go) with GOARCH/GOARM. QEMU: Debian's Go toolchain of
the platform's own Debian architecture, run through binfmt_misc under QEMU user emulation, as the
seed recipe's buildx builds did. Both start from an empty Go build cache and build the same
component from the same source (Debian's CNI plugins, with Debian's Go libraries), measured once
each; the toolchain and the sources are fetched before the clock starts. Prints seconds, the ratio
and whether both produced the same sha256 (Go builds do not depend on the host).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P
from ansible_collections.multiarch.k8s.plugins.plugin_utils._build import COMPONENTS, CNI, ETCD, K8S, Builder
from ansible_collections.multiarch.k8s.plugins.plugin_utils._sources import SourceCache

CACHE = os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s")
SOURCES = {K8S: ("debian:kubernetes", False), CNI: ("debian:golang-github-containernetworking-plugins", True),
           ETCD: ("debian:etcd", True)}
FULL_SET = ["kubelet", "kube-proxy", "kubeadm", "kubectl", "kube-apiserver", "kube-controller-manager",
            "kube-scheduler", "pause", "bridge", "host-local", "loopback", "portmap", "etcd"]


def log(msg):
    sys.stderr.write("  %s\n" % msg)


def timed_build(root, source, sources, component, platform, strategy):
    b = Builder(root, source, log=log, strategy=strategy, sources=sources)
    start = time.perf_counter()
    rec = b.build(component, platform)
    return time.perf_counter() - start, rec


def cross_vs_qemu(args):
    platform = P.by_oci(args.platform)
    sources = SourceCache(os.path.join(CACHE, "build"), log=log)
    spec, patches = SOURCES[COMPONENTS[args.component][0]]
    source = sources.prepare(spec, debian_patches=patches)
    sources.qemu_toolchain(platform)
    work = tempfile.mkdtemp(prefix="mk8s-bench-build-")
    try:
        cross_s, cross = timed_build(os.path.join(work, "cross"), source, sources, args.component, platform, "cross")
        qemu_s, qemu = timed_build(os.path.join(work, "qemu"), source, sources, args.component, platform, "qemu")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("build of %s for %s from an empty Go cache, measured once each" % (args.component, platform.oci))
    print("%-34s %10s %8s  %s" % ("strategy", "seconds", "ratio", "sha256"))
    print("%-34s %10.1f %8.2f  %s" % ("cross (controller's Go)", cross_s, 1.0, cross["sha256"][:16]))
    print("%-34s %10.1f %8.2f  %s" % ("native under QEMU (%s Go)" % platform.debian_arch, qemu_s, qemu_s / cross_s,
                                      qemu["sha256"][:16]))
    print("cross-compiling is %.1fx faster; same sha256: %s" % (qemu_s / cross_s, cross["sha256"] == qemu["sha256"]))


def full(args):
    platforms = [P.by_oci(p) for p in args.platforms]
    sources = SourceCache(os.path.join(CACHE, "build"), log=log)
    prepared = dict((m, sources.prepare(spec, debian_patches=patches)) for m, (spec, patches) in SOURCES.items())
    work = tempfile.mkdtemp(prefix="mk8s-bench-full-")
    try:
        for label in ("cold", "warm"):
            if label == "warm":  # same Go build cache, outputs dropped: what a rebuild costs
                shutil.rmtree(os.path.join(work, "out"), ignore_errors=True)
            print("whole set (%d binaries) per platform, %s Go build cache" % (len(FULL_SET), label))
            print("%-14s %10s %10s" % ("platform", "seconds", "MB"))
            for platform in platforms:
                total_s = total_b = 0
                for comp in FULL_SET:
                    secs, rec = timed_build(work, prepared[COMPONENTS[comp][0]], sources, comp, platform, "cross")
                    total_s += secs
                    total_b += rec["size"]
                print("%-14s %10.0f %10.1f" % (platform.oci, total_s, total_b / 1048576.0))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--component", default="bridge", choices=sorted(COMPONENTS))
    parser.add_argument("--platform", default="linux/arm/v7")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--platforms", nargs="*", default=["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6"])
    args = parser.parse_args()
    if args.full:
        full(args)
    else:
        cross_vs_qemu(args)


if __name__ == "__main__":
    main()
