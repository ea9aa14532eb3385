# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Holder image layouts: what is taken out of the layers, and how. Private to the collection.

Two layouts are read. The seed recipe's: an Alpine-based, multi-layer image with the binaries
in ``/k8s-bins/<name>`` and ``/cni-plugin-bins/<name>``. This collection's own: ``FROM scratch``,
the same folders and ``/container-runtime-bins/<name>`` (containerd, its shim, runc), plus ``/multiarch-k8s/holder.json`` with each binary's sha256, version,
GOARCH/GOARM and static/stripped flags.

Extraction is an allow-list: only regular files directly under those folders (and the metadata
file) are taken; everything else in the layers is read past. Layers are applied in order with
whiteouts honoured. Anything hostile (``..``, absolute names, links, devices, FIFOs,
setuid/setgid, a layer that decompresses past a limit) stops the pull with a sentence naming it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile

from ansible_collections.multiarch.k8s.plugins.module_utils._components import CNI_FOLDER, K8S_FOLDER, RUNTIME_FOLDER
from ansible_collections.multiarch.k8s.plugins.module_utils._gzip import gzip_reader

FOLDERS = (K8S_FOLDER, CNI_FOLDER, RUNTIME_FOLDER)
METADATA = "multiarch-k8s/holder.json"
METADATA_SCHEMA = 1
_CHUNK = 1 << 16


class HolderError(Exception):
    """An image whose content cannot be taken; the message names the layer and the entry."""


class _Limited(io.RawIOBase):
    """A reader that refuses to go past ``limit`` bytes of decompressed data."""

    def __init__(self, raw, limit, what):
        super().__init__()
        self.raw = raw
        self.limit = limit
        self.what = what
        self.count = 0

    def readable(self):
        return True

    def readinto(self, b):
        data = self.raw.read(len(b))
        self.count += len(data)
        if self.count > self.limit:
            raise HolderError("%s decompresses past the limit of %d MB (a decompression bomb?); raise "
                              "max_layer_mb if the image is genuine" % (self.what, self.limit >> 20))
        b[:len(data)] = data
        return len(data)


def _normalize(name, what):
    if name.startswith("/"):
        raise HolderError("%s has an entry with an absolute path: %s" % (what, name))
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise HolderError("%s has an entry that climbs out of the image with '..': %s" % (what, name))
    return "/".join(parts)


def _taken(path):
    """True if ``path`` is one the allow-list takes: a file directly in a binary folder, or metadata."""
    if path == METADATA:
        return True
    folder, _sep, rest = path.partition("/")
    return folder in FOLDERS and bool(rest)


def _kind(member):
    if member.issym():
        return "a symbolic link to %s" % member.linkname
    if member.islnk():
        return "a hard link to %s" % member.linkname
    if member.ischr() or member.isblk():
        return "a device node"
    if member.isfifo():
        return "a FIFO"
    return "not a regular file"


class Extraction(object):
    """Files taken from the layers so far: path -> dict(tmp, sha256, size)."""

    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.files = {}

    def _drop(self, prefix):
        for path in [p for p in self.files if p == prefix or p.startswith(prefix + "/")]:
            os.unlink(self.files.pop(path)["tmp"])

    def apply_layer(self, raw, compression, what, max_bytes, wanted=None):
        """Apply one layer, read from the binary stream ``raw``, over what earlier layers gave.

        The stream may still be downloading: the caller checks the blob's digest when it ends and
        discards the extraction if it does not match; nothing leaves the temp directory before.
        """
        reader, bad_data = gzip_reader()
        if compression == "gz":
            stream = reader(fileobj=raw, mode="rb")
        elif compression is None:
            stream = raw
        else:
            raise HolderError("%s is compressed with %s, which this collection does not read; "
                              "use gzip or uncompressed layers" % (what, compression))
        limited = io.BufferedReader(_Limited(stream, max_bytes, what), buffer_size=_CHUNK)
        try:
            tar = tarfile.open(fileobj=limited, mode="r|")
        except (tarfile.TarError, OSError, EOFError) + bad_data as e:
            raise HolderError("%s is not a tar archive: %s" % (what, e))
        whiteouts = []
        layer_files = {}
        try:
            for member in tar:
                path = _normalize(member.name, what)
                if member.islnk():
                    _normalize(member.linkname, what)
                base = os.path.basename(path)
                if base.startswith(".wh."):
                    whiteouts.append(path)
                    continue
                if not _taken(path):
                    continue
                entry = "/" + path
                folder, _sep, rest = path.partition("/")
                if member.isdir():
                    continue
                if not member.isreg():
                    raise HolderError("%s: %s is %s; only regular files are taken from %s/"
                                      % (what, entry, _kind(member), folder))
                if path != METADATA and "/" in rest:
                    raise HolderError("%s: %s is in a subfolder; binaries must sit directly in /%s/"
                                      % (what, entry, folder))
                if member.mode & (stat.S_ISUID | stat.S_ISGID):
                    raise HolderError("%s: %s has the setuid or setgid bit; refused"
                                      % (what, entry))
                if wanted is not None and path != METADATA and rest not in wanted and path not in wanted:
                    continue
                layer_files[path] = self._copy_out(tar.extractfile(member), member.size, entry, what)
        except (tarfile.TarError, EOFError, OSError) + bad_data as e:
            for rec in layer_files.values():
                os.unlink(rec["tmp"])
            raise HolderError("%s is damaged: %s" % (what, e))
        except HolderError:
            for rec in layer_files.values():
                os.unlink(rec["tmp"])
            raise
        for path in whiteouts:
            parent, base = os.path.split(path)
            if base == ".wh..wh..opq":
                self._drop(parent)
            else:
                self._drop(os.path.join(parent, base[len(".wh."):]) if parent else base[len(".wh."):])
        for path, rec in layer_files.items():
            if path in self.files:
                os.unlink(self.files[path]["tmp"])
            self.files[path] = rec

    def _copy_out(self, src, size, entry, what):
        fd, tmp = tempfile.mkstemp(dir=self.tmpdir, prefix=".take-")
        h = hashlib.sha256()
        got = 0
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                got += len(chunk)
                h.update(chunk)
                out.write(chunk)
        if got != size:
            os.unlink(tmp)
            raise HolderError("%s: %s is truncated (%d of %d bytes)" % (what, entry, got, size))
        return {"tmp": tmp, "sha256": h.hexdigest(), "size": got}

    def cleanup(self):
        for rec in self.files.values():
            try:
                os.unlink(rec["tmp"])
            except OSError:
                pass
        self.files = {}


def read_metadata(extraction, where):
    """Parse this collection's metadata file if the image has one; None for the seed layout."""
    rec = extraction.files.get(METADATA)
    if rec is None:
        return None
    try:
        with open(rec["tmp"], "rb") as f:
            doc = json.loads(f.read(1 << 20).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise HolderError("%s: /%s is not JSON: %s" % (where, METADATA, e))
    if not isinstance(doc, dict) or doc.get("schema") != METADATA_SCHEMA or not isinstance(doc.get("files"), dict):
        raise HolderError("%s: /%s is not a schema %d holder metadata file" % (where, METADATA, METADATA_SCHEMA))
    return doc


def binaries(extraction):
    """Paths of the binaries taken (everything but the metadata file), sorted."""
    return sorted(p for p in extraction.files if p != METADATA)
