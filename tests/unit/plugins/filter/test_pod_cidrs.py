# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pod_cidrs filter: stable, deterministic per-node subnets and one-sentence errors."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.multiarch.k8s.plugins.filter.pod_cidrs import FilterModule, cluster_dns, pod_cidrs

V4 = {"cluster_cidr": "10.244.0.0/16"}
DS = {"cluster_cidr": "10.244.0.0/16", "cluster_cidr_v6": "fd00:10:244::/56", "service_cidr_v6": "fd00:10:96::/112"}
FLEET = {"pi-zero": None, "pi3": None, "pi4": None, "x86": None}


def v4(*nets):
    return [{"ipv4": "10.244.%s/24" % n} for n in nets]


def test_registered():
    assert FilterModule().filters() == {"pod_cidrs": pod_cidrs, "cluster_dns": cluster_dns}


@pytest.mark.parametrize("hosts, opts, expected", [
    # four new hosts: lowest subnets, in sorted hostname order (the first /24 is used)
    ({"x86": None, "pi4": None, "pi-zero": None, "pi3": None}, V4,
     dict(zip(["pi-zero", "pi3", "pi4", "x86"], v4("0.0", "1.0", "2.0", "3.0")))),
    # an existing assignment in the middle is kept; new hosts fill around it
    ({"a": None, "b": None, "mid": {"ipv4": "10.244.1.0/24"}, "z": {}}, V4,
     dict(zip(["a", "b", "mid", "z"], v4("0.0", "2.0", "1.0", "3.0")))),
    # existing assignments far out, unsorted: kept; new ones take the lowest free
    ({"a": {"ipv4": "10.244.7.0/24"}, "b": None, "c": {"ipv4": "10.244.0.0/24"}}, V4,
     dict(zip(["a", "b", "c"], v4("7.0", "1.0", "0.0")))),
    # other node sizes
    ({"a": None, "b": {"ipv4": "10.244.0.0/26"}}, dict(V4, node_prefix=26),
     {"a": {"ipv4": "10.244.0.64/26"}, "b": {"ipv4": "10.244.0.0/26"}}),
    ({"a": None, "b": None}, {"cluster_cidr": "10.244.0.0/23", "node_prefix": "24"}, dict(zip("ab", v4("0.0", "1.0")))),
    ({}, V4, {}),
    # dual-stack: both families, each planned on its own; IPv6 kept in canonical form
    ({"a": None, "b": {"ipv4": "10.244.0.0/24", "ipv6": "fd00:10:244:0005::/64"}, "c": {"ipv4": "10.244.9.0/24"}}, DS,
     {"a": {"ipv4": "10.244.1.0/24", "ipv6": "fd00:10:244::/64"},
      "b": {"ipv4": "10.244.0.0/24", "ipv6": "fd00:10:244:5::/64"},
      "c": {"ipv4": "10.244.9.0/24", "ipv6": "fd00:10:244:1::/64"}}),
    ({"a": None}, dict(DS, node_prefix_v6=80), {"a": {"ipv4": "10.244.0.0/24", "ipv6": "fd00:10:244::/80"}}),
])
def test_plan(hosts, opts, expected):
    assert pod_cidrs(hosts, **opts) == expected


def test_stable_across_growth_and_reruns():
    first = pod_cidrs(FLEET, **DS)
    assert pod_cidrs(first, **DS) == first  # rerun with what the nodes now have
    grown = dict(first, **{"aaa-new": None, "pi5": None})  # sorts before and among the old ones
    second = pod_cidrs(grown, **DS)
    assert {h: second[h] for h in first} == first
    assert second["aaa-new"] == {"ipv4": "10.244.4.0/24", "ipv6": "fd00:10:244:4::/64"}
    assert second["pi5"] == {"ipv4": "10.244.5.0/24", "ipv6": "fd00:10:244:5::/64"}
    # turning dual-stack on later keeps the IPv4 plan
    assert {h: n["ipv4"] for h, n in pod_cidrs(pod_cidrs(FLEET, **V4), **DS).items()} == {h: n["ipv4"] for h, n in first.items()}


def test_input_not_mutated():
    hosts = {"a": None, "b": {"ipv4": "10.244.0.0/24"}}
    pod_cidrs(hosts, **V4)
    assert hosts == {"a": None, "b": {"ipv4": "10.244.0.0/24"}}


