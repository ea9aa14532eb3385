# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The multiarch.k8s.cni_assignment, k8s_nodes, pod_routes and host_address filters (docs in their .yml files).

What the pod network plan starts from: a node's own CNI configuration, and the cluster's Node objects
(annotated with their pod CIDRs), so the plan stays stable across reruns, ``--limit`` runs and controllers.
"""

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.multiarch.k8s.plugins.module_utils import _k8s_nodes as N

try:
    import netaddr
except ImportError:  # reported when a filter that needs it runs
    netaddr = None


def _family(cidr):
    return "ipv6" if ":" in cidr else "ipv4"


def cni_assignment(conflist):
    """{"ipv4": cidr[, "ipv6": cidr]} from a bridge/host-local conflist's ranges, or None."""
    if not conflist:
        return None
    try:
        conf = json.loads(conflist)
        plugins = conf.get("plugins", [conf])
        out = {}
        for plugin in plugins:
            for rng in (plugin.get("ipam") or {}).get("ranges") or []:
                for entry in rng:
                    subnet = entry["subnet"]
                    out.setdefault(_family(subnet), subnet)
        return out or None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # not ours or damaged: the node is planned as new


def k8s_nodes(nodes, annotation=N.POD_CIDRS):
    """{name: {"address": InternalIP, "pod_cidrs": {...} or None}} from ``kubectl get nodes -o json`` or the
    ``nodes`` that multiarch.k8s.cluster_nodes returns."""
    try:
        return dict((name, {"address": s["address"], "pod_cidrs": s["pod_cidrs"]})
                    for name, s in N.summaries(nodes, annotation).items())
    except (N.NodesError, TypeError, KeyError, AttributeError) as e:
        raise AnsibleFilterError("k8s_nodes needs the output of kubectl get nodes -o json: %s" % e) from None


def pod_routes(plan, host, addresses, addresses_v6=None):
    """[{"dst": other node's subnet, "via": its address}] for every other node of ``plan`` with a known address."""
    if not isinstance(plan, dict) or not isinstance(addresses, dict):
        raise AnsibleFilterError("pod_routes needs the pod_cidrs plan and a mapping of node to address")
    routes = []
    for name, cidrs in sorted(plan.items()):
        if name == host or not cidrs:
            continue
        for family, via in (("ipv4", addresses.get(name)), ("ipv6", (addresses_v6 or {}).get(name))):
            if not cidrs.get(family) or not via:
                continue
            _need_netaddr("pod_routes")
            try:
                addr = netaddr.IPAddress(str(via))
                net = netaddr.IPNetwork(str(cidrs[family])).cidr
            except (netaddr.AddrFormatError, ValueError, TypeError):
                raise AnsibleFilterError("node %s has %r as its %s address or subnet %r, which is not one"
                                         % (name, via, family, cidrs[family])) from None
            if addr.version == net.version:
                routes.append({"dst": str(net), "via": str(addr)})
    return routes


def _need_netaddr(name):
    if netaddr is None:
        raise AnsibleFilterError("%s needs the Python library netaddr on the controller: pip install netaddr" % name)


def _usable(address, excluded):
    try:
        ip = netaddr.IPAddress(str(address))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return False
    return ip.version == 4 and not ip.is_loopback() and not ip.is_link_local() and not any(ip in net for net in excluded)


def host_address(facts, exclude=None):
    """The IPv4 address a host is known by: its default route's, else the first by interface name, else the first
    of all_ipv4_addresses; never one inside ``exclude`` (the pod network's bridge gets one once pods run, and
    all_ipv4_addresses lists interfaces in no fixed order)."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError("host_address expects the host's ansible_facts (a mapping); got %s" % type(facts).__name__)
    _need_netaddr("host_address")
    try:
        excluded = [netaddr.IPNetwork(str(cidr)).cidr for cidr in exclude or [] if cidr]
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise AnsibleFilterError("host_address: exclude must be a list of CIDRs; %s" % exc) from None
    candidates = [(facts.get("default_ipv4") or {}).get("address")]
    for name in sorted(facts.get("interfaces") or []):
        candidates.append(((facts.get(name.replace("-", "_")) or {}).get("ipv4") or {}).get("address"))
    candidates += list(facts.get("all_ipv4_addresses") or [])
    for address in candidates:
        if address and _usable(address, excluded):
            return str(address)
    raise AnsibleFilterError("no IPv4 address outside %s among the host's facts (%s); set the address variable of the role"
                             % (", ".join(str(n) for n in excluded) or "loopback",
                                ", ".join(str(a) for a in facts.get("all_ipv4_addresses") or []) or "none gathered"))


class FilterModule:
    """multiarch.k8s cluster view filters."""

    def filters(self):
        return {"cni_assignment": cni_assignment, "k8s_nodes": k8s_nodes, "pod_routes": pod_routes,
                "host_address": host_address}
