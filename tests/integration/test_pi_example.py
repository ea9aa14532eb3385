# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""inventory-examples/pi-fleet as a user uses it (make test-pi, the emulated Pi fleet: MULTIARCH_FLEET=pi).

The example is copied whole (hosts.yml and group_vars/fleet.yml) and edited only where the example says to:
each host renamed and readdressed to the emulated board of its kind (the Pi 5 to mk8s-arm64, the Pi 4 to
mk8s-arm64b, the Pi 3 to mk8s-armhf, the Pi Zero to mk8s-armel), and the holder image's address. What a real
Pi does not need comes beside it, in a file of its own in the same inventory directory: the fleet's SSH key and
known_hosts, and the emulated nodes' wiring (the amd64 runc shim and runc, no CAP_SYS_RESOURCE, the test host's
cgroup v1, the fleet's upstream resolver in place of Docker's on loopback, CoreDNS privileged under QEMU).
site.yml then forms the cluster from that inventory on a fresh fleet: no amd64 node, the control plane on arm64,
every node reached over SSH as pi with sudo.

What is checked: every node Ready on its own platform; the control-plane labels and taint; the lock file and the
admin kubeconfig beside the inventory, as the example's variables put them, the kubeconfig working from the
controller; a pod on every node answering with its machine, each asked from the next node.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
import yaml

import cluster as C
import fleet
from runner import run_playbook

pytestmark = pytest.mark.skipif(fleet.LAYOUT != "pi", reason="the Pi fleet's test: make test-pi (MULTIARCH_FLEET=pi)")

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "inventory-examples", "pi-fleet")
# the example's boards and the emulated node of the same kind
BOARDS = {"pi5-1": "mk8s-arm64", "pi4-1": "mk8s-arm64b", "pi3-1": "mk8s-armhf", "pi-zero-1": "mk8s-armel"}
ARCH = {"mk8s-arm64": "arm64", "mk8s-arm64b": "arm64", "mk8s-armhf": "arm", "mk8s-armel": "arm"}
PLATFORM = {"mk8s-arm64": "linux/arm64", "mk8s-arm64b": "linux/arm64", "mk8s-armhf": "linux/arm/v7",
            "mk8s-armel": "linux/arm/v6"}


