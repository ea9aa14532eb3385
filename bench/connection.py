# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: a no-op site.yml over SSH, as a Pi is reached (user pi, sudo, a key, host keys checked, pipelining,
one multiplexed connection per host), against the same run over the docker connection (root, docker exec).

    make bench-connection       (after make demo, default layout: it reruns site.yml on the demo's cluster)

Both inventories come from the integration tests' helper (tests/helpers/cluster.py inventory(), connection "ssh"
or "docker"), with the holder image, lock file and kubeconfig path make demo used, so that a rerun changes nothing.
A run that changes anything is not a no-op and stops the benchmark. The runs alternate (ssh, docker, ssh, ...),
``--runs`` of each; printed: each run's seconds, the medians, and the ratio ssh / docker (the baseline, measured
in the same bench run). Results also go to tests/output/bench-connection.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(REPO, "tests", "helpers"), os.path.join(REPO, "tests", "fleet")]

import cluster  # pylint: disable=wrong-import-position
from runner import run_playbook  # pylint: disable=wrong-import-position

OUT = os.path.join(REPO, "tests", "output")


def demo_extra():
    """The variables make demo (tools/demo.sh, default layout) ran site.yml with."""
    registry = os.environ.get("MULTIARCH_REGISTRY", "127.0.0.1:5000")
    return {"multiarch_k8s_holder_src": "docker://%s/multiarch-k8s/cluster:%s" % (registry, cluster.VERSION),
            "multiarch_k8s_hosts": "fleet", "multiarch_k8s_lock_file": os.path.join(OUT, "demo-lock.yml"),
            "multiarch_k8s_report_file": os.path.join(OUT, "fleet-report.json"),
            "multiarch_k8s_kubeconfig_file": os.path.join(OUT, "demo-kubeconfig", "admin.conf")}


def one(inventory, extra):
    started = time.monotonic()
    res = run_playbook("multiarch.k8s.site", extra, inventory=inventory, timeout=3600)
    seconds = time.monotonic() - started
    if not res.ok:
        sys.exit("site.yml failed: %s" % res.failures())
    changed = dict((h, res.changed_tasks(h)) for h in res.stats if res.stats[h]["changed"])
    if changed:
        sys.exit("site.yml changed something, so it is not a no-op rerun (run make demo first): %s" % changed)
    return seconds, sum(s["ok"] for h, s in res.stats.items() if h in cluster.NODES)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per connection (default 3)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    extra = demo_extra()
    work = pathlib.Path(tempfile.mkdtemp(prefix="mk8s-bench-connection-"))
    inventories = dict((c, cluster.inventory(work / ("%s.json" % c), list(cluster.NODES), connection=c))
                       for c in ("ssh", "docker"))
    times = {"ssh": [], "docker": []}
    tasks = {}
    for i in range(args.runs):
        for conn in ("ssh", "docker"):
            seconds, ok = one(inventories[conn], extra)
            times[conn].append(seconds)
            tasks[conn] = ok
            print("run %d %-6s %6.1f s  (%d tasks ok over the nodes, changed 0)" % (i + 1, conn, seconds, ok), flush=True)
    med = dict((c, statistics.median(v)) for c, v in times.items())
    print("\nno-op site.yml, %d nodes, median of %d runs each:" % (len(cluster.NODES), args.runs))
    print("  docker connection (root):          %6.1f s" % med["docker"])
    print("  SSH (pi, sudo, key, known_hosts):  %6.1f s   %.2fx the docker connection" % (med["ssh"], med["ssh"] / med["docker"]))
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "bench-connection.json"), "w", encoding="utf-8") as f:
        json.dump({"runs": times, "median": med, "ratio_ssh_docker": med["ssh"] / med["docker"], "tasks": tasks}, f, indent=1)


if __name__ == "__main__":
    main()
