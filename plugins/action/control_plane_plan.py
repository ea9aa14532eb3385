# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of multiarch.k8s.control_plane_plan: the control-plane plan checked on the controller."""

from __future__ import annotations

from ansible_collections.multiarch.k8s.plugins.module_utils._specs import CONTROL_PLANE_PLAN_SPEC
from ansible_collections.multiarch.k8s.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.multiarch.k8s.plugins.plugin_utils import _plan


class ActionModule(ControllerAction):
    SPEC = CONTROL_PLANE_PLAN_SPEC
    NAME = "control_plane_plan"
    ERRORS = (_plan.PlanError,)

    def run(self, tmp=None, task_vars=None):
        self._warnings = []
        result = super().run(tmp, task_vars)
        if self._warnings:  # said also when the plan is refused: both are worth fixing
            result["warnings"] = list(result.get("warnings") or []) + self._warnings
        return result

    def work(self, args, check_mode, log):
        self._warnings = [w for w in [_plan.quorum_warning(args["hosts"], args["group"])] if w]
        for w in self._warnings:
            log(w)
        records, _warnings = _plan.check(args["hosts"], args["platforms"], args["bundles"], args["source"],
                                         group=args["group"], needed=tuple(args["binaries"]))
        _plan.check_nodes(args["platforms"], args["bundles"], args["source"], tuple(args["node_binaries"]))
        return {"changed": False, "hosts": records}
