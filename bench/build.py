# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: what building costs, per component and platform, cold and warm; and cross vs native under QEMU.

    make bench-build          (python bench/build.py) the fleet's set from the collection's Go modules (gomod/):
                              the node components for four platforms, the control plane for amd64; cold, then warm
    python bench/build.py --components kubelet runc --platforms linux/arm/v6      a part of it
    make bench-build-qemu     (python bench/build.py --qemu) cross-compiling vs a native build under QEMU

Cold: an empty Go build cache, zig cache and C library cache, one directory for the whole pass, components built in
the order of the table (platform by platform, as holder_build builds them), so a component's cold time is what it
adds after the ones above it: the first Kubernetes component of a platform pays for the dependencies the others
share. The modules themselves are downloaded (from GOPROXY into the cache dir's module cache) before the clock
starts: what is timed is compiling and linking. Warm: the same caches, the outputs dropped: what a rebuild with a
warm cache costs (the case of a new component set, or of a build cache kept across CI runs).

--jobs N: then the cold pass once more, in a fresh directory, with holder_build's N platforms at once, against the
wall time of the sequential cold pass of the same run (the baseline): what ``jobs`` saves on this machine.

--qemu: the legacy comparison on Debian's sources (the qemu strategy runs Debian's Go of each platform, which cannot
build module-mode sources): the controller's Go with GOARCH/GOARM against Debian's Go toolchain of the platform's
own architecture under QEMU user emulation, as the seed recipe's buildx builds did; both from an empty Go build
cache, measured once each, the toolchain and the sources fetched before the clock starts.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P
from ansible_collections.multiarch.k8s.plugins.plugin_utils._build import COMPONENTS, CNI, CONTAINERD, ETCD, K8S, RUNC, Builder
from ansible_collections.multiarch.k8s.plugins.plugin_utils._holder_build import _build_all, run as holder_build_run
from ansible_collections.multiarch.k8s.plugins.plugin_utils._sources import SourceCache

CACHE = os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s")
SOURCES = {K8S: ("debian:kubernetes", False), CNI: ("debian:golang-github-containernetworking-plugins", True),
           ETCD: ("debian:etcd", True)}
# holder_build's own defaults: the Go modules of the collection's default line
_DEFAULTS = dict((k, v.default) for k, v in inspect.signature(holder_build_run).parameters.items())
with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "roles", "multiarch_k8s", "defaults",
                       "main.yml"), encoding="utf-8") as _role_defaults:  # the default line: the role's, its one place
    LINE = yaml.safe_load(_role_defaults)["multiarch_k8s_kubernetes_version"]
GOMOD = {K8S: "gomod:kubernetes-" + LINE, CNI: _DEFAULTS["cni_source"], ETCD: _DEFAULTS["etcd_source"],
         CONTAINERD: _DEFAULTS["containerd_source"], RUNC: _DEFAULTS["runc_source"]}
# what the test fleet runs, from its one list (tests/fleet/fleet.py): the node set everywhere, the control plane on
# the control plane's platform
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fleet"))
import fleet  # pylint: disable=wrong-import-position
NODE_SET = fleet.NODE_COMPONENTS
CP_SET = fleet.CP_COMPONENTS
CP_PLATFORM = fleet.node_platform(fleet.node_by_name(fleet.CONTROL_PLANE)).oci


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


def _download_modules(builder):
    """Every module the source's tools need, into the shared module cache, before any clock starts."""
    env = builder._module_env()
    subprocess.run([builder.go, "list", "-deps", "tool"], env=env, cwd=builder.source.tree, check=True,
                   stdout=subprocess.DEVNULL, timeout=3600)
    builder.tree()


def _builders(work, modules, prepared, sources):
    builders = {}
    for m in modules:
        b = Builder(work, prepared[m], log=log, sources=sources)
        b.gomodcache = os.path.join(CACHE, "build", "gomodcache")  # downloads are not what is measured
        _download_modules(b)
        builders[m] = b
    return builders


