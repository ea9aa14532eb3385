# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A control plane of three hosts of mixed architectures (make test-ha): site.yml forms it on a fresh
four-platform fleet with mk8s-amd64, mk8s-arm64 and mk8s-armhf in the control_plane group (amd64 + arm64 +
arm/v7, so etcd runs on 32-bit arm too) and mk8s-armel a worker.

What is checked: one cluster CA and service-account key made once and shared; etcd stacked, three members with
peer TLS; every node (the control-plane hosts too) reaching the API through its own load balancer (haproxy on
127.0.0.1:6444) that lists the three API servers; a rerun that changes nothing; a control-plane host without its
etcd data (rebuilt) refused before any change; one control-plane host frozen (as a
Pi that hangs) while the API keeps answering through every node's load balancer and a new pod is scheduled and
runs; the frozen host back in the cluster afterwards.

Not here yet: a real upgrade of the HA control plane (it needs the control plane of a second release built for
three platforms).
"""

from __future__ import annotations

import hashlib
import json
import time

import pytest
import yaml

import cluster as C
from runner import docker, run_playbook, wait_for

HA = C.HA_CONTROL_PLANE
WORKER = [n for n in C.NODES if n not in HA][0]
LB = "https://127.0.0.1:6444"

# the etcd v3 API's JSON gateway, asked on the node with the API server's etcd client certificate
MEMBERS = """
import json, ssl, urllib.request
ctx = ssl.create_default_context(cafile="/etc/kubernetes/pki/etcd/ca.crt")
ctx.load_cert_chain("/etc/kubernetes/pki/apiserver-etcd-client.crt", "/etc/kubernetes/pki/apiserver-etcd-client.key")
req = urllib.request.Request("https://127.0.0.1:2379/v3/cluster/member/list", data=b"{}", method="POST")
print(urllib.request.urlopen(req, context=ctx, timeout=10).read().decode())
"""
# /readyz through the node's load balancer, as anonymous (the default RBAC lets anyone read it); ``n`` requests
READYZ = """
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile="/etc/kubernetes/pki/ca.crt")
ctx.check_hostname = False
for _ in range(int(sys.argv[1])):
    print(urllib.request.urlopen("%s/readyz", context=ctx, timeout=10).read().decode())
