# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``docker-daemon:`` source: an image held by the local Docker engine. Private to the collection.

Controller-side (Docker SDK). The engine keeps one platform per tag; the image is exported
(``docker save``) into the cache's temp directory and served through the same interface as a
registry: a synthetic manifest whose layers are the uncompressed layer tars, each checked against
the ``diff_ids`` of the image config, and the config against the image ID.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile

from ansible_collections.multiarch.k8s.plugins.plugin_utils._deps import require_docker
from ansible_collections.multiarch.k8s.plugins.module_utils._oci import ImageError
from ansible_collections.multiarch.k8s.plugins.module_utils._registry import MT_OCI_MANIFEST

_CHUNK = 1 << 16
MT_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


class DaemonSource(object):
    def __init__(self, ref, tmpdir, timeout=300):
        self.ref = ref
        self.tmpdir = tmpdir
        self.timeout = timeout
        self.requests = 0
        self._blobs = {}
        self._manifest = None

    def describe(self):
        return self.ref.text

    def _client(self):
        docker = require_docker()
        try:
            return docker.from_env(timeout=self.timeout), docker
        except docker.errors.DockerException as e:
            raise ImageError("cannot reach the Docker engine for %s: %s" % (self.ref.text, e))

    def resolve(self):
        if self._manifest:
            return self._manifest
        client, docker = self._client()
        name = self.ref.location + (":" + self.ref.tag if self.ref.tag else "")
        if self.ref.digest:
            name = self.ref.location + "@" + self.ref.digest
        try:
            self.requests += 1
            image = client.images.get(name)
            archive = os.path.join(self.tmpdir, "docker-save.tar")
            with open(archive, "wb") as out:
                for chunk in image.save(named=False):
                    out.write(chunk)
        except docker.errors.ImageNotFound:
            raise ImageError("the Docker engine has no image %s" % name)
        except docker.errors.APIError as e:
            raise ImageError("the Docker engine could not export %s: %s" % (name, e.explanation or e))
        finally:
            client.close()
        image_id = image.id
        outdir = os.path.join(self.tmpdir, "docker-save")
        os.makedirs(outdir)
        with tarfile.open(archive) as tar:
            members = {m.name: m for m in tar.getmembers()}
            if "manifest.json" not in members:
                raise ImageError("the Docker engine's export of %s has no manifest.json" % name)
            manifest = json.load(tar.extractfile(members["manifest.json"]))[0]
            wanted = [manifest["Config"]] + list(manifest["Layers"])
            for i, member_name in enumerate(wanted):
                m = members.get(member_name)
                if m is None or not m.isreg():
                    raise ImageError("the Docker engine's export of %s lacks %s" % (name, member_name))
                path = os.path.join(outdir, "%d" % i)
                with tar.extractfile(m) as src, open(path, "wb") as dst:
                    for chunk in iter(lambda: src.read(_CHUNK), b""):
                        dst.write(chunk)
        os.unlink(archive)
        config_path = os.path.join(outdir, "0")
        config_digest = _sha256_file(config_path)
        if config_digest != image_id:
            raise ImageError("the Docker engine's export of %s has config %s, not the image ID %s"
                             % (name, config_digest, image_id))
        with open(config_path, "rb") as f:
            config = json.loads(f.read().decode("utf-8"))
        diff_ids = config.get("rootfs", {}).get("diff_ids", [])
        if len(diff_ids) != len(wanted) - 1:
            raise ImageError("the Docker engine's export of %s has %d layers, its config lists %d"
                             % (name, len(wanted) - 1, len(diff_ids)))
        layers = []
        self._blobs[config_digest] = config_path
        for i, diff_id in enumerate(diff_ids):
            path = os.path.join(outdir, "%d" % (i + 1))
            self._blobs[diff_id] = path
            layers.append({"mediaType": MT_TAR, "digest": diff_id, "size": os.path.getsize(path)})
        doc = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
               "config": {"mediaType": MT_CONFIG, "digest": config_digest, "size": os.path.getsize(config_path)},
               "layers": layers}
        body = json.dumps(doc, sort_keys=True).encode("utf-8")
        # the image ID stands for the manifest digest: it is what the engine pins
        self._manifest = (body, MT_OCI_MANIFEST, image_id)
        return self._manifest

    def current_digest(self):
        client, docker = self._client()
        name = self.ref.location + (":" + self.ref.tag if self.ref.tag else "")
        try:
            self.requests += 1
            return client.images.get(name).id
        except docker.errors.ImageNotFound:
            raise ImageError("the Docker engine has no image %s" % name)
        finally:
            client.close()

    def manifest(self, digest):
        body, mt, d = self.resolve()
        if digest != d:
            raise ImageError("%s has no manifest %s" % (self.describe(), digest))
        return body, mt

    def blob_to(self, digest, out, size, progress=None):
        path = self._blobs.get(digest)
        if path is None:
            raise ImageError("%s has no blob %s" % (self.describe(), digest))
        h = hashlib.sha256()
        got = 0
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                got += len(chunk)
                h.update(chunk)
                out.write(chunk)
        if "sha256:" + h.hexdigest() != digest or (size is not None and got != size):
            raise ImageError("%s: layer %s does not match its digest" % (self.describe(), digest))
        return got
