# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real minor upgrade with upgrade.yml and rollback.yml: Kubernetes PREVIOUS (1.36) to VERSION (1.37), every
binary built by the collection from its Go modules; the skew guard on real versions, check mode, the rollout
(control plane first), a rollback, and a controller killed mid-rollout.

The previous line is built for the control-plane platform (amd64) and arm/v6 only (builds.py), so this module
forms its own two-node cluster on a fresh fleet: the control plane on mk8s-amd64 and the Pi Zero model,
mk8s-armel. Slow (the previous line is a build of its own, and a fresh fleet): make test-upgrade, not part of
make test, before test_upgrade_fleet (the full-fleet minor upgrade). The tests of this module run in their order (the
rollout upgrades the cluster, the rollback takes the armel node back, the killed run upgrades it again).

Break tried (2026-12-07, a mutation of the collection, on the 1.20.2 line this module replaced): rollback.yml's
default target changed from 'previous' to 'current'; the rollback and controller-killed tests failed.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
import yaml

import cluster as C
from runner import docker, run_playbook, start_playbook, wait_for

NODES = [C.CP, "mk8s-armel"]
V6 = "mk8s-armel"


@pytest.fixture(scope="module")
def previous_cluster(host_before, holder, previous_holder, tmp_path_factory):
    """A fresh fleet, and site.yml forming the two-node cluster at PREVIOUS from the previous line's holder."""
    inv, extra = C.form_at_previous(NODES, previous_holder, tmp_path_factory, "two")
    for node in NODES:
        assert C.healthy(node, C.PREVIOUS), C.node_state(node)
    # upgrade.yml and rollback.yml: the cluster's line after the upgrade
    up = dict(extra, multiarch_k8s_kubernetes_version=C.VERSION)
    return {"inv": inv, "extra": extra, "up": up, "holder": holder, "previous": previous_holder,
            "host_before": host_before}


def _versions():
    return C.kubectl_json("version")["serverVersion"]["gitVersion"], dict(
        (n, C.node_state(n)["kubelet"]) for n in NODES)


def test_a_kubelet_newer_than_the_api_server_is_refused(previous_cluster):
    """The arm/v6 node alone to VERSION (the control plane left out with --limit): its kubelet would be newer
    than the API server, which the policy never allows. Refused after the pull, before any node changes."""
    C.touch_markers(NODES)
    res = C.upgrade(previous_cluster["inv"], previous_cluster["up"], previous_cluster["holder"], limit=V6)
    assert res.rc != 0
    msg = res.message()
    assert "breaks the Kubernetes version skew policy" in msg, msg
    assert "%s: kubelet %s would be newer than kube-apiserver v1.36" % (V6, C.VERSION) in msg, msg
    assert "Nothing was changed on any host" in msg
    for node in NODES:
        assert C.node_changes_since(node) == [], node
    assert _versions() == (C.PREVIOUS, dict((n, C.PREVIOUS) for n in NODES))


def test_check_mode_shows_the_minor_upgrade_and_changes_nothing(previous_cluster):
    C.touch_markers(NODES)
    res = C.upgrade(previous_cluster["inv"], previous_cluster["up"], previous_cluster["holder"], check=True)
    assert res.ok, res.failures()
    plan = res.results("Show the plan")[0]["msg"]
    print(json.dumps(plan, indent=1))
    assert plan["skew"] == [] and plan["control_plane"] == [C.CP] and plan["batches"] == [[V6]]
    cp = plan["hosts"][C.CP]
    for comp in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"):
        assert comp in cp["changes"], cp
        assert cp["versions"][comp] == "%s -> %s" % (C.PREVIOUS, C.VERSION), cp
    # etcd, containerd, runc and the CNI plugins are the same builds in both lines: not part of the change
    assert "etcd" not in cp["changes"] and "containerd" not in cp["changes"]
    assert plan["hosts"][V6]["changes"] == ["kube-proxy", "kubelet"], plan["hosts"][V6]
    for node in NODES:
        assert C.node_changes_since(node) == [], node


def test_real_minor_upgrade_control_plane_first_then_the_node(previous_cluster):
    before = dict((n, C.current(n)) for n in NODES)
    started = time.monotonic()
    res = C.upgrade(previous_cluster["inv"], previous_cluster["up"], previous_cluster["holder"])
    print("minor upgrade %s -> %s of two nodes: %.0f s" % (C.PREVIOUS, C.VERSION, time.monotonic() - started))
    assert res.ok, res.failures()
    assert _versions() == (C.VERSION, dict((n, C.VERSION) for n in NODES))
    for node in NODES:
        assert C.current(node).startswith(C.VERSION + "-"), node
        assert docker("exec", node, "readlink", C.PREFIX + "/previous").stdout.strip().endswith(before[node])
        assert C.healthy(node), (node, C.node_state(node))
    # the control plane went first: its health gate passed before the node was touched
    order = [h for h, _result in res.task_hosts("Switch current to the release")]
    assert order.index(C.CP) < order.index(V6), order
    again = C.upgrade(previous_cluster["inv"], previous_cluster["up"], previous_cluster["holder"])
    assert again.ok, again.failures()
    for node in NODES:
        assert again.stats[node]["changed"] == 0, (node, again.changed_tasks(node))


