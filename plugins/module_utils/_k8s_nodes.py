# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster's Node objects, read in one place and answered from one summary.

``read()`` is the only code of the collection that runs ``kubectl get node(s)``; the modules cluster_nodes (every
Node) and cluster_node (one Node, while it drains or waits) call it on a control-plane host. ``summary()`` turns a
Node object into the record every consumer uses (the rollout plan, the pod network plan, the fleet report, the
health gate): readiness, schedulability and who cordoned it, versions, platform, labels, address, pod CIDRs and
conditions. ``summaries()`` accepts kubectl's JSON (text or parsed) or a mapping of summaries already made (what
cluster_nodes returns), so controller-side filters take either.

Runs on a node (the control-plane host): standard library only.
"""

from __future__ import annotations

import json
import subprocess

CORDONED_BY = "multiarch.k8s/cordoned-by"
POD_CIDRS = "multiarch.k8s/pod-cidrs"
PLATFORM_LABEL = "multiarch.k8s/platform"
SUMMARY_KEYS = ("ready", "schedulable", "cordoned_by", "kubelet", "kube_proxy", "platform", "arch", "address",
                "pod_cidrs", "labels", "conditions")


class NodesError(Exception):
    pass


def _family(cidr):
    return "ipv6" if ":" in cidr else "ipv4"


def summary(item, pod_cidrs_annotation=POD_CIDRS):
    """The record of one Node object (``kubectl get node NAME -o json``)."""
    if not isinstance(item, dict):
        raise NodesError("a Node object is a mapping, not %s" % type(item).__name__)
    meta = item.get("metadata") or {}
    status = item.get("status") or {}
    info = status.get("nodeInfo") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    conditions = dict((c.get("type"), c.get("status")) for c in status.get("conditions") or [] if c.get("type"))
    internal = [a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"]
    cidrs = None
    raw = annotations.get(pod_cidrs_annotation)
    if isinstance(raw, str) and raw.strip():
        cidrs = dict((_family(c.strip()), c.strip()) for c in raw.split(",") if c.strip())
    return {
        "ready": conditions.get("Ready") == "True",
        "schedulable": not (item.get("spec") or {}).get("unschedulable", False),
        "cordoned_by": annotations.get(CORDONED_BY),
        "kubelet": info.get("kubeletVersion"),
        "kube_proxy": info.get("kubeProxyVersion"),
        "platform": labels.get(PLATFORM_LABEL),
        "arch": labels.get("kubernetes.io/arch") or info.get("architecture"),
        "address": internal[0] if internal else None,
        "pod_cidrs": cidrs,
        "labels": labels,
        "conditions": conditions,
    }


def summaries(nodes, pod_cidrs_annotation=POD_CIDRS):
    """{name: summary} from kubectl's JSON of a Node list (text or parsed), or from such a mapping already made
    (parsed only: text is always kubectl's)."""
    text = isinstance(nodes, (str, bytes))
    try:
        doc = json.loads(nodes) if text else nodes
    except ValueError as e:
        raise NodesError("not the JSON of kubectl get nodes -o json: %s" % e) from None
    if not text and isinstance(doc, dict) and "items" not in doc and all(
            isinstance(v, dict) and "ready" in v and "schedulable" in v for v in doc.values()):
        return dict(doc)
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise NodesError("not the JSON of kubectl get nodes -o json (no list of items)")
    out = {}
    for item in doc["items"]:
        name = ((item or {}).get("metadata") or {}).get("name") if isinstance(item, dict) else None
        if not name:
            raise NodesError("a Node in the list has no name")
        out[name] = summary(item, pod_cidrs_annotation)
    return out


def read(kubectl, kubeconfig, name=None, timeout=30):
    """(rc, parsed document or None, output) of ``kubectl get nodes`` (or ``get node NAME``) as JSON."""
    argv = [kubectl, "--kubeconfig", kubeconfig, "get", "node"] + ([name] if name else []) + [
        "-o", "json", "--request-timeout=%ds" % max(1, min(int(timeout), 60))]
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout + 15, check=False)
    except subprocess.TimeoutExpired:
        return 124, None, "kubectl did not end within %ss" % (timeout + 15)
    except OSError as e:
        return 127, None, "cannot run %s: %s" % (kubectl, e)
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        return proc.returncode, None, (proc.stderr.decode("utf-8", "replace") or out).strip()[-300:]
    try:
        return 0, json.loads(out), ""
    except ValueError as e:
        return 1, None, "kubectl printed no JSON: %s" % e
