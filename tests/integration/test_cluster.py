# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The formed mixed-architecture cluster at the default line (cluster.VERSION): control plane and PKI, every platform Ready with its own kubelet,
pod CIDRs routed, a pod per platform answering across nodes with its machine, the fleet report of the run that
formed it, a site.yml rerun that changes nothing.

Break seen to fail this module (2026-12-07): the control plane's advertised address taken as the first of
all_ipv4_addresses; once the pods had given the amd64 node a pod bridge, the rerun moved the address to the
bridge's and restarted the control plane (test_site_rerun_changes_nothing_on_any_host; fixed by host_address).

Asks the formed_cluster fixture for the cluster (formed by site.yml, or the one an earlier module of the run
formed on the same containers). The workload is Debian's static busybox of each architecture, packed on the node
by node_image; the pods on the emulated nodes are privileged, for a reason of emulation only (cluster.pod).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest
import yaml

import cluster as C
from runner import docker, run_playbook


def test_control_plane_is_up_with_pki_made_by_kubeadm(formed_cluster):
    for service in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert docker("exec", C.CP, "systemctl", "is-active", service, check=False).stdout.strip() == "active", service
    assert C.kubectl("get", "--raw", "/readyz").strip() == "ok"
    assert C.kubectl_json("version")["serverVersion"]["gitVersion"] == C.VERSION
    ip = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", C.CP).stdout.strip()
    cert = docker("exec", C.CP, "openssl", "x509", "-noout", "-text", "-in", "/etc/kubernetes/pki/apiserver.crt").stdout
    assert ip and "IP Address:%s" % ip in cert and "DNS:%s" % C.CP in cert
    assert docker("exec", C.CP, "stat", "-c", "%a", "/etc/kubernetes/pki/ca.key").stdout.strip() == "600"
    # each node's kubelet has its own client certificate, in system:nodes
    for node in C.NODES:
        conf = docker("exec", node, "cat", "/etc/kubernetes/kubelet.conf").stdout
        data = [line.split(":", 1)[1].strip() for line in conf.splitlines() if "client-certificate-data" in line][0]
        subject = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=base64.b64decode(data),
                                 capture_output=True, check=True).stdout.decode()
        assert "O = system:nodes" in subject and "CN = system:node:%s" % node in subject, subject


def test_every_platform_is_ready_with_the_kubelet_of_the_line(formed_cluster):
    """Every node Ready with kubelet VERSION and containerd 2.x as its runtime (the Node no longer reports
    kube-proxy's version since 1.33: its own /version says it). containerd is stamped v2.4.2, as its release
    builds are; the kubelet reports the version it parsed, without the v."""
    seen = {}
    for item in C.kubectl_json("get", "nodes")["items"]:
        ready = [c["status"] for c in item["status"]["conditions"] if c["type"] == "Ready"]
        seen[item["metadata"]["name"]] = (item["metadata"]["labels"].get("multiarch.k8s/platform"), ready,
                                          item["status"]["nodeInfo"]["kubeletVersion"],
                                          item["status"]["nodeInfo"]["containerRuntimeVersion"])
    assert sorted(seen) == sorted(C.NODES)
    for node, (platform, _deb, _uname) in C.NODES.items():
        assert seen[node] == (platform.replace("/", "-"), ["True"], C.VERSION, "containerd://2.4.2"), (node, seen[node])
        out = docker("exec", node, C.PREFIX + "/current/kube-proxy", "--version", check=False)
        assert out.stdout.strip() == "Kubernetes " + C.VERSION, (node, out.stdout, out.stderr)
    print(C.kubectl("get", "nodes", "-L", "multiarch.k8s/platform", "-o", "wide"))


def test_only_the_control_plane_is_labelled_and_tainted_as_kubeadm_does(formed_cluster):
    for node in C.NODES:
        doc = C.kubectl_json("get", "node", node)
        role = "node-role.kubernetes.io/control-plane" in doc["metadata"].get("labels", {})
        taints = [(t["key"], t["effect"]) for t in doc["spec"].get("taints") or []]
        if node == C.CP:
            assert role and ("node-role.kubernetes.io/control-plane", "NoSchedule") in taints, (node, doc["metadata"], taints)
        else:
            assert not role and not [t for t in taints if t[0].startswith("node-role.")], (node, taints)


