# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""node_facts as Ansible runs it: the module file in a Python of its own, its arguments in a JSON file, its
result on stdout. The host is a snapshot (``root``) made by the module_utils tests' helper."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.multiarch.k8s.plugins.modules import node_facts

from ansible_collections.multiarch.k8s.tests.unit.plugins.module_utils.test_node_facts import HOSTS, make_snapshot


def run_module(tmp_path, **args):
    path = tmp_path / "args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, node_facts.__file__, str(path)], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("allow, severity, blocking", [
    (None, "error", True),      # the option's default
    (False, "error", True),
    (True, "warning", False),
])
def test_allow_cgroup_v1_option(tmp_path, allow, severity, blocking):
    root = make_snapshot(tmp_path / "s", **dict(HOSTS["pi-zero-w"][0], cgroup=("v1", True)))
    args = {"root": root, "min_free_mb": 1}
    if allow is not None:
        args["allow_cgroup_v1"] = allow
    res = run_module(tmp_path, **args)
    assert res.get("failed") is not True, res
    assert res["changed"] is False
    facts = res["ansible_facts"]["multiarch_k8s"]
    assert [f["severity"] for f in facts["preflight"] if f["id"] == "cgroup_v1"] == [severity]
    assert facts["preflight_blocking"] is blocking
