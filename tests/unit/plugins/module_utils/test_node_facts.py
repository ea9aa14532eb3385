# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Platform detection over host snapshots.

Each snapshot is a directory made here from real parts: the userland's ``/bin/sh`` is
Debian's ``dash`` binary of that architecture (tests/unit/fixtures/elf, from Debian's
packages), placed behind the same usrmerge symlinks a Debian system has, and
``/proc/cpuinfo`` is the text such a board's kernel prints (tests/unit/fixtures/cpuinfo).
"""

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.multiarch.k8s.plugins.module_utils import _node_facts as NF

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")

MEMINFO = "MemTotal:       %d kB\nMemFree:          100000 kB\nMemAvailable:   %d kB\nSwapTotal:      %d kB\n"
SWAPS_HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
CGROUPS_V1 = ("#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t2\t1\t1\ncpu\t3\t60\t1\n"
              "memory\t%d\t80\t%d\npids\t5\t70\t1\n")


def make_snapshot(root, userland, cpuinfo=None, kernel_arch=None, model=None, mem_mb=None,
                  swap_mb=0, cgroup=("v2", True), init="systemd", usrmerge=True, resolv="nameserver 192.168.1.1\n",
                  resolved=None):
    """Write a host snapshot under ``root`` and return its path. ``resolv``: /etc/resolv.conf; ``resolved``:
    systemd-resolved's list of upstream servers (/run/systemd/resolve/resolv.conf)."""
    os.makedirs(os.path.join(root, "proc", "sys", "kernel"))
    for rel, text in (("etc/resolv.conf", resolv), ("run/systemd/resolve/resolv.conf", resolved)):
        if text is not None:
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
    if usrmerge:
        os.makedirs(os.path.join(root, "usr", "bin"))
        os.symlink("usr/bin", os.path.join(root, "bin"))
        shutil.copy(os.path.join(FIXTURES, "elf", "dash-" + userland), os.path.join(root, "usr", "bin", "dash"))
        os.symlink("dash", os.path.join(root, "usr", "bin", "sh"))
    elif userland:
        os.makedirs(os.path.join(root, "bin"))
        shutil.copy(os.path.join(FIXTURES, "elf", "dash-" + userland), os.path.join(root, "bin", "dash"))
        os.symlink("/bin/dash", os.path.join(root, "bin", "sh"))
    if cpuinfo:
        shutil.copy(os.path.join(FIXTURES, "cpuinfo", cpuinfo + ".txt"), os.path.join(root, "proc", "cpuinfo"))
    if kernel_arch:
        with open(os.path.join(root, "proc", "sys", "kernel", "arch"), "w") as f:
            f.write(kernel_arch + "\n")
    if model:
        os.makedirs(os.path.join(root, "proc", "device-tree"))
        with open(os.path.join(root, "proc", "device-tree", "model"), "w") as f:
            f.write(model + "\0")
    if mem_mb:
        with open(os.path.join(root, "proc", "meminfo"), "w") as f:
            f.write(MEMINFO % (mem_mb * 1024, mem_mb * 512, swap_mb * 1024))
    with open(os.path.join(root, "proc", "swaps"), "w") as f:
        f.write(SWAPS_HEADER)
        if swap_mb:
            f.write("/var/swap                               file\t\t%d\t\t0\t\t-2\n" % (swap_mb * 1024))
    kind, enabled = cgroup
    if kind == "v2":
        os.makedirs(os.path.join(root, "sys", "fs", "cgroup"))
        with open(os.path.join(root, "sys", "fs", "cgroup", "cgroup.controllers"), "w") as f:
            f.write("cpuset cpu io %spids\n" % ("memory " if enabled else ""))
    else:
        if kind == "hybrid":
            # systemd's hybrid hierarchy: the v1 controllers, plus a v2 tree (no controllers) under unified/
            os.makedirs(os.path.join(root, "sys", "fs", "cgroup", "unified"))
            with open(os.path.join(root, "sys", "fs", "cgroup", "unified", "cgroup.controllers"), "w") as f:
                f.write("\n")
        with open(os.path.join(root, "proc", "cgroups"), "w") as f:
            f.write(CGROUPS_V1 % (4 if enabled else 0, 1 if enabled else 0))
    if init:
        os.makedirs(os.path.join(root, "proc", "1"))
        with open(os.path.join(root, "proc", "1", "comm"), "w") as f:
            f.write(init + "\n")
    return str(root)


