# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a rolling upgrade, on the controller: version skew, batches, target bundles.

Pure functions of their arguments (no I/O), used by the filters in plugins/filter/rollout.py.
"""

from __future__ import annotations

import hashlib
import math
import re

from ansible_collections.multiarch.k8s.plugins.module_utils import _components as C

# components whose version the Kubernetes version skew policy constrains against kube-apiserver
NODE_COMPONENTS = C.SKEW_NODE
CONTROL_PLANE_COMPONENTS = C.SKEW_CONTROL_PLANE
_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


class RolloutError(Exception):
    """Bad input to a rollout plan; the message is one sentence a person can act on."""


def parse_version(text):
    """(major, minor, patch) of ``v1.20.2``, ``Kubernetes v1.21.0 (stand-in kubelet)``, ``1.20``; None if none."""
    if not text:
        return None
    m = _VERSION_RE.search(str(text))
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def _minor(v):
    return "v%d.%d" % v[:2]


def _versions(mapping, what):
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise RolloutError("%s must be a mapping of host to component versions, not %s" % (what, type(mapping).__name__))
    return mapping


def node_skew_limit(version, max_node_skew=None):
    """How many minors a kubelet or kube-proxy of ``version`` may be older than kube-apiserver: three from 1.25 on,
    two before (the version skew policy); ``max_node_skew`` sets a stricter (or looser) limit of the user's."""
    if max_node_skew is not None:
        return max_node_skew
    return 3 if version and version[:2] >= (1, 25) else 2


def version_skew(current, target, apiserver=None, control_plane=None, max_node_skew=None):
    """Sentences naming each violation of the version skew policy by a rollout (empty: none).

    ``current``: host -> {component: version} running now (kubelet, kube-proxy from the Nodes).
    ``target``: host -> {component: version} after the rollout (hosts the rollout changes).
    ``apiserver``: the kube-apiserver version serving now. ``control_plane``: the control-plane hosts.
    Rules (Kubernetes' version skew policy): kube-apiserver never skips a minor version and all its hosts
    end on one minor; kubelet and kube-proxy never newer than kube-apiserver and at most three minors older
    (two for those older than 1.25), or ``max_node_skew`` when given; controller-manager and scheduler not newer
    and at most one older; kubectl within one minor either way.
    """
    current = _versions(current, "current")
    target = _versions(target, "target")
    control_plane = list(control_plane or [])
    try:
        max_node_skew = None if max_node_skew is None or max_node_skew == "" else int(max_node_skew)
    except (TypeError, ValueError):
        raise RolloutError("max_node_skew must be a whole number of minor versions, not %r" % (max_node_skew,))
    problems = []
    api_now = parse_version(apiserver)
    cp_targets = {}
    for host in control_plane:
        v = parse_version((target.get(host) or {}).get("kube-apiserver"))
        if v:
            cp_targets[host] = v
    if len(set(v[:2] for v in cp_targets.values())) > 1:
        problems.append("the control-plane hosts would run different kube-apiserver minors: %s"
                        % ", ".join("%s %s" % (h, _minor(v)) for h, v in sorted(cp_targets.items())))
    api_after = max(cp_targets.values()) if cp_targets else api_now
    if api_now and cp_targets:
        for host, v in sorted(cp_targets.items()):
            if v[:2] > (api_now[0], api_now[1] + 1):
                problems.append("%s: kube-apiserver %s -> %s skips a minor version; upgrade one minor at a time"
                                % (host, _minor(api_now), _minor(v)))
            elif v[:2] < (api_now[0], api_now[1] - 1):
                problems.append("%s: kube-apiserver %s -> %s goes back more than one minor version"
                                % (host, _minor(api_now), _minor(v)))
    if api_after is None:
        if any(target.values()):
            problems.append("the kube-apiserver version is not known (the control plane did not answer), so no skew can be checked")
        return problems
    # the control plane goes first: every node meets kube-apiserver at its version after the rollout
    for host in sorted(set(current) | set(target)):
        after = dict(current.get(host) or {})
        after.update(dict((k, v) for k, v in (target.get(host) or {}).items() if v))
        for comp in NODE_COMPONENTS:
            v = parse_version(after.get(comp))
            if not v:
                continue
            if v[:2] > api_after[:2]:
                problems.append("%s: %s %s would be newer than kube-apiserver %s" % (host, comp, after[comp], _minor(api_after)))
            elif (api_after[1] - v[1] if v[0] == api_after[0] else 99) > node_skew_limit(v, max_node_skew):
                problems.append("%s: %s %s would be %d minor versions older than kube-apiserver %s (at most %d)"
                                % (host, comp, after[comp], api_after[1] - v[1], _minor(api_after),
                                   node_skew_limit(v, max_node_skew)))
        if host in control_plane:
            for comp in CONTROL_PLANE_COMPONENTS:
                v = parse_version(after.get(comp))
                if v and (v[:2] > api_after[:2] or (api_after[1] - v[1]) > 1):
                    problems.append("%s: %s %s must be the kube-apiserver's minor %s or one older"
                                    % (host, comp, after[comp], _minor(api_after)))
        v = parse_version(after.get("kubectl"))
        if v and host in target and abs(v[1] - api_after[1]) > 1:
            problems.append("%s: kubectl %s would be more than one minor from kube-apiserver %s"
                            % (host, after["kubectl"], _minor(api_after)))
    return problems


