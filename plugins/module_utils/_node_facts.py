# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Platform detection and preflight findings for one node. Private to the collection.

Node-side: standard library and the collection's node-side module_utils only.

The architecture and word size come from the *userland* (the ELF header of ``/bin/sh``):
that is what the distribution's container runtime on the host is built for. The ARM
variant comes from what the *CPU* can run (the binaries are static): ``/proc/cpuinfo``
when it describes an ARM CPU, else the kernel machine name, with the userland's own
build attributes as a lower bound.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys

from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P
from ansible_collections.multiarch.k8s.plugins.module_utils._elfhdr import ElfError, read_identity
from ansible_collections.multiarch.k8s.plugins.module_utils._paths import DEFAULT_PREFIX

# ARM Ltd. (implementer 0x41) ARM11 parts: ARMv6 cores whose kernel still prints
# "CPU architecture: 7" in /proc/cpuinfo.
ARM11_PARTS = {
    "0xb36": "ARM1136",
    "0xb56": "ARM1156",
    "0xb76": "ARM1176",
    "0xb02": "ARM11 MPCore",
}
ARM_PARTS = dict(ARM11_PARTS, **{
    "0xc07": "Cortex-A7", "0xc08": "Cortex-A8", "0xc09": "Cortex-A9", "0xc0f": "Cortex-A15",
    "0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0b": "Cortex-A76",
})

_UNAME_ARM_LEVEL = P.UNAME_ARM_LEVEL

_MAX_SYMLINKS = 40
_MAX_TEXT = 1 << 20

SEVERITIES = ("error", "warning", "info")


class DetectError(Exception):
    """The host cannot be classified, or a pin contradicts it. The message says why."""


def finding(fid, severity, msg, fix=None):
    return {"id": fid, "severity": severity, "msg": msg, "fix": fix}


class HostView(object):
    """Reads the host's files, either the live system (root ``/``) or a snapshot directory."""

    def __init__(self, root="/"):
        self.root = os.path.abspath(root or "/")
        self.live = self.root == "/"

    def path(self, rel):
        return os.path.join(self.root, rel.lstrip("/"))

    def read_text(self, rel):
        """Text of ``rel`` under the root, or None if it is missing or unreadable."""
        try:
            with open(self.path(rel), "rb") as f:
                return f.read(_MAX_TEXT).decode("utf-8", "replace")
        except (IOError, OSError):
            return None

    def resolve(self, rel):
        """Resolve ``rel`` inside the root: absolute symlinks point into the root, not the host."""
        parts = [p for p in rel.strip("/").split("/") if p]
        resolved = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = os.path.join(self.root, *(resolved + [part]))
            if os.path.islink(candidate):
                hops += 1
                if hops > _MAX_SYMLINKS:
                    raise OSError("too many levels of symbolic links under %s" % rel)
                target = os.readlink(candidate)
                if target.startswith("/"):
                    resolved = []
                parts = [p for p in target.split("/") if p] + parts
            else:
                resolved.append(part)
        return os.path.join(self.root, *resolved), "/" + "/".join(resolved)

    def kernel_machine(self):
        if self.live:
            return os.uname()[4]
        text = self.read_text("proc/sys/kernel/arch")
        return text.strip() if text else None


