# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The multiarch.k8s.pod_cidrs filter: stable per-node pod CIDRs (docs in pod_cidrs.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.multiarch.k8s.plugins.plugin_utils import _cidr
from ansible_collections.multiarch.k8s.plugins.plugin_utils._cidr import CidrError, check_cluster_dns, plan_pod_cidrs


def pod_cidrs(hosts, cluster_cidr=None, node_prefix=24, cluster_cidr_v6=None, node_prefix_v6=64,
              service_cidr="10.96.0.0/12", service_cidr_v6=None):
    """Plan {host: {"ipv4": cidr[, "ipv6": cidr]}}, keeping existing assignments."""
    if _cidr.netaddr is None:
        raise AnsibleFilterError(missing_required_lib("netaddr", reason="to plan pod CIDRs"))
    try:
        return plan_pod_cidrs(hosts, cluster_cidr=cluster_cidr, node_prefix=node_prefix,
                              cluster_cidr_v6=cluster_cidr_v6, node_prefix_v6=node_prefix_v6,
                              service_cidr=service_cidr, service_cidr_v6=service_cidr_v6)
    except CidrError as exc:
        raise AnsibleFilterError(str(exc)) from None


def cluster_dns(address, service_cidr="10.96.0.0/12", domain="cluster.local"):
    """{"address", "domain"}: the cluster DNS address checked against the service network, the domain as a name."""
    if _cidr.netaddr is None:
        raise AnsibleFilterError(missing_required_lib("netaddr", reason="to check the cluster DNS address"))
    try:
        return check_cluster_dns(address, service_cidr, domain)
    except CidrError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """multiarch.k8s pod CIDR and cluster DNS filters."""

    def filters(self):
        return {"pod_cidrs": pod_cidrs, "cluster_dns": cluster_dns}