# name: (snapshot arguments, platform, userland_arch, confidence, reason fragments)
HOSTS = {
    "pi-zero-w": (dict(userland="armel", cpuinfo="pi-zero-w", kernel_arch="armv6l",
                       model="Raspberry Pi Zero W Rev 1.1", mem_mb=427),
                  "linux/arm/v6", "armel", "high", ["0xb76 (ARM1176)", "CPU architecture: 7"]),
    "pi-1b-old-kernel-says-armv7l": (dict(userland="armel", cpuinfo="pi-1b-old-kernel", kernel_arch="armv7l"),
                                     "linux/arm/v6", "armel", "high", ["ARM1176", "disagrees; cpuinfo decides"]),
    "pi-3b-32bit": (dict(userland="armhf", cpuinfo="pi-3b-32bit", kernel_arch="armv7l", mem_mb=926),
                    "linux/arm/v7", "armhf", "high", ["CPU architecture 7 (Cortex-A53)"]),
    "pi-4b-64bit": (dict(userland="arm64", cpuinfo="pi-4b-arm64-kernel", kernel_arch="aarch64",
                         model="Raspberry Pi 4 Model B Rev 1.1", mem_mb=3794),
                    "linux/arm64", "arm64", "high", ["userland arm64, kernel aarch64"]),
    "pi-4b-64bit-kernel-32bit-userland": (dict(userland="armhf", cpuinfo="pi-4b-arm64-kernel",
                                               kernel_arch="aarch64", mem_mb=3794),
                                          "linux/arm/v7", "armhf", "high",
                                          ["kernel aarch64, userland armhf (32-bit)", "Cortex-A72"]),
    "pi-5b-64bit": (dict(userland="arm64", cpuinfo="pi-5b", kernel_arch="aarch64"),
                    "linux/arm64", "arm64", "high", []),
    "pi-zero-2w-64bit-kernel-armel-userland": (dict(userland="armel", cpuinfo="pi-zero-2w-arm64-kernel",
                                                    kernel_arch="aarch64"),
                                               "linux/arm/v7", "armel", "high", ["Cortex-A53"]),
    "x86_64": (dict(userland="amd64", cpuinfo="x86_64-intel", kernel_arch="x86_64", mem_mb=15890),
               "linux/amd64", "amd64", "high", []),
    "i386-userland-on-x86_64-kernel": (dict(userland="i386", cpuinfo="x86_64-intel", kernel_arch="x86_64"),
                                       "linux/386", "i386", "high", ["userland i386"]),
    "ppc64le": (dict(userland="ppc64el", cpuinfo="ppc64le-power9", kernel_arch="ppc64le"),
                "linux/ppc64le", "ppc64el", "high", []),
    "s390x": (dict(userland="s390x", cpuinfo="s390x-z15", kernel_arch="s390x"),
              "linux/s390x", "s390x", "high", []),
    "riscv64": (dict(userland="riscv64", cpuinfo="riscv64-visionfive2", kernel_arch="riscv64"),
                "linux/riscv64", "riscv64", "high", []),
    "non-usrmerged-bin-sh": (dict(userland="armhf", cpuinfo="pi-3b-32bit", kernel_arch="armv7l", usrmerge=False),
                             "linux/arm/v7", "armhf", "high", []),
    "emulated-armv6-on-x86": (dict(userland="armel", cpuinfo="x86_64-intel", kernel_arch="armv6l"),
                              "linux/arm/v6", "armel", "medium",
                              ["kernel machine armv6l", "cpuinfo describes a CPU of another kind (x86)"]),
    "pi-zero-cpuinfo-unreadable": (dict(userland="armel", kernel_arch="armv6l"),
                                   "linux/arm/v6", "armel", "medium", ["kernel machine armv6l",
                                                                       "unreadable"]),
    "armhf-only-userland-evidence": (dict(userland="armhf"),
                                     "linux/arm/v7", "armhf", "low", ["userland built for v7 (a lower bound)"]),
    "armel-userland-x86-kernel-snapshot": (dict(userland="armel", cpuinfo="x86_64-intel", kernel_arch="x86_64"),
                                           "linux/arm/v5", "armel", "low", ["userland built for v5TE"]),
    "armel-only-userland-evidence": (dict(userland="armel"),
                                     "linux/arm/v5", "armel", "low", ["userland built for v5TE"]),
}


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_detect(tmp_path, name):
    args, platform, userland, confidence, fragments = HOSTS[name]
    facts = NF.gather(root=make_snapshot(tmp_path / "snap", **args), install_dir="/opt/multiarch-k8s",
                      min_free_mb=1)
    assert facts["platform"] == platform
    assert facts["platform_detected"] == platform
    assert facts["platform_label"] == platform.replace("/", "-")
    assert facts["userland_arch"] == userland
    assert facts["platform_confidence"] == confidence
    for fragment in fragments:
        assert fragment in facts["platform_reason"]
    assert facts["platform_reason"].split(" [")[0].endswith(platform), facts["platform_reason"]


