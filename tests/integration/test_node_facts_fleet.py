# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""node_facts on the emulated fleet (tests/fleet/fleet.py), through the community.docker connection.

Real parts: Debian 12 userlands of four architectures booted with systemd; the arm64, armhf and
armel nodes run under QEMU user emulation, the armel one with an ARM1176 CPU model (Pi Zero).
Under QEMU user mode /proc/cpuinfo shows the host's x86 CPU, so on those nodes the module
decides the ARM variant from the kernel machine name QEMU derives from the emulated CPU; the
tests show that and the SIGILL the ARM1176 model gives ARMv7 code.

Break tried (2026-12-07): uname armv6l mapped to ARM level 7 in _node_facts;
test_armel_node_is_armv6_by_its_cpu failed.
"""

from __future__ import annotations

import os
import tempfile

import pytest

import cluster as C
from runner import ansible_module, docker

EXPECTED = C.NODES  # name -> (platform, userland's Debian architecture, kernel machine)


def adhoc(pattern, module_args="", check=False):
    """Run ``ansible PATTERN -m multiarch.k8s.node_facts`` and return the per-host results."""
    args = dict(a.split("=", 1) for a in module_args.split()) if module_args else {}
    return ansible_module("multiarch.k8s.node_facts", args, check=check, pattern=pattern)


@pytest.fixture(scope="module")
def fleet_facts():
    # the test host runs cgroup v1 (hybrid): allowed here, refused below
    hosts, rc = adhoc("fleet", "allow_cgroup_v1=true")
    assert rc == 0, hosts
    return hosts


def test_a_cgroup_v1_host_blocks_the_preflight_unless_allowed(fleet_facts):
    """Current kubelets (failCgroupV1 defaults to true since 1.35) refuse a cgroup v1 host: so does the preflight,
    with what, why and the fix, unless allow_cgroup_v1 says the host may stay on v1 (then it is a warning)."""
    hosts, rc = adhoc("mk8s-armel")
    assert rc == 0, hosts  # node_facts reports; site.yml's preflight step is what stops
    facts = hosts["mk8s-armel"]["ansible_facts"]["multiarch_k8s"]
    found = [f for f in facts["preflight"] if f["id"] == "cgroup_v1"]
    assert len(found) == 1 and found[0]["severity"] == "error", facts["preflight"]
    assert "cgroup v1" in found[0]["msg"] and "multiarch_k8s_allow_cgroup_v1" in found[0]["fix"], found
    assert facts["preflight_blocking"] is True
    allowed = fleet_facts["mk8s-armel"]["ansible_facts"]["multiarch_k8s"]
    assert [f["severity"] for f in allowed["preflight"] if f["id"] == "cgroup_v1"] == ["warning"]


@pytest.mark.parametrize("host", sorted(EXPECTED))
def test_each_node_gets_its_platform(fleet_facts, host):
    platform, userland, kernel = EXPECTED[host]
    res = fleet_facts[host]
    assert res["changed"] is False
    facts = res["ansible_facts"]["multiarch_k8s"]
    assert facts["platform"] == platform
    assert facts["userland_arch"] == userland
    assert facts["kernel_machine"] == kernel
    assert facts["init_system"] == "systemd"
    assert facts["python_version"].startswith("3.11.")
    assert facts["memory_total_mb"] > 0
    assert facts["install_dir_free_mb"] > 0
    assert facts["preflight_blocking"] is False, facts["preflight"]
    emulated = host != "mk8s-amd64"
    assert facts["cpu_emulated"] is emulated
    assert ("cpu_emulated" in [f["id"] for f in facts["preflight"]]) is emulated


def test_armel_node_is_armv6_by_its_cpu(fleet_facts):
    facts = fleet_facts["mk8s-armel"]["ansible_facts"]["multiarch_k8s"]
    assert facts["goarm"] == "6"
    assert "CPU: kernel machine armv6l -> linux/arm/v6" in facts["platform_reason"]
    assert facts["userland_elf"].startswith("/bin/sh -> /usr/bin/dash: ELF32 ARM soft-float built for v5TE")


def test_check_mode_returns_the_same_facts(fleet_facts):
    hosts, rc = adhoc("fleet", "allow_cgroup_v1=true", check=True)
    assert rc == 0
    assert sorted(hosts) == sorted(EXPECTED)
    for host, res in hosts.items():
        assert res["changed"] is False
        assert res["ansible_facts"]["multiarch_k8s"]["platform"] == EXPECTED[host][0] == \
            fleet_facts[host]["ansible_facts"]["multiarch_k8s"]["platform"]


def test_pin_lower_variant_is_accepted():
    hosts, rc = adhoc("mk8s-armhf", "platform=linux/arm/v6")
    assert rc == 0
    facts = hosts["mk8s-armhf"]["ansible_facts"]["multiarch_k8s"]
    assert facts["platform"] == "linux/arm/v6"
    assert facts["platform_detected"] == "linux/arm/v7"
    assert "platform_pinned_lower" in [f["id"] for f in facts["preflight"]]


@pytest.mark.parametrize("host, pin, message", [
    ("mk8s-armel", "linux/arm/v7",
     "multiarch_k8s_platform=linux/arm/v7 contradicts the host: linux/arm/v7 needs a newer CPU than this "
     "host's (linux/arm/v6): its code would die with SIGILL here; pin linux/arm/v6 or set force to override"),
    ("mk8s-arm64", "linux/arm/v7", "linux/arm/v7 pins 32-bit binaries but the userland of this host is 64-bit arm64"),
    ("mk8s-amd64", "linux/arm", "'linux/arm' does not say which ARM variant"),
])
def test_contradicting_pin_fails_with_one_sentence(host, pin, message):
    hosts, rc = adhoc(host, "platform=%s" % pin)
    assert rc != 0
    assert hosts[host]["failed"] is True
    assert message in hosts[host]["msg"]


def test_forced_pin_is_recorded():
    hosts, rc = adhoc("mk8s-armel", "platform=linux/arm/v7 force=true")
    assert rc == 0
    facts = hosts["mk8s-armel"]["ansible_facts"]["multiarch_k8s"]
    assert facts["platform"] == "linux/arm/v7"
    assert [f["severity"] for f in facts["preflight"] if f["id"] == "platform_pin_forced"] == ["warning"]


def test_armel_node_cpu_refuses_armv7_code():
    """The fleet's Pi Zero stand-in is honest: ARMv7 code dies there with SIGILL, v5 code runs.

    /sbin/ldconfig is statically linked in Debian, so the armhf (ARMv7, Thumb-2) build runs on
    any ARM CPU that can execute its instructions, whatever the userland.
    """
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "ldconfig-armhf")
        docker("cp", "mk8s-armhf:/sbin/ldconfig", local)
        docker("cp", local, "mk8s-armel:/var/tmp/ldconfig-armhf")
    try:
        on_armhf = docker("exec", "mk8s-armhf", "/sbin/ldconfig", "--version", check=False)
        assert on_armhf.returncode == 0 and "ldconfig" in on_armhf.stdout
        on_armel = docker("exec", "mk8s-armel", "sh", "-c", "/var/tmp/ldconfig-armhf --version; echo rc=$?",
                          check=False)
        assert "rc=132" in on_armel.stdout, on_armel.stdout + on_armel.stderr  # 128 + SIGILL
        own = docker("exec", "mk8s-armel", "/sbin/ldconfig", "--version", check=False)
        assert own.returncode == 0
    finally:
        docker("exec", "mk8s-armel", "rm", "-f", "/var/tmp/ldconfig-armhf", check=False)


def test_services_on_the_armel_node_see_the_arm1176_model():
    """systemd starts services with the node's CPU model too (DefaultEnvironment), not QEMU's default."""
    out = docker("exec", "mk8s-armel", "systemd-run", "--wait", "--pipe", "--quiet", "uname", "-m").stdout
    assert out.strip() == "armv6l"
