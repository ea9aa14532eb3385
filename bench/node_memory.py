# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the memory a node's own services use, against a 512 MB Raspberry Pi Zero.

    make bench-node-memory      (after make demo: it reads the running cluster)

For the kubelet and kube-proxy of every node it samples, ``--samples`` times ``--interval`` seconds
apart, the Go runtime's own figures from their /metrics endpoints: ``go_memstats_sys_bytes`` (all
memory the Go runtime has taken from the OS) and ``go_memstats_heap_inuse_bytes``. On the emulated
ARM nodes the process RSS counts QEMU's translator and its code cache too, so the Go-reported figures
are what a real Pi would see; the RSS is printed beside them to show the difference. containerd (the release's,
which serves no /metrics in the collection's configuration) is given as RSS only.

The kubelet's metrics come through the API server (kubectl get --raw /api/v1/nodes/NODE/proxy/metrics),
kube-proxy's from 127.0.0.1:10249 on the node. On the control-plane node also the control plane's own: etcd
(127.0.0.1:2381, its metrics listener), kube-apiserver (kubectl get --raw /metrics), kube-controller-manager and
kube-scheduler (their secure ports on 127.0.0.1, with the admin kubeconfig's client certificate). Printed: medians
per node and service, the total of the node's services against 512 MiB, and each node's kubelet + kube-proxy as a
ratio of the first node's (the control plane; amd64 and native in the default layout), measured in the same run.
The fleet's layout (MULTIARCH_FLEET) says which nodes there are.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fleet"))
import fleet  # pylint: disable=wrong-import-position

CP = fleet.CONTROL_PLANE
NODES = [n["name"] for n in fleet.NODES]
KUBECTL = ["docker", "exec", CP, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"]
CONTROL_PLANE = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
# run by the control-plane node's python3: GET https://127.0.0.1:PORT/metrics with the admin kubeconfig's client
# certificate (the components' serving certificates are their own self-signed ones: loopback, not verified)
SECURE_METRICS = r"""
import base64, re, ssl, sys, tempfile, urllib.request
conf = open("/etc/kubernetes/admin.conf").read()
with tempfile.TemporaryDirectory() as d:
    for field in ("client-certificate-data", "client-key-data"):
        open(d + "/" + field, "wb").write(base64.b64decode(re.search(field + r": *(\S+)", conf).group(1)))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(d + "/client-certificate-data", d + "/client-key-data")
    print(urllib.request.urlopen("https://127.0.0.1:%s/metrics" % sys.argv[1], context=ctx, timeout=20).read().decode())
"""
MIB = 1048576.0
PI_ZERO_MB = 512


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def kubelet_metrics(node):
    return subprocess.run(KUBECTL + ["get", "--raw", "/api/v1/nodes/%s/proxy/metrics" % node],
                          capture_output=True, text=True, check=True, timeout=60).stdout


def kube_proxy_metrics(node):
    code = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:10249/metrics', timeout=10).read().decode())"
    return subprocess.run(["docker", "exec", node, "python3", "-c", code], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def control_plane_metrics(service):
    if service == "kube-apiserver":
        return subprocess.run(KUBECTL + ["get", "--raw", "/metrics"], capture_output=True, text=True, check=True,
                              timeout=60).stdout
    if service == "etcd":
        code = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:2381/metrics', timeout=10).read().decode())"
        return subprocess.run(["docker", "exec", CP, "python3", "-c", code], capture_output=True, text=True, check=True,
                              timeout=60).stdout
    port = {"kube-controller-manager": "10257", "kube-scheduler": "10259"}[service]
    return subprocess.run(["docker", "exec", CP, "python3", "-c", SECURE_METRICS, port], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def rss_mib(node, service):
    pid = subprocess.run(["docker", "exec", node, "systemctl", "show", "-p", "MainPID", "--value", service],
                         capture_output=True, text=True, check=True).stdout.strip()
    if pid in ("", "0"):
        return None
    status = subprocess.run(["docker", "exec", node, "cat", "/proc/%s/status" % pid], capture_output=True,
                            text=True, check=False).stdout
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args(argv)
    samples = dict((n, {"kubelet": [], "kube-proxy": []}) for n in NODES)
    samples[CP].update((s, []) for s in CONTROL_PLANE)
    rss = dict((n, {"kubelet": [], "kube-proxy": [], "containerd": []}) for n in NODES)
    rss[CP].update((s, []) for s in CONTROL_PLANE)
    for i in range(args.samples):
        for node in NODES:
            fetchers = [("kubelet", kubelet_metrics), ("kube-proxy", kube_proxy_metrics)]
            if node == CP:
                fetchers += [(s, lambda _node, s=s: control_plane_metrics(s)) for s in CONTROL_PLANE]
            for service, fetch in fetchers:
                text = fetch(node)
                samples[node][service].append((metric(text, "go_memstats_sys_bytes") / MIB,
                                               metric(text, "go_memstats_heap_inuse_bytes") / MIB))
            for service in rss[node]:
                value = rss_mib(node, service)
                if value is not None:
                    rss[node][service].append(value)
        if i + 1 < args.samples:
            time.sleep(args.interval)
    print("node        service                 Go sys MiB  Go heap in use MiB  RSS MiB (QEMU-inflated on ARM)")
    totals = {}
    for node in NODES:
        total = 0.0
        for service in samples[node]:
            sys_mib = statistics.median(s[0] for s in samples[node][service])
            heap = statistics.median(s[1] for s in samples[node][service])
            if service in ("kubelet", "kube-proxy"):
                total += sys_mib
            print("%-11s %-23s %10.1f  %18.1f  %8.1f" % (node, service, sys_mib, heap,
                                                         statistics.median(rss[node][service] or [0])))
        print("%-11s %-23s %10s  %18s  %8.1f" % (node, "containerd", "-", "-", statistics.median(rss[node]["containerd"] or [0])))
        totals[node] = total
    print()
    base = totals[NODES[0]]
    for node in NODES:
        print("%-11s kubelet+kube-proxy Go sys %.1f MiB = %.1f%% of a %d MB Pi Zero; %.2fx %s's"
              % (node, totals[node], 100.0 * totals[node] / PI_ZERO_MB, PI_ZERO_MB, totals[node] / base, NODES[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