def test_pi_zero_facts_in_full(tmp_path):
    facts = NF.gather(root=make_snapshot(tmp_path / "s", **HOSTS["pi-zero-w"][0]), min_free_mb=1)
    assert facts["board_model"] == "Raspberry Pi Zero W Rev 1.1"
    assert facts["board_model_source"] == "device-tree"
    assert facts["cpu_model"] == "ARMv6-compatible processor rev 7 (v6l)"
    assert facts["cpu_count"] == 1
    assert facts["kernel_machine"] == "armv6l"
    assert facts["goarch"] == "arm" and facts["goarm"] == "6"
    assert facts["userland_arm_cpu_arch"] == "v5TE"
    assert facts["userland_elf"] == "/bin/sh -> /usr/bin/dash: ELF32 ARM soft-float built for v5TE (armel)"
    assert facts["memory_total_mb"] == 427
    assert facts["cgroup_version"] == 2 and facts["memory_cgroup"] is True
    assert facts["swap_active"] is False
    assert facts["init_system"] == "systemd"
    assert [f["id"] for f in facts["preflight"]] == ["small_memory"]
    assert facts["preflight_blocking"] is False


def test_board_from_cpuinfo_when_no_device_tree(tmp_path):
    facts = NF.gather(root=make_snapshot(tmp_path / "s", **HOSTS["pi-3b-32bit"][0]), min_free_mb=1)
    assert facts["board_model"] == "Raspberry Pi 3 Model B Rev 1.2"
    assert facts["board_model_source"] == "cpuinfo"
    assert facts["cpu_count"] == 4


@pytest.mark.parametrize("args, message", [
    (dict(userland="mips64el", cpuinfo="mips64-loongson", kernel_arch="mips64"),
     r"unsupported host \(kernel mips64\): its userland /usr/bin/dash is ELF64 little-endian MIPS "
     r"\(e_machine 8\) is not a platform this collection knows \(known: linux/amd64, "),
    (dict(userland="armhf", cpuinfo="pi-zero-w", kernel_arch="armv6l"),
     "contradictory evidence: cpuinfo: CPU part 0xb76 .* built for v7 and could not run there"),
])
def test_unknown_or_contradictory_hosts_fail_clearly(tmp_path, args, message):
    with pytest.raises(NF.DetectError, match=message):
        NF.gather(root=make_snapshot(tmp_path / "s", **args))


def test_missing_userland_fails_naming_the_file(tmp_path):
    root = tmp_path / "s"
    make_snapshot(root, userland="armel", cpuinfo="pi-zero-w", kernel_arch="armv6l")
    os.remove(str(root / "usr" / "bin" / "dash"))
    with pytest.raises(NF.DetectError, match=r"cannot read the userland's ELF header \(/bin/sh: "):
        NF.gather(root=str(root))


def test_userland_not_elf(tmp_path):
    root = tmp_path / "s"
    make_snapshot(root, userland="armel", cpuinfo="pi-zero-w", kernel_arch="armv6l")
    with open(str(root / "usr" / "bin" / "dash"), "w") as f:
        f.write("#!/bin/busybox sh\n")
    with pytest.raises(NF.DetectError, match="is not an ELF file"):
        NF.gather(root=str(root))


def test_symlink_loop_in_snapshot(tmp_path):
    root = tmp_path / "s"
    make_snapshot(root, userland="armel", cpuinfo="pi-zero-w", kernel_arch="armv6l")
    os.remove(str(root / "usr" / "bin" / "sh"))
    os.symlink("/bin/sh", str(root / "usr" / "bin" / "sh"))
    with pytest.raises(NF.DetectError, match="too many levels of symbolic links"):
        NF.gather(root=str(root))


