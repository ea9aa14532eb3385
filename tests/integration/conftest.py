# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the integration tests: the test holder images in the real registry on 127.0.0.1, the cluster's
builds and the formed cluster. Every module asks for the state it needs here and leans on no other module."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

import builds
import cluster
import debs
import holders
from runner import run_playbook

CACHE = os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s")
PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6"]
SEED_PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v6"]


def _key(bins):
    h = hashlib.sha256()
    with open(holders.__file__, "rb") as f:
        h.update(f.read())
    for arch in sorted(bins):
        for name, path in sorted(bins[arch].items()):
            h.update(("%s %s %d" % (arch, name, os.path.getsize(path))).encode())
    return h.hexdigest()[:16]


def _cached_layout(kind, build):
    """An OCI layout under $MULTIARCH_CACHE/fixtures, rebuilt only when its inputs change."""
    bins = debs.fetch()
    root = os.path.join(CACHE, "fixtures", "%s-%s" % (kind, _key(bins)))
    if not os.path.exists(os.path.join(root, "index.json")):
        tmp = root + ".part"
        shutil.rmtree(tmp, ignore_errors=True)
        build(tmp, bins)
        os.replace(tmp, root)
    return root


@pytest.fixture(scope="session")
def debian_bins():
    return debs.fetch()


@pytest.fixture(scope="session")
def ours_layout():
    return _cached_layout("ours", lambda root, bins: holders.build_ours(root, "v1.20.2", bins, PLATFORMS))


@pytest.fixture(scope="session")
def seed_layout():
    return _cached_layout("seed", lambda root, bins: holders.build_seed(root, "v1.20.2", bins, SEED_PLATFORMS))


@pytest.fixture(scope="session")
def ours_ref(ours_layout):
    return holders.push(ours_layout, "v1.20.2", "multiarch-k8s-tests/ours")


@pytest.fixture(scope="session")
def seed_ref(seed_layout):
    return holders.push(seed_layout, "v1.20.2", "multiarch-k8s-tests/seed")


# --- the cluster: built once per run (make test's build stage), formed once, shared by the cluster modules ---
@pytest.fixture(scope="session")
def holder():
    """The node components for four platforms and the control plane for amd64, at cluster.VERSION (builds.py)."""
    return builds.cluster()


@pytest.fixture(scope="session")
def previous_holder():
    """The previous minor (cluster.PREVIOUS) for amd64 (control plane and node) and arm/v6 (builds.py)."""
    return builds.previous()


@pytest.fixture(scope="session")
def ha_holder():
    """The node components for four platforms and the control plane for the three HA control-plane hosts'
    platforms (amd64, arm64, arm/v7), at cluster.VERSION (builds.py; make test-ha)."""
    return builds.ha()


@pytest.fixture(scope="session")
def patch_holder():
    """The patch release before cluster.VERSION (cluster.PATCH), kubelet and kube-proxy for the workers (builds.py)."""
    return builds.patch()


@pytest.fixture(scope="session")
def standin():
    """builds.standin: a holder with a stand-in kubelet of the version asked (named a stand-in everywhere)."""
    return builds.standin


@pytest.fixture(scope="session")
def host_before():
    """The host's kernel settings and firewall, read before this process forms or changes the cluster."""
    return cluster.host_state()


@pytest.fixture(scope="session")
def base_extra(holder, tmp_path_factory):
    return {"multiarch_k8s_holder_src": holder, "multiarch_k8s_cache_dir": str(tmp_path_factory.mktemp("bins")),
            "multiarch_k8s_report_file": str(tmp_path_factory.mktemp("report") / "fleet-report.json"),
            # one place for every process of the run: a module that reuses the formed cluster finds the file its
            # forming run wrote
            "multiarch_k8s_kubeconfig_file": cluster.ADMIN_KUBECONFIG}


@pytest.fixture(scope="session")
def inv4(tmp_path_factory):
    return cluster.inventory(tmp_path_factory.mktemp("inventory") / "four.json", list(cluster.NODES))


@pytest.fixture(scope="session")
def formed_cluster(host_before, base_extra, inv4, holder):
    """The four-node cluster formed by site.yml from ``holder``, with the fleet report of the run that formed it.
    Reused when the fleet still runs the one an earlier module (or process) of this run formed on the same
    containers, every node healthy; otherwise the fleet is made fresh and site.yml forms it."""
    state = cluster.formed(holder)
    if state is None:
        cluster.reset_fleet()
        res = run_playbook("multiarch.k8s.site", base_extra, inventory=inv4)
        assert res.ok, res.failures()
        cluster.mark_formed(holder, res, base_extra["multiarch_k8s_report_file"])
        state = cluster.formed(holder)
    return {"inv4": inv4, "host_before": host_before, "report": state["report"], "table": state["table"]}


@pytest.fixture(scope="module")
def idle_cluster(formed_cluster):
    """The formed cluster, every node healthy, without bare pods (a drain rightly refuses to delete pods no
    controller manages)."""
    cluster.kubectl("delete", "pod", "--all", "--wait=true", "--timeout=120s", timeout=180)
    for node in cluster.NODES:
        cluster.wait_healthy(node)
    return formed_cluster
