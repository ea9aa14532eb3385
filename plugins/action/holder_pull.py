# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of multiarch.k8s.holder_pull: runs the pull on the controller."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.multiarch.k8s.plugins.module_utils._deps import MissingDependency
from ansible_collections.multiarch.k8s.plugins.module_utils._specs import HOLDER_PULL_SPEC

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=HOLDER_PULL_SPEC)
        try:
            from ansible_collections.multiarch.k8s.plugins.module_utils._pull import (  # pylint: disable=import-outside-toplevel
                PullError, Puller,
            )
        except MissingDependency as e:
            result.update(failed=True, msg=str(e))
            return result
        require_static = {"auto": "auto", "true": True, "false": False}[args["require_static"]]
        try:
            puller = Puller(
                args["src"], args["platforms"], args["dest"], files=args["files"], lock_file=args["lock_file"],
                update_lock=args["update_lock"], version=args["version"], insecure=args["insecure"],
                username=args["registry_username"], password=args["registry_password"],
                timeout=args["timeout"], retries=args["retries"], max_layer_mb=args["max_layer_mb"],
                require_static=require_static, check_mode=self._task.check_mode,
                log=lambda msg: display.v("holder_pull: " + msg))
            out = puller.run()
        except (PullError, MissingDependency) as e:
            result.update(failed=True, msg=str(e))
            return result
        result.update(out)
        if not self._task.diff:
            result.pop("diff", None)
        return result
