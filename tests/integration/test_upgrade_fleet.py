# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The full-fleet minor upgrade: the four-platform cluster formed at PREVIOUS (1.36) by site.yml, then upgrade.yml
to VERSION (1.37) over every node: the control plane first, then the workers in per-platform batches, each node
staged and smoke-tested before it is cordoned, drained with evictions that honour a PodDisruptionBudget, switched
and health-gated. Every binary is the collection's own build from gomod/ (builds.previous_fleet() adds the
previous line's kubelet and kube-proxy for arm64 and arm/v7 to what make test builds).

Slow (a fresh fleet, a cluster formed at 1.36 and a four-node rollout): make test-upgrade, not part of make test,
after test_upgrade.py, the same minor upgrade on two nodes.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

import builds
import cluster as C

SPREAD = ["mk8s-arm64", "mk8s-armhf"]  # the workload's nodes: both emulated without a CPU model of their own


@pytest.fixture(scope="module")
def fleet_at_previous(host_before, holder, tmp_path_factory):
    previous = builds.previous_fleet()
    inv, extra = C.form_at_previous(list(C.NODES), previous, tmp_path_factory, "four")
    yield {"inv": inv, "up": dict(extra, multiarch_k8s_kubernetes_version=C.VERSION), "holder": holder,
           "host_before": host_before}
    C.forget_formed()


def _spread_workload():
    """Two replicas over the arm64 and arm/v7 workers with a PodDisruptionBudget of one: a drain has to wait
    until the evicted replica runs again elsewhere."""
    for node in SPREAD:
        C.workload(node)
    template = C.pod(SPREAD[0])
    template["metadata"] = {"labels": {"app": "spread"}}
    template["spec"].pop("nodeSelector")
    template["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                                     "values": SPREAD}]}]}}}
    manifest = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "spread", "namespace": "default"},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "spread"}}, "template": template}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "spread", "namespace": "default"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "spread"}}}}]}
    C.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    C.wait_rollout("spread", 300)


class Watch(threading.Thread):
    """The workload's available replicas every 2 s while the rollout runs (bounded: at most 2 hours)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.seen, self.done = [], threading.Event()

    def run(self):
        deadline = time.monotonic() + 7200
        while not self.done.is_set() and time.monotonic() < deadline:
            out = C.kubectl("get", "deployment", "spread", "-o", "jsonpath={.status.availableReplicas}", check=False)
            if out.strip().isdigit() or out.strip() == "":
                self.seen.append(int(out.strip() or 0))
            self.done.wait(2)


def test_full_fleet_minor_upgrade_in_per_platform_batches(fleet_at_previous):
    up, inv = fleet_at_previous["up"], fleet_at_previous["inv"]
    _spread_workload()
    plan = C.upgrade(inv, up, fleet_at_previous["holder"], check=True)
    assert plan.ok, plan.failures()
    shown = plan.results("Show the plan")[0]["msg"]
    assert shown["control_plane"] == [C.CP] and shown["skew"] == [], shown
    assert sorted(n for batch in shown["batches"] for n in batch) == sorted(C.WORKERS), shown
    assert all(len(set(C.NODES[n][0] for n in batch)) == 1 for batch in shown["batches"]), shown["batches"]
    watch = Watch()
    watch.start()
    started = time.monotonic()
    try:
        res = C.upgrade(inv, up, fleet_at_previous["holder"])
    finally:
        watch.done.set()
        watch.join(timeout=30)
    print("full-fleet minor upgrade %s -> %s of %d nodes: %.0f s; available replicas seen: min %s over %d samples"
          % (C.PREVIOUS, C.VERSION, len(C.NODES), time.monotonic() - started, min(watch.seen or [None]), len(watch.seen)))
    assert res.ok, res.failures()
    assert C.kubectl_json("version")["serverVersion"]["gitVersion"] == C.VERSION
    for node in C.NODES:
        assert C.current(node).startswith(C.VERSION + "-"), node
        assert C.healthy(node), (node, C.node_state(node))
    order = [h for h, _result in res.task_hosts("Switch current to the release")]
    assert order[0] == C.CP and sorted(order[1:]) == sorted(C.WORKERS), order
    # the disruption budget held: one replica was available at every sample
    assert watch.seen and min(watch.seen) >= 1, watch.seen
    C.wait_rollout("spread", 300)


def test_the_host_is_unchanged(fleet_at_previous):
    assert C.host_state() == fleet_at_previous["host_before"]