def test_pod_cidrs_are_recorded_distinct_and_routed(formed_cluster):
    nodes = C.kubectl_json("get", "nodes")["items"]
    cidrs = dict((i["metadata"]["name"], i["metadata"]["annotations"]["multiarch.k8s/pod-cidrs"]) for i in nodes)
    assert len(set(cidrs.values())) == 4 and all(c.startswith("10.244.") for c in cidrs.values())
    for node in C.NODES:
        routes = docker("exec", node, "ip", "route", "show", "proto", "77").stdout
        for other, cidr in cidrs.items():
            assert (cidr in routes) is (other != node), (node, routes)


@pytest.fixture()
def uname_pods(formed_cluster):
    pods = C.start_uname_pods()
    try:
        yield C.uname_pod_ips(300)
    finally:
        # bare pods would block a later drain (no controller manages them): gone before the next test
        C.kubectl("delete", "-f", "-", "--wait=true", "--timeout=120s", stdin=json.dumps(pods), check=False, timeout=180)


def test_a_pod_per_platform_answers_across_nodes_with_its_machine(uname_pods):
    answers = C.ask_uname(uname_pods)
    for node in C.NODES:
        assert answers[node] == C.NODES[node][2], (node, answers)


def test_fleet_report_shows_every_platform_ready(formed_cluster):
    """The fleet report (site.yml's last play) of the run that formed the cluster: the table and the JSON file."""
    table = "\n".join(formed_cluster["table"])
    print(table)
    records = dict((r["host"], r) for r in formed_cluster["report"]["hosts"])
    assert sorted(records) == sorted(C.NODES)
    for node, (platform, _deb, _uname) in C.NODES.items():
        r = records[node]
        assert r["platform"] == platform and r["release"].startswith(C.VERSION + "-" + platform.replace("/", "-"))
        assert r["node"]["ready"] is True and r["node"]["kubelet"] == C.VERSION
        assert r["services"] == {"containerd": "active", "kubelet": "active", "kube-proxy": "active"}
        assert r["image"]["manifest"].startswith("sha256:") and r["versions"]["kubelet"] == C.VERSION
        assert node in table
    print(records["mk8s-armel"]["decided"])
    assert records["mk8s-armel"]["decided"].split(" [")[0].endswith("-> linux/arm/v6"), records["mk8s-armel"]["decided"]


def test_the_controller_gets_an_admin_kubeconfig_that_works_from_here(formed_cluster, tmp_path):
    """site.yml wrote the admin kubeconfig on the controller, owner-only, its server the control plane's address on
    the fleet's network; the cluster's own amd64 kubectl reads the nodes with it from this host."""
    path = C.ADMIN_KUBECONFIG
    assert os.stat(path).st_mode & 0o777 == 0o600 and os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    assert [c["cluster"]["server"] for c in doc["clusters"]] == ["https://%s:6443" % C.address(C.CP)]
    kubectl = tmp_path / "kubectl"
    kubectl.write_bytes(subprocess.run(["docker", "exec", C.CP, "cat", "/usr/local/bin/kubectl"], capture_output=True,
                                       check=True, timeout=60).stdout)
    kubectl.chmod(0o755)
    out = subprocess.run([str(kubectl), "--kubeconfig", path, "get", "nodes", "-o", "name"], capture_output=True, text=True,
                         check=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}).stdout
    assert sorted(out.split()) == sorted("node/" + n for n in C.NODES), out


def test_site_rerun_changes_nothing_on_any_host(formed_cluster, base_extra):
    """site.yml again over the formed cluster: idempotent, nothing changes on any host."""
    res = run_playbook("multiarch.k8s.site", base_extra, inventory=formed_cluster["inv4"])
    assert res.ok, res.failures()
    assert sorted(h for h in res.stats if h in C.NODES) == sorted(C.NODES)
    for node in C.NODES:
        assert res.stats[node]["changed"] == 0, (node, res.changed_tasks(node))


def test_the_host_is_unchanged(formed_cluster):
    assert C.host_state() == formed_cluster["host_before"]
