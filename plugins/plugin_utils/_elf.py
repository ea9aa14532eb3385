# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Binary verification on the controller with pyelftools. Private to the collection.

Controller-side only (pyelftools is a controller dependency). ``inspect`` says what a binary
is; ``problems`` lists, in sentences, why it does not fit a platform slot.
"""

from __future__ import annotations

import re

from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P
from ansible_collections.multiarch.k8s.plugins.plugin_utils._deps import require_elftools

_GO_BUILDINFO_MAGIC = b"\xff Go buildinf:"
_MACHINES = {"EM_386": P.EM_386, "EM_PPC64": P.EM_PPC64, "EM_S390": P.EM_S390, "EM_ARM": P.EM_ARM,
             "EM_X86_64": P.EM_X86_64, "EM_AARCH64": P.EM_AARCH64, "EM_RISCV": P.EM_RISCV}


class NotElf(Exception):
    pass


def _uvarint(buf, pos):
    result = shift = 0
    while pos < len(buf):
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
    raise ValueError("truncated varint")


def go_build_info(data):
    """Parse a ``.go.buildinfo`` section (Go 1.18+ inline format); return a dict or None."""
    if not data or not data.startswith(_GO_BUILDINFO_MAGIC) or len(data) < 32:
        return None
    flags = data[15]
    if not flags & 0x2:
        return {"go_version": None, "settings": {}}  # pre-1.18 pointer format: not read
    try:
        n, pos = _uvarint(data, 32)
        version = data[pos:pos + n].decode("utf-8", "replace")
        pos += n
        n, pos = _uvarint(data, pos)
        modinfo = data[pos:pos + n].decode("utf-8", "replace")
    except ValueError:
        return None
    settings = {}
    for line in modinfo.splitlines():
        m = re.match(r"^build\t([A-Za-z0-9_.-]+)=(.*)$", line)
        if m:
            settings[m.group(1)] = m.group(2).strip('"')
    return {"go_version": version, "settings": settings}


def inspect(path):
    """What ``path`` is: class, byte order, machine, static/stripped, ARM arch, Go build info."""
    elftools = require_elftools()
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            raise NotElf("%s is not an ELF file" % path)
        f.seek(0)
        try:
            elf = elftools.ELFFile(f)
        except elftools.ELFError as e:
            raise NotElf("%s is not a valid ELF file: %s" % (path, e))
        info = {
            "elf_class": elf.elfclass,
            "data": "little" if elf.little_endian else "big",
            "machine": _MACHINES.get(elf["e_machine"], elf["e_machine"]),
            "machine_name": elf["e_machine"],
            "interp": None,
            "needed": [],
            "stripped": True,
            "arm_cpu_arch": None,
            "go": None,
        }
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_INTERP":
                info["interp"] = seg.get_interp_name()
        for sec in elf.iter_sections():
            if sec["sh_type"] == "SHT_SYMTAB":
                info["stripped"] = False
            elif sec["sh_type"] == "SHT_DYNAMIC":
                for tag in sec.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        info["needed"].append(tag.needed)
            elif sec["sh_type"] == "SHT_ARM_ATTRIBUTES":
                for sub in sec.iter_subsections():
                    for subsub in sub.iter_subsubsections():
                        for attr in subsub.iter_attributes():
                            if attr.tag == "TAG_CPU_ARCH" and info["arm_cpu_arch"] is None:
                                info["arm_cpu_arch"] = attr.value
            elif sec.name == ".go.buildinfo":
                info["go"] = go_build_info(sec.data()[:65536])
        info["static"] = info["interp"] is None and not info["needed"]
        return info


def describe(info):
    name = P.ELF_MACHINE_NAMES.get(info["machine"], str(info["machine_name"]))
    linking = "static" if info["static"] else "dynamic"
    text = "ELF%d %s-endian %s, %s" % (info["elf_class"], info["data"], name, linking)
    if info["arm_cpu_arch"] is not None:
        text += ", ARM %s" % P.ARM_CPU_ARCH_NAMES.get(info["arm_cpu_arch"], info["arm_cpu_arch"])
    go = (info.get("go") or {}).get("settings") or {}
    if go.get("GOARM"):
        text += ", GOARM=%s" % go["GOARM"]
    return text


def problems(name, info, platform, require_static=True, require_stripped=False):
    """Sentences saying why binary ``name`` (inspected as ``info``) does not fit ``platform``."""
    found = []
    what = describe(info)
    if (info["machine"], info["elf_class"], info["data"]) != \
            (platform.elf_machine, platform.elf_class, platform.elf_data):
        found.append("%s is %s, not a %s binary" % (name, what, platform.oci))
        return found
    if require_static and not info["static"]:
        detail = []
        if info["interp"]:
            detail.append("interpreter %s" % info["interp"])
        if info["needed"]:
            detail.append("needs %s" % ", ".join(info["needed"]))
        found.append("%s is dynamically linked (%s) but static binaries were claimed"
                     % (name, "; ".join(detail)))
    if require_stripped and not info["stripped"]:
        found.append("%s has a symbol table but stripped binaries were claimed" % name)
    if platform.elf_machine == P.EM_ARM:
        tag = info["arm_cpu_arch"]
        if tag is not None and not P.arm_variant_allows(platform, tag):
            found.append("%s is built for ARM %s, which a %s CPU cannot run (it would die with SIGILL)"
                         % (name, P.ARM_CPU_ARCH_NAMES.get(tag, tag), platform.oci))
        goarm = ((info.get("go") or {}).get("settings") or {}).get("GOARM")
        if goarm:
            try:
                level = int(goarm.split(",")[0])
            except ValueError:
                level = None
            if level is None or level > int(platform.goarm):
                found.append("%s is a Go build with GOARM=%s, which a %s CPU cannot run"
                             % (name, goarm, platform.oci))
    return found
