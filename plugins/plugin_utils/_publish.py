# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing built binaries as a holder image in this collection's layout. Private to the collection.

Controller-side. One ``FROM scratch`` image per platform (``/k8s-bins/``, ``/cni-plugin-bins/``,
``/multiarch-k8s/holder.json``), one index over them, written as an OCI layout and, when asked,
pushed to a registry. Everything in the image is derived from the binaries and the stable facts
of their build, so the same binaries give the same digests.
"""

from __future__ import annotations

import json
import os

from ansible_collections.multiarch.k8s.plugins.plugin_utils._deps import require_docker
from ansible_collections.multiarch.k8s.plugins.module_utils._holder import METADATA, METADATA_SCHEMA
from ansible_collections.multiarch.k8s.plugins.module_utils._oci import REF_NAME
from ansible_collections.multiarch.k8s.plugins.plugin_utils._oci_write import LayoutWriter, tar_entry, write_tar

# the fields of a build record that describe the binary (not where or how fast it was built)
_META_FIELDS = ("sha256", "size", "version", "goarch", "goarm", "static", "stripped", "origin", "source", "go")


def image_annotations(source, version, revision=None):
    ann = {"org.opencontainers.image.title": "multiarch.k8s holder image",
           "org.opencontainers.image.source": source,
           "org.opencontainers.image.version": version}
    if revision:
        ann["org.opencontainers.image.revision"] = revision
    return ann


def write_holder(root, tag, bundles, annotations):
    """Write ``bundles`` ({platform: [record with folder, component, path, ...]}) as one index.

    Returns (index descriptor, {platform: manifest descriptor}).
    """
    w = LayoutWriter(root)
    manifests = {}
    for platform in sorted(bundles):
        records = sorted(bundles[platform], key=lambda r: (r["folder"], r["component"]))
        meta = {"schema": METADATA_SCHEMA, "platform": platform, "files": {}}
        entries = [tar_entry(folder + "/", kind="dir") for folder in sorted(set(r["folder"] for r in records))]
        for r in records:
            rel = "%s/%s" % (r["folder"], r["component"])
            meta["files"][rel] = dict((k, r.get(k)) for k in _META_FIELDS)
            entries.append(tar_entry(rel, src=r["path"], mode=0o755))
        entries.append(tar_entry("multiarch-k8s/", kind="dir"))
        entries.append(tar_entry(METADATA, data=json.dumps(meta, indent=1, sort_keys=True).encode(), mode=0o644))
        layer = w.add_layer(entries, level=9)
        manifests[platform] = w.add_image(platform, [layer], labels={"io.multiarch-k8s.layout": "1"},
                                          annotations=annotations)
    index = w.add_index([manifests[p] for p in sorted(manifests)], tag, annotations=annotations)
    return index, manifests


def layout_tag_digest(root, tag):
    """Digest the layout's ``index.json`` gives ``tag``, or None."""
    try:
        with open(os.path.join(root, "index.json")) as f:
            top = json.load(f)
    except (OSError, ValueError):
        return None
    for m in top.get("manifests", []):
        if (m.get("annotations") or {}).get(REF_NAME) == tag:
            return m.get("digest")
    return None


def _blob(root, digest):
    return os.path.join(root, "blobs", "sha256", digest.split(":", 1)[1])


def push_layout(root, index_desc, registry, tag, log=None):
    """Push an index written by ``write_holder`` and its images to ``registry`` under ``tag``.

    Blobs first, then each image manifest by digest, then the index by tag: a reader never sees a
    tag whose content is not there yet. Returns the number of blobs uploaded.
    """
    log = log or (lambda msg: None)
    uploaded = 0
    with open(_blob(root, index_desc["digest"]), "rb") as f:
        index_body = f.read()
    index = json.loads(index_body.decode("utf-8"))
    for m in index["manifests"]:
        with open(_blob(root, m["digest"]), "rb") as f:
            body = f.read()
        manifest = json.loads(body.decode("utf-8"))
        for d in [manifest["config"]] + manifest["layers"]:
            if registry.push_blob(d["digest"], _blob(root, d["digest"]), d["size"]):
                uploaded += 1
                log("pushed blob %s (%.1f MB)" % (d["digest"][:19], d["size"] / 1048576.0))
        registry.push_manifest(m["digest"], body, m["mediaType"])
    registry.push_manifest(tag, index_body, index_desc["mediaType"])
    return uploaded


def load_into_docker(root, manifest_desc, repo_tag, tmpdir):
    """Load one platform's image of the layout into the local Docker engine as ``repo_tag``.

    The engine keeps one platform per tag. Returns (image id, loaded) where ``loaded`` is False when
    the engine already had this exact image under the tag.
    """
    docker = require_docker()
    with open(_blob(root, manifest_desc["digest"]), "rb") as f:
        manifest = json.loads(f.read().decode("utf-8"))
    config_digest = manifest["config"]["digest"]
    client = docker.from_env(timeout=600)
    try:
        try:
            if client.images.get(repo_tag).id == config_digest:
                return config_digest, False
        except docker.errors.ImageNotFound:
            pass
        archive = os.path.join(tmpdir, "docker-load.tar")
        names = ["%s.json" % config_digest.split(":", 1)[1]]
        layers = ["%s/layer.tar" % d["digest"].split(":", 1)[1] for d in manifest["layers"]]
        entries = [tar_entry(names[0], src=_blob(root, config_digest), mode=0o644)]
        for name, d in zip(layers, manifest["layers"]):
            entries.append(tar_entry(name, src=_blob(root, d["digest"]), mode=0o644))
        doc = [{"Config": names[0], "RepoTags": [repo_tag], "Layers": layers}]
        entries.append(tar_entry("manifest.json", data=json.dumps(doc).encode("utf-8"), mode=0o644))
        write_tar(archive, entries)
        with open(archive, "rb") as f:
            client.images.load(f)
        os.unlink(archive)
        return config_digest, True
    finally:
        client.close()