def test_absolute_symlink_stays_inside_the_snapshot(tmp_path):
    """/bin/sh -> /usr/bin/dash must resolve to the snapshot's dash, never the host's."""
    root = tmp_path / "s"
    make_snapshot(root, userland="riscv64", cpuinfo="riscv64-visionfive2", kernel_arch="riscv64")
    os.remove(str(root / "usr" / "bin" / "sh"))
    os.symlink("/usr/bin/dash", str(root / "usr" / "bin" / "sh"))
    assert NF.gather(root=str(root))["platform"] == "linux/riscv64"


def test_cpuinfo_that_is_a_directory_counts_as_unreadable(tmp_path):
    root = tmp_path / "s"
    make_snapshot(root, userland="armel", kernel_arch="armv6l")
    os.makedirs(str(root / "proc" / "cpuinfo"))
    facts = NF.gather(root=str(root), min_free_mb=1)
    assert facts["platform"] == "linux/arm/v6"
    assert "cpuinfo_unreadable" in [f["id"] for f in facts["preflight"]]


@pytest.mark.parametrize("host, pin, force, platform, finding, message", [
    ("pi-3b-32bit", "linux/arm/v6", False, "linux/arm/v6", "platform_pinned_lower", None),
    ("pi-zero-w", "linux/arm/v6", False, "linux/arm/v6", None, None),
    ("pi-zero-w", "linux/arm/v7", False, None, None,
     "multiarch_k8s_platform=linux/arm/v7 contradicts the host: linux/arm/v7 needs a newer CPU than this "
     "host's .linux/arm/v6.: its code would die with SIGILL here; pin linux/arm/v6 or set force"),
    ("pi-4b-64bit-kernel-32bit-userland", "linux/arm64", False, None, None,
     "linux/arm64 pins 64-bit binaries but the userland of this host is 32-bit armhf"),
    ("pi-4b-64bit-kernel-32bit-userland", "linux/arm64", True, "linux/arm64", "platform_pin_forced", None),
    ("x86_64", "linux/arm64", False, None, None, "linux/arm64 binaries do not run on this host"),
    ("x86_64", "linux/arm", False, None, None, "does not say which ARM variant"),
    ("x86_64", "plan9/amd64", False, None, None, "not a platform this collection knows"),
])
def test_pin(tmp_path, host, pin, force, platform, finding, message):
    root = make_snapshot(tmp_path / "s", **HOSTS[host][0])
    if message:
        with pytest.raises(NF.DetectError, match=message):
            NF.gather(root=root, pin=pin, force=force)
        return
    facts = NF.gather(root=root, pin=pin, force=force, min_free_mb=1)
    assert facts["platform"] == platform
    assert facts["platform_pinned"] is True
    assert facts["platform_detected"] == HOSTS[host][1]
    assert facts["platform_reason"].startswith("pinned by multiarch_k8s_platform=%s" % platform)
    ids = [f["id"] for f in facts["preflight"]]
    if finding:
        assert finding in ids
    else:
        assert not [i for i in ids if i.startswith("platform_")]


@pytest.mark.parametrize("args, min_free_mb, fid, severity, fix_fragment", [
    (dict(cgroup=("v1", False)), 1, "memory_cgroup_disabled", "error", "cgroup_enable=memory cgroup_memory=1"),
    (dict(cgroup=("v2", False)), 1, "memory_cgroup_disabled", "error", "/boot/firmware/cmdline.txt"),
    (dict(swap_mb=100, mem_mb=427), 1, "swap_on", "warning", "dphys-swapfile"),
    (dict(), 10 ** 9, "low_disk", "error", "free space on the SD card"),
    (dict(mem_mb=240), 1, "low_memory", "error", "at least 512 MB"),
    (dict(init="init"), 1, "not_systemd", "error", "systemd-based distribution"),
])
def test_preflight_findings(tmp_path, args, min_free_mb, fid, severity, fix_fragment):
    base = dict(HOSTS["pi-zero-w"][0])
    base.update(args)
    facts = NF.gather(root=make_snapshot(tmp_path / "s", **base), min_free_mb=min_free_mb)
    found = [f for f in facts["preflight"] if f["id"] == fid]
    assert len(found) == 1, facts["preflight"]
    assert found[0]["severity"] == severity
    assert fix_fragment in found[0]["fix"]
    assert facts["preflight_blocking"] is (severity == "error")


