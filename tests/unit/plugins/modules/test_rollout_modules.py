# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node-side pieces of a rollout: which binaries a switch changes, the health gate's waiting, and
what cluster_node reads from a Node. The health gate is run against a real HTTP server on 127.0.0.1;
the systemd unit state is left out (``unit`` empty), as there is no systemd in a unit test."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
import time

import pytest

from ansible_collections.multiarch.k8s.plugins.modules import cluster_node, node_health, node_switch


def _sleeper(tmp_path, release, name="sleepy"):
    """A real program (a copy of sleep) in a release directory, run as a child process."""
    folder = tmp_path / "releases" / release
    folder.mkdir(parents=True, exist_ok=True)
    binary = str(folder / name)
    shutil.copy(shutil.which("sleep"), binary)
    return binary, subprocess.Popen([binary, "30"])


def test_the_binary_a_process_runs_is_read_from_proc(tmp_path):
    """A service still on the release before the switch is told from one on the release after it, also when its
    file was removed since (as a pruned release's would be)."""
    old, proc = _sleeper(tmp_path, "old")
    try:
        assert node_switch.binary_of_pid(proc.pid, "sleepy") == old
        new, other = _sleeper(tmp_path, "new")
        assert os.path.realpath(node_switch.binary_of_pid(proc.pid, "sleepy")) != os.path.realpath(new)
        other.kill()
        other.wait()
        os.unlink(old)
        assert node_switch.binary_of_pid(proc.pid, "sleepy") == old  # "(deleted)" taken off
    finally:
        proc.kill()
        proc.wait()
    assert node_switch.binary_of_pid(proc.pid, "sleepy") is None  # gone


def test_a_process_under_an_interpreter_is_known_by_its_mapped_program(tmp_path):
    """QEMU user emulation runs an ARM kubelet inside qemu-arm: the exe link names QEMU, the maps name the program.
    Here the interpreter is the real dynamic loader running a copy of sleep (the same layout: exe is the loader,
    the program is a mapped file)."""
    loader = [p for p in ("/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1") if os.path.exists(p)]
    if not loader:
        pytest.skip("no dynamic loader of this machine's architecture at a known path")
    binary, first = _sleeper(tmp_path, "r1", "kubelet")
    first.kill()
    first.wait()
    proc = subprocess.Popen([loader[0], binary, "30"])
    try:
        assert os.path.basename(os.path.realpath("/proc/%d/exe" % proc.pid)).startswith("ld-")
        deadline = time.monotonic() + 10  # the loader maps the program a moment after it starts
        while node_switch.binary_of_pid(proc.pid, "kubelet") != binary and time.monotonic() < deadline:
            time.sleep(0.05)
        assert node_switch.binary_of_pid(proc.pid, "kubelet") == binary
    finally:
        proc.kill()
        proc.wait()


def test_changed_binaries():
    before = {"files": {"kubelet": {"sha256": "a"}, "kube-proxy": {"sha256": "b"}, "pause": {"sha256": "c"}}}
    after = {"files": {"kubelet": {"sha256": "x"}, "kube-proxy": {"sha256": "b"}, "kubectl": {"sha256": "d"}}}
    assert node_switch.changed_binaries(before, after) == ["kubectl", "kubelet", "pause"]
    assert node_switch.changed_binaries(None, after) == ["kube-proxy", "kubectl", "kubelet"]
    assert node_switch.changed_binaries(after, after) == []


class _Handler(http.server.BaseHTTPRequestHandler):
    answers = []

    def do_GET(self):
        code = self.answers.pop(0) if self.answers else 200
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"ok" if code == 200 else b"[-]ping failed")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_health_waits_until_the_endpoint_answers_200(server):
    _Handler.answers = [500, 500]
    url = "http://127.0.0.1:%d/healthz" % server.server_port
    res, _s, passed = node_health.run_checks([{"name": "kubelet", "url": url}], deadline=node_health.time.monotonic() + 10,
                                             interval=0.2, settle=0)
    assert passed and res[0]["ok"] and res[0]["status"] == 200


