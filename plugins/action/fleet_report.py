# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of multiarch.k8s.fleet_report: gathers what the run learned about each host, on the controller."""

from __future__ import annotations


from ansible_collections.multiarch.k8s.plugins.module_utils import _k8s_nodes
from ansible_collections.multiarch.k8s.plugins.module_utils._specs import FLEET_REPORT_SPEC
from ansible_collections.multiarch.k8s.plugins.plugin_utils._controller_action import ControllerAction


class ActionModule(ControllerAction):
    SPEC = FLEET_REPORT_SPEC
    NAME = "fleet_report"

    def run(self, tmp=None, task_vars=None):
        self._hostvars = (task_vars or {}).get("hostvars", {})
        return super().run(tmp, task_vars)

    def work(self, args, check_mode, log):
        from ansible_collections.multiarch.k8s.plugins.plugin_utils import _report  # pylint: disable=import-outside-toplevel
        self.ERRORS = (_report.ReportError,)
        nodes = args["nodes"]
        if nodes is not None and not (isinstance(nodes, str) and not nodes.strip()):
            try:
                nodes = _k8s_nodes.summaries(nodes)
            except _k8s_nodes.NodesError as e:
                raise _report.ReportError("nodes is neither the JSON of kubectl get nodes -o json nor the nodes of "
                                          "multiarch.k8s.cluster_nodes: %s" % e)
        else:
            nodes = None
        bundles = args["bundles"] or {}
        records = []
        for host in args["hosts"]:
            hv = self._hostvars.get(host, {})
            facts = hv.get(args["facts_var"]) or {}
            release = hv.get(args["release_var"]) if args["release_var"] else None
            if release is None and args["outcome_var"]:
                release = hv.get(args["outcome_var"])
            health = hv.get(args["health_var"]) if args["health_var"] else None
            bundle = _report.bundle_from_record(release) or _report.bundle_of(release, bundles.get(facts.get("platform")))
            records.append(_report.host_record(host, facts, release, bundle, health, nodes))
        out = {"changed": False, "hosts": records, "table": _report.table(records)}
        if args["dest"] and not check_mode:
            out["dest"] = _report.write_json(args["dest"], records)
            log("wrote %s" % out["dest"])
        return out
