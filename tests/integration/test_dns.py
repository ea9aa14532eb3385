# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster's DNS on the formed cluster: CoreDNS (built by the collection for every platform, its image imported
on each node) behind the kube-dns Service, asked from a pod on every platform and from every node.

What is checked: from each platform's pod, kubernetes.default.svc.<domain> is the kubernetes Service's address and a
test Service's name its ClusterIP, and a connection from each node to that address reaches the pod of another
platform behind it (Debian's static busybox wget crashes in a pod, exit 139: static glibc); a
missing name is NXDOMAIN; a name outside the cluster domain is answered by the fleet's upstream resolver (a small DNS
server in a container on the fleet's network, tests/fleet/upstream_dns.py), which logs that the query reached it;
from each node, the Service address answers for the cluster's names; a NodePort Service answers on every node; one
CoreDNS pod deleted, names still resolve and the Deployment replaces it.

Asks the formed_cluster fixture for the cluster. The pods are the uname pods of cluster.pod (Debian's static busybox,
whose nslookup asks the resolver the kubelet gave the pod, the cluster DNS address).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time

import pytest

import cluster as C
import fleet
from runner import docker, wait_for

DOMAIN = "cluster.local"
DNS = "10.96.0.10"
KUBERNETES = "10.96.0.1"
# one DNS query (type A) for sys.argv[2] to the server sys.argv[1] over UDP, run by a node's python3: prints the rcode
# and the addresses of the answer, as JSON
ASK = r"""
import json, random, socket, struct, sys
qid = random.randrange(65536)
name = b"".join(bytes([len(p)]) + p.encode() for p in sys.argv[2].rstrip(".").split(".")) + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1), (sys.argv[1], 53))
r = s.recv(4096)
flags, qd, an = struct.unpack("!HHH", r[2:8])
pos = 12
for _ in range(qd):
    while r[pos]:
        pos += 1 + r[pos]
    pos += 5
out = []
for _ in range(an):
    pos += 2 if r[pos] & 0xC0 == 0xC0 else len(r[pos:].split(b"\0", 1)[0]) + 1
    rtype, _c, _ttl, size = struct.unpack("!HHIH", r[pos:pos + 10])
    pos += 10
    if rtype == 1:
        out.append(socket.inet_ntoa(r[pos:pos + 4]))
    pos += size
print(json.dumps({"rcode": flags & 15, "addresses": out}))
"""


def nslookup(node, name):
    """What busybox's nslookup in the node's uname pod says for ``name``: (exit status, output)."""
    res = subprocess.run(C.KUBECTL + ["exec", "uname-" + node, "--", "/bin/busybox", "nslookup", name], capture_output=True,
                         text=True, check=False, timeout=120)
    return res.returncode, res.stdout + res.stderr


def answered(out, address):
    """Whether nslookup's output has ``address`` as an answer (its first lines name the server, 10.96.0.10:53)."""
    return "Address: %s" % address in [line.strip() for line in out.split("Name:", 1)[-1].splitlines()]


def ask_from_node(node, name, server=DNS):
    return json.loads(docker("exec", node, "python3", "-c", ASK, server, name).stdout)


@pytest.fixture(scope="module")
def dns_pods(formed_cluster):
    """CoreDNS's Deployment ready, a uname pod on every node, and a Service in front of the arm/v6 node's pod."""
    C.wait_rollout("coredns", seconds=300, namespace="kube-system", selector="k8s-app=kube-dns")
    pods = C.start_uname_pods()
    ips = C.uname_pod_ips(300)
    target = list(C.NODES)[-1]  # the arm/v6 node's pod, reached from the others by name
    C.kubectl("label", "pod", "uname-" + target, "dns-test=target", "--overwrite")
    services = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "uname-target", "namespace": "default"},
         "spec": {"selector": {"dns-test": "target"}, "ports": [{"port": 8080, "targetPort": 8080}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "uname-nodeport", "namespace": "default"},
         "spec": {"type": "NodePort", "selector": {"dns-test": "target"}, "ports": [{"port": 8080, "targetPort": 8080}]}}]}
    C.kubectl("apply", "-f", "-", stdin=json.dumps(services))
    try:
        yield {"ips": ips, "target": target}
    finally:
        C.kubectl("delete", "-f", "-", "--wait=false", stdin=json.dumps(services), check=False)
        C.kubectl("delete", "-f", "-", "--wait=true", "--timeout=120s", stdin=json.dumps(pods), check=False, timeout=180)


