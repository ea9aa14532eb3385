#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_node
short_description: Drain, uncordon or wait for a Kubernetes Node, remembering the cordons it made
version_added: 0.2.0
description:
  - Runs on a control-plane host (delegate to it) with that host's C(kubectl) and admin kubeconfig, and acts on
    the Node O(name).
  - V(drained) marks the Node with the annotation C(multiarch.k8s/cordoned-by) (when it was schedulable), cordons
    it, then drains it with evictions, which honour PodDisruptionBudgets, within O(timeout) seconds.
    DaemonSet pods stay. When the evictions do not finish in time (a PodDisruptionBudget that never allows one),
    the module fails and leaves the Node cordoned for the caller to undo, unless O(delete_on_timeout) is set, and then
    the remaining pods are deleted without regard to their budgets.
  - V(uncordoned) makes the Node schedulable again only if the annotation says this collection cordoned it, and
    removes the annotation. A Node someone else cordoned stays cordoned (reported in RV(msg)).
  - V(ready) waits until the Node is Ready and, with O(version), reports that kubelet version. A Node not
    registered yet (or an API server that does not answer) is waited for too, within O(timeout).
  - Because the annotation is on the Node, a rerun after a controller died mid-upgrade knows which cordons are
    its own, and nothing stays cordoned silently.
  - The module itself uses the Python standard library only.
author:
  - multiarch.k8s developers (@multiarch-k8s)
extends_documentation_fragment:
  - multiarch.k8s.kubectl
options:
  name:
    description: The Node's name (the inventory host name, as the kubelet registered it).
    type: str
    required: true
  state:
    description: What the Node should be.
    type: str
    choices: [drained, uncordoned, ready]
    required: true
  owner:
    description: The value written into the annotation; an uncordon only lifts a cordon whose annotation has this value.
    type: str
    default: multiarch.k8s
  timeout:
    description:
      - Seconds the drain (or the wait for Ready) may take before the module gives up.
    type: int
    default: 300
  grace_period:
    description:
      - Seconds each evicted pod gets to end; a negative value uses the pod's own.
    type: int
    default: -1
  force_unmanaged:
    description:
      - Also delete pods no controller manages (they will not come back anywhere). Off by default, so the
        drain stops on them with kubectl's list of them.
    type: bool
    default: false
  delete_on_timeout:
    description:
      - When evictions do not finish within O(timeout) (a PodDisruptionBudget blocks forever), delete the remaining pods
        without regard to their budgets. Off by default.
    type: bool
    default: false
  version:
    description: With O(state=ready), the kubelet version the Node must report (C(v1.37.2)).
    type: str
attributes:
  check_mode:
    support: full
    description: Reports what it would do (cordon, drain, uncordon) and changes nothing; V(ready) only reads.
  diff_mode:
    support: none
    description: The result says what changed on the Node (RV(msg), RV(cordoned_by)); there is no file diff.
  idempotent:
    support: full
    description: A drained Node is drained again only if pods arrived; an uncordoned Node is left as it is.
"""

EXAMPLES = r"""
- name: Cordon and drain the node on the control plane
  multiarch.k8s.cluster_node:
    name: "{{ inventory_hostname }}"
    state: drained
    timeout: 300
  delegate_to: "{{ groups['control_plane'][0] }}"
  register: drained

- name: Ready with the new kubelet
  multiarch.k8s.cluster_node:
    name: "{{ inventory_hostname }}"
    state: ready
    version: v1.37.2
  delegate_to: "{{ groups['control_plane'][0] }}"

- name: Schedulable again, if this collection cordoned it
  multiarch.k8s.cluster_node:
    name: "{{ inventory_hostname }}"
    state: uncordoned
  delegate_to: "{{ groups['control_plane'][0] }}"
"""

RETURN = r"""
was_schedulable:
  description: Whether the Node was schedulable before the run.
  returned: success
  type: bool
cordoned_by:
  description: The Node's C(multiarch.k8s/cordoned-by) annotation after the run, or null.
  returned: success
  type: str