@pytest.mark.parametrize("hosts, opts, message", [
    # CIDRs that do not parse
    (FLEET, {"cluster_cidr": "10.244.0.0/33"},
     "cluster_cidr '10.244.0.0/33' is not a CIDR: not an IPv4 or IPv6 address/prefix"),
    (FLEET, {"cluster_cidr": "10.244.1.0/16"}, "cluster_cidr '10.244.1.0/16' is not a CIDR: 10.244.1.0/16 has host bits set"),
    (FLEET, {"cluster_cidr": "10.244.0.0"},
     "cluster_cidr '10.244.0.0' is not a CIDR; expected address/prefix such as 10.244.0.0/16"),
    (FLEET, dict(V4, service_cidr="banana/12"),
     "service_cidr 'banana/12' is not a CIDR: not an IPv4 or IPv6 address/prefix"),
    ({"pi3": {"ipv4": "10.244.1.0-24"}}, V4,
     "pi3's ipv4 '10.244.1.0-24' is not a CIDR; expected address/prefix such as 10.244.0.0/16"),
    (FLEET, {}, "cluster_cidr is required, for example 10.244.0.0/16"),
    # too small
    (FLEET, {"cluster_cidr": "10.244.0.0/23"}, "cluster_cidr 10.244.0.0/23 holds 2 node subnets of /24; the fleet has 4 hosts"),
    (FLEET, dict(DS, cluster_cidr_v6="fd00:10:244::/63"), "cluster_cidr_v6 fd00:10:244::/63 holds 2 node subnets of /64; the fleet has 4 hosts"),
    # node prefix
    (FLEET, {"cluster_cidr": "10.244.0.0/24"}, "node_prefix 24 must be longer than the cluster_cidr prefix /24 (10.244.0.0/24)"),
    (FLEET, dict(V4, node_prefix=16), "node_prefix 16 must be longer than the cluster_cidr prefix /16 (10.244.0.0/16)"),
    (FLEET, dict(V4, node_prefix=33), "node_prefix 33 is longer than an IPv4 address (32 bits)"),
    (FLEET, dict(V4, node_prefix="big"), "node_prefix 'big' is not a prefix length"),
    (FLEET, dict(DS, node_prefix_v6=48), "node_prefix_v6 48 must be longer than the cluster_cidr_v6 prefix /56 (fd00:10:244::/56)"),
    # service overlaps pods
    (FLEET, {"cluster_cidr": "10.64.0.0/10"}, "service_cidr 10.96.0.0/12 overlaps cluster_cidr 10.64.0.0/10; pods and services need separate ranges"),
    (FLEET, dict(DS, service_cidr_v6="fd00:10:244:ff::/112"),
     "service_cidr_v6 fd00:10:244:ff::/112 overlaps cluster_cidr_v6 fd00:10:244::/56; pods and services need separate ranges"),
    # existing assignments
    ({"pi3": {"ipv4": "10.245.1.0/24"}}, V4, "pi3's ipv4 10.245.1.0/24 is outside cluster_cidr 10.244.0.0/16"),
    ({"pi3": {"ipv4": "10.244.0.0/23"}}, V4, "pi3's ipv4 10.244.0.0/23 is a /23, but node_prefix is 24"),
    ({"pi3": {"ipv4": "10.244.1.0/24", "ipv6": "fd00:10:244:1::/80"}}, DS,
     "pi3's ipv6 fd00:10:244:1::/80 is a /80, but node_prefix_v6 is 64"),
    ({"pi4": {"ipv4": "10.244.1.0/24"}, "pi3": {"ipv4": "10.244.1.0/24"}, "x": None}, V4, "ipv4 10.244.1.0/24 is assigned to both pi3 and pi4"),
    ({"pi3": None, "pi4": {"ipv4": "10.244.1.0/24"}}, V4 | {"node_prefix": 25},
     "pi4's ipv4 10.244.1.0/24 is a /24, but node_prefix is 25"),
    ({"pi3": {"ipv4": "10.244.1.0/24", "ipv6": "fd00:10:244:1::/64"}}, V4,
     "pi3 has an ipv6 assignment fd00:10:244:1::/64 but cluster_cidr_v6 is not set"),
    ({"pi3": "10.244.1.0/24"}, V4, "pi3's assignment must be a mapping with ipv4/ipv6 keys or null; got str '10.244.1.0/24'"),
    ({"pi3": {"ipv4": "10.244.1.0/24", "v4": "x"}}, V4, "pi3's assignment has unknown keys v4; expected ipv4, ipv6"),
    (["pi3"], V4, "pod_cidrs expects a mapping of host -> assignment or null; got list"),
    # IPv6 for one side only
    (FLEET, dict(V4, cluster_cidr_v6="fd00:10:244::/56"),
     "cluster_cidr_v6 fd00:10:244::/56 is set but service_cidr_v6 is not; dual-stack needs both, single-stack neither"),
    (FLEET, dict(V4, service_cidr_v6="fd00:10:96::/112"),
     "service_cidr_v6 fd00:10:96::/112 is set but cluster_cidr_v6 is not; dual-stack needs both, single-stack neither"),
    # wrong address family in a field
    (FLEET, {"cluster_cidr": "fd00:10:244::/56"}, "cluster_cidr fd00:10:244::/56 is an IPv6 network; expected IPv4"),
    (FLEET, dict(V4, service_cidr="fd00:10:96::/112"), "service_cidr fd00:10:96::/112 is an IPv6 network; expected IPv4"),
    (FLEET, dict(DS, cluster_cidr_v6="10.245.0.0/16"), "cluster_cidr_v6 10.245.0.0/16 is an IPv4 network; expected IPv6"),
    (FLEET, dict(DS, service_cidr_v6="10.97.0.0/16"), "service_cidr_v6 10.97.0.0/16 is an IPv4 network; expected IPv6"),
    ({"pi3": {"ipv4": "fd00:10:244:1::/64"}}, DS, "pi3's ipv4 fd00:10:244:1::/64 is an IPv6 network; expected IPv4"),
    ({"pi3": {"ipv6": "10.244.1.0/24"}}, DS, "pi3's ipv6 10.244.1.0/24 is an IPv4 network; expected IPv6"),
])
def test_errors(hosts, opts, message):
    with pytest.raises(AnsibleFilterError) as exc:
        pod_cidrs(hosts, **opts)
    assert str(exc.value) == message


