# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared body of the collection's controller-side actions. Private to the collection.

An action validates its arguments against the spec its documentation module declares, runs a
worker from module_utils on the controller with progress going to ``-v`` output, and turns the
worker's one-sentence errors into a failed result.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.multiarch.k8s.plugins.plugin_utils._deps import MissingDependency

display = Display()


class ControllerAction(ActionBase):
    """Subclasses set ``SPEC`` and ``NAME`` and implement ``work(args, check_mode, log)``; ``work`` sets
    ``ERRORS`` to the worker's own exception classes (imported lazily, after the dependency check)."""

    TRANSFERS_FILES = False
    _requires_connection = False
    SPEC = {}
    NAME = ""
    ERRORS = ()

    def work(self, args, check_mode, log):
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=self.SPEC)
        try:
            out = self.work(args, self._task.check_mode, lambda msg: display.v("%s: %s" % (self.NAME, msg)))
        except self.ERRORS + (MissingDependency,) as e:
            result.update(failed=True, msg=str(e))
            return result
        result.update(out)
        if not self._task.diff:
            result.pop("diff", None)
        return result
