# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""site.yml's control-plane play on the amd64 fleet node: etcd and the real Kubernetes 1.20.2 control
plane, built by holder_build from Debian's source (cached under $MULTIARCH_CACHE/build), installed by
node_release, PKI and kubeconfigs made by the built kubeadm, run as systemd services.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from runner import docker

NODE = "mk8s-amd64"
CACHE = os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s")
COMPONENTS = ["kubeadm", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"]
SERVICES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
KUBECTL = ["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"]


def run_playbook(name, extra, timeout=3600, check=False):
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    proc = subprocess.run(["ansible-playbook", name, "-e", json.dumps(extra)] + (["--check"] if check else []),
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        return json.loads(proc.stdout), proc.returncode
    except ValueError:
        pytest.fail("%s printed no JSON (rc %d):\n%s\n%s" % (name, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))


def failures(doc):
    out = []
    for play in doc["plays"]:
        for task in play["tasks"]:
            for host, res in task["hosts"].items():
                if res.get("failed") or res.get("unreachable"):
                    out.append("%s / %s: %s" % (host, task["task"]["name"], res.get("msg") or res.get("stderr")))
    return out


def _clean():
    docker("exec", NODE, "sh", "-c", "systemctl disable --now %s 2>/dev/null; rm -f %s; systemctl daemon-reload; "
           "rm -rf /etc/kubernetes /var/lib/etcd /opt/multiarch-k8s; cd /usr/local/bin && "
           "for f in *; do [ -L \"$f\" ] && rm -f \"$f\"; done; true"
           % (" ".join(SERVICES), " ".join("/etc/systemd/system/%s.service" % s for s in SERVICES)), check=False)


@pytest.fixture(scope="module")
def control_plane_ref(tmp_path_factory):
    """The amd64 control-plane binaries and etcd, built from Debian's sources and pushed to the test registry."""
    ref = "docker://127.0.0.1:5000/multiarch-k8s-tests/control-plane:v1.20.2"
    doc, rc = run_playbook("multiarch.k8s.build", {
        "multiarch_k8s_build_dest": ref, "multiarch_k8s_build_dir": os.path.join(CACHE, "build"),
        "multiarch_k8s_build_platforms": ["linux/amd64"], "multiarch_k8s_build_components": COMPONENTS,
        "multiarch_k8s_lock_file": str(tmp_path_factory.mktemp("cp") / "lock.yml")})
    assert rc == 0, failures(doc)
    return ref


@pytest.fixture(scope="module")
def converged(control_plane_ref, tmp_path_factory):
    _clean()
    extra = {"multiarch_k8s_holder_src": control_plane_ref, "multiarch_k8s_hosts": NODE,
             "multiarch_k8s_cache_dir": str(tmp_path_factory.mktemp("cache"))}
    check = run_playbook("multiarch.k8s.site", extra, check=True)
    left = docker("exec", NODE, "sh", "-c", "ls -d /etc/kubernetes /var/lib/etcd /etc/systemd/system/etcd.service "
                  "2>/dev/null", check=False).stdout.split()
    first = run_playbook("multiarch.k8s.site", extra)
    second = run_playbook("multiarch.k8s.site", extra)
    yield first, second, (check, left)
    _clean()


def test_check_mode_on_a_new_host_changes_nothing(converged):
    (doc, rc), left = converged[2]
    assert rc == 0, failures(doc)
    assert doc["stats"][NODE]["changed"] > 0  # it says what it would do
    assert left == []


def test_control_plane_comes_up(converged):
    doc, rc = converged[0]
    assert rc == 0, failures(doc)
    for service in SERVICES:
        state = docker("exec", NODE, "systemctl", "is-active", service, check=False).stdout.strip()
        assert state == "active", service
    assert docker("exec", NODE, *KUBECTL, "get", "--raw", "/readyz").stdout.strip() == "ok"
    version = json.loads(docker("exec", NODE, *KUBECTL, "version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.20.2"
    namespaces = docker("exec", NODE, *KUBECTL, "get", "namespaces", "-o", "name").stdout.split()
    assert "namespace/kube-system" in namespaces


def test_pki_was_made_by_kubeadm_with_the_node_address(converged):
    ip = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", NODE).stdout.strip()
    out = docker("exec", NODE, "openssl", "x509", "-noout", "-text", "-in", "/etc/kubernetes/pki/apiserver.crt")
    assert "IP Address:%s" % ip in out.stdout and "DNS:%s" % NODE in out.stdout
    mode = docker("exec", NODE, "stat", "-c", "%a", "/etc/kubernetes/pki/ca.key").stdout.strip()
    assert mode == "600"


def test_rerun_changes_nothing(converged):
    doc, rc = converged[1]
    assert rc == 0, failures(doc)
    assert doc["stats"][NODE]["changed"] == 0, [
        t["task"]["name"] for p in doc["plays"] for t in p["tasks"] if t["hosts"].get(NODE, {}).get("changed")]