def parse_cpuinfo(text):
    """Summarise /proc/cpuinfo: which kind of CPU it describes and, for ARM, its level."""
    info = {"kind": None, "model": None, "arm_level": None, "arm_reason": None,
            "board": None, "count": 0}
    if not text:
        return info
    fields = {}
    parts = []
    implementers = []
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, _sep, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "processor" and re.match(r"^\d+$", value):
            info["count"] += 1
        if key == "cpu part":
            parts.append(value.lower())
        elif key == "cpu implementer":
            implementers.append(value.lower())
        fields.setdefault(key, value)
    model_name = fields.get("model name") or fields.get("processor", "")
    if re.match(r"^\d+$", model_name):
        model_name = ""
    # a Raspberry Pi's "Model : Raspberry Pi 3 Model B"; x86's "model : 17" is a CPU model number
    board = fields.get("model")
    info["board"] = None if not board or re.match(r"^\d+$", board) else board
    if fields.get("vendor_id", "").startswith(("GenuineIntel", "AuthenticAMD", "HygonGenuine",
                                               "CentaurHauls", "Shanghai")) or "flags" in fields:
        info["kind"] = "x86"
        info["model"] = model_name or fields.get("vendor_id")
    elif "cpu architecture" in fields or "cpu implementer" in fields:
        arch = fields.get("cpu architecture", "")
        part = parts[0] if parts else None
        if "0x41" in implementers and any(p in ARM11_PARTS for p in parts):
            name = ARM11_PARTS[next(p for p in parts if p in ARM11_PARTS)]
            info["arm_level"] = 6
            info["arm_reason"] = ("cpuinfo: CPU part %s (%s) is ARMv6 although the kernel prints "
                                  "'CPU architecture: %s'" % (part, name, arch or "?"))
        elif re.search(r"\(v6l\)", model_name):
            info["arm_level"] = 6
            info["arm_reason"] = "cpuinfo: model name %r" % model_name
        elif re.search(r"\(v5[a-z]*\)", model_name) or arch.startswith("5"):
            info["arm_level"] = 5
            info["arm_reason"] = "cpuinfo: %r" % (model_name or "CPU architecture: " + arch)
        elif arch.startswith("8") or re.search(r"\(v8l\)", model_name) or arch.lower() == "aarch64":
            info["arm_level"] = 8
            info["arm_reason"] = "cpuinfo: CPU architecture %s%s" % (
                arch or "8", " (%s)" % ARM_PARTS[part] if part in ARM_PARTS else "")
        elif arch.startswith("7"):
            info["arm_level"] = 7
            info["arm_reason"] = "cpuinfo: CPU architecture 7%s" % (
                " (%s)" % ARM_PARTS[part] if part in ARM_PARTS else "")
        info["kind"] = "arm"
        if model_name:
            info["model"] = model_name
        elif part in ARM_PARTS:
            info["model"] = ARM_PARTS[part]
        else:
            info["model"] = "ARM CPU part %s" % (part or "unknown")
    elif "isa" in fields and fields["isa"].startswith("rv"):
        info["kind"] = "riscv"
        info["model"] = fields.get("uarch") or fields["isa"]
    elif fields.get("vendor_id", "").startswith("IBM/S390"):
        info["kind"] = "s390"
        info["model"] = fields.get("machine") or "IBM/S390"
    elif "cpu" in fields and ("power" in fields["cpu"].lower() or "pvr" in fields.get("revision", "")):
        info["kind"] = "ppc"
        info["model"] = fields["cpu"]
    return info


def _userland(view):
    """ELF identity of the userland: /bin/sh, else (live host only) the running Python."""
    tried = []
    candidates = ["bin/sh"]
    if view.live:
        candidates.append(sys.executable)
    for rel in candidates:
        try:
            real, shown = view.resolve(rel)
            return read_identity(real), ("/" + rel.lstrip("/")), shown
        except (OSError, IOError, ElfError) as e:
            tried.append("/%s: %s" % (rel.lstrip("/"), getattr(e, "strerror", None) or e))
    raise DetectError("cannot read the userland's ELF header (%s); the platform cannot be "
                      "decided without it" % "; ".join(tried))


def _describe_elf(ident, debian_arch):
    name = P.ELF_MACHINE_NAMES.get(ident.machine, "e_machine %d" % ident.machine)
    extra = ""
    if ident.machine == P.EM_ARM:
        extra = " %s-float" % ("hard" if ident.arm_hard_float else "soft")
        if ident.arm_cpu_arch is not None:
            extra += " built for %s" % P.ARM_CPU_ARCH_NAMES.get(ident.arm_cpu_arch, ident.arm_cpu_arch)
    return "ELF%d %s%s (%s)" % (ident.elf_class, name, extra, debian_arch)


def _mem(view):
    text = view.read_text("proc/meminfo")
    if not text:
        return None, None, None
    values = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+):\s+(\d+)\s*kB", line)
        if m:
            values[m.group(1)] = int(m.group(2)) // 1024
    return values.get("MemTotal"), values.get("MemAvailable"), values.get("SwapTotal")


