# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""upgrade.yml and rollback.yml on the running cluster: the skew guard, check mode, a real rollout, a rollback,
and a controller killed mid-rollout.

Real: 1.20.2 built from the upstream tarball -> 1.20.2 rebuilt from the same tree with Debian's patches
(debian/patches: the CVE-2021-25743 fix and two printer patches). Those patches touch only kubectl's printers,
so the rebuilt kubelet and kube-proxy are byte for byte the same; the new holder image is still a new release
for every node (new manifest, new id), and kubectl on the control plane changes. Stand-in (tests/fixtures/standin,
built by the same path, named a stand-in): a kubelet "v1.22.0" for the skew guard.

Starts from upstream_cluster: every node on the upstream build, no bare pods. The tests of this module run in their
order (the rollback undoes the rollout on one node, the killed run redoes it).

Break tried (2026-12-07, a mutation of the collection): rollback.yml's default target changed from 'previous' to
'current'; test_rollback_playbook_returns_a_node_to_its_previous_release and
test_controller_killed_mid_rollout_then_a_rerun_finishes failed.
"""

from __future__ import annotations

import json
import os
import signal
import time

import cluster as C
from runner import docker, run_playbook, start_playbook, wait_for


def test_upgrade_breaking_the_skew_policy_is_refused_before_any_change(upstream_cluster, base_extra, standin):
    src = standin("v1.22.0")
    C.touch_markers()
    res = C.upgrade(upstream_cluster["inv4"], base_extra, src)
    assert res.rc != 0
    msg = res.message()
    assert "breaks the Kubernetes version skew policy" in msg
    for node in C.NODES:
        assert "%s: kubelet v1.22.0 would be newer than kube-apiserver v1.20" % node in msg
        assert C.node_changes_since(node) == [], node
    assert "Nothing was changed on any host" in msg


def test_upgrade_check_mode_shows_the_plan_and_changes_nothing(upstream_cluster, base_extra, patched):
    C.touch_markers()
    res = C.upgrade(upstream_cluster["inv4"], base_extra, patched, check=True)
    assert res.ok, res.failures()
    plan = res.results("Show the plan")[0]["msg"]
    print(json.dumps(plan, indent=1))
    assert plan["skew"] == [] and plan["control_plane"] == [C.CP]
    assert plan["batches"] == [["mk8s-arm64"], ["mk8s-armhf"], ["mk8s-armel"]]  # one platform each: never two at once
    # Debian's patches change kubectl and kubeadm only (their printers); the kubelet and kube-proxy are the same bytes
    assert plan["hosts"][C.CP]["changes"] == ["kubeadm", "kubectl"] and plan["hosts"][C.CP]["bytes"] > 10 * 1024 * 1024
    for node in C.WORKERS:
        line = plan["hosts"][node]
        assert line["changes"] == [] and line["from"] != line["to"] and line["digest"].startswith("sha256:")
    for node in C.NODES:
        assert C.node_changes_since(node) == [], node


def test_real_rollout_to_the_debian_patched_build(upstream_cluster, base_extra, patched):
    before = dict((n, C.current(n)) for n in C.NODES)
    pids = dict((n, C.kubelet_pid(n)) for n in C.NODES)
    assert all(p not in ("", "0") for p in pids.values()), pids
    kubectl_before = docker("exec", C.CP, "sha256sum", "/usr/local/bin/kubectl").stdout.split()[0]
    started = time.monotonic()
    res = C.upgrade(upstream_cluster["inv4"], base_extra, patched)
    print("rollout of the Debian-patched build over four nodes: %.0f s" % (time.monotonic() - started))
    assert res.ok, res.failures()
    for node in C.NODES:
        assert C.current(node) != before[node] and C.current(node).startswith("v1.20.2-debian-"), node
        assert docker("exec", node, "readlink", C.PREFIX + "/previous").stdout.strip().endswith(before[node])
        assert C.healthy(node), (node, C.node_state(node))
        # nothing a service runs changed, so nothing was restarted
        assert C.kubelet_pid(node) == pids[node]
    assert docker("exec", C.CP, "sha256sum", "/usr/local/bin/kubectl").stdout.split()[0] != kubectl_before
    again = C.upgrade(upstream_cluster["inv4"], base_extra, patched)
    assert again.ok, again.failures()
    for node in C.NODES:
        assert again.stats[node]["changed"] == 0, (node, again.changed_tasks(node))


def test_rollback_playbook_returns_a_node_to_its_previous_release(upstream_cluster, base_extra):
    node = "mk8s-armel"
    previous = docker("exec", node, "readlink", C.PREFIX + "/previous").stdout.strip().rsplit("/", 1)[-1]
    assert previous and previous != C.current(node)
    res = run_playbook("multiarch.k8s.rollback", dict(base_extra, multiarch_k8s_hosts=node), inventory=upstream_cluster["inv4"])
    assert res.ok, res.failures()
    assert C.current(node) == previous and C.healthy(node)
    nobody = run_playbook("multiarch.k8s.rollback", base_extra, inventory=upstream_cluster["inv4"])
    assert nobody.rc != 0 and "Name the hosts to roll back" in nobody.message()


def test_controller_killed_mid_rollout_then_a_rerun_finishes(upstream_cluster, base_extra, patched):
    """The armel node on the upstream build (the rollback above). upgrade.yml is killed (its whole process group,
    which this test started) once it has cordoned that node; a rerun finds its own cordon by the annotation and
    finishes: the node on the patched build, Ready and schedulable."""
    node = "mk8s-armel"
    before = C.current(node)
    assert before.startswith("v1.20.2-linux-"), before
    proc = start_playbook("multiarch.k8s.upgrade", dict(base_extra, multiarch_k8s_upgrade_src=patched, multiarch_k8s_hosts="fleet"),
                          inventory=upstream_cluster["inv4"], limit=node)
    try:
        def cordoned_or_ended():
            if proc.poll() is not None:
                return "ended"
            state = C.node_state(node)
            return "cordoned" if state["cordoned_by"] and not state["schedulable"] else None
        assert wait_for(cordoned_or_ended, 900, "upgrade.yml to cordon %s" % node) == "cordoned", \
            "upgrade.yml ended before it cordoned %s" % node
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # killed, as a controller that loses power: no handler runs
        proc.wait(timeout=60)
    crashed = C.node_state(node)
    assert crashed["cordoned_by"] == "multiarch.k8s" and not crashed["schedulable"], crashed
    res = C.upgrade(upstream_cluster["inv4"], base_extra, patched, limit=node)
    assert res.ok, res.failures()
    assert C.current(node) != before and C.current(node).startswith("v1.20.2-debian-linux-arm-v6-")
    assert C.healthy(node), C.node_state(node)


def test_the_host_is_unchanged(upstream_cluster):
    assert C.host_state() == upstream_cluster["host_before"]
