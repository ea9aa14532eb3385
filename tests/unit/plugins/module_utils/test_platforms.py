# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform table: every name of a platform resolves to one row."""

from __future__ import annotations

import pytest

from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P


@pytest.mark.parametrize("name, oci", [
    ("linux/amd64", "linux/amd64"),
    ("amd64", "linux/amd64"),
    ("linux/386", "linux/386"),
    ("linux/arm64", "linux/arm64"),
    ("linux/arm64/v8", "linux/arm64"),
    ("linux/arm/v7", "linux/arm/v7"),
    ("arm/v6", "linux/arm/v6"),
    ("LINUX/ARM/V6", "linux/arm/v6"),
    ("linux/arm/v5", "linux/arm/v5"),
    ("linux/ppc64le", "linux/ppc64le"),
    ("linux/s390x", "linux/s390x"),
    ("linux/riscv64", "linux/riscv64"),
])
def test_by_oci(name, oci):
    assert P.by_oci(name).oci == oci


@pytest.mark.parametrize("name, message", [
    ("linux/arm", "does not say which ARM variant"),
    ("linux/arm/v8", "not a platform this collection knows"),
    ("windows/amd64", "not a platform this collection knows"),
    ("linux/mips64le", "not a platform this collection knows"),
    ("", "not a platform this collection knows"),
    ("linux//arm", "not a platform this collection knows"),
    (None, "expected a platform string"),
    (7, "expected a platform string"),
])
def test_by_oci_refuses(name, message):
    with pytest.raises(P.PlatformError, match=message):
        P.by_oci(name)


@pytest.mark.parametrize("machine, oci", [
    ("x86_64", "linux/amd64"), ("i686", "linux/386"), ("aarch64", "linux/arm64"),
    ("armv7l", "linux/arm/v7"), ("armv8l", "linux/arm/v7"), ("armv6l", "linux/arm/v6"),
    ("armv5tel", "linux/arm/v5"), ("ppc64le", "linux/ppc64le"), ("s390x", "linux/s390x"),
    ("riscv64", "linux/riscv64"),
])
def test_by_uname(machine, oci):
    assert P.by_uname(machine).oci == oci


def test_by_uname_unknown():
    with pytest.raises(P.PlatformError, match="kernel machine 'mips64' is not one"):
        P.by_uname("mips64")


@pytest.mark.parametrize("arch, oci", [
    ("amd64", "linux/amd64"), ("i386", "linux/386"), ("arm64", "linux/arm64"),
    ("armhf", "linux/arm/v7"), ("armel", "linux/arm/v5"), ("ppc64el", "linux/ppc64le"),
    ("s390x", "linux/s390x"), ("riscv64", "linux/riscv64"),
])
def test_by_debian_arch(arch, oci):
    assert P.by_debian_arch(arch).oci == oci


@pytest.mark.parametrize("goarch, goarm, oci", [
    ("amd64", None, "linux/amd64"), ("arm", "6", "linux/arm/v6"), ("arm", "7", "linux/arm/v7"),
    ("arm", None, "linux/arm/v7"), ("arm", "6,softfloat", "linux/arm/v6"), ("arm64", None, "linux/arm64"),
    ("arm64", "7", "linux/arm64"), ("riscv64", None, "linux/riscv64"),
])
def test_by_go(goarch, goarm, oci):
    assert P.by_go(goarch, goarm).oci == oci


def test_by_go_unknown():
    with pytest.raises(P.PlatformError, match="GOARCH=mips"):
        P.by_go("mips")


@pytest.mark.parametrize("cpu, oci", [("arm1176", "linux/arm/v6"), ("cortex-a15", "linux/arm/v7")])
def test_by_qemu_cpu(cpu, oci):
    assert P.by_qemu_cpu(cpu).oci == oci


@pytest.mark.parametrize("machine, cls, data, first", [
    (P.EM_X86_64, 64, "little", "linux/amd64"),
    (P.EM_ARM, 32, "little", "linux/arm/v7"),
    (P.EM_AARCH64, 64, "little", "linux/arm64"),
    (P.EM_S390, 64, "big", "linux/s390x"),
])
def test_family_by_elf(machine, cls, data, first):
    assert P.family_by_elf(machine, cls, data)[0].oci == first


def test_family_by_elf_arm_lists_variants_best_first():
    assert [p.oci for p in P.family_by_elf(P.EM_ARM, 32, "little")] == [
        "linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]


def test_family_by_elf_unknown_names_what_it_got():
    with pytest.raises(P.PlatformError, match="ELF64 little-endian MIPS .e_machine 8. is not a platform"):
        P.family_by_elf(8, 64, "little")


@pytest.mark.parametrize("host, binary, runs", [
    ("linux/arm/v7", "linux/arm/v6", True),
    ("linux/arm/v7", "linux/arm/v5", True),
    ("linux/arm/v6", "linux/arm/v7", False),
    ("linux/arm/v6", "linux/arm/v6", True),
    ("linux/arm64", "linux/arm/v7", False),
    ("linux/amd64", "linux/386", False),
])
def test_can_run_falls_back_only_downward(host, binary, runs):
    assert P.by_oci(host).can_run(P.by_oci(binary)) is runs


@pytest.mark.parametrize("tag, oci, allowed", [
    (4, "linux/arm/v6", True),     # v5TE (Debian armel)
    (7, "linux/arm/v6", True),     # v6KZ (ARM1176)
    (9, "linux/arm/v6", True),     # v6K
    (8, "linux/arm/v6", False),    # v6T2: Thumb-2, not on ARM1176
    (10, "linux/arm/v6", False),   # v7
    (10, "linux/arm/v7", True),
    (14, "linux/arm/v7", False),   # v8-A code is not armv7
    (6, "linux/arm/v5", False),
    (4, "linux/arm64", False),
])
def test_arm_variant_allows(tag, oci, allowed):
    assert P.arm_variant_allows(P.by_oci(oci), tag) is allowed


def test_labels_and_go_fields_are_consistent():
    for p in P.all_platforms():
        assert p.label == p.oci.replace("/", "-")
        assert P.by_go(p.goarch, p.goarm) == p
        assert P.by_oci(p.oci) is p
        for machine in p.uname_machines:
            assert P.by_uname(machine) == p
