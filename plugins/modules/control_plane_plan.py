#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: control_plane_plan
short_description: Check the control-plane hosts against the pulled binaries before any host changes
version_added: 0.1.0
description:
  - Checks, on the controller, that the control plane can be formed from what the run pulled. Each
    control-plane host's platform must have every binary of O(binaries) in its bundle (the
    RV(multiarch.k8s.holder_pull#module:bundles) of the run); the module fails naming each host, its platform and
    what is missing.
  - Warns when the group names an even number of hosts. etcd needs a majority, so 2 hosts survive no failure (as
    1 would) and 4 survive one (as 3 would), while every write waits for one more member.
  - Fails when O(hosts) is empty.
  - Runs on the controller (an action plugin); it contacts no host. site.yml runs it after the pull and before
    any host changes.
author:
  - multiarch.k8s developers (@multiarch-k8s)
options:
  hosts:
    description: The control-plane hosts, in the group's order.
    type: list
    elements: str
    required: true
  platforms:
    description:
      - Each host's platform (C(linux/arm/v7)), as M(multiarch.k8s.node_facts) decided it
        (RV(multiarch.k8s.node_facts#module:ansible_facts.multiarch_k8s.platform)). A host of O(hosts) that is
        not here (not in the run) is not checked.
    type: dict
    required: true
  bundles:
    description:
      - The run's RV(multiarch.k8s.holder_pull#module:bundles), by platform. Omitted (check mode without a
        pull), only the number of hosts is checked.
    type: dict
  source:
    description: The holder image the bundles came from, named in the error.
    type: str
    default: ""
  group:
    description: The inventory group's name, used in messages.
    type: str
    default: control_plane
  binaries:
    description: What a control-plane host runs.
    type: list
    elements: str
    default: [etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubeadm, kubectl]
  node_binaries:
    description:
      - What every host of O(platforms) needs beyond its node set, such as C(coredns) when the cluster's DNS is
        deployed (site.yml passes it then); the module fails naming each platform that lacks one and its hosts.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Checks the same; changes nothing in any mode.
  diff_mode:
    support: none
    description: Nothing to compare.
  idempotent:
    support: full
    description: Reports C(changed=false).
"""

EXAMPLES = r"""
- name: Check the control plane against the pulled binaries
  multiarch.k8s.control_plane_plan:
    hosts: "{{ groups['control_plane'] }}"
    platforms: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, ['multiarch_k8s', 'platform']))) }}"
    bundles: "{{ release_pulled.bundles }}"
    source: "{{ multiarch_k8s_holder_src }}"
  run_once: true
"""

RETURN = r"""
hosts:
  description: The control-plane hosts checked, each with its platform (empty when O(bundles) was omitted).
  returned: success
  type: list
  elements: dict
  sample:
    - host: pi4-a
      platform: linux/arm64
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiarch.k8s.plugins.module_utils._specs import CONTROL_PLANE_PLAN_SPEC


def main():
    module = AnsibleModule(argument_spec=CONTROL_PLANE_PLAN_SPEC, supports_check_mode=True)
    module.fail_json(msg="multiarch.k8s.control_plane_plan runs on the controller through its action plugin; "
                         "it cannot be run as a plain module")


if __name__ == "__main__":
    main()