def table(args):
    platforms = [P.by_oci(p) for p in args.platforms]
    wanted = dict((p.oci, list(args.components or NODE_SET + (CP_SET if p.oci == CP_PLATFORM else [])))
                  for p in platforms)
    modules = sorted(set(COMPONENTS[c][0] for comps in wanted.values() for c in comps))
    sources = SourceCache(os.path.join(CACHE, "build"), log=log)
    prepared = dict((m, sources.prepare(GOMOD[m])) for m in modules)
    rows, walls = {}, {}
    work = tempfile.mkdtemp(prefix="mk8s-bench-build-")
    try:
        builders = _builders(work, modules, prepared, sources)
        go = builders[modules[0]].go_version()
        for label in ("cold", "warm"):
            if label == "warm":  # the same Go build cache, zig cache and C libraries; the outputs dropped
                shutil.rmtree(os.path.join(work, "out"), ignore_errors=True)
            started = time.perf_counter()
            for platform in platforms:
                for comp in wanted[platform.oci]:
                    b = builders[COMPONENTS[comp][0]]
                    start = time.perf_counter()
                    rec = b.build(comp, platform)
                    row = rows.setdefault((platform.oci, comp), {"MB": rec["size"] / 1048576.0})
                    row[label] = time.perf_counter() - start
                    if label == "warm":
                        row["same"] = row.get("sha256") == rec["sha256"]
                    row["sha256"] = rec["sha256"]
                    log("%s %s %s: %.1f s" % (label, platform.oci, comp, row[label]))
            walls[label] = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.jobs > 1:
        work = tempfile.mkdtemp(prefix="mk8s-bench-build-jobs-")
        try:
            builders = _builders(work, modules, prepared, sources)
            started = time.perf_counter()
            built, _bundles, _actions, _missing = _build_all(builders, platforms, wanted, False, jobs=args.jobs)
            walls["jobs"] = time.perf_counter() - started
            same = all(r["sha256"] == rows[(r["platform"], r["component"])]["sha256"] for r in built)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print("build time per component and platform (go %s, %d cores), cold then warm, in table order"
          % (go, os.cpu_count() or 1))
    print("%-14s %-24s %9s %9s %8s  %s" % ("platform", "component", "cold s", "warm s", "MB", "same sha256 warm"))
    for platform in platforms:
        cold = warm = 0.0
        for comp in wanted[platform.oci]:
            r = rows[(platform.oci, comp)]
            cold, warm = cold + r["cold"], warm + r["warm"]
            print("%-14s %-24s %9.1f %9.1f %8.1f  %s" % (platform.oci, comp, r["cold"], r["warm"], r["MB"], r["same"]))
        print("%-14s %-24s %9.1f %9.1f" % (platform.oci, "(all)", cold, warm))
    print("%-14s %-24s %9.1f %9.1f   (wall time of each pass)" % ("all", "", walls["cold"], walls["warm"]))
    if "jobs" in walls:
        print("cold pass with jobs=%d: %.1f s against %.1f s one platform at a time: %.2fx the time; same sha256: %s"
              % (args.jobs, walls["jobs"], walls["cold"], walls["jobs"] / walls["cold"], same))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qemu", action="store_true", help="cross vs native under QEMU, one component")
    parser.add_argument("--component", default="bridge", choices=sorted(COMPONENTS), help="with --qemu")
    parser.add_argument("--platform", default="linux/arm/v7", help="with --qemu")
    parser.add_argument("--components", nargs="*", choices=sorted(COMPONENTS),
                        help="the components of the table (default: the node set, and the control plane on amd64)")
    parser.add_argument("--platforms", nargs="*", default=["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6"])
    parser.add_argument("--jobs", type=int, default=1, help="also the cold pass with this many platforms at once")
    args = parser.parse_args()
    if args.qemu:
        cross_vs_qemu(args)
    else:
        table(args)


if __name__ == "__main__":
    main()
