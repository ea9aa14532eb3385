# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control-plane plan: binaries per control-plane platform, the even-number warning."""

from __future__ import annotations

import pytest

from ansible_collections.multiarch.k8s.plugins.plugin_utils._plan import (
    CONTROL_PLANE_BINARIES, PlanError, check, check_nodes, quorum_warning)

FULL = {"files": [{"name": n} for n in CONTROL_PLANE_BINARIES + ("kubelet", "kube-proxy")]}
NODE = {"files": [{"name": "kubelet"}, {"name": "kube-proxy"}, {"name": "kubectl"}]}
BUNDLES = {"linux/arm64": FULL, "linux/arm/v7": FULL, "linux/arm/v6": NODE}
PLATFORMS = {"a": "linux/arm64", "b": "linux/arm64", "c": "linux/arm/v7", "zero": "linux/arm/v6"}


@pytest.mark.parametrize("n, tolerated, quorum", [(2, 0, 2), (4, 1, 3), (6, 2, 4)])
def test_an_even_number_of_control_planes_is_warned_about(n, tolerated, quorum):
    hosts = ["cp%d" % i for i in range(n)]
    w = quorum_warning(hosts)
    assert "names %d control-plane hosts" % n in w and "quorum is %d of %d" % (quorum, n) in w
    assert "survives %d host" % tolerated in w and "as %d host" % (n - 1) in w
    assert "use an odd number (%d or %d)" % (n - 1, n + 1) in w


@pytest.mark.parametrize("n", [0, 1, 3, 5])
def test_an_odd_number_or_none_is_not_warned_about(n):
    assert quorum_warning(["cp%d" % i for i in range(n)]) is None


def test_control_planes_with_their_binaries_pass():
    records, warnings = check(["a", "b", "c"], PLATFORMS, BUNDLES, "docker://r/k:v1")
    assert [r["host"] for r in records] == ["a", "b", "c"] and warnings == []


def test_a_control_plane_without_its_binaries_is_named_with_what_is_missing():
    with pytest.raises(PlanError) as e:
        check(["a", "zero"], PLATFORMS, BUNDLES, "docker://r/k:v1", group="cp")
    msg = str(e.value)
    assert msg.startswith("zero is in the group cp, but docker://r/k:v1 has no etcd, kube-apiserver, "
                          "kube-controller-manager, kube-scheduler, kubeadm for its platform linux/arm/v6."), msg
    assert "a is in" not in msg and "Nothing was changed on any host." in msg


def test_two_without_binaries_are_both_named():
    with pytest.raises(PlanError) as e:
        check(["zero", "z2"], dict(PLATFORMS, z2="linux/arm/v6"), BUNDLES, "src")
    assert "zero is in the group" in str(e.value) and "; z2 is in the group" in str(e.value)


def test_an_empty_group_is_refused():
    with pytest.raises(PlanError, match="no host in the group control_plane"):
        check([], PLATFORMS, BUNDLES, "src")


def test_hosts_outside_the_run_and_check_mode_without_bundles():
    assert check(["a", "gone"], PLATFORMS, BUNDLES, "src")[0] == [{"host": "a", "platform": "linux/arm64"},
                                                                  {"host": "gone", "platform": None}]
    assert check(["zero", "a"], PLATFORMS, None, "src") == ([], ["the group control_plane names 2 control-plane hosts "
                                                                 "(zero, a): etcd's quorum is 2 of 2, so the control plane "
                                                                 "survives 0 hosts down, as 1 host would, and every write "
                                                                 "waits for one more member; use an odd number (1 or 3)"])


def test_a_platform_without_a_bundle_is_an_error():
    with pytest.raises(PlanError, match="no bundle was pulled for c's platform linux/arm/v7"):
        check(["c"], PLATFORMS, {"linux/arm64": FULL}, "src")


def test_a_bundle_check_mode_did_not_pull_is_not_judged():
    """holder_pull in check mode returns a platform it has not cached as pending, with no files."""
    records, _w = check(["zero"], PLATFORMS, {"linux/arm/v6": {"pending": True, "files": []}}, "src")
    assert records == [{"host": "zero", "platform": "linux/arm/v6"}]


def test_every_node_platform_needs_the_node_binaries_asked_for():
    dns = dict((p, {"files": b["files"] + [{"name": "coredns"}]}) for p, b in BUNDLES.items())
    check_nodes(PLATFORMS, dns, "src", ("coredns",))
    check_nodes(PLATFORMS, BUNDLES, "src", ())  # nothing asked: nothing checked
    check_nodes(PLATFORMS, None, "src", ("coredns",))  # check mode without a pull
    partial = dict(dns, **{"linux/arm/v6": NODE, "linux/arm64": FULL})
    with pytest.raises(PlanError) as e:
        check_nodes(PLATFORMS, partial, "docker://r/k:v1", ("coredns",))
    msg = str(e.value)
    assert msg.startswith("docker://r/k:v1 has no coredns for the platform linux/arm/v6 (zero); docker://r/k:v1 has no "
                          "coredns for the platform linux/arm64 (a, b). Every node runs them"), msg
    assert "multiarch_k8s_cluster_dns: false" in msg and "Nothing was changed on any host." in msg
