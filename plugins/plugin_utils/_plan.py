# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control-plane plan of a site.yml run, checked on the controller. Private to the collection.

Pure functions: multiarch.k8s.control_plane_plan's action plugin and the unit tests call them.
"""

from __future__ import annotations

from ansible_collections.multiarch.k8s.plugins.module_utils._components import CONTROL_PLANE_BINARIES


class PlanError(Exception):
    """A plan the control plane cannot be formed from; the message says what and how to fix it."""


def quorum_warning(hosts, group="control_plane"):
    """The warning for an even number of control-plane hosts, or None. etcd needs a majority: 2 hosts tolerate no
    failure (as 1), 4 tolerate one (as 3), and every extra member is one more to reach for each write."""
    n = len(hosts)
    if n < 2 or n % 2:
        return None
    tolerated = (n - 1) // 2
    return ("the group %s names %d control-plane hosts (%s): etcd's quorum is %d of %d, so the control plane survives "
            "%d host%s down, as %d host%s would, and every write waits for one more member; use an odd number (%d or %d)"
            % (group, n, ", ".join(hosts), n // 2 + 1, n, tolerated, "" if tolerated == 1 else "s", n - 1,
               "" if n - 1 == 1 else "s", n - 1, n + 1))


def missing_binaries(hosts, platforms, bundles, needed=CONTROL_PLANE_BINARIES):
    """[{host, platform, missing}] for each control-plane host whose platform's bundle lacks a binary of ``needed``;
    hosts not in ``platforms`` (not in the run) are skipped. Raises PlanError for a platform with no bundle."""
    out = []
    for host in hosts:
        platform = platforms.get(host)
        if not platform:
            continue
        bundle = (bundles or {}).get(platform)
        if not isinstance(bundle, dict):
            raise PlanError("no bundle was pulled for %s's platform %s" % (host, platform))
        if bundle.get("pending"):  # check mode, not in the cache yet: its files are not known
            continue
        have = set(f.get("name") for f in bundle.get("files") or [] if isinstance(f, dict))
        missing = [b for b in needed if b not in have]
        if missing:
            out.append({"host": host, "platform": platform, "missing": missing})
    return out


def check_nodes(platforms, bundles, source, needed):
    """Raises PlanError naming each platform of the run (and its hosts) whose bundle lacks a binary of ``needed``
    (what every node needs for a cluster feature: coredns for the cluster's DNS)."""
    if not needed or bundles is None:
        return
    missing = {}
    for m in missing_binaries(sorted(platforms), platforms, bundles, needed):
        missing.setdefault((m["platform"], tuple(m["missing"])), []).append(m["host"])
    if missing:
        raise PlanError("%s. Every node runs them with the cluster's DNS (multiarch_k8s_cluster_dns): build them for "
                        "those platforms (build.yml's node set has coredns) or set multiarch_k8s_cluster_dns: false. "
                        "Nothing was changed on any host." % "; ".join(
                            "%s has no %s for the platform %s (%s)" % (source, ", ".join(what), platform, ", ".join(hosts))
                            for (platform, what), hosts in sorted(missing.items())))


def check(hosts, platforms, bundles, source, group="control_plane", needed=CONTROL_PLANE_BINARIES):
    """The plan's verdict: (records, warnings); raises PlanError naming every control-plane host the holder image
    (``source``) has not the control-plane binaries for."""
    if not hosts:
        raise PlanError("the inventory has no host in the group %s to run the control plane" % group)
    warnings = [w for w in [quorum_warning(hosts, group)] if w]
    if bundles is None:  # check mode without a pull: nothing to compare with
        return [], warnings
    missing = missing_binaries(hosts, platforms, bundles, needed)
    if missing:
        raise PlanError("%s. Build the control-plane components for that platform (build.yml, "
                        "multiarch_k8s_build_platform_components) or run the control plane on a host whose platform has "
                        "them. Nothing was changed on any host." % "; ".join(
                            "%s is in the group %s, but %s has no %s for its platform %s"
                            % (m["host"], group, source, ", ".join(m["missing"]), m["platform"]) for m in missing))
    return [{"host": h, "platform": platforms.get(h)} for h in hosts], warnings
