#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_nodes
short_description: Read the cluster's Nodes once - readiness, versions, platform, address, pod CIDRs, conditions
version_added: 0.3.0
description:
  - Runs on a control-plane host (delegate to it) with that host's C(kubectl) and admin kubeconfig, reads every
    Node once and returns one record per Node. The rollout plan, the pod network plan and the fleet report all
    read the cluster through this module.
  - Read-only. The module uses the Python standard library only.
author:
  - multiarch.k8s developers (@multiarch-k8s)
extends_documentation_fragment:
  - multiarch.k8s.kubectl
options:
  timeout:
    description: Seconds the API server may take to answer.
    type: int
    default: 20
  allow_unavailable:
    description:
      - When the API server cannot be read (no cluster yet, the control plane down), return RV(available=false) and
        no nodes instead of failing.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  idempotent:
    support: full
    description: Never changes anything.
seealso:
  - module: multiarch.k8s.cluster_node
"""

EXAMPLES = r"""
- name: Read the cluster's nodes on the control plane
  multiarch.k8s.cluster_nodes:
    allow_unavailable: true
  delegate_to: "{{ groups['control_plane'][0] }}"
  run_once: true
  register: cluster

- name: The nodes that are not Ready
  ansible.builtin.debug:
    msg: "{{ cluster.nodes | dict2items | rejectattr('value.ready') | map(attribute='key') | list }}"
"""

RETURN = r"""
available:
  description: Whether the API server answered.
  returned: always
  type: bool
nodes:
  description: One record per Node, by name.
  returned: always
  type: dict
  contains:
    ready:
      description: The Ready condition is C(True).
      type: bool
    schedulable:
      description: Not cordoned.
      type: bool
    cordoned_by:
      description: The C(multiarch.k8s/cordoned-by) annotation (who cordoned it), or null.
      type: str
    kubelet:
      description: The kubelet version the Node reports.
      type: str
    kube_proxy:
      description: The kube-proxy version the Node reports; empty from Kubernetes 1.33 on, whose kubelets no longer report it.
      type: str
    platform:
      description: The C(multiarch.k8s/platform) label (C(linux-arm-v6)), or null.
      type: str
    arch:
      description: The C(kubernetes.io/arch) label (or the Node's reported architecture).
      type: str
    address:
      description: The first C(InternalIP), or null.
      type: str
    pod_cidrs:
      description: The pod CIDRs of the C(multiarch.k8s/pod-cidrs) annotation, by family (C(ipv4), C(ipv6)), or null.
      type: dict
    labels:
      description: Every label of the Node.
      type: dict
    conditions:
      description: Condition type to status (C(True), C(False), C(Unknown)).
      type: dict
  sample:
    pi-zero-1:
      ready: true
      schedulable: true
      cordoned_by: null
      kubelet: v1.37.2
      kube_proxy: ""
      platform: linux-arm-v6
      arch: arm
      address: 192.168.1.31
      pod_cidrs: {ipv4: 10.244.3.0/24}
      labels: {kubernetes.io/arch: arm, multiarch.k8s/platform: linux-arm-v6}
      conditions: {Ready: "True", MemoryPressure: "False"}
msg:
  description: Why the nodes could not be read (with O(allow_unavailable)).
  returned: when RV(available) is false
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiarch.k8s.plugins.module_utils import _k8s_nodes
from ansible_collections.multiarch.k8s.plugins.module_utils._paths import DEFAULT_ADMIN_KUBECONFIG, DEFAULT_BIN_DIR


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubectl=dict(type="path", default=DEFAULT_BIN_DIR + "/kubectl"),
            kubeconfig=dict(type="path", default=DEFAULT_ADMIN_KUBECONFIG),
            timeout=dict(type="int", default=20),
            allow_unavailable=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["timeout"] < 1:
        module.fail_json(msg="timeout must be at least 1 second, not %d" % p["timeout"])
    rc, doc, err = _k8s_nodes.read(p["kubectl"], p["kubeconfig"], timeout=p["timeout"])
    if rc != 0:
        msg = "the cluster's nodes cannot be read from the API server: %s" % err
        if p["allow_unavailable"]:
            module.exit_json(changed=False, available=False, nodes={}, msg=msg)
        module.fail_json(msg=msg, available=False, nodes={})
    try:
        nodes = _k8s_nodes.summaries(doc)
    except _k8s_nodes.NodesError as e:
        module.fail_json(msg=str(e), available=True, nodes={})
    module.exit_json(changed=False, available=True, nodes=nodes)


if __name__ == "__main__":
    main()
