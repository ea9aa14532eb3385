# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of multiarch.k8s.holder_pull: runs the pull on the controller."""

from __future__ import annotations

from ansible_collections.multiarch.k8s.plugins.module_utils._specs import HOLDER_PULL_SPEC
from ansible_collections.multiarch.k8s.plugins.plugin_utils._controller_action import ControllerAction


class ActionModule(ControllerAction):
    SPEC = HOLDER_PULL_SPEC
    NAME = "holder_pull"

    def work(self, args, check_mode, log):
        from ansible_collections.multiarch.k8s.plugins.plugin_utils._pull import (  # pylint: disable=import-outside-toplevel
            PullError, Puller,
        )
        self.ERRORS = (PullError,)
        require_static = {"auto": "auto", "true": True, "false": False}[args["require_static"]]
        return Puller(
            args["src"], args["platforms"], args["dest"], files=args["files"], lock_file=args["lock_file"],
            update_lock=args["update_lock"], version=args["version"], insecure=args["insecure"],
            username=args["registry_username"], password=args["registry_password"],
            timeout=args["timeout"], retries=args["retries"], max_layer_mb=args["max_layer_mb"],
            require_static=require_static, check_mode=check_mode, log=log).run()
