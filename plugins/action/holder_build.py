# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of multiarch.k8s.holder_build: builds and publishes on the controller."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.multiarch.k8s.plugins.module_utils._deps import MissingDependency
from ansible_collections.multiarch.k8s.plugins.module_utils._specs import HOLDER_BUILD_SPEC

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=HOLDER_BUILD_SPEC)
        try:
            from ansible_collections.multiarch.k8s.plugins.module_utils import _holder_build  # pylint: disable=import-outside-toplevel
            from ansible_collections.multiarch.k8s.plugins.module_utils._build import BuildError  # pylint: disable=import-outside-toplevel
        except MissingDependency as e:
            result.update(failed=True, msg=str(e))
            return result
        try:
            out = _holder_build.run(
                args["source"], args["platforms"], args["dest"], components=args["components"],
                build_dir=args["build_dir"], version=args["version"], debian_patches=args["debian_patches"],
                lock_file=args["lock_file"], insecure=args["insecure"], username=args["registry_username"],
                password=args["registry_password"], timeout=args["timeout"], mirror=args["debian_mirror"],
                check_mode=self._task.check_mode, log=lambda msg: display.v("holder_build: " + msg))
        except (BuildError, MissingDependency) as e:
            result.update(failed=True, msg=str(e))
            return result
        result.update(out)
        if not self._task.diff:
            result.pop("diff", None)
        return result
