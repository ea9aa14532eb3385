# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: pulling one platform's bundle out of a holder image, three ways, in one run.

    make bench-pull            (or: python bench/pull.py --runs 5, after make setup)

- holder_pull: this collection's worker (``_pull.Puller``), cold (empty cache) and cached (rerun
  with the lock file);
- seed: the seed recipe's documented path, ``docker pull --platform`` + ``docker create`` +
  ``docker cp`` per binary (+ ``docker rm``), with the image removed from the engine before each run;
- skopeo: ``skopeo copy`` of the same platform to an OCI layout, the raw limit (no extraction, no
  verification).

The image is the test holder image (Debian's kubectl, etcd and CNI plugins, this collection's
layout) in the registry on 127.0.0.1. Prints the median of each and ratios against holder_pull
cold measured in the same run. Noisy machines: trust medians and ratios, not single figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "tests", "helpers"), os.path.join(HERE, "..", "tests", "fleet")]

import holders
from ansible_collections.multiarch.k8s.plugins.plugin_utils._pull import Puller

PLATFORM = "linux/arm/v6"


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    ref = holders.bench_holder(["linux/amd64", "linux/arm64", "linux/arm/v7", PLATFORM])
    name = ref[len("docker://"):]
    work = tempfile.mkdtemp(prefix="mk8s-bench-")
    names = sorted("%s/%s" % (folder, n) for folder, group in (("k8s-bins", holders.K8S), ("cni-plugin-bins", holders.CNI))
                   for n in group)
    times = {"holder_pull cold": [], "holder_pull cached": [], "seed: docker pull+create+cp": [], "skopeo copy": []}
    sizes = {}
    try:
        for i in range(args.runs):
            dest = os.path.join(work, "cache-%d" % i)
            lock = os.path.join(work, "lock-%d.yml" % i)
            result = {}

            def cold():
                result.update(Puller(ref, [PLATFORM], dest, lock_file=lock).run())
            times["holder_pull cold"].append(timed(cold))
            sizes["holder_pull"] = result["transfer"][PLATFORM]["bytes"]
            times["holder_pull cached"].append(timed(lambda: Puller(ref, [PLATFORM], dest, lock_file=lock).run()))

            subprocess.run(["docker", "rmi", "-f", name], capture_output=True, check=False)
            out = os.path.join(work, "seed-%d" % i)
            os.makedirs(out)

            def seed():
                run(["docker", "pull", "--platform", PLATFORM, name])
                cid = subprocess.run(["docker", "create", "--platform", PLATFORM, name, "/none"], check=True,
                                     capture_output=True, text=True).stdout.strip()
                try:
                    for n in names:
                        run(["docker", "cp", "%s:/%s" % (cid, n), os.path.join(out, os.path.basename(n))])
                finally:
                    run(["docker", "rm", cid])
            times["seed: docker pull+create+cp"].append(timed(seed))
            subprocess.run(["docker", "rmi", "-f", name], capture_output=True, check=False)

            target = os.path.join(work, "skopeo-%d" % i)
            times["skopeo copy"].append(timed(lambda: run([
                "skopeo", "copy", "--quiet", "--src-tls-verify=false", "--override-os", "linux",
                "--override-arch", "arm", "--override-variant", "v6", ref, "oci:%s:v1.20.2" % target])))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = statistics.median(times["holder_pull cold"])
    print("pull of one %s bundle (%d files, %.1f MB compressed), %d runs, median seconds and ratio to holder_pull cold"
          % (PLATFORM, len(names), sizes["holder_pull"] / 1048576.0, args.runs))
    print("%-30s %9s %9s" % ("method", "median_s", "ratio"))
    for method, values in times.items():
        med = statistics.median(values)
        print("%-30s %9.3f %9.2f" % (method, med, med / base))
    seed = statistics.median(times["seed: docker pull+create+cp"])
    skopeo = statistics.median(times["skopeo copy"])
    cached = statistics.median(times["holder_pull cached"])
    print("holder_pull is %.1fx faster than the seed's path; %.2fx skopeo's time; cached rerun = %.3fx of a cold pull"
          % (seed / base, base / skopeo, cached / base))


if __name__ == "__main__":
    main()
