# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layout is the rule: what runs on a node and what runs on the controller is seen from where a file lives.

- ``plugins/module_utils/`` and ``plugins/modules/`` run on a node (ansible ships them to it, a Pi Zero with
  512 MB included): they import only the standard library, ``ansible.module_utils`` and files of
  ``plugins/module_utils/`` (an optional accelerator is allowed under ``try: ... except ImportError``).
- ``plugins/module_utils/`` holds nothing a node never runs: every file there is reached from a module.
  Controller-only code lives in ``plugins/plugin_utils/`` (action, filter and lookup plugins use it).
- Nothing under ``plugins/``, ``roles/`` or ``playbooks/`` runs ``kubectl get nodes`` but the one helper that reads them.

The lists are read from the tree, so a new file is checked the day it lands.
"""

from __future__ import annotations

import ast
import os
import re
import sys

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLUGINS = os.path.join(ROOT, "plugins")
PREFIX = "ansible_collections.multiarch.k8s.plugins."


def _py(kind):
    folder = os.path.join(PLUGINS, kind)
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".py") and n != "__init__.py")


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


def imports_of(path, guarded_too=False):
    """Every name a file imports: ``a.b`` for ``import a.b``; ``a.b`` and ``a.b.c`` for ``from a.b import c``."""
    with open(path) as f:
        tree = ast.parse(f.read())
    guarded = set() if guarded_too else _guarded(tree)
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


def collection_files(path):
    """(kind, name) of the collection's plugin files ``path`` imports, e.g. ("module_utils", "_release")."""
    out = set()
    for name in imports_of(path, guarded_too=True):
        if name.startswith(PREFIX):
            parts = name[len(PREFIX):].split(".")
            if len(parts) >= 2:
                out.add((parts[0], parts[1]))
    return out


NODE_SIDE = _py("module_utils") + _py("modules")


@pytest.mark.parametrize("path", NODE_SIDE, ids=lambda p: os.path.relpath(p, PLUGINS))
def test_node_side_imports_only_what_a_node_has(path):
    for name in imports_of(path):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__" or name.startswith("ansible.module_utils"):
            continue
        if name.startswith(PREFIX + "module_utils"):
            util = name[len(PREFIX + "module_utils"):].lstrip(".").split(".")[0]
            assert not util or os.path.exists(os.path.join(PLUGINS, "module_utils", util + ".py")), \
                "%s imports %s, which is not a file of plugins/module_utils" % (path, name)
            continue
        pytest.fail("%s imports %s, which a node does not have (controller code belongs in plugins/plugin_utils)"
                    % (path, name))


def test_every_module_utils_file_runs_on_a_node():
    """The other direction: a file of module_utils no module reaches (directly or through a sibling) runs only on
    the controller and belongs in plugin_utils."""
    reached, todo = set(), list(_py("modules"))
    while todo:
        for kind, name in collection_files(todo.pop()):
            if kind == "module_utils" and name not in reached:
                reached.add(name)
                todo.append(os.path.join(PLUGINS, "module_utils", name + ".py"))
    present = set(os.path.basename(p)[:-3] for p in _py("module_utils"))
    assert present - reached == set(), "controller-only code in plugins/module_utils: move it to plugin_utils"


def test_the_checker_sees_a_controller_import(tmp_path):
    """The walker itself: a module_utils import of plugin_utils or of a third-party library is found."""
    path = tmp_path / "probe.py"
    path.write_text("from ansible_collections.multiarch.k8s.plugins.plugin_utils._build import x\nimport netaddr\n")
    names = list(imports_of(str(path)))
    assert PREFIX + "plugin_utils._build" in names and "netaddr" in names
    assert collection_files(str(path)) == {("plugin_utils", "_build")}


# kubectl's argv as a list (Python or a YAML argv), or a command line in a task
GET_NODES_ARGV = re.compile(r"""\bget["']?\s*,\s*["']?nodes?["']?\s*[,\]]""")
GET_NODES_SHELL = re.compile(r"""^\s*(-\s*)?(ansible\.builtin\.)?(shell|command|cmd|raw):.*kubectl.*\bget\s+nodes?\b""")