""" % LB


def etcd_health(node):
    out = docker("exec", node, "python3", "-c", "import urllib.request; print(urllib.request.urlopen("
                 "'http://127.0.0.1:2381/health', timeout=5).read().decode())", check=False)
    try:
        return json.loads(out.stdout).get("health") == "true"
    except ValueError:
        return False


def sha256_on(node, path):
    return hashlib.sha256(docker("exec", node, "cat", path).stdout.encode()).hexdigest()


@pytest.fixture(scope="module")
def ha_cluster(ha_holder, host_before, tmp_path_factory):
    C.reset_fleet()
    inv = C.inventory(tmp_path_factory.mktemp("inventory") / "ha.json", list(C.NODES), control_plane=HA)
    extra = {"multiarch_k8s_holder_src": ha_holder, "multiarch_k8s_cache_dir": str(tmp_path_factory.mktemp("bins")),
             "multiarch_k8s_report_file": str(tmp_path_factory.mktemp("report") / "fleet-report.json"),
             "multiarch_k8s_kubeconfig_file": str(tmp_path_factory.mktemp("kubeconfig") / "admin.conf"),
             # an API server under QEMU user emulation, three of them starting on two cores: slower than a Pi's
             "control_plane_ready_timeout": 420}
    started = time.monotonic()
    res = run_playbook("multiarch.k8s.site", extra, inventory=inv)
    assert res.ok, res.failures()
    print("HA cluster (control plane on %s) formed in %.0f s" % (", ".join(HA), time.monotonic() - started))
    for node in C.NODES:
        C.wait_healthy(node)
    yield {"inv": inv, "extra": extra, "host_before": host_before, "result": res}
    C.forget_formed()  # the fleet holds this cluster, not the one test_cluster forms


def test_one_ca_and_service_account_key_shared_by_the_three_control_planes(ha_cluster):
    for path in ("ca.crt", "sa.pub", "front-proxy-ca.crt", "etcd/ca.crt"):
        sums = dict((n, sha256_on(n, "/etc/kubernetes/pki/" + path)) for n in HA)
        assert len(set(sums.values())) == 1, (path, sums)
    for node in HA:
        assert docker("exec", node, "stat", "-c", "%a", "/etc/kubernetes/pki/ca.key").stdout.strip() == "600", node
        # each API server's own certificate, for its own address, from the shared CA
        cert = docker("exec", node, "openssl", "x509", "-noout", "-text", "-in", "/etc/kubernetes/pki/apiserver.crt").stdout
        assert "IP Address:%s" % C.address(node) in cert and "IP Address:127.0.0.1" in cert, node
        verify = docker("exec", node, "openssl", "verify", "-CAfile", "/etc/kubernetes/pki/ca.crt",
                        "/etc/kubernetes/pki/apiserver.crt", check=False)
        assert verify.returncode == 0, (node, verify.stdout, verify.stderr)
    assert WORKER not in [n for n in C.NODES if docker("exec", n, "test", "-e", "/etc/kubernetes/pki/ca.key",
                                                       check=False).returncode == 0]


def test_etcd_is_stacked_with_three_members_and_peer_tls(ha_cluster):
    doc = json.loads(docker("exec", HA[0], "python3", "-c", MEMBERS).stdout)
    members = dict((m["name"], m) for m in doc["members"])
    assert sorted(members) == sorted(HA), doc
    for node in HA:
        assert members[node]["peerURLs"] == ["https://%s:2380" % C.address(node)], members[node]
        assert etcd_health(node), node
    unit = docker("exec", "mk8s-armhf", "systemctl", "cat", "etcd").stdout
    assert "ETCD_UNSUPPORTED_ARCH=arm" in unit and "--peer-client-cert-auth=true" in unit


def test_every_node_reaches_the_api_through_its_own_load_balancer(ha_cluster):
    for node in C.NODES:
        for conf in ("/etc/kubernetes/kubelet.conf", "/var/lib/kube-proxy/kubeconfig"):
            doc = yaml.safe_load(docker("exec", node, "cat", conf).stdout)
            assert [c["cluster"]["server"] for c in doc["clusters"]] == [LB], (node, conf)
        assert docker("exec", node, "systemctl", "is-active", "haproxy", check=False).stdout.strip() == "active", node
        cfg = docker("exec", node, "cat", "/etc/haproxy/haproxy.cfg").stdout
        assert sorted(line.split()[2] for line in cfg.splitlines() if line.strip().startswith("server ")) == sorted(
            "%s:6443" % C.address(n) for n in HA), cfg
        assert docker("exec", node, "python3", "-c", READYZ, "1").stdout.split() == ["ok"], node
    labelled = [i["metadata"]["name"] for i in C.kubectl_json("get", "nodes")["items"]
                if "node-role.kubernetes.io/control-plane" in i["metadata"]["labels"]]
    assert sorted(labelled) == sorted(HA)


def test_the_controller_kubeconfig_names_the_first_control_plane(ha_cluster):
    with open(ha_cluster["extra"]["multiarch_k8s_kubeconfig_file"], encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    assert [c["cluster"]["server"] for c in doc["clusters"]] == ["https://%s:6443" % C.address(HA[0])]


def test_site_rerun_changes_nothing_on_any_host(ha_cluster):
    res = run_playbook("multiarch.k8s.site", ha_cluster["extra"], inventory=ha_cluster["inv"])
    assert res.ok, res.failures()
    for node in C.NODES:
        assert res.stats[node]["changed"] == 0, (node, res.changed_tasks(node))


def test_a_control_plane_host_without_etcd_data_is_refused_before_any_change(ha_cluster):
    """mk8s-armhf's etcd data moved aside (as a control-plane host rebuilt from a fresh SD card): site.yml refuses
    to make it a member of a cluster of its own, by name, and nothing is written on any node. Then put back."""
    node = "mk8s-armhf"
    docker("exec", node, "sh", "-c", "systemctl stop etcd && mv /var/lib/etcd/member /var/lib/etcd/member.aside")
    try:
        C.touch_markers()
        res = run_playbook("multiarch.k8s.site", ha_cluster["extra"], inventory=ha_cluster["inv"])
        assert not res.ok
        msg = res.message()
        assert "etcd holds data on mk8s-amd64, mk8s-arm64 but not on mk8s-armhf" in msg, msg
        assert "Nothing was changed on the control-plane hosts" in msg
        for n in C.NODES:
            assert C.node_changes_since(n) == [], n
    finally:
        docker("exec", node, "sh", "-c", "mv /var/lib/etcd/member.aside /var/lib/etcd/member && systemctl start etcd")
    wait_for(lambda: etcd_health(node), 180, "etcd on %s healthy again" % node)


def test_a_frozen_control_plane_host_leaves_the_api_and_scheduling_working(ha_cluster):
    """mk8s-armhf frozen (docker pause: every process stops, its address stops answering, as a Pi that hangs):
    every other node still reaches the API through its load balancer, etcd keeps its quorum (two of three), and a
    new pod is scheduled on the worker and runs. Thawed, the host's etcd member and Node come back."""
    down = "mk8s-armhf"
    docker("pause", down)
    try:
        for node in C.NODES:
            if node != down:
                wait_for(lambda node=node: docker("exec", node, "python3", "-c", READYZ, "5", check=False).stdout.split()
                         == ["ok"] * 5, 60, "five /readyz answers in a row through %s's load balancer" % node)
        assert all(etcd_health(n) for n in HA if n != down)
        C.workload(WORKER)
        C.kubectl("apply", "-f", "-", stdin=json.dumps(C.pod(WORKER, "ha-probe")))
        try:
            wait_for(lambda: C.kubectl("get", "pod", "ha-probe", "-o", "jsonpath={.status.phase}", check=False) == "Running",
                     300, "the pod ha-probe Running on %s while %s is frozen" % (WORKER, down))
        except BaseException:
            print(C.pods_explained())
            raise
        finally:
            C.kubectl("delete", "pod", "ha-probe", "--wait=true", "--timeout=120s", check=False, timeout=180)
    finally:
        docker("unpause", down)
    wait_for(lambda: etcd_health(down), 180, "etcd on %s healthy again" % down)
    C.wait_healthy(down, seconds=300)


def test_the_host_is_unchanged(ha_cluster):
    assert C.host_state() == ha_cluster["host_before"]
