# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the cluster's DNS (CoreDNS) on the running demo cluster.

    make bench-dns      (after make demo: it reads the running cluster)

1. Memory on arm/v6: a CoreDNS pod of the cluster's own image and Corefile, pinned to the fleet's arm/v6 node (a Pi
   Zero), serving the cluster for ``--settle`` seconds; then the Go runtime's own figures from its /metrics (port
   9153): ``go_memstats_sys_bytes`` and ``go_memstats_heap_inuse_bytes``, ``--samples`` times, medians. (The
   process RSS under QEMU counts the translator too: not a Pi's figure.) The pod is removed afterwards.
2. Query latency from a node: ``--queries`` A queries for kubernetes.default.svc.cluster.local to the cluster DNS
   address (through the node's kube-proxy), one at a time, timed on the node by its python3; p50 and p99 of each of
   ``--runs`` runs, and the median of those.
3. Cache hit vs miss: a name of the upstream zone asked for the first time (CoreDNS forwards it to the fleet's
   upstream resolver) against the same name asked again (answered from CoreDNS's cache); ``--queries`` new names
   and as many repeats per run, medians.

The node that asks is the first of the layout (the control plane's; amd64 in the default layout, so the figures are
not inflated by emulation on the asking side).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fleet"))
import fleet  # pylint: disable=wrong-import-position

CP = fleet.CONTROL_PLANE
KUBECTL = ["docker", "exec", "-i", CP, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"]
DNS = "10.96.0.10"
ARMV6 = [n["name"] for n in fleet.NODES if n["platform"] == "linux/arm/v6"]
MIB = 1048576.0
# run by a node's python3: argv = server, mode (same|new), count; times each A query (ms), prints them as JSON
TIMED = r"""
import json, random, socket, struct, sys, time
server, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
def ask(name):
    q = struct.pack("!HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0) + b"".join(
        bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    t = time.perf_counter()
    s.sendto(q, (server, 53))
    r = s.recv(4096)
    ms = (time.perf_counter() - t) * 1000
    s.close()
    assert r[3] & 15 == 0, r[3] & 15
    return ms
out = []
tag = "%08x" % random.randrange(1 << 32)
for i in range(count):
    if mode == "same":
        out.append(ask("kubernetes.default.svc.cluster.local"))
    elif mode == "miss":
        out.append(ask("n%d-%s.upstream.test" % (i, tag)))
    else:  # hit: the names of a miss run asked again
        out.append(ask("n%d-%s.upstream.test" % (i, sys.argv[4])))
print(json.dumps({"ms": out, "tag": tag}))
"""


def kubectl(*args, stdin=None):
    return subprocess.run(KUBECTL + list(args), input=stdin, capture_output=True, text=True, check=True, timeout=300).stdout


def on_node(node, *args):
    return json.loads(subprocess.run(["docker", "exec", node, "python3", "-c", TIMED] + list(args), capture_output=True,
                                     text=True, check=True, timeout=600).stdout)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def memory(node, settle, samples, interval):
    deploy = json.loads(kubectl("get", "deployment", "-n", "kube-system", "coredns", "-o", "json"))
    spec = deploy["spec"]["template"]["spec"]
    spec = dict(spec, nodeName=node, topologySpreadConstraints=[])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "coredns-bench", "namespace": "kube-system",
                                                           "labels": {"multiarch.k8s/bench": "dns"}}, "spec": spec}
    kubectl("delete", "pod", "-n", "kube-system", "coredns-bench", "--ignore-not-found", "--wait=true")
    kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    try:
        kubectl("wait", "-n", "kube-system", "pod/coredns-bench", "--for=condition=Ready", "--timeout=300s")
        ip = json.loads(kubectl("get", "pod", "-n", "kube-system", "coredns-bench", "-o", "json"))["status"]["podIP"]
        time.sleep(settle)
        got = []
        for i in range(samples):
            text = subprocess.run(["docker", "exec", CP, "python3", "-c", "import urllib.request, sys; print(urllib.request."
                                   "urlopen('http://%s:9153/metrics' % sys.argv[1], timeout=20).read().decode())", ip],
                                  capture_output=True, text=True, check=True, timeout=60).stdout
            values = dict((line.split()[0], float(line.split()[1])) for line in text.splitlines()
                          if line.startswith(("go_memstats_sys_bytes ", "go_memstats_heap_inuse_bytes ")))
            got.append((values["go_memstats_sys_bytes"] / MIB, values["go_memstats_heap_inuse_bytes"] / MIB))
            if i + 1 < samples:
                time.sleep(interval)
        return statistics.median(g[0] for g in got), statistics.median(g[1] for g in got)
    finally:
        kubectl("delete", "pod", "-n", "kube-system", "coredns-bench", "--ignore-not-found", "--wait=false")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--interval", type=float, default=3.0)
    parser.add_argument("--settle", type=float, default=30.0)
    args = parser.parse_args(argv)
    asker = fleet.NODES[0]["name"]
    p50s, p99s, hits, misses = [], [], [], []
    for _run in range(args.runs):
        ms = on_node(asker, DNS, "same", str(args.queries))["ms"]
        p50s.append(pct(ms, 50))
        p99s.append(pct(ms, 99))
        miss = on_node(asker, DNS, "miss", str(args.queries))
        hit = on_node(asker, DNS, "hit", str(args.queries), miss["tag"])
        misses.append(statistics.median(miss["ms"]))
        hits.append(statistics.median(hit["ms"]))
    print("queries from %s to %s, %d runs of %d each (medians of the runs):" % (asker, DNS, args.runs, args.queries))
    print("  a cluster name:  p50 %.2f ms, p99 %.2f ms" % (statistics.median(p50s), statistics.median(p99s)))
    print("  upstream names:  cache miss %.2f ms, cache hit %.2f ms (hit/miss %.2f)"
          % (statistics.median(misses), statistics.median(hits), statistics.median(hits) / statistics.median(misses)))
    for node in ARMV6:
        sys_mib, heap = memory(node, args.settle, args.samples, args.interval)
        print("CoreDNS on %s (linux/arm/v6): Go sys %.1f MiB, heap in use %.1f MiB (medians of %d samples)"
              % (node, sys_mib, heap, args.samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