# above this a cgroup v1 memory.limit_in_bytes means "no limit" (the kernel's unlimited value, page-rounded)
_V1_UNLIMITED = 1 << 62


def _mem_limit(view):
    """The memory limit of the cgroup the host's processes run in, in MB, as seen from inside: memory.max (cgroup
    v2) or memory/memory.limit_in_bytes (v1) at the root of the cgroup mount. None when there is none (a Pi: the
    root cgroup has no limit) or it cannot be read. A container, an LXC guest or a systemd slice with a limit
    shows its own limit there when it has its own cgroup namespace."""
    for rel, unlimited in (("sys/fs/cgroup/memory.max", "max"), ("sys/fs/cgroup/memory/memory.limit_in_bytes", None)):
        text = (view.read_text(rel) or "").strip()
        if not text or text == unlimited:
            continue
        try:
            value = int(text)
        except ValueError:
            continue
        if value > 0 and value < _V1_UNLIMITED:
            return value // (1024 * 1024)
    return None


def _swap_active(view):
    text = view.read_text("proc/swaps")
    if text is None:
        return None
    return len([ln for ln in text.splitlines()[1:] if ln.strip()]) > 0


# where a host lists its DNS resolvers, in the order the kubelet's resolvConf takes them: systemd-resolved's list of
# the real upstream servers first (its /etc/resolv.conf names only its stub on 127.0.0.53), then /etc/resolv.conf
RESOLV_CONF = ("run/systemd/resolve/resolv.conf", "etc/resolv.conf")


def _nameservers(text):
    return [ln.split()[1] for ln in (text or "").splitlines() if ln.split()[:1] == ["nameserver"] and len(ln.split()) > 1]


def _is_loopback(address):
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def _resolv_conf(view):
    """(path, nameservers) of the first resolv.conf with resolvers a pod can use (none on loopback), else (None, the
    nameservers of /etc/resolv.conf): a pod given loopback resolvers asks itself, and CoreDNS forwarding there loops."""
    for rel in RESOLV_CONF:
        servers = _nameservers(view.read_text(rel))
        if servers and not any(_is_loopback(s) for s in servers):
            return "/" + rel, servers
    return None, _nameservers(view.read_text("etc/resolv.conf"))


def _cgroups(view):
    controllers = view.read_text("sys/fs/cgroup/cgroup.controllers")
    if controllers is not None:
        return 2, "memory" in controllers.split()
    text = view.read_text("proc/cgroups")
    if text is None:
        return None, None
    for line in text.splitlines():
        cols = line.split()
        if len(cols) >= 4 and cols[0] == "memory":
            return 1, cols[3] == "1"
    return 1, False


def _free_mb(view, install_dir):
    path = view.path(install_dir)
    while path and not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize // (1024 * 1024)


def _cmdline_path(view):
    for rel in ("boot/firmware/cmdline.txt", "boot/cmdline.txt"):
        if os.path.exists(view.path(rel)):
            return "/" + rel
    return None


def _cmdline_hint(view):
    """Where the kernel command line of a Raspberry Pi is, when the host has one (in words), else nothing."""
    where = _cmdline_path(view)
    return " (%s, one line)" % where if where else ""


def _board(view, cpu):
    text = view.read_text("proc/device-tree/model")
    if text:
        return text.replace("\0", "").strip(), "device-tree"
    if cpu.get("board"):
        return cpu["board"], "cpuinfo"
    text = view.read_text("sys/class/dmi/id/product_name")
    if text and text.strip():
        return text.strip(), "dmi"
    return None, None