def batch_size(serial, count):
    """Hosts per batch for ``serial`` (a count or ``N%``) over ``count`` hosts, at least 1."""
    if count <= 0:
        return 0
    text = str(serial).strip()
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 < pct <= 100:
                raise ValueError(text)
            return max(1, int(math.floor(count * pct / 100.0)))
        n = int(text)
        if n < 1:
            raise ValueError(text)
        return min(n, count)
    except ValueError:
        raise RolloutError("serial must be a count of hosts (1, 2, ...) or a percentage (20%%), not %r" % (serial,))


def rollout_batches(platforms, serial="20%"):
    """Ordered batches (lists of hosts) for ``platforms`` (host -> platform, in inventory order).

    A batch holds at most ``serial`` hosts, never every node of a platform that has more than one, and
    at most one platform's only node: one batch never empties two platforms at once, nor a platform
    that could keep serving. Hosts keep their inventory order within these rules.
    """
    if not isinstance(platforms, dict):
        raise RolloutError("platforms must be a mapping of host to platform")
    hosts = list(platforms)
    size = batch_size(serial, len(hosts))
    total = {}
    for h in hosts:
        total[platforms[h]] = total.get(platforms[h], 0) + 1
    pending = list(hosts)
    batches = []
    while pending:
        batch, taken, emptied = [], {}, 0
        for h in list(pending):
            if len(batch) >= size:
                break
            p = platforms[h]
            n = taken.get(p, 0) + 1
            if total[p] > 1 and n >= total[p]:
                continue  # would take every node of a platform that can keep one serving
            if total[p] == 1:
                if emptied:
                    continue
                emptied += 1
            batch.append(h)
            taken[p] = n
            pending.remove(h)
        batches.append(batch)
    return batches


def _base_files(base):
    """Files of what a node runs: a bundle (``files`` a list) or a node's release record (``files`` a mapping)."""
    files = base.get("files")
    if isinstance(files, dict):
        return [dict(meta, name=name) for name, meta in sorted(files.items())], base.get("id")
    if isinstance(files, list):
        return list(files), base.get("bundle_id")
    raise RolloutError("the current release has no files (give a bundle holder_pull returned or a node's release record)")