ready:
  description: Whether the Node is Ready.
  returned: success
  type: bool
kubelet_version:
  description: The kubelet version the Node reports.
  returned: success
  type: str
annotations:
  description: The Node's annotations.
  returned: with O(state=ready)
  type: dict
labels:
  description: The Node's labels.
  returned: with O(state=ready)
  type: dict
taints:
  description: The Node's taints (C(key), C(effect), and C(value) when it has one).
  returned: with O(state=ready)
  type: list
  elements: dict
output:
  description: What kubectl said (the drain's list of evicted pods, or why it stopped).
  returned: always
  type: list
  elements: str
msg:
  description: What was done, in words.
  returned: always
  type: str
"""

import subprocess
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiarch.k8s.plugins.module_utils import _k8s_nodes
from ansible_collections.multiarch.k8s.plugins.module_utils._paths import DEFAULT_ADMIN_KUBECONFIG, DEFAULT_BIN_DIR

ANNOTATION = _k8s_nodes.CORDONED_BY


class Kubectl(object):
    def __init__(self, module):
        self.module = module
        self.base = [module.params["kubectl"], "--kubeconfig", module.params["kubeconfig"]]
        self.output = []

    def run(self, args, timeout=60, check=True):
        try:
            proc = subprocess.run(self.base + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, check=False)
            rc, out = proc.returncode, proc.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            rc, out = 124, (e.output or b"").decode("utf-8", "replace") + "\n(kubectl did not end within %ss)" % timeout
        except OSError as e:
            self.module.fail_json(msg="cannot run %s: %s" % (self.base[0], e), output=self.output)
        lines = [ln for ln in out.splitlines() if ln.strip()]
        if not args[0] == "get":
            self.output.extend(lines[-40:])
        if check and rc != 0:
            self.module.fail_json(msg="kubectl %s failed (exit %d): %s" % (" ".join(args[:2]), rc, " ".join(lines[-3:])),
                                  output=self.output)
        return rc, out

    def node(self, name, fail=True):
        """The Node object; with ``fail=False`` (None, why) when it cannot be read (not registered yet)."""
        rc, doc, err = _k8s_nodes.read(self.base[0], self.base[2], name=name, timeout=20)
        if rc != 0:
            if not fail:
                return None, err
            self.module.fail_json(msg="Node %s cannot be read from the API server: %s" % (name, err), output=self.output)
        return (doc, "") if not fail else doc


def summary(node):
    s = _k8s_nodes.summary(node)
    return {"schedulable": s["schedulable"], "cordoned_by": s["cordoned_by"], "ready": s["ready"],
            "kubelet_version": s["kubelet"], "annotations": (node.get("metadata") or {}).get("annotations") or {},
            "labels": (node.get("metadata") or {}).get("labels") or {}, "taints": (node.get("spec") or {}).get("taints") or []}


def drained(k, p, check_mode):
    name = p["name"]
    s = summary(k.node(name))
    ours = s["cordoned_by"] == p["owner"]
    if check_mode:
        what = "would cordon and drain %s" % name if s["schedulable"] or ours else \
            "%s is cordoned by someone else; would drain it and leave the cordon to them" % name
        return dict(changed=True, msg=what, was_schedulable=s["schedulable"], cordoned_by=s["cordoned_by"])
    changed = False
    if s["schedulable"]:
        # the note first: a controller that dies between the two leaves a note, never a silent cordon
        k.run(["annotate", "node", name, "--overwrite", "%s=%s" % (ANNOTATION, p["owner"])])
        k.run(["cordon", name])
        changed = True
    args = ["drain", name, "--ignore-daemonsets", "--delete-emptydir-data", "--grace-period=%d" % p["grace_period"],
            "--timeout=%ds" % p["timeout"]]
    if p["force_unmanaged"]:
        args.append("--force")
    rc, out = k.run(args, timeout=p["timeout"] + 60, check=False)
    evicted = [ln for ln in out.splitlines() if "evicted" in ln or "deleted" in ln]
    if rc != 0 and p["delete_on_timeout"] and ("timed out" in out or "disruption budget" in out):
        rc, out = k.run(args + ["--disable-eviction"], timeout=p["timeout"] + 60, check=False)
        evicted += [ln for ln in out.splitlines() if "deleted" in ln]
    if rc != 0:
        blocked = [ln.strip() for ln in out.splitlines() if "disruption budget" in ln or "cannot delete" in ln or "error" in ln.lower()]
        return dict(failed=True, changed=changed, was_schedulable=s["schedulable"], cordoned_by=p["owner"] if s["schedulable"] or ours else s["cordoned_by"],
                    msg="draining %s did not finish within %ds: %s" % (name, p["timeout"], (blocked or out.splitlines() or ["no output"])[-1]))
    return dict(changed=changed or bool(evicted), was_schedulable=s["schedulable"],
                cordoned_by=p["owner"] if s["schedulable"] or ours else s["cordoned_by"],
                msg="%s drained (%d pods evicted or deleted)" % (name, len(evicted)))


def uncordoned(k, p, check_mode):
    name = p["name"]
    s = summary(k.node(name))
    if s["cordoned_by"] == p["owner"]:
        if not check_mode:
            if not s["schedulable"]:
                k.run(["uncordon", name])
            k.run(["annotate", "node", name, "%s-" % ANNOTATION])
        return dict(changed=True, msg="%s %s schedulable" % (name, "would be" if check_mode else "is"), was_schedulable=s["schedulable"],
                    cordoned_by=None)
    if s["schedulable"]:
        return dict(changed=False, msg="%s is schedulable" % name, was_schedulable=True, cordoned_by=s["cordoned_by"])
    return dict(changed=False, was_schedulable=False, cordoned_by=s["cordoned_by"],
                msg="%s stays cordoned: this collection did not cordon it (annotation %s is %s)" % (name, ANNOTATION, s["cordoned_by"]))


def ready(k, p, clock=time.monotonic, sleep=time.sleep):
    name = p["name"]
    deadline = clock() + p["timeout"]
    while True:
        doc, err = k.node(name, fail=False)
        if doc is not None:
            s = summary(doc)
            if s["ready"] and (not p["version"] or s["kubelet_version"] == p["version"]):
                return dict(changed=False, msg="%s is Ready with kubelet %s" % (name, s["kubelet_version"]), **s)
        if clock() >= deadline:
            if doc is None:  # never registered, or the API server stopped answering
                return dict(failed=True, changed=False, ready=False,
                            msg="%s is not Ready after %ds: the Node cannot be read: %s" % (name, p["timeout"], err))
            return dict(failed=True, changed=False,
                        msg="%s is not Ready%s after %ds: Ready=%s, kubelet %s" % (
                            name, " with kubelet %s" % p["version"] if p["version"] else "", p["timeout"], s["ready"],
                            s["kubelet_version"]), **s)
        sleep(3)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["drained", "uncordoned", "ready"], required=True),
            owner=dict(type="str", default="multiarch.k8s"),
            kubectl=dict(type="path", default=DEFAULT_BIN_DIR + "/kubectl"),
            kubeconfig=dict(type="path", default=DEFAULT_ADMIN_KUBECONFIG),
            timeout=dict(type="int", default=300),
            grace_period=dict(type="int", default=-1),
            force_unmanaged=dict(type="bool", default=False),
            delete_on_timeout=dict(type="bool", default=False),
            version=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["timeout"] < 1:
        module.fail_json(msg="timeout must be at least 1 second, not %d" % p["timeout"])
    k = Kubectl(module)
    if p["state"] == "drained":
        res = drained(k, p, module.check_mode)
    elif p["state"] == "uncordoned":
        res = uncordoned(k, p, module.check_mode)
    else:
        res = ready(k, p)
    res["output"] = k.output
    if res.pop("failed", False):
        module.fail_json(**res)
    module.exit_json(**res)


if __name__ == "__main__":
    main()