def user_copy(holder, inv):
    """The example copied to ``inv`` and edited as a user edits it; the emulation's wiring beside it."""
    shutil.copytree(EXAMPLE, inv)
    hosts_file = os.path.join(inv, "hosts.yml")
    with open(hosts_file, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    children = doc["all"]["children"]
    assert sorted(children["fleet"]["hosts"]) == sorted(BOARDS), "the example's hosts changed: update BOARDS"
    children["fleet"]["hosts"] = dict((BOARDS[h], dict(v, ansible_host=C.address(BOARDS[h])))
                                      for h, v in children["fleet"]["hosts"].items())
    children["control_plane"]["hosts"] = dict((BOARDS[h], v) for h, v in children["control_plane"]["hosts"].items())
    with open(hosts_file, "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f)
    vars_file = os.path.join(inv, "group_vars", "fleet.yml")
    with open(vars_file, encoding="utf-8") as f:
        settings = yaml.safe_load(f)
    assert settings["multiarch_k8s_kubernetes_version"] == C.VERSION, "the example names another line than the tests build"
    settings["multiarch_k8s_holder_src"] = holder
    with open(vars_file, "w", encoding="utf-8") as f:
        yaml.safe_dump(settings, f)
    ssh = fleet.ssh_vars()
    wiring = {"all": {"children": {"fleet": {
        "hosts": dict((n, C.emulated_runtime(n)) for n in BOARDS.values()),
        "vars": {"ansible_ssh_private_key_file": ssh["ansible_ssh_private_key_file"],
                 "ansible_ssh_common_args": ssh["ansible_ssh_common_args"], "ansible_host_key_checking": True,
                 "container_runtime_restrict_oom_score_adj": True, "container_runtime_privileged_without_host_devices": True,
                 "multiarch_k8s_allow_cgroup_v1": True, "kubelet_ready_timeout": 420, "control_plane_ready_timeout": 420,
                 "multiarch_k8s_dns_upstreams": [fleet.upstream_dns_address()], "cluster_dns_security_context": {"privileged": True}}}}}}
    with open(os.path.join(inv, "zz-emulated-fleet.yml"), "w", encoding="utf-8") as f:
        f.write("---\n# not a Pi's: the emulated fleet's SSH key and known_hosts, and its nodes' wiring (tests/fleet)\n")
        yaml.safe_dump(wiring, f)
    return inv


@pytest.fixture(scope="module")
def example_cluster(holder, host_before, tmp_path_factory):
    C.reset_fleet()
    inv = user_copy(holder, str(tmp_path_factory.mktemp("copy") / "pi-fleet"))
    extra = {"multiarch_k8s_report_file": str(tmp_path_factory.mktemp("report") / "fleet-report.json")}
    started = time.monotonic()
    res = run_playbook("multiarch.k8s.site", extra, inventory=inv)
    assert res.ok, res.failures()
    print("the Pi fleet formed from inventory-examples/pi-fleet in %.0f s" % (time.monotonic() - started))
    yield {"inv": inv, "result": res, "host_before": host_before}
    C.forget_formed()  # the fleet holds this cluster


def test_the_example_forms_a_pi_only_cluster(example_cluster):
    for node in BOARDS.values():
        C.wait_healthy(node)
    nodes = dict((i["metadata"]["name"], i) for i in C.kubectl_json("get", "nodes")["items"])
    assert sorted(nodes) == sorted(BOARDS.values())
    for name, doc in nodes.items():
        labels = doc["metadata"]["labels"]
        assert labels["kubernetes.io/arch"] == ARCH[name] and labels["multiarch.k8s/platform"] == PLATFORM[name].replace("/", "-"), labels
    cp = nodes["mk8s-arm64"]
    assert "node-role.kubernetes.io/control-plane" in cp["metadata"]["labels"]
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in cp["spec"].get("taints", [])
    for service in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        out = C.docker("exec", "mk8s-arm64", "systemctl", "is-active", service, check=False).stdout.strip()
        assert out == "active", (service, out)


def test_the_lock_file_and_kubeconfig_land_beside_the_inventory(example_cluster, tmp_path):
    inv = example_cluster["inv"]
    with open(os.path.join(inv, "multiarch-k8s.lock.yml"), encoding="utf-8") as f:
        assert "sha256:" in f.read()
    path = os.path.join(inv, "artifacts", "admin.conf")
    assert os.stat(path).st_mode & 0o777 == 0o600
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    assert [c["cluster"]["server"] for c in doc["clusters"]] == ["https://%s:6443" % C.address("mk8s-arm64")]
    # the control plane's own kubectl (arm64: this host runs it through binfmt_misc and QEMU) reads the nodes
    kubectl = tmp_path / "kubectl"
    kubectl.write_bytes(subprocess.run(["docker", "exec", "mk8s-arm64", "cat", "/usr/local/bin/kubectl"], capture_output=True,
                                       check=True, timeout=60).stdout)
    kubectl.chmod(0o755)
    out = subprocess.run([str(kubectl), "--kubeconfig", path, "get", "nodes", "-o", "name"], capture_output=True, text=True,
                         check=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}).stdout
    assert sorted(out.split()) == sorted("node/" + n for n in BOARDS.values()), out


def test_a_pod_on_every_pi_answers_with_its_machine(example_cluster):
    pods = C.start_uname_pods()
    try:
        answers = C.ask_uname(C.uname_pod_ips(300))
        assert answers == dict((n, C.NODES[n][2]) for n in BOARDS.values()), answers
    finally:
        C.kubectl("delete", "-f", "-", "--wait=true", "--timeout=120s", stdin=json.dumps(pods), check=False, timeout=180)


def test_the_host_is_unchanged(example_cluster):
    assert C.host_state() == example_cluster["host_before"]