def bundle_overlay(top, base=None):
    """The bundle a node upgrades to: ``base`` (what it runs) with the files of ``top`` (the upgrade).

    ``base`` is a bundle or the node's release record (``.release.json``). A complete ``top`` (every file
    ``base`` has) keeps its id. Otherwise the files ``top`` lacks are kept from ``base`` (the node has them:
    they are hard-linked, never sent) and the id names both: ``<top id>.on.<12 hex of the file set>``.
    ``changes`` lists the names whose file differs from ``base``, ``change_bytes`` their size.
    """
    if not isinstance(top, dict) or not isinstance(top.get("files"), list) or not top.get("bundle_id"):
        raise RolloutError("the upgrade bundle has no bundle_id and files (give a bundle holder_pull returned)")
    out = dict(top)
    base_files, base_id = _base_files(base) if base else ([], None)
    if base and base.get("platform") and top.get("platform") and base["platform"] != top["platform"]:
        raise RolloutError("the upgrade bundle is for %s, the node's release for %s" % (top["platform"], base["platform"]))
    names = set(f["name"] for f in top["files"])
    kept = [f for f in base_files if f["name"] not in names]
    if kept:
        files = sorted(kept + list(top["files"]), key=lambda f: f["name"])
        digest = hashlib.sha256("".join("%s %s\n" % (f["name"], f["sha256"]) for f in files).encode()).hexdigest()
        out["files"] = files
        out["bundle_id"] = ("%s.on.%s" % (top["bundle_id"], digest[:12]))[:128]
        out["overlay"] = sorted(names)
    old = dict((f["name"], f.get("sha256")) for f in base_files)
    changes = [f for f in out["files"] if old.get(f["name"]) != f.get("sha256")]
    out["base_bundle_id"] = base_id
    out["changes"] = sorted(f["name"] for f in changes)
    out["change_bytes"] = sum(int(f.get("size") or 0) for f in changes)
    return out


def bundle_versions(bundle):
    """component -> version of the files of a bundle that carry one."""
    return dict((f["name"], f["version"]) for f in (bundle or {}).get("files") or [] if f.get("version"))


def rollout_plan(hosts, nodes=None, apiserver=None, control_plane=None, serial="20%", max_node_skew=None):
    """The whole plan of upgrade.yml from each host's platform, running release and target bundle.

    ``hosts``: host -> {"platform", "from" (release record), "target" (bundle from bundle_overlay)}, in
    inventory order. ``nodes``: node_versions output. Returns {"apiserver", "skew" (sentences),
    "control_plane", "batches", "order", "sizes", "hosts": host -> line of the plan}.
    """
    if not isinstance(hosts, dict):
        raise RolloutError("hosts must be a mapping of host to its platform, running release and target")
    control_plane = [h for h in (control_plane or []) if h in hosts]
    nodes = nodes or {}
    current, target, lines = {}, {}, {}
    for host, rec in hosts.items():
        frm, to = rec.get("from") or {}, rec.get("target") or {}
        to_versions = bundle_versions(to)
        from_versions = dict((n, m.get("version")) for n, m in (frm.get("files") or {}).items() if m.get("version"))
        current[host] = dict((c, v) for c, v in (nodes.get(host) or {}).items() if c in NODE_COMPONENTS and v)
        changes = list(to.get("changes") or [])
        if frm.get("id") != to.get("bundle_id"):
            target[host] = dict((c, to_versions[c]) for c in changes if c in to_versions)
        lines[host] = {
            "platform": rec.get("platform"),
            "from": frm.get("id"), "to": to.get("bundle_id"),
            "digest": to.get("manifest_digest"), "source": to.get("source"),
            "changes": changes, "bytes": int(to.get("change_bytes") or 0),
            "versions": dict((c, "%s -> %s" % (from_versions.get(c) or (nodes.get(host) or {}).get(c) or "?", to_versions[c]))
                             for c in changes if c in to_versions),
            "up_to_date": frm.get("id") == to.get("bundle_id"),
        }
    skew = version_skew(current, target, apiserver=apiserver, control_plane=control_plane, max_node_skew=max_node_skew)
    workers = [h for h in hosts if h not in control_plane]
    batches = rollout_batches(dict((h, hosts[h].get("platform")) for h in workers), serial) if workers else []
    return {
        "apiserver": apiserver, "skew": skew, "control_plane": control_plane, "batches": batches,
        "order": control_plane + [h for b in batches for h in b], "sizes": [len(b) for b in batches] or [1],
        "hosts": lines,
    }