def get_nodes_lines(root=ROOT):
    found = []
    for top in ("plugins", "roles", "playbooks"):
        for folder, _dirs, names in os.walk(os.path.join(root, top)):
            for n in names:
                if not n.endswith((".py", ".yml", ".yaml", ".j2", ".sh")):
                    continue
                path = os.path.join(folder, n)
                with open(path) as f:
                    for i, line in enumerate(f, 1):
                        if GET_NODES_ARGV.search(line) or GET_NODES_SHELL.search(line):
                            found.append("%s:%d" % (os.path.relpath(path, root), i))
    return found


def test_one_place_reads_nodes():
    """``kubectl get node(s)`` runs in one place, module_utils/_k8s_nodes.py (the cluster_nodes and cluster_node
    modules call it; roles, playbooks and other plugins call cluster_nodes)."""
    found = get_nodes_lines()
    assert [p for p in found if p.startswith("plugins/module_utils/_k8s_nodes.py:")], "the helper itself not seen"
    assert [p for p in found if not p.startswith("plugins/module_utils/_k8s_nodes.py:")] == [], \
        "kubectl get nodes outside plugins/module_utils/_k8s_nodes.py"


@pytest.mark.parametrize("line", [
    '    argv: ["{{ kubectl }}", --kubeconfig, x, get, nodes, -o, json]',
    '        rc, out = self.run(["get", "node", name, "-o", "json"])',
    '  ansible.builtin.shell: kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o json | jq .',
    '    cmd: "kubectl get node pi-zero -o json"',
])
def test_the_node_reader_check_sees_each_form(line):
    assert GET_NODES_ARGV.search(line) or GET_NODES_SHELL.search(line)


def test_the_node_reader_check_leaves_prose_alone():
    line = '        raise AnsibleFilterError("k8s_nodes needs the output of kubectl get nodes -o json: %s" % e)'
    assert not GET_NODES_ARGV.search(line) and not GET_NODES_SHELL.search(line)


CONTROLLER_SIDE = _py("plugin_utils") + _py("action") + _py("filter")


@pytest.mark.parametrize("path", CONTROLLER_SIDE, ids=lambda p: os.path.relpath(p, PLUGINS))
def test_controller_side_uses_one_ip_library(path):
    """netaddr on the controller (the design's choice); the standard ipaddress only in node code."""
    assert "ipaddress" not in [n.split(".")[0] for n in imports_of(path, guarded_too=True)], \
        "%s imports ipaddress: controller code uses netaddr" % path


def test_the_python_defaults_are_the_roles_defaults():
    """module_utils/_paths (modules and action plugins) and the multiarch.k8s.multiarch_k8s role name one prefix and bin dir."""
    import yaml  # pylint: disable=import-outside-toplevel
    from ansible_collections.multiarch.k8s.plugins.module_utils import _paths  # pylint: disable=import-outside-toplevel
    with open(os.path.join(ROOT, "roles", "multiarch_k8s", "defaults", "main.yml")) as f:
        defaults = yaml.safe_load(f)
    assert defaults["multiarch_k8s_prefix"] == _paths.DEFAULT_PREFIX
    assert defaults["multiarch_k8s_bin_dir"] == _paths.DEFAULT_BIN_DIR
    assert defaults["multiarch_k8s_config_dir"] + "/admin.conf" == _paths.DEFAULT_ADMIN_KUBECONFIG


def _yaml(*parts):
    import yaml
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_the_default_kubernetes_line_is_set_in_one_place():
    """The role default multiarch_k8s_kubernetes_version is the line: its argument spec documents the same value,
    its Go module folder exists, and build.yml (and the tests and bench, which read the role's defaults) name no
    line of their own."""
    line = _yaml("roles", "multiarch_k8s", "defaults", "main.yml")["multiarch_k8s_kubernetes_version"]
    assert re.match(r"^v1\.\d+\.\d+$", line), line
    spec = _yaml("roles", "multiarch_k8s", "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert spec["multiarch_k8s_kubernetes_version"]["default"] == line
    assert os.path.isfile(os.path.join(ROOT, "gomod", "kubernetes-" + line, "go.mod"))
    play_vars = _yaml("playbooks", "build.yml")[0]["vars"]
    assert not [k for k, v in play_vars.items() if re.search(r"v1\.\d+\.\d+", str(v))], play_vars
    for path in ("tests/helpers/cluster.py", "bench/build.py"):
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            assert line not in f.read(), path
