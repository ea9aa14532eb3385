# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node-side code imports only the standard library, ansible.module_utils and other node-side files
(and, guarded by ``except ImportError``, optional accelerators such as isal).

The payload ansible ships to a 512 MB Pi Zero must never drag in controller-only code or a
third-party package the distribution's Python does not have.
"""

from __future__ import annotations

import ast
import os
import sys

import pytest

PLUGINS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins")
NODE_SIDE_UTILS = {"_platforms", "_elfhdr", "_node_facts", "_release", "_registry", "_holder", "_oci", "_deps",
                   "_node_image"}
NODE_SIDE_MODULES = {"node_facts", "node_release", "node_image", "node_switch", "node_health", "cluster_node"}
PREFIX = "ansible_collections.multiarch.k8s.plugins.module_utils."


def _guarded(tree):
    """Import nodes inside ``try: ... except ImportError``: optional, the code runs without them."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            for stmt in node.body:
                out.update(id(n) for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return out


def imports_of(path):
    with open(path) as f:
        tree = ast.parse(f.read())
    guarded = _guarded(tree)
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module
            for alias in node.names:
                yield "%s.%s" % (node.module, alias.name)


def files():
    for name in sorted(NODE_SIDE_UTILS):
        yield os.path.join(PLUGINS, "module_utils", name + ".py")
    for name in sorted(NODE_SIDE_MODULES):
        yield os.path.join(PLUGINS, "modules", name + ".py")


@pytest.mark.parametrize("path", list(files()), ids=os.path.basename)
def test_node_side_imports(path):
    for name in imports_of(path):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            continue
        if name.startswith("ansible.module_utils"):
            continue
        if name.startswith(PREFIX):
            util = name[len(PREFIX):].split(".")[0]
            assert util in NODE_SIDE_UTILS, "%s imports controller-side %s" % (path, name)
            continue
        if name == PREFIX.rstrip(".") or name == PREFIX + "_platforms":
            continue
        pytest.fail("%s imports %s, which a node does not have" % (path, name))
