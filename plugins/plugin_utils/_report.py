# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: one record per host from what a site.yml run learned, as JSON and as a table.

Controller side. The cluster's Nodes come summarised by module_utils._k8s_nodes (the cluster_nodes module).
"""

from __future__ import annotations

import json
import os
import re
import tempfile


SERVICES = ("containerd", "kubelet", "kube-proxy")


class ReportError(Exception):
    pass


def _node(nodes, name):
    """The report's view of one Node, from the {name: summary} of module_utils._k8s_nodes (or None)."""
    s = (nodes or {}).get(name)
    if not s:
        return None
    return {"ready": s["ready"], "kubelet": s["kubelet"], "kube_proxy": s["kube_proxy"], "label": s["platform"],
            "pod_cidrs": ",".join((s["pod_cidrs"] or {}).values()) or None}


def _health(raw):
    """{service: state} from ``systemctl is-active`` output (one line per service, in SERVICES order)."""
    if not raw:
        return {}
    lines = (raw.get("stdout_lines") or []) if isinstance(raw, dict) else []
    return dict(zip(SERVICES, lines))


def bundle_of(release, bundle):
    """The bundle, if the release the host runs came from it (its id, or an upgrade's overlay of it), else None:
    a host that kept or went back to another release is not shown with an image it does not run."""
    current = (release or {}).get("current") if isinstance(release, dict) else None
    if not bundle or not current or release.get("failed") or release.get("unreachable"):
        return bundle
    bid = bundle.get("bundle_id") or ""
    return bundle if current == bid or current.startswith(bid + ".on.") else None


def bundle_from_record(release):
    """The image and versions of the release a host runs, from its record on the node (``.release.json`` of
    current, in ``release["record"]``), or None when the record does not name its image."""
    rec = (release or {}).get("record") if isinstance(release, dict) else None
    origin = (rec or {}).get("origin") if isinstance(rec, dict) else None
    if not origin or not origin.get("manifest_digest") or rec.get("id") != release.get("current"):
        return None
    files = [{"name": n, "version": (m or {}).get("version")} for n, m in sorted((rec.get("files") or {}).items())]
    return {"bundle_id": rec["id"], "source": origin.get("source"), "manifest_digest": origin["manifest_digest"],
            "files": files}


def host_record(name, facts, release, bundle, health, nodes):
    facts = facts or {}
    release = release or {}
    bundle = bundle or {}
    versions = {}
    for f in bundle.get("files") or []:
        if f.get("version"):
            versions[f["name"]] = f["version"]
    failed = release.get("failed") or release.get("unreachable")
    return {
        "host": name,
        "platform": facts.get("platform"),
        "decided": facts.get("platform_reason"),
        "board": facts.get("board_model"),
        "cpu": facts.get("cpu_model"),
        "memory_mb": facts.get("memory_total_mb"),
        "release": None if failed else release.get("current"),
        "previous_release": None if failed else release.get("previous"),
        "versions": versions,
        "image": {"source": bundle.get("source"), "manifest": bundle.get("manifest_digest")} if bundle else None,
        "services": _health(health),
        "node": _node(nodes, name),
        "preflight": [dict((k, x.get(k)) for k in ("id", "severity", "msg", "fix")) for x in facts.get("preflight") or []],
        "error": release.get("msg") if failed else None,
    }


def table(records):
    """The report as text lines: one row per host (the JSON has everything, the table what fits a screen)."""
    header = ("host", "platform", "how it was decided", "board", "memory", "release", "image", "kubelet",
              "services", "node", "preflight / error")
    rows = []
    for r in records:
        node = r.get("node") or {}
        services = r.get("services") or {}
        svc = ("%d/%d active" % (sum(1 for s in services.values() if s == "active"), len(services))
               if services else "-")
        findings = ", ".join("%s:%s" % (x["severity"], x["id"]) for x in r.get("preflight") or []) or "-"
        # the bracketed notes of the decision are in the JSON and, as findings, in the last column
        decided = re.sub(r" \[.*\]$", "", r.get("decided") or "-")
        digest = ((r.get("image") or {}).get("manifest") or "-")[:19]
        rows.append((r["host"], r.get("platform") or "?", decided, r.get("board") or "-",
                     "%s MB" % r["memory_mb"] if r.get("memory_mb") else "?", r.get("release") or "-", digest,
                     node.get("kubelet") or r.get("versions", {}).get("kubelet") or "-", svc,
                     ("Ready" if node.get("ready") else "NotReady") if node else "-",
                     r.get("error") or findings))
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header] + rows]


def write_json(path, records):
    """The report as JSON, written whole (temporary file + rename) so a reader never sees half of it."""
    path = os.path.expanduser(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".fleet-report-")
        with os.fdopen(fd, "w") as f:
            json.dump({"hosts": records}, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as e:
        raise ReportError("cannot write the fleet report to %s: %s" % (path, e.strerror or e))
    return path