def test_coredns_runs_on_two_nodes_from_the_image_each_node_made(dns_pods):
    pods = C.kubectl_json("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"]
    nodes = [p["spec"]["nodeName"] for p in pods if p["status"].get("phase") == "Running"]
    assert len(nodes) == 2 and len(set(nodes)) == 2, [(p["metadata"]["name"], p["spec"].get("nodeName"), p["status"].get("phase")) for p in pods]
    assert all(p["spec"]["containers"][0]["image"].startswith("localhost/multiarch-k8s/coredns:v") for p in pods)
    svc = C.kubectl_json("get", "service", "-n", "kube-system", "kube-dns")
    assert svc["spec"]["clusterIP"] == DNS
    for node in C.NODES:
        listed = docker("exec", node, C.PREFIX + "/current/ctr", "--namespace", "k8s.io", "images", "ls").stdout
        line = [ln for ln in listed.splitlines() if ln.startswith("localhost/multiarch-k8s/coredns:v")]
        assert line and "io.cri-containerd.pinned=pinned" in line[0], (node, listed)


def test_every_platforms_pod_resolves_the_clusters_names_and_reaches_a_service_by_name(dns_pods):
    target = dns_pods["target"]
    cluster_ip = C.kubectl_json("get", "service", "uname-target")["spec"]["clusterIP"]
    for node in C.NODES:
        rc, out = nslookup(node, "kubernetes.default.svc." + DOMAIN)
        assert rc == 0 and answered(out, KUBERNETES), (node, out)
        rc, out = nslookup(node, "uname-target.default.svc." + DOMAIN)
        assert rc == 0 and answered(out, cluster_ip), (node, out)
        if node == target:
            continue
        # a connection to the address the name gave reaches the pod of another platform behind the Service, made from
        # the node (Debian's static busybox wget crashes in the pod, exit 139, by name and by address alike)
        got = docker("exec", node, "python3", "-c", "import urllib.request, sys; print(urllib.request.urlopen("
                     "'http://%s:8080/' % sys.argv[1], timeout=20).read().decode().strip())", cluster_ip).stdout.strip()
        assert got == C.NODES[target][2], (node, got)


def test_a_missing_name_is_nxdomain_and_an_outside_name_comes_from_the_upstream(dns_pods):
    before = docker("logs", fleet.UPSTREAM_DNS["name"]).stdout.count("query www.upstream.test. A")
    for node in C.NODES:
        rc, out = nslookup(node, "no-such-service.default.svc." + DOMAIN)
        assert rc != 0 and "NXDOMAIN" in out, (node, out)
        rc, out = nslookup(node, "www.upstream.test")
        assert rc == 0 and answered(out, "192.0.2.53"), (node, out)
    logged = docker("logs", fleet.UPSTREAM_DNS["name"]).stdout
    assert logged.count("query www.upstream.test. A") > before, logged[-2000:]


def test_every_node_asks_the_cluster_dns_address(dns_pods):
    for node in C.NODES:
        assert ask_from_node(node, "kubernetes.default.svc." + DOMAIN) == {"rcode": 0, "addresses": [KUBERNETES]}, node
        assert ask_from_node(node, "nothing.default.svc." + DOMAIN)["rcode"] == 3, node


def test_a_nodeport_service_answers_on_every_node(dns_pods):
    port = C.kubectl_json("get", "service", "uname-nodeport")["spec"]["ports"][0]["nodePort"]
    for node in C.NODES:
        with socket.create_connection((C.address(node), port), timeout=20) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            reply = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        assert reply.split(b"\r\n\r\n", 1)[-1].decode().strip() == C.NODES[dns_pods["target"]][2], (node, reply[:300])


def test_dns_answers_while_a_coredns_pod_is_lost_and_the_deployment_replaces_it(dns_pods):
    pods = C.kubectl_json("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"]
    victim = pods[0]["metadata"]["name"]
    C.kubectl("delete", "pod", "-n", "kube-system", victim, "--wait=false")
    asker = list(C.NODES)[0]
    answers = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # bounded: about one query a second for 20 s
        answers.append(ask_from_node(asker, "kubernetes.default.svc." + DOMAIN)["addresses"])
    assert answers and all(a == [KUBERNETES] for a in answers), answers

    def replaced():
        items = C.kubectl_json("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"]
        ready = [i["metadata"]["name"] for i in items if any(
            c["type"] == "Ready" and c["status"] == "True" for c in i["status"].get("conditions", []))]
        return ready if len(ready) == 2 and victim not in ready else None
    wait_for(replaced, 300, "two ready CoreDNS pods, %s replaced" % victim)


def test_upstream_resolver_sees_no_query_for_the_cluster_domain(dns_pods):
    """CoreDNS answers the cluster's names itself: nothing under the cluster domain reaches the upstream."""
    assert "svc.%s" % DOMAIN not in docker("logs", fleet.UPSTREAM_DNS["name"]).stdout


def test_the_kubelets_resolv_conf_has_no_loopback_resolver(dns_pods):
    for node in C.NODES:
        conf = docker("exec", node, "sh", "-c", "grep '^resolvConf:' /var/lib/kubelet/config.yaml").stdout.split()[1]
        servers = [ln.split()[1] for ln in docker("exec", node, "cat", conf).stdout.splitlines() if ln.startswith("nameserver")]
        assert servers == [fleet.upstream_dns_address()], (node, conf, servers)
        assert not [s for s in servers if s.startswith("127.")]