def test_a_lock_entry_naming_a_kubelet_too_far_behind_is_refused_before_anything_is_fetched(previous_cluster, tmp_path):
    """The API server is at VERSION now. A lock file entry (as holder_build writes them: per platform, each
    component's version) names kubelet v1.33.0, four minors behind: refused from the lock file alone. The image
    it names was never pushed, so any fetch would have failed with another message."""
    src = "docker://127.0.0.1:5000/multiarch-k8s-tests/never-pushed:v1.33.0"
    versions = {"kubelet": "v1.33.0", "kube-proxy": "v1.33.0"}
    lock = tmp_path / "lock.yml"
    lock.write_text(yaml.safe_dump({"schema": 1, "versions": {"v1.33.0": {
        "source": src, "index": "sha256:" + "0" * 64,
        "platforms": dict((p, {"manifest": "sha256:" + "1" * 64, "files": {}, "versions": versions})
                          for p in ("linux/amd64", "linux/arm/v6"))}}}))
    C.touch_markers(NODES)
    res = C.upgrade(previous_cluster["inv"], previous_cluster["up"], src, multiarch_k8s_upgrade_lock_file=str(lock))
    assert res.rc != 0
    msg = res.message()
    assert "Nothing was fetched, and nothing was changed on any host" in msg, msg
    for node in NODES:
        assert "%s: kubelet v1.33.0 would be 4 minor versions older than kube-apiserver v1.37 (at most 3)" % node in msg
        assert C.node_changes_since(node) == [], node
    assert not res.task_hosts("Pull and verify the binaries once per platform the fleet needs (on the controller)")


def test_rollback_playbook_returns_the_node_to_the_previous_line(previous_cluster):
    previous = docker("exec", V6, "readlink", C.PREFIX + "/previous").stdout.strip().rsplit("/", 1)[-1]
    assert previous.startswith(C.PREVIOUS + "-") and previous != C.current(V6)
    res = run_playbook("multiarch.k8s.rollback", dict(previous_cluster["up"], multiarch_k8s_hosts=V6),
                       inventory=previous_cluster["inv"])
    assert res.ok, res.failures()
    # a kubelet one minor older than the API server: allowed, and Ready
    assert C.current(V6) == previous and C.healthy(V6, C.PREVIOUS), C.node_state(V6)
    nobody = run_playbook("multiarch.k8s.rollback", previous_cluster["up"], inventory=previous_cluster["inv"])
    assert nobody.rc != 0 and "Name the hosts to roll back" in nobody.message()


def test_controller_killed_mid_rollout_then_a_rerun_finishes(previous_cluster):
    """The armel node back on the previous line (the rollback above). upgrade.yml is killed (its whole process
    group, which this test started) once it has cordoned that node; a rerun finds its own cordon by the annotation
    and finishes: the node on VERSION, Ready and schedulable."""
    before = C.current(V6)
    assert before.startswith(C.PREVIOUS + "-"), before
    proc = start_playbook("multiarch.k8s.upgrade", dict(previous_cluster["up"], multiarch_k8s_hosts="fleet",
                                                        multiarch_k8s_upgrade_src=previous_cluster["holder"]),
                          inventory=previous_cluster["inv"], limit=V6)
    try:
        def cordoned_or_ended():
            if proc.poll() is not None:
                return "ended"
            state = C.node_state(V6)
            return "cordoned" if state["cordoned_by"] and not state["schedulable"] else None
        assert wait_for(cordoned_or_ended, 900, "upgrade.yml to cordon %s" % V6) == "cordoned", \
            "upgrade.yml ended before it cordoned %s" % V6
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # killed, as a controller that loses power: no handler runs
        proc.wait(timeout=60)
    crashed = C.node_state(V6)
    assert crashed["cordoned_by"] == "multiarch.k8s" and not crashed["schedulable"], crashed
    res = C.upgrade(previous_cluster["inv"], previous_cluster["up"], previous_cluster["holder"], limit=V6)
    assert res.ok, res.failures()
    assert C.current(V6) != before and C.current(V6).startswith(C.VERSION + "-linux-arm-v6-")
    assert C.healthy(V6), C.node_state(V6)


def test_the_host_is_unchanged(previous_cluster):
    assert C.host_state() == previous_cluster["host_before"]