def detect_platform(view, cpu):
    """Return (platform, reason, confidence, evidence) for this host; raise DetectError."""
    ident, rel, shown = _userland(view)
    try:
        family = P.family_by_elf(ident.machine, ident.elf_class, ident.data)
        debian_arch = P.debian_arch_by_elf(ident.machine, ident.elf_class, ident.data,
                                           ident.arm_hard_float)
    except P.PlatformError as e:
        raise DetectError("unsupported host (kernel %s): its userland %s is %s"
                          % (view.kernel_machine() or "unknown", shown, e))
    kmachine = view.kernel_machine()
    elf_text = _describe_elf(ident, debian_arch)
    evidence = {"userland_arch": debian_arch, "userland_elf": "%s -> %s: %s" % (rel, shown, elf_text),
                "kernel_machine": kmachine, "userland_arm_cpu_arch": None, "cpu_emulated": False}
    confidence = "high"
    notes = []
    userland_kind = P.cpu_family_by_elf(ident.machine)
    if cpu["kind"] is None:
        confidence = "medium"
        notes.append("/proc/cpuinfo unreadable or not understood")
    elif cpu["kind"] != userland_kind:
        evidence["cpu_emulated"] = True
        confidence = "medium"
        notes.append("cpuinfo describes a CPU of another kind (%s): the userland runs under emulation"
                     % cpu["kind"])
    if kmachine is None:
        confidence = "medium" if confidence == "high" else "low"
        notes.append("kernel machine unknown")

    if ident.machine != P.EM_ARM:
        platform = family[0]
        if kmachine and kmachine not in platform.uname_machines and not (
                platform.oci == "linux/386" and kmachine == "x86_64"):
            notes.append("kernel machine %s differs from the userland" % kmachine)
        reason = "userland %s, kernel %s -> %s" % (debian_arch, kmachine or "unknown", platform.oci)
    else:
        level, level_reason = None, None
        if cpu["kind"] == "arm" and cpu["arm_level"]:
            level, level_reason = cpu["arm_level"], cpu["arm_reason"]
            klevel = _UNAME_ARM_LEVEL.get(kmachine or "")
            if klevel and klevel != level and not (klevel >= 7 and level >= 7):
                notes.append("kernel machine %s disagrees; cpuinfo decides" % kmachine)
        elif kmachine in _UNAME_ARM_LEVEL:
            level = _UNAME_ARM_LEVEL[kmachine]
            level_reason = "kernel machine %s" % kmachine
            if cpu["kind"] == "arm":
                confidence = "medium"
        tag = ident.arm_cpu_arch
        if tag is not None:
            evidence["userland_arm_cpu_arch"] = P.ARM_CPU_ARCH_NAMES.get(tag, str(tag))
            needs = P.arm_variant_for_cpu_arch(tag)
            if needs is None:
                raise DetectError("the userland %s is built for ARM %s, which no 32-bit ARM platform "
                                  "of this collection runs" % (shown, P.ARM_CPU_ARCH_NAMES.get(tag, tag)))
            if level is None:
                level = needs.rank
                level_reason = "userland built for %s (a lower bound)" % P.ARM_CPU_ARCH_NAMES.get(tag, tag)
                confidence = "low"
            elif needs.rank > min(level, 7):
                raise DetectError(
                    "contradictory evidence: %s says the CPU runs ARMv%d code, but the userland %s is "
                    "built for %s and could not run there; check the snapshot or pin the platform"
                    % (level_reason, level, shown, P.ARM_CPU_ARCH_NAMES.get(tag, tag)))
        if level is None:
            raise DetectError("cannot tell which ARM variant this CPU runs: /proc/cpuinfo does not "
                              "describe an ARM CPU and the kernel machine is %r" % (kmachine,))
        platform = P.arm32_for_level(level)
        reason = "kernel %s, userland %s (32-bit), CPU: %s -> %s" % (
            kmachine or "unknown", debian_arch, level_reason, platform.oci)
    if notes:
        reason += " [%s]" % "; ".join(notes)
    return platform, reason, confidence, evidence


