# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Minimal ELF identity reader for nodes. Private to the collection: not a public API.

Node-side: standard library only. It reads a few hundred bytes by seeking (never the
whole file), which is what a 512 MB Pi Zero can afford. The controller verifies
binaries with pyelftools (``_elf.py``); this reader only answers "what userland is this".
"""

from __future__ import annotations

import struct

PT_INTERP = 3
SHT_ARM_ATTRIBUTES = 0x70000003
EF_ARM_ABI_FLOAT_SOFT = 0x200
EF_ARM_ABI_FLOAT_HARD = 0x400
EF_ARM_EABIMASK = 0xFF000000
TAG_CPU_ARCH = 6

_MAX_ATTR_SECTION = 1 << 16
_MAX_SECTIONS = 1 << 12


class ElfError(ValueError):
    """Not an ELF file, or one this reader cannot make sense of."""


class ElfIdentity(object):
    """What the header of one ELF file says."""

    __slots__ = ("elf_class", "data", "machine", "flags", "interp", "arm_cpu_arch", "path")

    def __init__(self, path, elf_class, data, machine, flags, interp, arm_cpu_arch):
        self.path = path
        self.elf_class = elf_class
        self.data = data
        self.machine = machine
        self.flags = flags
        self.interp = interp
        self.arm_cpu_arch = arm_cpu_arch

    @property
    def arm_hard_float(self):
        """For ARM: True if hard-float EABI (armhf), False if soft-float (armel)."""
        if self.flags & EF_ARM_ABI_FLOAT_HARD:
            return True
        if self.flags & EF_ARM_ABI_FLOAT_SOFT:
            return False
        return bool(self.interp and "armhf" in self.interp)


def _read_at(f, offset, size):
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:
        raise ElfError("truncated ELF file (wanted %d bytes at offset %d)" % (size, offset))
    return data


def _uleb128(buf, pos):
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ElfError("truncated ULEB128 in ARM attributes")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def parse_arm_attributes(buf):
    """Return ``Tag_CPU_arch`` from an ``.ARM.attributes`` section body, or None."""
    if not buf or buf[0:1] != b"A":
        return None
    pos = 1
    while pos + 4 <= len(buf):
        (sub_len,) = struct.unpack_from("<I", buf, pos)
        if sub_len < 5 or pos + sub_len > len(buf):
            return None
        end = pos + sub_len
        name_end = buf.find(b"\0", pos + 4, end)
        if name_end < 0:
            return None
        vendor = buf[pos + 4:name_end]
        p = name_end + 1
        if vendor == b"aeabi":
            while p + 5 <= end:
                tag = buf[p]
                (size,) = struct.unpack_from("<I", buf, p + 1)
                if size < 5 or p + size > end:
                    return None
                if tag == 1:  # Tag_File: attributes of the whole file
                    q, sub_end = p + 5, p + size
                    while q < sub_end:
                        attr, q = _uleb128(buf, q)
                        if attr == TAG_CPU_ARCH:
                            value, q = _uleb128(buf, q)
                            return value
                        if attr in (4, 5, 67) or (attr > 32 and attr % 2 == 1):
                            nul = buf.find(b"\0", q, sub_end)
                            if nul < 0:
                                return None
                            q = nul + 1
                        elif attr == 32:  # Tag_compatibility: ULEB flag + NTBS
                            _ignored, q = _uleb128(buf, q)
                            nul = buf.find(b"\0", q, sub_end)
                            if nul < 0:
                                return None
                            q = nul + 1
                        else:
                            _ignored, q = _uleb128(buf, q)
                p += size
        pos = end
    return None


def read_identity(path):
    """Read the ELF identity of ``path`` (already resolved to a regular file)."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if len(ident) < 16 or ident[:4] != b"\x7fELF":
            raise ElfError("%s is not an ELF file" % path)
        if ident[4] not in (1, 2) or ident[5] not in (1, 2):
            raise ElfError("%s has an invalid ELF class or byte order" % path)
        elf_class = 32 if ident[4] == 1 else 64
        data = "little" if ident[5] == 1 else "big"
        e = "<" if data == "little" else ">"
        if elf_class == 32:
            hdr = _read_at(f, 16, 36)
            (_type, machine, _ver, _entry, phoff, shoff, flags, _ehsize, phentsize, phnum,
             shentsize, shnum, shstrndx) = struct.unpack(e + "HHIIIIIHHHHHH", hdr)
        else:
            hdr = _read_at(f, 16, 48)
            (_type, machine, _ver, _entry, phoff, shoff, flags, _ehsize, phentsize, phnum,
             shentsize, shnum, shstrndx) = struct.unpack(e + "HHIQQQIHHHHHH", hdr)

        interp = None
        for i in range(min(phnum, 256)):
            off = phoff + i * phentsize
            if elf_class == 32:
                p_type, p_offset, _va, _pa, p_filesz = struct.unpack(e + "IIIII", _read_at(f, off, 20))
            else:
                p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack(
                    e + "IIQQQQ", _read_at(f, off, 40))
            if p_type == PT_INTERP and 0 < p_filesz < 4096:
                interp = _read_at(f, p_offset, p_filesz).rstrip(b"\0").decode("ascii", "replace")

        arm_cpu_arch = None
        if machine == 40 and shoff and 0 < shnum < _MAX_SECTIONS:
            for i in range(shnum):
                off = shoff + i * shentsize
                if elf_class == 32:
                    (_name, sh_type, _fl, _addr, sh_offset, sh_size) = struct.unpack(
                        e + "IIIIII", _read_at(f, off, 24))
                else:
                    (_name, sh_type, _fl, _addr, sh_offset, sh_size) = struct.unpack(
                        e + "IIQQQQ", _read_at(f, off, 40))
                if sh_type == SHT_ARM_ATTRIBUTES and 0 < sh_size <= _MAX_ATTR_SECTION:
                    arm_cpu_arch = parse_arm_attributes(_read_at(f, sh_offset, sh_size))
                    break
        return ElfIdentity(path, elf_class, data, machine, flags, interp, arm_cpu_arch)
