# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/rollout.py's timing callback: one JSON line per task and host, when it started and when it ended."""

from __future__ import annotations

DOCUMENTATION = r"""
name: host_times
type: aggregate
short_description: When each task started and ended on each host (for bench/rollout.py)
description:
  - Appends one JSON line per event to the file named by E(MK8S_BENCH_HOST_TIMES); the bench reads it
    after the run. Start events come from the controller as it hands a task to a worker for a host; end
    events when the result comes back (ok, failed, skipped or unreachable).
  - For multiarch.k8s.node_release results it also records C(bytes_sent), C(bytes_pulled) and C(files_sent).
  - Part of the benchmark only; not shipped with the collection.
requirements:
  - E(MK8S_BENCH_HOST_TIMES) names a file the controller can write.
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

_RESULT_KEYS = ("bytes_sent", "bytes_pulled", "files_sent", "changed_binaries")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "host_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("MK8S_BENCH_HOST_TIMES")

    def _write(self, event, host, task, result=None):
        if not self._path:
            return
        args = task.args if isinstance(task.args, dict) else {}
        state = args.get("state")
        switch = args.get("switch")
        line = {"t": time.time(), "event": event, "host": host, "task": task.name or task.action,
                "uuid": task._uuid, "action": task.action,
                "state": state if isinstance(state, str) else None,
                "switch": switch if isinstance(switch, bool) else None}
        if result is not None:
            line.update((k, result.get(k)) for k in _RESULT_KEYS if result.get(k) is not None)
        with open(self._path, "a") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")

    def v2_runner_on_start(self, host, task):
        self._write("start", host.get_name(), task)

    def _end(self, event, result):
        self._write(event, result._host.get_name(), result._task, result._result)

    def v2_runner_on_ok(self, result):
        self._end("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._end("failed", result)

    def v2_runner_on_skipped(self, result):
        self._end("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._end("unreachable", result)