def apply_pin(detected, pin, force, evidence):
    """Check a pinned platform against the detected one; return (platform, finding or None)."""
    try:
        pinned = P.by_oci(pin)
    except P.PlatformError as e:
        raise DetectError("multiarch_k8s_platform: %s" % e)
    if pinned == detected:
        return pinned, None
    problem = None
    if pinned.family != detected.family:
        if pinned.elf_class != detected.elf_class and pinned.cpu_family == detected.cpu_family:
            problem = ("%s pins %d-bit binaries but the userland of this host is %d-bit %s; they would "
                       "not match its container runtime" % (pinned.oci, pinned.elf_class,
                                                            detected.elf_class, evidence["userland_arch"]))
        else:
            problem = ("%s binaries do not run on this host, which is %s (userland %s)"
                       % (pinned.oci, detected.oci, evidence["userland_arch"]))
    elif not detected.can_run(pinned):
        problem = ("%s needs a newer CPU than this host's (%s): its code would die with SIGILL here"
                   % (pinned.oci, detected.oci))
    if problem is None:
        return pinned, finding("platform_pinned_lower", "info",
                               "platform pinned to %s on a %s host (a lower variant runs)"
                               % (pinned.oci, detected.oci))
    if not force:
        raise DetectError("multiarch_k8s_platform=%s contradicts the host: %s; pin %s or set "
                          "force to override" % (pinned.oci, problem, detected.oci))
    return pinned, finding("platform_pin_forced", "warning",
                           "platform forced to %s against the evidence: %s" % (pinned.oci, problem))


