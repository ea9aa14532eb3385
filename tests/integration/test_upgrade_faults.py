# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""upgrade.yml when the new release is bad or a node cannot take it: a kubelet that fails its health gate (rolled
back automatically), a drain blocked by a disruption budget, a smoke test failing while staging, a node without
room. Each test ends with every node on a working release, Ready and schedulable, and the rollout stopped.

The cluster is the real line (cluster.VERSION, built from gomod/), the one test_cluster formed (idle_cluster).
Stand-ins (tests/fixtures/standin, built by the same path, named stand-ins) only for the two faults no real
release has: a kubelet (cluster.STANDINS[0], the next patch) that never registers with the API server, and one
(STANDINS[1]) that exits 1 on every run. Part of make test; a node that stops answering mid-rollout is
test_upgrade_unreachable (make test-faults).

Break tried (2026-12-07, a mutation of the collection): the rollout role's health gate in the cluster (Node Ready
with the new kubelet) skipped; 6 of the 7 tests failed (the stand-in that never registers was rolled out to every
worker, and the tests after it started from that).
"""

from __future__ import annotations

import json

import cluster as C
from runner import docker, wait_for

NEVER, BROKEN = C.STANDINS  # a stand-in kubelet that never registers, one that exits 1


def test_kubelet_failing_its_health_gate_is_rolled_back_and_the_rollout_stops(idle_cluster, base_extra, standin):
    src = standin(NEVER)
    before = dict((n, C.current(n)) for n in C.WORKERS)
    res = C.upgrade(idle_cluster["inv4"], base_extra, src, limit=",".join(C.WORKERS), multiarch_k8s_ready_timeout=45)
    assert res.rc != 0
    msg = res.message()
    print(msg)
    # the first batch's node tried, failed the gate, went back and is serving; the later batches were not touched
    assert "mk8s-arm64 failed at 'Health gate in the cluster (Node Ready with the new kubelet)'" in msg
    assert "It is back on %s, healthy and Ready" % before["mk8s-arm64"] in msg
    assert "The rollout stopped." in msg
    assert "Not touched (still on their release, the new one staged): mk8s-armhf, mk8s-armel." in msg
    assert res.stats["mk8s-arm64"]["rescued"] == 2  # the role's rollback, then upgrade.yml noting the stop
    for node in C.WORKERS:
        assert C.current(node) == before[node], node
        C.wait_healthy(node)
    # the stand-in was staged on every node before any switch; the untouched ones still hold it, unused
    assert any(r.startswith(NEVER + "-linux-arm-v7-") for r in C.releases_on("mk8s-armhf"))


def test_drain_blocked_by_a_disruption_budget_uncordons_and_stops(idle_cluster, base_extra, standin):
    node = "mk8s-armhf"
    C.workload(node)
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pinned", "namespace": "default"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "pinned"}}, "template": {
             "metadata": {"labels": {"app": "pinned"}},
             "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "containers": C.pod(node)["spec"]["containers"]}}}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pinned", "namespace": "default"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "pinned"}}}}]})
    C.kubectl("apply", "-f", "-", stdin=manifest)
    try:
        C.wait_rollout("pinned", 180)
        before = C.current(node)
        src = standin(NEVER)
        res = C.upgrade(idle_cluster["inv4"], base_extra, src, limit=node, multiarch_k8s_drain_timeout=20)
        assert res.rc != 0
        msg = res.message()
        print(msg)
        assert "%s failed at 'Cordon and drain the node (evictions honour PodDisruptionBudgets)'" % node in msg
        assert "disruption budget" in msg and "Nothing had been switched" in msg
        assert C.current(node) == before and C.healthy(node), C.node_state(node)
        assert C.kubectl("get", "pods", "-l", "app=pinned", "-o", "jsonpath={.items[*].status.phase}") == "Running"
    finally:
        C.kubectl("delete", "-f", "-", stdin=manifest, check=False)
        # the pod goes in the background: wait until it is gone, or the next drain of this node waits for it
        wait_for(lambda: not C.kubectl("get", "pods", "-l", "app=pinned", "-o", "name", check=False).strip(), 240,
                 "the pinned pod to be deleted")


def test_a_smoke_test_failing_while_staging_switches_nothing_anywhere(idle_cluster, base_extra, standin):
    """A stand-in kubelet built broken (every run exits 1, as a binary that cannot run on its node would) for
    every platform: staging smoke-tests it on each node while the node still serves, fails, removes the
    half-made release, and the upgrade stops before any node is drained or switched."""
    src = standin(BROKEN)
    before = dict((n, (C.current(n), C.releases_on(n))) for n in C.NODES)
    res = C.upgrade(idle_cluster["inv4"], base_extra, src)
    assert res.rc != 0
    msg = res.message()
    print(msg)
    assert "smoke test failed, nothing switched: kubelet --version exited 1" in msg and "was built broken" in msg
    assert not [t for t in res.tasks() if res.task_name(t).startswith("Cordon and drain")]
    for node in C.NODES:
        assert (C.current(node), C.releases_on(node)) == before[node], node
        assert C.healthy(node), (node, C.node_state(node))


def test_a_node_without_room_for_the_new_release_stops_the_upgrade_before_any_switch(idle_cluster, base_extra, standin):
    """mk8s-armel's releases directory is moved onto a tmpfs of its own, holding what it held and 2 MB more (a
    nearly full SD card; a stand-in staged there before is removed first). node_release's space check, made where
    the files go (the releases directory), refuses the new kubelet before anything is sent, and the upgrade stops
    with every node on its release."""
    node = "mk8s-armel"
    src = standin(NEVER)
    before = dict((n, C.current(n)) for n in C.NODES)
    rel = C.PREFIX + "/releases"
    docker("exec", node, "sh", "-c", "rm -rf %s/%s-linux-*" % (rel, NEVER))  # the node must need the space
    held = C.releases_on(node)
    used_kb = int(docker("exec", node, "du", "-sk", rel).stdout.split()[0])
    docker("exec", node, "sh", "-c", "set -e; rm -rf /tmp/mk8s-releases; cp -a %s /tmp/mk8s-releases; "
           "mount -t tmpfs -o size=%dk tmpfs %s; cp -a /tmp/mk8s-releases/. %s/" % (rel, used_kb + 2048, rel, rel))
    try:
        assert C.releases_on(node) == held
        res = C.upgrade(idle_cluster["inv4"], base_extra, src)
        assert res.rc != 0
        msg = res.message()
        print(msg)
        assert "%s / Install the host's release (staged and smoke-tested; switched" % node in msg
        assert "not enough space at %s/releases: " % C.PREFIX in msg and msg.count("nothing was sent") == 1
        assert C.releases_on(node) == held
        for other in C.NODES:
            assert C.current(other) == before[other], other
            assert C.healthy(other), (other, C.node_state(other))
    finally:
        docker("exec", node, "sh", "-c", "umount -l %s; rm -rf /tmp/mk8s-releases" % rel, check=False)
    assert C.releases_on(node) == held and C.healthy(node)


def test_the_host_is_unchanged(idle_cluster):
    assert C.host_state() == idle_cluster["host_before"]
