# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A one-layer OCI image made on the node from files already there (node side, standard library only).

Used for the pod sandbox ("pause") image, which upstream does not publish for linux/arm/v6, and for
small static workloads. The archive is deterministic: the same files give the same index digest, so
the module compares digests with what containerd holds and imports only on a difference.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


class ImageInputError(Exception):
    pass


def _json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _desc(media_type, body, **extra):
    d = {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(body).hexdigest(), "size": len(body)}
    d.update(extra)
    return d


def parse_platform(platform):
    parts = platform.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ImageInputError("platform %r is not os/architecture[/variant], such as linux/arm/v6" % platform)
    out = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        out["variant"] = parts[2]
    return out


def layer_tar(files):
    """Uncompressed layer of ``files`` [(path on the node, path in the image)], with fixed metadata."""
    buf = io.BytesIO()
    dirs = set()
    entries = []
    for src, dest in files:
        name = dest.strip("/")
        if not name or ".." in name.split("/"):
            raise ImageInputError("image path %r must be absolute and stay inside the image" % dest)
        parent = os.path.dirname(name)
        while parent:
            dirs.add(parent)
            parent = os.path.dirname(parent)
        try:
            st = os.stat(src)
            with open(src, "rb"):
                pass
        except (IOError, OSError) as e:
            raise ImageInputError("cannot read %s for the image: %s" % (src, e.strerror or e))
        entries.append((name, src, st.st_size, st.st_mode & 0o7777))
    # each file streamed into the layer, not read whole first: a 40 MB binary on a 512 MB Pi Zero
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for name, src, size, mode in sorted(entries):
            info = tarfile.TarInfo(name)
            info.size = size
            info.mode = mode
            try:
                with open(src, "rb") as f:
                    tar.addfile(info, f)
            except (IOError, OSError) as e:
                raise ImageInputError("cannot read %s for the image: %s" % (src, e.strerror or e))
    return buf.getvalue()


def build(name, platform, files, entrypoint, labels=None):
    """(index digest, {blob digest: bytes}, index.json bytes) of the image ``name``."""
    if ":" not in name.rsplit("/", 1)[-1] or "/" not in name:
        raise ImageInputError("image name %r needs a registry-style name and a tag, such as "
                              "localhost/multiarch-k8s/pause:3.10.2" % name)
    plat = parse_platform(platform)
    layer = layer_tar(files)
    config = dict(plat)
    config.update({
        "config": {"Entrypoint": list(entrypoint), "Labels": dict(labels or {}),
                   "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
        "history": [{"created_by": "multiarch.k8s.node_image"}],
    })
    config_body = _json(config)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": _desc(OCI_CONFIG, config_body), "layers": [_desc(OCI_LAYER, layer)]}
    manifest_body = _json(manifest)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
             "manifests": [_desc(OCI_MANIFEST, manifest_body, platform=plat)]}
    index_body = _json(index)
    index_desc = _desc(OCI_INDEX, index_body, annotations={
        "io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]})
    blobs = dict((_desc("", b)["digest"], b) for b in (layer, config_body, manifest_body, index_body))
    layout_index = _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [index_desc]})
    return index_desc["digest"], blobs, layout_index


def write_archive(path, blobs, layout_index):
    """An OCI image layout as a tar archive, the form ``ctr images import`` reads."""
    with tarfile.open(path, mode="w") as tar:
        for name, data in [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", layout_index)] + [
                ("blobs/sha256/" + d.split(":", 1)[1], b) for d, b in sorted(blobs.items())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


PINNED = "io.cri-containerd.pinned=pinned"


def listed_pinned(ctr_ls_output, name):
    """True when ``ctr images ls`` shows ``name`` with containerd's pinned label (the kubelet's image garbage
    collection never removes it)."""
    for line in ctr_ls_output.splitlines()[1:]:
        cols = line.split()
        if cols and cols[0] == name:
            return any(PINNED in c.split(",") for c in cols[1:])
    return False


def listed_digest(ctr_ls_output, name):
    """The digest ``ctr images ls`` shows for ``name`` (None when absent)."""
    for line in ctr_ls_output.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 3 and cols[0] == name:
            return cols[2]
    return None