def test_memory_cgroup_fix_names_the_cmdline_file_that_exists(tmp_path):
    base = dict(HOSTS["pi-zero-w"][0], cgroup=("v1", False))
    root = make_snapshot(tmp_path / "s", **base)
    os.makedirs(os.path.join(root, "boot"))
    open(os.path.join(root, "boot", "cmdline.txt"), "w").close()
    facts = NF.gather(root=root, min_free_mb=1)
    assert "to /boot/cmdline.txt" in [f for f in facts["preflight"] if f["id"] == "memory_cgroup_disabled"][0]["fix"]


# cgroup v1 (legacy, or systemd's hybrid): kubelets since 1.35 refuse it (failCgroupV1), so the preflight blocks
# the host unless multiarch_k8s_allow_cgroup_v1 (the module's allow_cgroup_v1) lets it through with a warning.
@pytest.mark.parametrize("cgroup, allow, severity", [
    (("v1", True), False, "error"),
    (("hybrid", True), False, "error"),
    (("v1", True), True, "warning"),
    (("hybrid", True), True, "warning"),
    (("v2", True), False, None),
    (("v2", True), True, None),
])
def test_cgroup_v1_finding(tmp_path, cgroup, allow, severity):
    base = dict(HOSTS["pi-zero-w"][0], cgroup=cgroup)
    facts = NF.gather(root=make_snapshot(tmp_path / "s", **base), min_free_mb=1, allow_cgroup_v1=allow)
    assert facts["cgroup_version"] == (2 if cgroup[0] == "v2" else 1)
    found = [f for f in facts["preflight"] if f["id"] == "cgroup_v1"]
    if severity is None:
        assert found == [] and facts["preflight_blocking"] is False, facts["preflight"]
        return
    assert len(found) == 1, facts["preflight"]
    assert found[0]["severity"] == severity
    assert facts["preflight_blocking"] is (severity == "error")
    assert found[0]["msg"].startswith("the host runs cgroup v1 (hybrid or legacy)")
    assert "systemd.unified_cgroup_hierarchy=1" in found[0]["fix"]
    if severity == "error":
        assert "refuses to start on it since Kubernetes 1.35" in found[0]["msg"]
        assert "multiarch_k8s_allow_cgroup_v1: true" in found[0]["msg"]
        assert "multiarch_k8s_allow_cgroup_v1: true" in found[0]["fix"]
    else:
        assert "allowed by multiarch_k8s_allow_cgroup_v1" in found[0]["msg"]


def test_cgroup_v1_fix_names_the_cmdline_file_that_exists(tmp_path):
    root = make_snapshot(tmp_path / "s", **dict(HOSTS["pi-zero-w"][0], cgroup=("v1", True)))
    os.makedirs(os.path.join(root, "boot", "firmware"))
    open(os.path.join(root, "boot", "firmware", "cmdline.txt"), "w").close()
    found = [f for f in NF.gather(root=root, min_free_mb=1)["preflight"] if f["id"] == "cgroup_v1"]
    assert "on the kernel command line (/boot/firmware/cmdline.txt, one line)" in found[0]["fix"]


@pytest.mark.parametrize("name, kind, level", [
    ("pi-zero-w", "arm", 6), ("pi-1b-old-kernel", "arm", 6), ("pi-3b-32bit", "arm", 7),
    ("pi-4b-arm64-kernel", "arm", 8), ("pi-5b", "arm", 8), ("x86_64-intel", "x86", None),
    ("ppc64le-power9", "ppc", None), ("s390x-z15", "s390", None), ("riscv64-visionfive2", "riscv", None),
    ("mips64-loongson", None, None),
])
def test_parse_cpuinfo(name, kind, level):
    with open(os.path.join(FIXTURES, "cpuinfo", name + ".txt")) as f:
        info = NF.parse_cpuinfo(f.read())
    assert info["kind"] == kind
    assert info["arm_level"] == level


def test_pin_32bit_on_64bit_userland_names_word_size(tmp_path):
    root = make_snapshot(tmp_path / "s", **HOSTS["pi-4b-64bit"][0])
    with pytest.raises(NF.DetectError, match="linux/arm/v7 pins 32-bit binaries but the userland of this host "
                                             "is 64-bit arm64"):
        NF.gather(root=root, pin="linux/arm/v7")


