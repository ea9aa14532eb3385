#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_report
short_description: One record per host of what a run learned, as a table and a JSON file
version_added: 0.1.0
description:
  - Gathers, for every host, what the run learned. That is the platform and how it was decided (for example
    C(kernel aarch64, userland armhf -> linux/arm/v7)), the board model, CPU and memory, the current release
    and the previous one, and the versions of the binaries and the holder image (source and manifest digest)
    they came from. It adds the state of containerd, the kubelet and kube-proxy, and whether the Node is
    C(Ready) with which kubelet version. Last come the preflight findings, or the
    error that stopped the host.
  - Returns a readable table (RV(table)) and writes the records as JSON to O(dest) for machines.
  - Runs on the controller (an action plugin) from the play's host variables; it contacts no host.
  - site.yml ends with it; C(multiarch_k8s_report_file) sets O(dest) there.
author:
  - multiarch.k8s developers (@multiarch-k8s)
options:
  hosts:
    description: The hosts to report on, normally C(ansible_play_hosts_all).
    type: list
    elements: str
    required: true
  facts_var:
    description: Host variable holding M(multiarch.k8s.node_facts)'s facts.
    type: str
    default: multiarch_k8s
  release_var:
    description:
      - Host variable holding the release a host runs. Either the registered result of
        M(multiarch.k8s.node_release), or a mapping with C(current), C(previous) and C(record), the parsed
        C(.release.json) of the current release, which names the image it came from (C(origin)) and the versions
        of its files (what the collection's report playbook reads on each host).
    type: str
  outcome_var:
    description:
      - Host variable holding the registered result of the run's install (M(multiarch.k8s.node_release)), read for
        a host that has no O(release_var) value. Such a host failed or stopped answering before the report, and
        its error is reported.
    type: str
  health_var:
    description: Host variable holding the registered result of C(systemctl is-active containerd kubelet kube-proxy).
    type: str
  bundles:
    description:
      - The RV(multiarch.k8s.holder_pull#module:bundles) of the run, for versions and image digests of a release whose
        record does not name its image (made by an older version of the collection).
    type: dict
  nodes:
    description:
      - The RV(multiarch.k8s.cluster_nodes#module:nodes) of the cluster; the output of C(kubectl get nodes -o json)
        (text or parsed) is accepted too.
    type: raw
  dest:
    description: Where to write the JSON report (written whole, then renamed into place).
    type: path
attributes:
  check_mode:
    support: full
    description: Builds the report; writes no file.
  diff_mode:
    support: none
    description: Nothing to compare.
  idempotent:
    support: full
    description: Reports C(changed=false); the file is rewritten with the current state.
"""

EXAMPLES = r"""
- name: Fleet report
  multiarch.k8s.fleet_report:
    hosts: "{{ ansible_play_hosts_all }}"
    release_var: __release
    health_var: __health
    bundles: "{{ __pulled.bundles }}"
    nodes: "{{ __nodes.nodes }}"
    dest: "{{ playbook_dir }}/fleet-report.json"
  run_once: true
  register: report

- name: Show it
  ansible.builtin.debug:
    msg: "{{ report.table }}"
  run_once: true
"""

RETURN = r"""
hosts:
  description: One record per host (the same as in the JSON file, under C(hosts)).
  returned: success
  type: list
  elements: dict
table:
  description: The records as text lines, a header first.
  returned: success
  type: list
  elements: str
dest:
  description: The JSON file written.
  returned: when O(dest) is set, not in check mode
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiarch.k8s.plugins.module_utils._specs import FLEET_REPORT_SPEC


def main():
    module = AnsibleModule(argument_spec=FLEET_REPORT_SPEC, supports_check_mode=True)
    module.fail_json(msg="multiarch.k8s.fleet_report runs on the controller through its action plugin; "
                         "it cannot be run as a plain module")


if __name__ == "__main__":
    main()