def gather(root="/", install_dir=DEFAULT_PREFIX, min_free_mb=300, pin=None, force=False, allow_cgroup_v1=False):
    """All facts of one host; raises DetectError when the platform cannot be decided.

    A cgroup v1 host is an error finding (the kubelet refuses it since Kubernetes 1.35) unless
    ``allow_cgroup_v1`` says the kubelet is told to accept it; then it is a warning.
    """
    view = HostView(root)
    cpu_text = view.read_text("proc/cpuinfo")
    cpu = parse_cpuinfo(cpu_text)
    findings = []
    detected, reason, confidence, evidence = detect_platform(view, cpu)
    platform = detected
    if pin:
        platform, pin_finding = apply_pin(detected, pin, force, evidence)
        if pin_finding:
            findings.append(pin_finding)
        reason = "pinned by multiarch_k8s_platform=%s (detected: %s)" % (platform.oci, reason)

    mem_total, mem_avail, swap_total = _mem(view)
    mem_limit = _mem_limit(view)
    # the machine's RAM is what /proc/meminfo says unless the host's cgroup allows less (a board emulated in a
    # container given its board's memory, an LXC guest): then the limit is the memory the kubelet really has
    mem_source = "meminfo" if mem_total is not None else None
    if mem_limit is not None and (mem_total is None or mem_limit < mem_total):
        mem_total, mem_source = mem_limit, "cgroup"
        mem_avail = min(mem_avail, mem_limit) if mem_avail is not None else None
    swap_on = _swap_active(view)
    cg_version, mem_cgroup = _cgroups(view)
    free = _free_mb(view, install_dir)
    init = (view.read_text("proc/1/comm") or "").strip() or None
    board, board_source = _board(view, cpu)
    resolv_conf, nameservers = _resolv_conf(view)

    if cpu_text is None:
        findings.append(finding("cpuinfo_unreadable", "warning",
                                "/proc/cpuinfo could not be read: the ARM variant was decided from "
                                "weaker evidence (%s)" % confidence,
                                "make /proc/cpuinfo readable, or pin multiarch_k8s_platform"))
    if evidence["cpu_emulated"]:
        findings.append(finding("cpu_emulated", "info",
                                "the userland (%s) runs under emulation on a %s CPU"
                                % (evidence["userland_arch"], cpu["kind"])))
    if mem_cgroup is False:
        where = _cmdline_path(view) or "/boot/firmware/cmdline.txt"
        findings.append(finding("memory_cgroup_disabled", "error",
                                "the memory cgroup controller is disabled: the kubelet will not start",
                                "add cgroup_enable=memory cgroup_memory=1 to %s (one line) and reboot"
                                % where))
    if cg_version == 1:
        boot_v2 = ("boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line%s and reboot, or move "
                   "to a current OS (Raspberry Pi OS Bookworm or later and Debian 11 or later run cgroup v2)"
                   % _cmdline_hint(view))
        if allow_cgroup_v1:
            findings.append(finding("cgroup_v1", "warning",
                                    "the host runs cgroup v1 (hybrid or legacy), allowed by "
                                    "multiarch_k8s_allow_cgroup_v1: the kubelet is told failCgroupV1: false; "
                                    "the kubelet and containerd have deprecated cgroup v1",
                                    boot_v2 + ", then drop multiarch_k8s_allow_cgroup_v1"))
        else:
            findings.append(finding("cgroup_v1", "error",
                                    "the host runs cgroup v1 (hybrid or legacy): the kubelet refuses to start on "
                                    "it since Kubernetes 1.35 (failCgroupV1); boot it with cgroup v2, or set "
                                    "multiarch_k8s_allow_cgroup_v1: true for it",
                                    boot_v2 + "; or set multiarch_k8s_allow_cgroup_v1: true for this host"))
    if swap_on:
        findings.append(finding("swap_on", "warning",
                                "swap is on (%s MB): the kubelet refuses to start with swap unless "
                                "failSwapOn is false" % (swap_total if swap_total is not None else "?"),
                                "swapoff -a and disable it for good (Raspberry Pi OS: dphys-swapfile "
                                "swapoff && systemctl disable dphys-swapfile), or set kubelet_fail_swap_on: false"))
    if free is not None and free < min_free_mb:
        findings.append(finding("low_disk", "error",
                                "only %d MB free at %s, %d MB needed for the binaries and two releases"
                                % (free, install_dir, min_free_mb),
                                "free space on the SD card or set multiarch_k8s_prefix to a directory on a bigger disk"))
    if mem_total is not None and mem_total < 300:
        findings.append(finding("low_memory", "error",
                                "%d MB of RAM is below the 300 MB a kubelet and kube-proxy need" % mem_total,
                                "use a board with at least 512 MB of RAM"))
    elif mem_total is not None and mem_total < 1024:
        findings.append(finding("small_memory", "info",
                                "%d MB of RAM: kubelet reservations and eviction thresholds are sized "
                                "for a small node and few pods" % mem_total))
    if resolv_conf is None:
        findings.append(finding("resolv_conf_loopback", "warning",
                                "no resolv.conf of the host lists a resolver off loopback (/etc/resolv.conf: %s): pods "
                                "given these ask themselves, and the cluster DNS forwarding to them would loop"
                                % (", ".join(nameservers) or "no nameserver"),
                                "set multiarch_k8s_dns_upstreams to your network's resolvers (the router's address); "
                                "site.yml refuses the host without them"))
    if init is not None and init != "systemd":
        findings.append(finding("not_systemd", "error",
                                "PID 1 is %s, not systemd: the roles install systemd services" % init,
                                "use a systemd-based distribution (Raspberry Pi OS, Debian, Ubuntu)"))

    facts = {
        "platform": platform.oci,
        "platform_label": platform.label,
        "platform_detected": detected.oci,
        "platform_pinned": bool(pin),
        "platform_reason": reason,
        "platform_confidence": confidence,
        "goarch": platform.goarch,
        "goarm": platform.goarm,
        "debian_arch": platform.debian_arch,
        "kernel_machine": evidence["kernel_machine"],
        "userland_arch": evidence["userland_arch"],
        "userland_elf": evidence["userland_elf"],
        "userland_arm_cpu_arch": evidence["userland_arm_cpu_arch"],
        "cpu_model": cpu["model"],
        "cpu_count": cpu["count"] or None,
        "cpu_emulated": evidence["cpu_emulated"],
        "board_model": board,
        "board_model_source": board_source,
        "memory_total_mb": mem_total,
        "memory_total_source": mem_source,
        "memory_limit_mb": mem_limit,
        "memory_available_mb": mem_avail,
        "swap_total_mb": swap_total,
        "swap_active": swap_on,
        "install_dir": install_dir,
        "install_dir_free_mb": free,
        "cgroup_version": cg_version,
        "memory_cgroup": mem_cgroup,
        "init_system": init,
        "resolv_conf": resolv_conf,
        "nameservers": nameservers,
        "python_version": "%d.%d.%d" % sys.version_info[:3],
        "root": view.root,
        "preflight": findings,
        "preflight_blocking": any(f["severity"] == "error" for f in findings),
    }
    return facts