def test_x86_cpu_model_number_is_not_a_board():
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "cpuinfo", "x86_64-intel.txt")) as f:
        assert NF.parse_cpuinfo(f.read())["board"] is None


# a container given its board's memory (the Pi fleet's nodes), an LXC guest: the cgroup's limit is the RAM the host
# has; no limit, an unlimited one, or one above the machine's RAM leaves /proc/meminfo's figure
@pytest.mark.parametrize("cgroup, rel, text, total, source, limit", [
    (("v2", True), "sys/fs/cgroup/memory.max", "536870912\n", 512, "cgroup", 512),
    (("v2", True), "sys/fs/cgroup/memory.max", "max\n", 4096, "meminfo", None),
    (("v1", True), "sys/fs/cgroup/memory/memory.limit_in_bytes", "1073741824\n", 1024, "cgroup", 1024),
    (("v1", True), "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n", 4096, "meminfo", None),
    (("v2", True), "sys/fs/cgroup/memory.max", "17179869184\n", 4096, "meminfo", 16384),
    (("v2", True), "sys/fs/cgroup/memory.max", "garbage\n", 4096, "meminfo", None),
    (("v2", True), None, None, 4096, "meminfo", None),
])
def test_memory_is_the_cgroup_limit_when_smaller(tmp_path, cgroup, rel, text, total, source, limit):
    base = dict(HOSTS["pi-zero-w"][0])
    base.update(cgroup=cgroup, mem_mb=4096)
    root = make_snapshot(tmp_path / "s", **base)
    if rel:
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "w") as f:
            f.write(text)
    facts = NF.gather(root=root, min_free_mb=1, allow_cgroup_v1=True)
    assert (facts["memory_total_mb"], facts["memory_total_source"], facts["memory_limit_mb"]) == (total, source, limit)
    assert facts["memory_available_mb"] <= total
    small = [f for f in facts["preflight"] if f["id"] == "small_memory"]
    assert bool(small) is (total < 1024), facts["preflight"]


STUB = "# systemd-resolved's stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\n"


@pytest.mark.parametrize("resolv, resolved, path, servers", [
    ("nameserver 192.168.1.1\nnameserver fd00::1\nsearch lan\n", None, "/etc/resolv.conf", ["192.168.1.1", "fd00::1"]),
    # systemd-resolved: its stub in /etc/resolv.conf, the real servers in its own list, which the kubelet gets
    (STUB, "nameserver 192.168.1.1\n", "/run/systemd/resolve/resolv.conf", ["192.168.1.1"]),
    ("nameserver 192.168.1.1\n", "nameserver 10.0.0.1\n", "/run/systemd/resolve/resolv.conf", ["10.0.0.1"]),
])
def test_the_resolv_conf_pods_can_use(tmp_path, resolv, resolved, path, servers):
    facts = NF.gather(root=make_snapshot(tmp_path / "s", resolv=resolv, resolved=resolved, **HOSTS["pi-zero-w"][0]), min_free_mb=1)
    assert (facts["resolv_conf"], facts["nameservers"]) == (path, servers)
    assert "resolv_conf_loopback" not in [f["id"] for f in facts["preflight"]]


@pytest.mark.parametrize("resolv, resolved, said", [
    (STUB, None, "127.0.0.53"),
    (STUB, STUB, "127.0.0.53"),  # resolved without upstream servers of its own
    ("nameserver 127.0.0.1\nnameserver ::1\n", None, "127.0.0.1, ::1"),
    ("nameserver 192.168.1.1\nnameserver 127.0.0.1\n", None, "192.168.1.1, 127.0.0.1"),  # a loop all the same
    ("search lan\n", None, "no nameserver"),
    (None, None, "no nameserver"),
])
def test_only_loopback_resolvers_are_a_finding_naming_them(tmp_path, resolv, resolved, said):
    facts = NF.gather(root=make_snapshot(tmp_path / "s", resolv=resolv, resolved=resolved, **HOSTS["pi-zero-w"][0]), min_free_mb=1)
    assert facts["resolv_conf"] is None
    found = [f for f in facts["preflight"] if f["id"] == "resolv_conf_loopback"]
    assert len(found) == 1 and found[0]["severity"] == "warning", facts["preflight"]
    assert "(/etc/resolv.conf: %s)" % said in found[0]["msg"] and "multiarch_k8s_dns_upstreams" in found[0]["fix"]
