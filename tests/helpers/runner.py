# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running ansible and docker from tests, the way a user runs them, and waiting on conditions.

One way to run a playbook (run_playbook, or start_playbook for a run a test stops on purpose), one way to run
a module ad hoc (ansible_module), one way to wait (wait_for: a condition, a deadline, and what was awaited)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

JSON_CALLBACK = {"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json"}


class PlaybookResult:
    """The parsed result of one ansible-playbook run (the json stdout callback)."""

    def __init__(self, name, doc, rc, stderr):
        self.name, self.doc, self.rc, self.stderr = name, doc, rc, stderr

    @property
    def ok(self):
        return self.rc == 0

    @property
    def stats(self):
        return self.doc["stats"]

    def tasks(self):
        return [t for p in self.doc["plays"] for t in p["tasks"]]

    @staticmethod
    def task_name(task):
        """A task's name without the ``role : `` prefix the json callback gives a role's tasks."""
        return task["task"]["name"].split(" : ", 1)[-1]

    def failures(self):
        """``host / task: message`` for every failed or unreachable host result (with a loop's failed items)."""
        def why(r):
            text = r.get("msg") or r.get("stderr")
            items = [i.get("stderr") or i.get("msg") for i in r.get("results") or [] if isinstance(i, dict) and i.get("failed")]
            return "%s%s" % (text, (" [" + "; ".join(str(i)[-600:] for i in items) + "]") if items else "")
        return ["%s / %s: %s" % (h, self.task_name(t), why(r))
                for t in self.tasks() for h, r in t["hosts"].items() if r.get("failed") or r.get("unreachable")]

    def message(self):
        return " ".join(self.failures())

    def changed_tasks(self, host):
        return [self.task_name(t) for t in self.tasks() if t["hosts"].get(host, {}).get("changed")]

    def results(self, task_name):
        """Every host result of the tasks named ``task_name``, in run order."""
        return [r for t in self.tasks() if self.task_name(t) == task_name for r in t["hosts"].values()]

    def hosts(self, task_name):
        """host -> result of the first task named ``task_name`` ({} if it did not run)."""
        for t in self.tasks():
            if self.task_name(t) == task_name:
                return t["hosts"]
        return {}

    def task_hosts(self, task_name):
        """(host, result) of every run of the tasks named ``task_name`` that did not skip, in run order."""
        return [(h, r) for t in self.tasks() if self.task_name(t) == task_name
                for h, r in t["hosts"].items() if not r.get("skipped")]

    def __repr__(self):
        return "<%s rc=%d failures=%s>" % (self.name, self.rc, self.failures())


def _playbook_cmd(name, extra, inventory, limit, check, diff):
    cmd = ["ansible-playbook", name]
    cmd += ["-e", json.dumps(extra)] if extra else []
    cmd += ["-i", str(inventory)] if inventory else []
    cmd += ["--limit", limit] if limit else []
    cmd += ["--check"] if check else []
    cmd += ["--diff"] if diff else []
    return cmd


def run_playbook(name, extra=None, inventory=None, limit=None, check=False, diff=False, timeout=3600, env=None):
    """``ansible-playbook NAME`` as a user runs it (the json callback on); returns a PlaybookResult."""
    run_env = dict(os.environ, **JSON_CALLBACK, **(env or {}))
    proc = subprocess.run(_playbook_cmd(name, extra, inventory, limit, check, diff), env=run_env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        pytest.fail("%s printed no JSON (rc %d):\n%s\n%s" % (name, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return PlaybookResult(name, doc, proc.returncode, proc.stderr)


def start_playbook(name, extra=None, inventory=None, limit=None, env=None):
    """The same run in the background, in a process group of its own (stop it with stop_group)."""
    run_env = dict(os.environ, **JSON_CALLBACK, **(env or {}))
    return subprocess.Popen(_playbook_cmd(name, extra, inventory, limit, False, False), env=run_env,  # pylint: disable=consider-using-with
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def ansible_module(module, args, check=False, diff=False, pattern="localhost", timeout=900, env=None):
    """Run ``ansible PATTERN -m MODULE -a JSON`` as a user would; return (per-host results, rc)."""
    cmd = ["ansible", pattern, "-m", module] + (["-a", json.dumps(args)] if args else [])
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    run_env = dict(os.environ, **JSON_CALLBACK, **(env or {}))
    proc = subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        pytest.fail("ansible printed no JSON (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
    return doc["plays"][0]["tasks"][0]["hosts"], proc.returncode


def wait_for(condition, timeout, what, interval=1.0):
    """Call ``condition`` until it returns something true (returned) or ``timeout`` seconds pass; then fail,
    saying what was awaited and what the condition last returned. ``interval`` is below 2 s: a poll, not a pause."""
    assert interval < 2, "wait_for polls; a pause of %s s is a fixed sleep" % interval
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() >= deadline:
            pytest.fail("timed out after %d s waiting for %s (last: %r)" % (timeout, what, last))
        time.sleep(interval)


def docker(*args, check=True, timeout=300):
    return subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=timeout, check=check)


def stop_group(proc):
    """End ``proc``'s process group (the caller started it with start_new_session=True, so the group is its own
    and nothing else): SIGTERM, then SIGKILL if it is still there after 20 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=20)
            return
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue
