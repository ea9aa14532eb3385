# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running ansible and docker from tests, the way a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest


def ansible_module(module, args, check=False, diff=False, pattern="localhost", timeout=900, env=None):
    """Run ``ansible PATTERN -m MODULE -a JSON`` as a user would; return (per-host results, rc)."""
    cmd = ["ansible", pattern, "-m", module] + (["-a", json.dumps(args)] if args else [])
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    run_env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    run_env.update(env or {})
    proc = subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        pytest.fail("ansible printed no JSON (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
    return doc["plays"][0]["tasks"][0]["hosts"], proc.returncode


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