def test_health_fails_with_the_last_answer(server):
    _Handler.answers = [500] * 1000
    url = "http://127.0.0.1:%d/healthz" % server.server_port
    res, _s, passed = node_health.run_checks([{"name": "kubelet", "url": url}], deadline=node_health.time.monotonic() + 1,
                                             interval=0.2, settle=0)
    assert not passed and not res[0]["ok"] and res[0]["status"] == 500 and "ping failed" in res[0]["answer"]


def test_health_settle_catches_a_flapping_service(server):
    _Handler.answers = [200, 500] * 500
    url = "http://127.0.0.1:%d/healthz" % server.server_port
    _res, _s, passed = node_health.run_checks([{"name": "kubelet", "url": url}], deadline=node_health.time.monotonic() + 1.5,
                                              interval=0.2, settle=1)
    assert not passed


def test_health_nothing_listening():
    res, _s, passed = node_health.run_checks([{"name": "kube-proxy", "url": "http://127.0.0.1:9/healthz"}],
                                             deadline=node_health.time.monotonic() + 0.5, interval=0.2, settle=0)
    assert not passed and not res[0]["ok"] and res[0]["status"] is None and res[0]["answer"]


def test_cluster_node_summary():
    taint = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    node = {"metadata": {"annotations": {cluster_node.ANNOTATION: "multiarch.k8s"}, "labels": {"a": "b"}},
            "spec": {"unschedulable": True, "taints": [taint]},
            "status": {"nodeInfo": {"kubeletVersion": "v1.20.2"}, "conditions": [{"type": "Ready", "status": "True"}]}}
    assert cluster_node.summary(node) == {"schedulable": False, "cordoned_by": "multiarch.k8s", "ready": True,
                                          "kubelet_version": "v1.20.2",
                                          "annotations": {cluster_node.ANNOTATION: "multiarch.k8s"},
                                          "labels": {"a": "b"}, "taints": [taint]}
    bare = cluster_node.summary({"metadata": {}, "status": {}})
    assert bare["schedulable"] is True and bare["labels"] == {} and bare["taints"] == []


class _Nodes(object):
    """A kubectl stand-in for cluster_node.ready: answers from a list of (doc or None, error), one per read.
    (A mock: the unit tests have no API server; the cluster tests run the module against a real one.)"""

    def __init__(self, answers):
        self.answers = list(answers)

    def node(self, name, fail=True):
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _ready_node(ready):
    return {"metadata": {"name": "n"}, "status": {"nodeInfo": {"kubeletVersion": "v1.20.2"},
                                                  "conditions": [{"type": "Ready", "status": ready}]}}


def test_cluster_node_ready_waits_for_a_node_not_registered_yet():
    clock = iter(range(0, 1000, 3))
    k = _Nodes([(None, 'nodes "n" not found'), (None, 'nodes "n" not found'), (_ready_node("False"), ""),
                (_ready_node("True"), "")])
    res = cluster_node.ready(k, {"name": "n", "timeout": 60, "version": "v1.20.2"}, clock=lambda: next(clock),
                             sleep=lambda s: None)
    assert not res.get("failed") and res["ready"] and res["kubelet_version"] == "v1.20.2", res


def test_cluster_node_ready_gives_up_with_the_reason():
    clock = iter(range(0, 1000, 10))
    res = cluster_node.ready(_Nodes([(None, 'nodes "n" not found')]), {"name": "n", "timeout": 30, "version": None},
                             clock=lambda: next(clock), sleep=lambda s: None)
    assert res["failed"] and 'not found' in res["msg"] and "after 30s" in res["msg"]
    clock = iter(range(0, 1000, 10))
    res = cluster_node.ready(_Nodes([(_ready_node("True"), "")]), {"name": "n", "timeout": 30, "version": "v1.37.2"},
                             clock=lambda: next(clock), sleep=lambda s: None)
    assert res["failed"] and "not Ready with kubelet v1.37.2" in res["msg"] and "kubelet v1.20.2" in res["msg"]
