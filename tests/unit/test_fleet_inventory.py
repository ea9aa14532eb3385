# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""inventory-examples/local-fleet and local-pi-fleet, the inventories make demo prints for the two fleet layouts
(MULTIARCH_FLEET) and a person runs the playbooks with, reach the fleet the way the integration tests do
(tests/fleet/fleet.py's addresses and ssh_vars): the same hosts and addresses, the control plane on the layout's
first node, the same user, key, known_hosts and SSH options. Read from the files; the fleet itself is not needed."""

from __future__ import annotations

import importlib.util
import os

import pytest
import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _fleet(monkeypatch, layout="default"):
    monkeypatch.setenv("MULTIARCH_FLEET", layout)
    spec = importlib.util.spec_from_file_location("mk8s_fleet", os.path.join(ROOT, "tests", "fleet", "fleet.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _inventory(layout):
    with open(os.path.join(ROOT, "inventory-examples", {"default": "local-fleet", "pi": "local-pi-fleet"}[layout],
                           "hosts.yml"), encoding="utf-8") as f:
        return yaml.safe_load(f)["all"]["children"]


@pytest.mark.parametrize("layout", ["default", "pi"])
def test_every_fleet_node_is_in_the_inventory_at_its_address(monkeypatch, layout):
    fleet = _fleet(monkeypatch, layout)
    inv = _inventory(layout)
    hosts = inv["fleet"]["hosts"]
    assert sorted(hosts) == sorted(n["name"] for n in fleet.NODES)
    assert list(inv["control_plane"]["hosts"]) == [fleet.CONTROL_PLANE] == [fleet.NODES[0]["name"]]
    for node in fleet.NODES:
        assert hosts[node["name"]]["ansible_host"] == fleet.node_address(node), node["name"]
    addresses = [fleet.node_address(n) for n in fleet.NODES]
    assert len(set(addresses)) == len(addresses) and fleet.node_address({"address": fleet.ABSENT}) not in addresses
    if layout == "pi":
        assert not [n for n in fleet.NODES if n["platform"] == "linux/amd64"]


def test_a_node_has_one_address_in_every_layout(monkeypatch):
    fleet = _fleet(monkeypatch)
    seen = {}
    for nodes in fleet.LAYOUTS.values():
        for n in nodes:
            assert seen.setdefault(n["name"], n["address"]) == n["address"], n
    assert len(set(seen.values())) == len(seen)


def test_an_unknown_layout_is_refused(monkeypatch):
    with pytest.raises(SystemExit, match="MULTIARCH_FLEET=nonsense is not a fleet layout; the layouts are default, pi"):
        _fleet(monkeypatch, "nonsense")


@pytest.mark.parametrize("layout", ["default", "pi"])
def test_the_inventory_connects_as_the_tests_do(monkeypatch, layout):
    monkeypatch.delenv("MULTIARCH_CACHE", raising=False)
    fleet = _fleet(monkeypatch, layout)
    inv_vars = _inventory(layout)["fleet"]["vars"]
    ssh_dir = "/var/cache/multiarch-k8s/fleet/ssh"
    assert fleet.SSH_DIR == ssh_dir

    def resolved(value):
        return " ".join(str(value).replace("{{ __fleet_ssh }}", ssh_dir).split()) if isinstance(value, str) else value
    for key, value in fleet.ssh_vars().items():
        assert resolved(inv_vars[key]) == value, key
    assert "StrictHostKeyChecking=yes" in inv_vars["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=no" not in inv_vars["ansible_ssh_common_args"]
    assert inv_vars["ansible_user"] == "pi" and inv_vars["ansible_become"] is True
