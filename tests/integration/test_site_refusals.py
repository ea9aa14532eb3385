# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""site.yml refuses bad input before any host changes: conflicting control planes, a control-plane host whose
platform the holder image has no control-plane binaries for (and warns about an even number of control planes), a pod CIDR too small
for the fleet or overlapping the Service CIDR, a cluster DNS address outside the Service CIDR or a cluster domain
that is no DNS name, an unreachable control plane or host, a user without sudo, a node
whose memory cgroup is off.

Runs on the fleet in whatever state it is (fresh, or running a cluster): each case marks every node, runs
site.yml over the four nodes, and finds no file written after the mark where site.yml writes.

Break tried (2026-12-07): the memory-cgroup finding made a warning instead of an error;
test_memory_cgroup_off_is_refused failed (site.yml went on and wrote files on the nodes).
"""

from __future__ import annotations

import pytest

from cluster import CP, NODES, VERSION, inventory, node_changes_since, touch_markers
from runner import docker, run_playbook


@pytest.fixture(scope="module")
def refused(base_extra, tmp_path_factory):
    """site.yml over the four nodes with the given input; asserts it failed and that no node changed; returns
    its failure messages as one string."""
    def run(extra=None, host_vars=None, control_plane=(CP,), hosts=()):
        inv = inventory(tmp_path_factory.mktemp("refused") / "hosts.json", list(NODES) + list(hosts),
                        control_plane=control_plane, host_vars=host_vars)
        touch_markers()
        res = run_playbook("multiarch.k8s.site", dict(base_extra, **(extra or {}), multiarch_k8s_hosts="fleet"),
                           inventory=inv)
        assert res.rc != 0, "site.yml accepted %s" % (extra or host_vars or control_plane,)
        for node in NODES:
            assert node_changes_since(node) == [], node
        run.last = res
        return res.message()
    return run


def test_two_control_planes_of_different_versions_are_refused(refused):
    msg = refused(control_plane=(CP, "mk8s-arm64"), host_vars={"mk8s-arm64": {"control_plane_kubernetes_version": "v1.36.3"}})
    assert "disagree on the Kubernetes version" in msg
    assert "mk8s-amd64 has %s" % VERSION in msg and "mk8s-arm64 has v1.36.3" in msg


def test_a_control_plane_host_whose_platform_has_no_control_plane_binaries_is_refused(refused):
    """The test holder carries etcd, the API server and the rest for the control plane's platform only; the arm/v6
    node named as the control plane is refused after the pull (on the controller), before any node changes."""
    msg = refused(control_plane=("mk8s-armel",))
    assert "mk8s-armel is in the group control_plane, but" in msg, msg
    assert ("has no etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubeadm, kubectl for its platform "
            "linux/arm/v6") in msg, msg


def test_an_even_number_of_control_planes_is_warned_about(refused):
    """Two control-plane hosts: a warning that etcd gains no failure tolerance, said by the same check that then
    refuses the second one, which has no control-plane binaries (nothing changes on any host)."""
    msg = refused(control_plane=(CP, "mk8s-armel"))
    assert "mk8s-armel is in the group control_plane, but" in msg and CP + " is in the group" not in msg, msg
    result = refused.last.hosts("Check the control plane against the pulled binaries, before any host changes "
                                "(warns on an even number)")
    said = " ".join(" ".join(r.get("warnings") or []) for r in result.values()) + refused.last.stderr
    assert "names 2 control-plane hosts (%s, mk8s-armel): etcd's quorum is 2 of 2" % CP in said, (result, refused.last.stderr[-2000:])
    assert "use an odd number (1 or 3)" in said


def test_pod_cidr_too_small_for_the_fleet_is_refused(refused):
    msg = refused(extra={"multiarch_k8s_cluster_cidr": "10.244.0.0/23"})
    assert "10.244.0.0/23" in msg and "the fleet has 4 hosts" in msg, msg


def test_pod_cidr_overlapping_the_service_cidr_is_refused(refused):
    msg = refused(extra={"multiarch_k8s_cluster_cidr": "10.96.0.0/16"})
    assert "overlap" in msg and "10.96.0.0/12" in msg


def test_a_cluster_dns_address_outside_the_service_network_is_refused(refused):
    msg = refused(extra={"multiarch_k8s_service_cidr": "10.96.0.0/16", "multiarch_k8s_cluster_dns_address": "10.97.0.10"})
    assert "10.97.0.10 is outside the service network 10.96.0.0/16" in msg and "such as 10.96.0.10" in msg, msg


def test_a_cluster_domain_that_is_no_dns_name_is_refused(refused):
    msg = refused(extra={"multiarch_k8s_cluster_domain": "cluster_local"})
    assert "the cluster domain (multiarch_k8s_cluster_domain) 'cluster_local' is not a DNS name" in msg, msg


def test_an_empty_control_plane_group_is_refused(refused):
    msg = refused(control_plane=())
    assert "The inventory has no host in the group control_plane to run the control plane." in msg, msg


def test_unreachable_control_plane_is_refused(refused):
    msg = refused(control_plane=("mk8s-gone",))
    assert "mk8s-gone cannot be reached" in msg


def test_a_host_that_cannot_be_reached_is_named_and_no_host_changes(refused):
    """A fifth host in the fleet group at an address of the fleet's network where nothing answers (a Pi that is
    off): named, and the four that answer are not touched."""
    msg = refused(hosts=["mk8s-off"])
    assert "mk8s-off: cannot be reached" in msg and "Nothing was changed on any host" in msg, msg
    for node in NODES:
        assert node + ":" not in msg.split("Nothing was changed")[0], msg


def test_a_user_without_sudo_is_refused_before_any_host_changes(refused):
    """mk8s-armel reached as a user the controller's key logs in as, who has no sudo: the connection works, become
    does not; said by name, nothing changes anywhere."""
    node = "mk8s-armel"
    docker("exec", node, "sh", "-c", "useradd --create-home nosudo && install -d -o nosudo -m 700 /home/nosudo/.ssh && "
           "install -o nosudo -m 600 /home/pi/.ssh/authorized_keys /home/nosudo/.ssh/authorized_keys")
    try:
        msg = refused(host_vars={node: {"ansible_user": "nosudo"}})
    finally:
        docker("exec", node, "userdel", "--remove", "nosudo", check=False)
    assert "mk8s-armel: cannot become root" in msg and "Nothing was changed on any host" in msg, msg


def test_memory_cgroup_off_is_refused(refused):
    """The armel node's kernel is made to say what a Pi without cgroup_enable=memory says: /proc/cgroups
    with the memory controller's enabled column 0 (a file bind-mounted in the node's own mount namespace)."""
    node = "mk8s-armel"
    docker("exec", node, "sh", "-c", "awk '$1 == \"memory\" {$4 = 0} {print}' OFS='\\t' /proc/cgroups "
           "> /run/mk8s-cgroups && mount --bind /run/mk8s-cgroups /proc/cgroups")
    try:
        msg = refused()
    finally:
        docker("exec", node, "umount", "/proc/cgroups", check=False)
    assert "mk8s-armel: the memory cgroup controller is disabled" in msg
    assert "Nothing was changed on any host" in msg
