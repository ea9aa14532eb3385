# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing OCI image layouts: layers, image manifests, one index. Private to the collection.

Controller-side, standard library only. Output is reproducible: tar entries carry mtime 0 and
uid/gid 0, gzip headers carry no name or time, JSON is written with sorted keys, so the same
files give the same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile

from ansible_collections.multiarch.k8s.plugins.module_utils._oci import REF_NAME
from ansible_collections.multiarch.k8s.plugins.module_utils._registry import MT_OCI_INDEX, MT_OCI_MANIFEST

MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
_CHUNK = 1 << 16


def _json(doc):
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")


class _Hashing(object):
    def __init__(self, f):
        self.f = f
        self.h = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.h.update(data)
        self.size += len(data)
        return self.f.write(data)

    def flush(self):
        self.f.flush()


def tar_entry(path, data=None, src=None, mode=0o755, kind="file", linkname="", size=None):
    """One layer entry: a regular file (``data`` bytes or ``src`` path), a directory, or (for tests of
    hostile images) a symlink, hard link, FIFO or device node."""
    return {"path": path, "data": data, "src": src, "mode": mode, "kind": kind, "linkname": linkname,
            "size": size}


_KINDS = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
          "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE,
          "blk": tarfile.BLKTYPE}


def _write_entries(fileobj, entries):
    """Write ``tar_entry`` dicts as a reproducible tar stream (mtime 0, root-owned) into ``fileobj``."""
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e["path"])
            info.type = _KINDS[e["kind"]]
            info.mode = e["mode"]
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.linkname = e["linkname"] or ""
            if e["kind"] == "file":
                if e["src"] is not None:
                    info.size = os.path.getsize(e["src"]) if e["size"] is None else e["size"]
                    with open(e["src"], "rb") as f:
                        tar.addfile(info, f)
                else:
                    data = e["data"] or b""
                    info.size = len(data) if e["size"] is None else e["size"]
                    tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)


def write_tar(path, entries):
    """Write a plain tar file of ``tar_entry`` dicts (an image archive for ``docker load``)."""
    with open(path, "wb") as f:
        _write_entries(f, entries)


class LayoutWriter(object):
    """Builds an OCI image layout in ``root`` (created if absent; blobs are added, never rewritten)."""

    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')

    def _put(self, tmp, digest_hex):
        path = os.path.join(self.root, "blobs", "sha256", digest_hex)
        if os.path.exists(path):
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
        return path

    def add_bytes(self, data, media_type):
        digest = hashlib.sha256(data).hexdigest()
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".blob-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        self._put(tmp, digest)
        return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}

    def add_layer(self, entries, compress=True, level=6):
        """Write a layer from ``tar_entry`` dicts; return (descriptor, diff_id)."""
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".layer-")
        with os.fdopen(fd, "wb") as raw:
            outer = _Hashing(raw)
            gz = gzip.GzipFile(filename="", mode="wb", fileobj=outer, mtime=0, compresslevel=level) if compress else None
            inner = _Hashing(gz if gz else outer)
            _write_entries(inner, entries)
            if gz:
                gz.close()
            diff_id = "sha256:" + inner.h.hexdigest()
            digest_hex, size = outer.h.hexdigest(), outer.size
        self._put(tmp, digest_hex)
        desc = {"mediaType": MT_LAYER_GZ if compress else MT_LAYER, "digest": "sha256:" + digest_hex, "size": size}
        return desc, diff_id

    def add_image(self, platform, layers, labels=None, annotations=None):
        """Config + manifest for one platform from ``(descriptor, diff_id)`` layers; return the
        manifest descriptor with its platform."""
        parts = platform.split("/")
        cfg = {"architecture": parts[1], "os": parts[0],
               "rootfs": {"type": "layers", "diff_ids": [d for _desc, d in layers]},
               "config": {"Labels": labels or {}}}
        if len(parts) > 2:
            cfg["variant"] = parts[2]
        config = self.add_bytes(_json(cfg), MT_CONFIG)
        manifest = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": config,
                    "layers": [desc for desc, _d in layers]}
        if annotations:
            manifest["annotations"] = annotations
        desc = self.add_bytes(_json(manifest), MT_OCI_MANIFEST)
        desc["platform"] = {"os": cfg["os"], "architecture": cfg["architecture"]}
        if "variant" in cfg:
            desc["platform"]["variant"] = cfg["variant"]
        return desc

    def add_index(self, manifests, tag, annotations=None):
        """Write the image index of ``manifests`` and point ``index.json`` at it under ``tag``."""
        index = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": manifests}
        if annotations:
            index["annotations"] = annotations
        desc = self.add_bytes(_json(index), MT_OCI_INDEX)
        self.tag(desc, tag)
        return desc

    def tag(self, desc, tag):
        path = os.path.join(self.root, "index.json")
        try:
            with open(path) as f:
                top = json.load(f)
        except (OSError, ValueError):
            top = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": []}
        top["manifests"] = [m for m in top["manifests"] if (m.get("annotations") or {}).get(REF_NAME) != tag]
        entry = dict(desc, annotations={REF_NAME: tag})
        top["manifests"].append(entry)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".index-")
        with os.fdopen(fd, "wb") as f:
            f.write(_json(top))
        os.replace(tmp, path)
