# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform table. Private to the collection: not a public API.

Every name a user or a tool gives a platform (OCI platform, uname machine,
Debian architecture, GOARCH/GOARM, ELF machine/class/byte order, QEMU user
binary and CPU model) is answered here, and only here.

Node-side: standard library only (this file is shipped to a Pi Zero).
"""

from __future__ import annotations

import re

# ELF constants used by the table (e_machine values from the System V gABI / psABIs).
EM_386 = 3
EM_PPC64 = 21
EM_S390 = 22
EM_ARM = 40
EM_X86_64 = 62
EM_AARCH64 = 183
EM_RISCV = 243

ELF_MACHINE_NAMES = {
    EM_386: "Intel 80386",
    EM_PPC64: "PowerPC64",
    EM_S390: "IBM S/390",
    EM_ARM: "ARM",
    EM_X86_64: "x86-64",
    EM_AARCH64: "AArch64",
    EM_RISCV: "RISC-V",
    8: "MIPS",
    2: "SPARC",
    43: "SPARC V9",
    258: "LoongArch",
}

# ARM EABI build attribute Tag_CPU_arch values (ARM IHI 0045).
ARM_CPU_ARCH_NAMES = {
    0: "pre-v4", 1: "v4", 2: "v4T", 3: "v5T", 4: "v5TE", 5: "v5TEJ", 6: "v6",
    7: "v6KZ", 8: "v6T2", 9: "v6K", 10: "v7", 11: "v6-M", 12: "v6S-M",
    13: "v7E-M", 14: "v8-A", 15: "v8-R", 16: "v8-M.baseline", 17: "v8-M.mainline",
    18: "v8.1-A", 19: "v8.2-A", 20: "v8.3-A", 21: "v8.1-M.mainline", 22: "v9-A",
}


_CPU_FAMILY = {"amd64": "x86", "386": "x86", "arm64": "arm", "arm": "arm", "ppc64le": "ppc", "s390x": "s390",
               "riscv64": "riscv"}


class Platform(object):
    """One row of the table. Instances are immutable and compared by OCI name."""

    __slots__ = (
        "os", "architecture", "variant", "goarch", "goarm", "debian_arch",
        "uname_machines", "elf_machine", "elf_class", "elf_data", "qemu_user",
        "qemu_cpu", "arm_cpu_arch_allowed", "rank", "zig_target", "cpu_family",
    )

    def __init__(self, architecture, variant, goarch, goarm, debian_arch, uname_machines,
                 elf_machine, elf_class, elf_data, qemu_user, qemu_cpu=None,
                 arm_cpu_arch_allowed=None, rank=0, zig_target=None):
        self.os = "linux"
        self.architecture = architecture
        self.variant = variant
        self.goarch = goarch
        self.goarm = goarm
        self.debian_arch = debian_arch
        self.uname_machines = tuple(uname_machines)
        self.elf_machine = elf_machine
        self.elf_class = elf_class
        self.elf_data = elf_data
        self.qemu_user = qemu_user
        self.qemu_cpu = qemu_cpu
        self.arm_cpu_arch_allowed = frozenset(arm_cpu_arch_allowed or ())
        self.rank = rank
        self.zig_target = zig_target  # C cross-compilation (static, musl): "target[ -mcpu=...]"
        # the kind of CPU (32-bit and 64-bit members of one family share it): x86, arm, ppc, s390, riscv
        self.cpu_family = _CPU_FAMILY.get(goarch, goarch)

    @property
    def oci(self):
        """OCI platform string, e.g. ``linux/arm/v6``."""
        parts = [self.os, self.architecture]
        if self.variant:
            parts.append(self.variant)
        return "/".join(parts)

    @property
    def label(self):
        """Value of the ``multiarch.k8s/platform`` node label, e.g. ``linux-arm-v6``."""
        return self.oci.replace("/", "-")

    @property
    def family(self):
        """``os/architecture`` without the variant."""
        return "%s/%s" % (self.os, self.architecture)

    def can_run(self, other):
        """True if binaries built for ``other`` run on a host of this platform.

        Within one architecture a variant falls back only downward: a v7 host takes
        a v6 build, a v6 host never takes a v7 build.
        """
        return self.family == other.family and other.rank <= self.rank

    def as_dict(self):
        return {
            "platform": self.oci, "os": self.os, "architecture": self.architecture,
            "variant": self.variant, "goarch": self.goarch, "goarm": self.goarm,
            "debian_arch": self.debian_arch, "uname_machines": list(self.uname_machines),
            "elf_machine": self.elf_machine, "elf_class": self.elf_class,
            "elf_data": self.elf_data, "qemu_user": self.qemu_user, "qemu_cpu": self.qemu_cpu,
            "label": self.label,
        }

    def __eq__(self, other):
        return isinstance(other, Platform) and other.oci == self.oci

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.oci)

    def __repr__(self):
        return "Platform(%r)" % self.oci


_V5 = range(0, 6)                       # up to v5TEJ
_V6 = tuple(range(0, 8)) + (9,)         # + v6, v6KZ (ARM1176), v6K; not v6T2 (Thumb-2)
_V7 = tuple(range(0, 11))               # + v6T2, v7

PLATFORMS = (
    Platform("amd64", None, "amd64", None, "amd64", ("x86_64", "amd64"),
             EM_X86_64, 64, "little", "x86_64", zig_target="x86_64-linux-musl"),
    Platform("386", None, "386", None, "i386", ("i386", "i486", "i586", "i686"),
             EM_386, 32, "little", "i386", zig_target="x86-linux-musl"),
    Platform("arm64", None, "arm64", None, "arm64", ("aarch64", "arm64"),
             EM_AARCH64, 64, "little", "aarch64", zig_target="aarch64-linux-musl"),
    Platform("arm", "v7", "arm", "7", "armhf", ("armv7l", "armv8l"),
             EM_ARM, 32, "little", "arm", "cortex-a15", _V7, rank=7,
             zig_target="arm-linux-musleabihf -mcpu=cortex_a7"),
    Platform("arm", "v6", "arm", "6", "armel", ("armv6l",),
             EM_ARM, 32, "little", "arm", "arm1176", _V6, rank=6,
             zig_target="arm-linux-musleabi -mcpu=arm1176jzf_s"),
    Platform("arm", "v5", "arm", "5", "armel", ("armv5l", "armv5tel", "armv5tejl"),
             EM_ARM, 32, "little", "arm", "arm926", _V5, rank=5,
             zig_target="arm-linux-musleabi -mcpu=arm926ej_s"),
    Platform("ppc64le", None, "ppc64le", None, "ppc64el", ("ppc64le",),
             EM_PPC64, 64, "little", "ppc64le", zig_target="powerpc64le-linux-musl"),
    Platform("s390x", None, "s390x", None, "s390x", ("s390x",),
             EM_S390, 64, "big", "s390x", zig_target="s390x-linux-musl"),
    Platform("riscv64", None, "riscv64", None, "riscv64", ("riscv64",),
             EM_RISCV, 64, "little", "riscv64", zig_target="riscv64-linux-musl"),
)

_BY_OCI = dict((p.oci, p) for p in PLATFORMS)

# The ARM architecture level (5 to 8) of a CPU by what its kernel reports in ``uname -m``; an ARMv8 CPU in 32-bit
# mode says armv8l.
UNAME_ARM_LEVEL = {"armv5l": 5, "armv5tel": 5, "armv5tejl": 5, "armv6l": 6, "armv7l": 7, "armv8l": 8,
                   "aarch64": 8, "arm64": 8}

# Debian architecture names of a userland, by ELF identity. ARM is split by float ABI below.
_DEBIAN_BY_ELF = {
    (EM_X86_64, 64, "little"): "amd64",
    (EM_386, 32, "little"): "i386",
    (EM_AARCH64, 64, "little"): "arm64",
    (EM_PPC64, 64, "little"): "ppc64el",
    (EM_S390, 64, "big"): "s390x",
    (EM_RISCV, 64, "little"): "riscv64",
}


class PlatformError(ValueError):
    """A platform name or ELF identity that the table does not know."""


def all_platforms():
    return PLATFORMS


def known_names():
    return [p.oci for p in PLATFORMS]


_PART_RE = re.compile(r"^[a-z0-9_]+$")


def by_oci(name):
    """Resolve an OCI platform string (``linux/arm/v6``, ``arm/v7``, ``linux/amd64``).

    ``linux/arm`` without a variant is ambiguous and refused; ``linux/arm64/v8``
    is the same as ``linux/arm64``.
    """
    if not isinstance(name, str):
        raise PlatformError("expected a platform string such as linux/arm/v6, got %r" % (name,))
    parts = name.strip().lower().split("/")
    if parts[0] != "linux" and len(parts) < 3 and not (len(parts) == 2 and parts[1][:1] != "v"):
        parts.insert(0, "linux")
    if len(parts) not in (2, 3) or parts[0] != "linux" or not all(_PART_RE.match(x) for x in parts):
        raise PlatformError(
            "%r is not a platform this collection knows; expected one of %s"
            % (name, ", ".join(known_names())))
    arch = parts[1]
    variant = parts[2] if len(parts) == 3 else None
    if arch == "arm64" and variant == "v8":
        variant = None
    if arch == "arm" and not variant:
        raise PlatformError(
            "%r does not say which ARM variant; use linux/arm/v6 (Pi Zero/1) or "
            "linux/arm/v7 (Pi 2/3/4 with a 32-bit userland)" % (name,))
    key = "linux/%s%s" % (arch, "/" + variant if variant else "")
    try:
        return _BY_OCI[key]
    except KeyError:
        raise PlatformError(
            "%r is not a platform this collection knows; expected one of %s"
            % (name, ", ".join(known_names())))


def by_uname(machine):
    """Platform whose kernel reports ``machine`` in ``uname -m``."""
    for p in PLATFORMS:
        if machine in p.uname_machines:
            return p
    raise PlatformError("kernel machine %r is not one this collection knows (known: %s)"
                        % (machine, ", ".join(sorted(m for p in PLATFORMS for m in p.uname_machines))))


def by_debian_arch(arch):
    """Platform Debian builds its ``arch`` packages for (armel is Debian's ARMv5TE baseline)."""
    for p in sorted(PLATFORMS, key=lambda q: q.rank):
        if p.debian_arch == arch:
            return p
    raise PlatformError("Debian architecture %r is not one this collection knows (known: %s)"
                        % (arch, ", ".join(sorted(set(p.debian_arch for p in PLATFORMS)))))


def by_go(goarch, goarm=None):
    """Platform of a Go build (``GOARCH``, ``GOARM``; Go's default GOARM is 7)."""
    if goarch == "arm":
        goarm = str(goarm or "7").split(",", maxsplit=1)[0]
    else:
        goarm = None
    for p in PLATFORMS:
        if p.goarch == goarch and p.goarm == goarm:
            return p
    raise PlatformError("GOARCH=%s%s is not a platform this collection knows"
                        % (goarch, " GOARM=%s" % goarm if goarm else ""))


def by_qemu_cpu(cpu):
    for p in PLATFORMS:
        if p.qemu_cpu == cpu:
            return p
    raise PlatformError("QEMU CPU model %r is not one this collection maps to a platform" % (cpu,))


def family_by_elf(machine, elf_class, data):
    """Platforms matching an ELF identity, best (highest variant) first.

    ARM ELF files match arm/v7, arm/v6 and arm/v5; the build attributes decide among them.
    """
    found = [p for p in PLATFORMS
             if (p.elf_machine, p.elf_class, p.elf_data) == (machine, elf_class, data)]
    if not found:
        raise PlatformError(
            "ELF%d %s-endian %s (e_machine %d) is not a platform this collection knows (known: %s)"
            % (elf_class, data, ELF_MACHINE_NAMES.get(machine, "machine"), machine, ", ".join(known_names())))
    return sorted(found, key=lambda p: -p.rank)


def debian_arch_by_elf(machine, elf_class, data, arm_hard_float=None):
    """Debian architecture name of a userland with this ELF identity."""
    if (machine, elf_class, data) == (EM_ARM, 32, "little"):
        return "armhf" if arm_hard_float else "armel"
    try:
        return _DEBIAN_BY_ELF[(machine, elf_class, data)]
    except KeyError:
        family_by_elf(machine, elf_class, data)  # raises the readable error
        raise


def arm_variant_allows(platform, cpu_arch_tag):
    """True if ARM code tagged ``Tag_CPU_arch`` = ``cpu_arch_tag`` runs on ``platform``."""
    if platform.elf_machine != EM_ARM:
        return False
    return cpu_arch_tag in platform.arm_cpu_arch_allowed


def cpu_family_by_elf(machine):
    """``x86``, ``arm``, ... for an ELF e_machine, or None."""
    for p in PLATFORMS:
        if p.elf_machine == machine:
            return p.cpu_family
    return None


def arm32_for_level(level):
    """The 32-bit ARM platform a CPU of ARM architecture ``level`` (5 to 8) takes: the highest variant it runs."""
    found = [p for p in PLATFORMS if p.elf_machine == EM_ARM and p.rank <= min(level, 7)]
    if not found:
        raise PlatformError("no 32-bit ARM platform of this collection runs on an ARMv%s CPU" % level)
    return max(found, key=lambda p: p.rank)


def arm_variant_for_cpu_arch(cpu_arch_tag):
    """Lowest ARM platform whose CPUs run code tagged ``Tag_CPU_arch`` = ``cpu_arch_tag``."""
    for p in sorted(PLATFORMS, key=lambda q: q.rank):
        if p.elf_machine == EM_ARM and cpu_arch_tag in p.arm_cpu_arch_allowed:
            return p
    return None
