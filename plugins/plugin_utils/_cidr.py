# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-node pod CIDR planning. Private to the collection: not a public API.

A cluster without an overlay (bridge CNI plus static routes) needs every node to own one
fixed slice of the cluster CIDR. The plan keeps what nodes already have and gives new
nodes the lowest free slices, in sorted hostname order, so it is the same from any
controller and across reruns.

Pure, controller-side (netaddr); used by the ``pod_cidrs`` filter.
"""

from __future__ import annotations

try:
    import netaddr
except ImportError:  # reported by the filter with the pip hint
    netaddr = None

FAMILIES = {4: "IPv4", 6: "IPv6"}
KEYS = ("ipv4", "ipv6")


class CidrError(ValueError):
    """A plan input that cannot be used; the message is one sentence naming the figures."""


def parse_network(what, value, version):
    """``value`` as an ip_network of IP ``version``; ``what`` names it in errors."""
    if not isinstance(value, str) or "/" not in value:
        raise CidrError("%s '%s' is not a CIDR; expected address/prefix such as %s"
                        % (what, value, "10.244.0.0/16" if version == 4 else "fd00:10:244::/56"))
    try:
        net = netaddr.IPNetwork(value.strip())
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise CidrError("%s '%s' is not a CIDR: not an IPv4 or IPv6 address/prefix" % (what, value)) from None
    if net.ip != net.network:
        raise CidrError("%s '%s' is not a CIDR: %s has host bits set" % (what, value, value.strip()))
    if net.version != version:
        raise CidrError("%s %s is an %s network; expected %s" % (what, net, FAMILIES[net.version], FAMILIES[version]))
    return net


def parse_prefix(what, value, cluster, cluster_what):
    """The node prefix length, checked against the cluster network it splits."""
    try:
        if isinstance(value, (bool, float)):
            raise TypeError(value)
        prefix = int(value)
    except (TypeError, ValueError):
        raise CidrError("%s '%s' is not a prefix length" % (what, value)) from None
    if prefix <= cluster.prefixlen:
        raise CidrError("%s %d must be longer than the %s prefix /%d (%s)" % (what, prefix, cluster_what, cluster.prefixlen, cluster))
    bits = 32 if cluster.version == 4 else 128
    if prefix > bits:
        raise CidrError("%s %d is longer than an %s address (%d bits)" % (what, prefix, FAMILIES[cluster.version], bits))
    return prefix


def _existing(hosts):
    """Validate the input shape; return {host: {key: value}} with null/empty meaning nothing yet."""
    if not isinstance(hosts, dict):
        raise CidrError("pod_cidrs expects a mapping of host -> assignment or null; got %s" % type(hosts).__name__)
    result = {}
    for host in sorted(hosts):
        value = hosts[host] or {}
        if not isinstance(value, dict):
            raise CidrError("%s's assignment must be a mapping with ipv4/ipv6 keys or null; got %s %r" % (host, type(value).__name__, value))
        unknown = sorted(str(k) for k in value if k not in KEYS)
        if unknown:
            raise CidrError("%s's assignment has unknown keys %s; expected ipv4, ipv6" % (host, ", ".join(unknown)))
        result[host] = {k: v for k, v in value.items() if v}
    return result


def _plan_family(existing, key, cluster, cluster_what, prefix, prefix_what):
    """{host: network string} for one address family."""
    version = 4 if key == "ipv4" else 6
    capacity = 2 ** (prefix - cluster.prefixlen)
    if len(existing) > capacity:
        raise CidrError("%s %s holds %d node subnets of /%d; the fleet has %d hosts"
                        % (cluster_what, cluster, capacity, prefix, len(existing)))
    owner, plan = {}, {}
    for host, assignment in existing.items():  # sorted by _existing
        if key not in assignment:
            continue
        net = parse_network("%s's %s" % (host, key), assignment[key], version)
        if net not in cluster:
            raise CidrError("%s's %s %s is outside %s %s" % (host, key, net, cluster_what, cluster))
        if net.prefixlen != prefix:
            raise CidrError("%s's %s %s is a /%d, but %s is %d" % (host, key, net, net.prefixlen, prefix_what, prefix))
        if net in owner:
            raise CidrError("%s %s is assigned to both %s and %s" % (key, net, owner[net], host))
        owner[net] = host
        plan[host] = str(net)
    free = (net for net in cluster.subnet(prefix) if net not in owner)
    for host in existing:
        if host not in plan:
            plan[host] = str(next(free))
    return plan


def plan_pod_cidrs(hosts, cluster_cidr=None, node_prefix=24, cluster_cidr_v6=None, node_prefix_v6=64,
                   service_cidr="10.96.0.0/12", service_cidr_v6=None):
    """Return {host: {"ipv4": cidr[, "ipv6": cidr]}}; raise CidrError on any unusable input."""
    existing = _existing(hosts)
    if not cluster_cidr:
        raise CidrError("cluster_cidr is required, for example 10.244.0.0/16")
    families = [("ipv4", cluster_cidr, node_prefix, service_cidr, "")]
    if cluster_cidr_v6 or service_cidr_v6:
        if not (cluster_cidr_v6 and service_cidr_v6):
            given, missing = ("cluster_cidr_v6", "service_cidr_v6") if cluster_cidr_v6 else ("service_cidr_v6", "cluster_cidr_v6")
            raise CidrError("%s %s is set but %s is not; dual-stack needs both, single-stack neither"
                            % (given, cluster_cidr_v6 or service_cidr_v6, missing))
        families.append(("ipv6", cluster_cidr_v6, node_prefix_v6, service_cidr_v6, "_v6"))
    else:
        for host, assignment in existing.items():
            if "ipv6" in assignment:
                raise CidrError("%s has an ipv6 assignment %s but cluster_cidr_v6 is not set" % (host, assignment["ipv6"]))

    result = {host: {} for host in existing}
    for key, cidr, prefix, service, suffix in families:
        version = 4 if key == "ipv4" else 6
        cluster = parse_network("cluster_cidr" + suffix, cidr, version)
        service_net = parse_network("service_cidr" + suffix, service, version)
        if cluster.first <= service_net.last and service_net.first <= cluster.last:
            raise CidrError("service_cidr%s %s overlaps cluster_cidr%s %s; pods and services need separate ranges"
                            % (suffix, service_net, suffix, cluster))
        prefix = parse_prefix("node_prefix" + suffix, prefix, cluster, "cluster_cidr" + suffix)
        for host, net in _plan_family(existing, key, cluster, "cluster_cidr" + suffix, prefix, "node_prefix" + suffix).items():
            result[host][key] = net
    return result


# a DNS name of labels (letters, digits, hyphens inside), as the kubelet's clusterDomain takes it
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"


def check_cluster_dns(address, service_cidr, domain):
    """``address`` (the Service address the kubelet gives pods as their DNS server) checked against the service network
    and ``domain`` (the cluster domain) checked as a DNS name; returns {"address", "domain"} or raises CidrError."""
    import re  # pylint: disable=import-outside-toplevel
    net = parse_network("the service network (multiarch_k8s_service_cidr)", service_cidr, 4)
    try:
        ip = netaddr.IPAddress(str(address).strip(), 4)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise CidrError("the cluster DNS address (multiarch_k8s_cluster_dns_address) '%s' is not an IPv4 address" % address) from None
    if ip not in net:
        raise CidrError("the cluster DNS address (multiarch_k8s_cluster_dns_address) %s is outside the service network %s; "
                        "give an address inside it, such as %s" % (ip, net, netaddr.IPAddress(net.first + 10)))
    if ip.value in (net.first, net.last, net.first + 1):
        raise CidrError("the cluster DNS address (multiarch_k8s_cluster_dns_address) %s is %s of the service network %s; "
                        "give another address inside it, such as %s"
                        % (ip, {net.first: "the network address", net.last: "the broadcast address",
                                net.first + 1: "the kubernetes Service's address (the first)"}[ip.value], net,
                           netaddr.IPAddress(net.first + 10)))
    name = str(domain or "").strip().rstrip(".").lower()
    if not name or len(name) > 253 or not re.match(r"^%s(\.%s)*$" % (_LABEL, _LABEL), name):
        raise CidrError("the cluster domain (multiarch_k8s_cluster_domain) '%s' is not a DNS name such as cluster.local "
                        "(labels of letters, digits and inner hyphens, joined by dots)" % domain)
    return {"address": str(ip), "domain": name}
