# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host_address filter: the address a host is known by, stable once the pod bridge has one."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.multiarch.k8s.plugins.filter.cluster_view import host_address

# a fleet node on an internal network (no default route) after pods ran: the pod bridge listed first
NODE = {"default_ipv4": {}, "interfaces": ["lo", "cni0", "eth0", "veth1a2b"],
        "lo": {"ipv4": {"address": "127.0.0.1"}}, "cni0": {"ipv4": {"address": "10.244.0.1"}},
        "eth0": {"ipv4": {"address": "172.18.0.2"}}, "veth1a2b": {},
        "all_ipv4_addresses": ["10.244.0.1", "172.18.0.2"]}


@pytest.mark.parametrize("facts, exclude, expected", [
    (NODE, ["10.244.0.0/16"], "172.18.0.2"),
    (NODE, [], "10.244.0.1"),  # without the pod network named, the first interface by name
    (dict(NODE, default_ipv4={"address": "192.168.1.20"}), ["10.244.0.0/16"], "192.168.1.20"),
    (dict(NODE, default_ipv4={"address": "10.244.3.1"}), ["10.244.0.0/16"], "172.18.0.2"),
    ({"all_ipv4_addresses": ["169.254.1.1", "10.244.0.1", "192.168.7.2"]}, ["10.244.0.0/16"], "192.168.7.2"),
    ({"interfaces": ["wlan-0"], "wlan_0": {"ipv4": {"address": "192.168.1.30"}}}, None, "192.168.1.30"),
])
def test_host_address(facts, exclude, expected):
    assert host_address(facts, exclude) == expected


@pytest.mark.parametrize("facts, exclude, message", [
    ("eth0", None, "expects the host's ansible_facts (a mapping); got str"),
    (NODE, ["not-a-cidr"], "exclude must be a list of CIDRs"),
    ({"all_ipv4_addresses": ["10.244.0.1", "127.0.0.1"]}, ["10.244.0.0/16"],
     "no IPv4 address outside 10.244.0.0/16 among the host's facts (10.244.0.1, 127.0.0.1)"),
])
def test_host_address_refuses(facts, exclude, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        host_address(facts, exclude)
