# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster view filters: what a node's CNI configuration and the Node objects say, and the routes."""

from __future__ import annotations

import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.multiarch.k8s.plugins.filter.cluster_view import (
    FilterModule, cni_assignment, k8s_nodes, pod_routes)


def conflist(*subnets):
    return json.dumps({"cniVersion": "0.4.0", "name": "multiarch-k8s", "plugins": [
        {"type": "bridge", "ipam": {"type": "host-local", "ranges": [[{"subnet": s}] for s in subnets]}},
        {"type": "portmap"}]})


def test_registered():
    assert sorted(FilterModule().filters()) == ["cni_assignment", "host_address", "k8s_nodes", "pod_routes"]


@pytest.mark.parametrize("text, expected", [
    (conflist("10.244.1.0/24"), {"ipv4": "10.244.1.0/24"}),
    (conflist("10.244.1.0/24", "fd00:10:244:1::/64"), {"ipv4": "10.244.1.0/24", "ipv6": "fd00:10:244:1::/64"}),
    # a single plugin configuration, not a list
    (json.dumps({"type": "bridge", "ipam": {"ranges": [[{"subnet": "10.1.0.0/24"}]]}}), {"ipv4": "10.1.0.0/24"}),
    ("", None),
    (None, None),
    ("{not json", None),
    (json.dumps({"plugins": [{"type": "bridge", "ipam": {"type": "dhcp"}}]}), None),
    (json.dumps({"plugins": [{"ipam": {"ranges": [[{"gateway": "10.0.0.1"}]]}}]}), None),
    (json.dumps(["a list"]), None),
])
def test_cni_assignment(text, expected):
    assert cni_assignment(text) == expected


def node(name, ip=None, cidrs=None):
    item = {"metadata": {"name": name, "annotations": {}}, "status": {"addresses": []}}
    if ip:
        item["status"]["addresses"] = [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}]
    if cidrs:
        item["metadata"]["annotations"]["multiarch.k8s/pod-cidrs"] = cidrs
    return item


def test_k8s_nodes_reads_addresses_and_annotations():
    doc = {"items": [node("a", "172.18.0.2", "10.244.0.0/24"), node("b", "172.18.0.3", "10.244.1.0/24,fd00::/64"),
                     node("c")]}
    assert k8s_nodes(json.dumps(doc)) == {
        "a": {"address": "172.18.0.2", "pod_cidrs": {"ipv4": "10.244.0.0/24"}},
        "b": {"address": "172.18.0.3", "pod_cidrs": {"ipv4": "10.244.1.0/24", "ipv6": "fd00::/64"}},
        "c": {"address": None, "pod_cidrs": None}}
    assert k8s_nodes({"items": []}) == {}


@pytest.mark.parametrize("bad", ["", "{}", "[]", "not json"])
def test_k8s_nodes_refuses_what_is_not_a_node_list(bad):
    with pytest.raises(AnsibleFilterError, match="kubectl get nodes -o json"):
        k8s_nodes(bad)


def test_pod_routes_go_to_every_other_node_with_an_address():
    plan = {"a": {"ipv4": "10.244.0.0/24", "ipv6": "fd00::/64"}, "b": {"ipv4": "10.244.1.0/24"},
            "c": {"ipv4": "10.244.2.0/24", "ipv6": "fd00:0:0:2::/64"}, "gone": {"ipv4": "10.244.3.0/24"}}
    addresses = {"a": "172.18.0.2", "b": "172.18.0.3", "c": "172.18.0.4", "gone": None}
    assert pod_routes(plan, "a", addresses, {"c": "fd00:1::4"}) == [
        {"dst": "10.244.1.0/24", "via": "172.18.0.3"}, {"dst": "10.244.2.0/24", "via": "172.18.0.4"},
        {"dst": "fd00:0:0:2::/64", "via": "fd00:1::4"}]
    # an address of the wrong family is not a route
    assert pod_routes({"a": {}, "b": {"ipv4": "10.244.1.0/24"}}, "a", {"b": "fd00::3"}) == []


def test_pod_routes_refuses_what_is_not_a_plan():
    with pytest.raises(AnsibleFilterError):
        pod_routes(["a"], "a", {})


@pytest.mark.parametrize("address", ["1.2.3.4; curl x | sh", "node-a", "999.1.1.1"])
def test_pod_routes_refuses_an_address_that_is_not_one(address):
    """Addresses come from Node objects too: nothing but an IP address may reach the route script."""
    with pytest.raises(AnsibleFilterError, match="not one"):
        pod_routes({"a": {"ipv4": "10.244.0.0/24"}, "b": {"ipv4": "10.244.1.0/24"}}, "a", {"b": address})
