# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""upgrade.yml when a node stops answering mid-rollout (frozen with docker pause, as a Pi that hangs): one that
stays away is left cordoned and a rerun finishes it; one that comes back is rolled back once it answers. Each
test ends with every node on a working release, Ready and schedulable, and the rollout stopped.

The cluster is the real line (cluster.VERSION, built from gomod/), the one test_cluster formed (idle_cluster). The
workers roll between two real releases: VERSION and the patch before it (cluster.PATCH, kubelet and kube-proxy for
the workers' platforms, built from gomod/ by this module's first use of it).

Slow (the patch release is a build of its own): make test-faults, not part of make test.

Break tried: the one in test_upgrade_faults's docstring, made when the two modules were one.
"""

from __future__ import annotations

import subprocess
import threading
import time

import cluster as C
from runner import docker


class Freezer(threading.Thread):
    """Freezes ``node`` (docker pause) once ``first`` is cordoned (the batch before it has begun, so that the first
    step of the node's own is the one that gets no answer) and, with ``thaw_after``, unfreezes it that many seconds
    after the node itself was cordoned. Bounded in time; stop() unfreezes it in any case."""

    def __init__(self, node, first, thaw_after=None):
        super().__init__(daemon=True)
        self.node, self.first, self.thaw_after, self.events, self.done = node, first, thaw_after, {}, threading.Event()

    @staticmethod
    def cordoned(node):
        try:
            return bool(C.node_state(node)["cordoned_by"])
        except subprocess.CalledProcessError:  # the API server busy for a moment: ask again
            return False

    def run(self):
        deadline = time.monotonic() + 1500
        while not self.done.is_set() and time.monotonic() < deadline:
            if "paused" not in self.events:
                if self.cordoned(self.first):
                    docker("pause", self.node)
                    self.events["paused"] = time.monotonic()
            elif "cordoned" not in self.events:
                if self.cordoned(self.node):
                    self.events["cordoned"] = time.monotonic()
            elif self.thaw_after is not None and time.monotonic() - self.events["cordoned"] > self.thaw_after:
                self.stop()
                return
            self.done.wait(1)

    def stop(self):
        if "paused" in self.events and "unpaused" not in self.events:
            docker("unpause", self.node, check=False)
            self.events["unpaused"] = time.monotonic()
        self.done.set()


def frozen_rollout(idle_cluster, base_extra, patch_holder, freezer, **extra):
    """upgrade.yml over the three workers (batches arm64, armhf, armel), over SSH as every test runs it: a frozen
    node stops answering its SSH connection, and the connection's keepalive (ServerAliveInterval 5 s, 3 misses)
    makes it unreachable, as a hung Pi is."""
    on_patch = C.current(freezer.node).startswith(C.PATCH + "-")
    if C.current(freezer.first).startswith(C.PATCH + "-") != on_patch:  # both on the same release first
        res = C.upgrade(idle_cluster["inv4"], base_extra, patch_holder if on_patch else base_extra["multiarch_k8s_holder_src"],
                        limit=freezer.first)
        assert res.ok, res.failures()
    before = dict((n, C.current(n)) for n in C.WORKERS)
    # a real change for both: to VERSION if they run the patch before it, else to that patch
    target = base_extra["multiarch_k8s_holder_src"] if on_patch else patch_holder
    freezer.start()
    try:
        res = C.upgrade(idle_cluster["inv4"], base_extra, target, limit=",".join(C.WORKERS),
                        **extra)
    finally:
        if freezer.thaw_after is not None:
            freezer.stop()
        freezer.done.set()
        freezer.join(timeout=60)
    return before, target, res


def test_a_node_that_stays_away_is_left_cordoned_and_a_rerun_finishes_it(idle_cluster, base_extra, patch_holder):
    """mk8s-armhf stops answering (frozen) just as its turn comes and stays away past
    multiarch_k8s_unreachable_timeout (20 s). Ansible's rescue does not see unreachable hosts; the role turns it
    into a failure, waits for the node, and, its release unknown, leaves it cordoned with the annotation and says
    so; the rollout stops before mk8s-armel. Unfrozen afterwards, a rerun of upgrade.yml for it finishes it: on
    the new release, Ready and schedulable."""
    node, first = "mk8s-armhf", "mk8s-arm64"
    freezer = Freezer(node, first)
    try:
        before, target, res = frozen_rollout(idle_cluster, base_extra, patch_holder, freezer,
                                             multiarch_k8s_unreachable_timeout=20)
        msg = res.message()
        print(msg)
        assert res.rc != 0 and "cordoned" in freezer.events, freezer.events
        assert "%s failed at 'Switch current to the release': the node stopped answering" % node in msg
        assert "It did not answer again within 20 s and is left cordoned (annotation multiarch.k8s/cordoned-by)" in msg
        assert "Not touched (still on their release, the new one staged): mk8s-armel." in msg
        left = C.node_state(node)
        assert left["cordoned_by"] == "multiarch.k8s" and not left["schedulable"], left
    finally:
        freezer.stop()
    assert C.current(node) == before[node]
    again = C.upgrade(idle_cluster["inv4"], base_extra, target, limit=node)
    assert again.ok, again.failures()
    assert C.current(node) != before[node]
    C.wait_healthy(node)


def test_a_node_that_stops_answering_mid_rollout_is_rolled_back_once_it_answers(idle_cluster, base_extra, patch_holder):
    """As above, but mk8s-armhf answers again 20 s after it was cordoned: the rescue, waiting for it, puts it back
    on its release and uncordons it, and the rollout stops before mk8s-armel."""
    node, first = "mk8s-armhf", "mk8s-arm64"
    freezer = Freezer(node, first, thaw_after=20)
    before, _target, res = frozen_rollout(idle_cluster, base_extra, patch_holder, freezer,
                                          multiarch_k8s_unreachable_timeout=300)
    assert "cordoned" in freezer.events and "unpaused" in freezer.events, freezer.events
    msg = res.message()
    print(msg)
    assert res.rc != 0
    assert "%s failed at 'Switch current to the release': the node stopped answering" % node in msg
    assert "It answered again after " in msg and "Nothing had been switched; it is healthy and Ready." in msg
    assert "The rollout stopped." in msg and "Not touched (still on their release, the new one staged): mk8s-armel." in msg
    assert C.current(first) != before[first]  # the batch before it finished
    for other in (node, "mk8s-armel"):
        assert C.current(other) == before[other], other
    for other in C.WORKERS:
        C.wait_healthy(other)


def test_the_host_is_unchanged(idle_cluster):
    assert C.host_state() == idle_cluster["host_before"]