def test_cluster_dns_accepts_an_address_inside_the_service_network_and_normalizes_the_domain():
    assert cluster_dns(" 10.96.0.10 ", service_cidr="10.96.0.0/12", domain="Cluster.Local.") == {
        "address": "10.96.0.10", "domain": "cluster.local"}
    assert cluster_dns("10.111.255.254", service_cidr="10.96.0.0/12", domain="home.arpa")["address"] == "10.111.255.254"


@pytest.mark.parametrize("address, cidr, domain, message", [
    ("10.97.0.10", "10.96.0.0/16", "cluster.local",
     r"multiarch_k8s_cluster_dns_address\) 10.97.0.10 is outside the service network 10.96.0.0/16; give an address inside it, such as 10.96.0.10"),
    ("192.168.1.53", "10.96.0.0/12", "cluster.local", "is outside the service network 10.96.0.0/12"),
    ("10.96.0.0", "10.96.0.0/12", "cluster.local", "is the network address of the service network"),
    ("10.96.0.1", "10.96.0.0/12", "cluster.local", "is the kubernetes Service's address"),
    ("10.111.255.255", "10.96.0.0/12", "cluster.local", "is the broadcast address"),
    ("10.96.0.300", "10.96.0.0/12", "cluster.local", "'10.96.0.300' is not an IPv4 address"),
    ("fd00::10", "10.96.0.0/12", "cluster.local", "is not an IPv4 address"),
    ("", "10.96.0.0/12", "cluster.local", "'' is not an IPv4 address"),
    ("10.96.0.10", "10.96.0.5/12", "cluster.local", "has host bits set"),
    ("10.96.0.10", "10.96.0.0/12", "", r"multiarch_k8s_cluster_domain\) '' is not a DNS name"),
    ("10.96.0.10", "10.96.0.0/12", "cluster_local", "'cluster_local' is not a DNS name"),
    ("10.96.0.10", "10.96.0.0/12", "-cluster.local", "is not a DNS name"),
    ("10.96.0.10", "10.96.0.0/12", "cluster..local", "is not a DNS name"),
])
def test_cluster_dns_refuses_with_one_sentence(address, cidr, domain, message):
    with pytest.raises(AnsibleFilterError, match=message):
        cluster_dns(address, service_cidr=cidr, domain=domain)
