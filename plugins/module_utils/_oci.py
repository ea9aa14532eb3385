# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image references, image sources and platform selection. Private to the collection.

Sources speak one small interface (``resolve``, ``manifest``, ``blob_to``) whatever the
transport: an OCI distribution registry (``docker://``), an OCI image layout on disk
(``oci:``) or the local Docker engine (``docker-daemon:``, in ``_docker_source.py``).
Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P
from ansible_collections.multiarch.k8s.plugins.module_utils._registry import (
    INDEX_TYPES, MANIFEST_TYPES, MAX_MANIFEST_BYTES, MT_OCI_INDEX, MT_OCI_MANIFEST, Registry, RegistryError,
    is_digest,
)

REF_NAME = "org.opencontainers.image.ref.name"
LAYER_TYPES = {
    "application/vnd.oci.image.layer.v1.tar": None,
    "application/vnd.oci.image.layer.v1.tar+gzip": "gz",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gz",
    "application/vnd.docker.image.rootfs.diff.tar": None,
    "application/vnd.oci.image.layer.v1.tar+zstd": "zst",
}
_CHUNK = 1 << 16


class ImageError(Exception):
    """A reference, manifest or image that cannot be used; the message says what and where."""


# --- references ------------------------------------------------------------------------------
_HOST_RE = r"(?P<host>[A-Za-z0-9.-]+(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?)"
_REPO_RE = r"(?P<repo>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
_TAG_RE = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DOCKER_RE = re.compile(r"^docker://" + _HOST_RE + "/" + _REPO_RE +
                        r"(?::(?P<tag>" + _TAG_RE + r"))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")
_DAEMON_RE = re.compile(r"^docker-daemon:(?P<name>[a-z0-9][a-z0-9._/:-]*?)(?::(?P<tag>" + _TAG_RE +
                        r"))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")
TRANSPORT_HELP = ("docker://HOST/REPO:TAG, docker://HOST/REPO@sha256:DIGEST, docker-daemon:REPO:TAG "
                  "or oci:PATH[:TAG]")


class Reference(object):
    """A parsed ``src``: transport, location, tag and/or digest."""

    def __init__(self, transport, location, tag=None, digest=None, host=None, repository=None, text=None):
        self.transport = transport
        self.location = location
        self.tag = tag
        self.digest = digest
        self.host = host
        self.repository = repository
        self.text = text

    @property
    def reference(self):
        return self.digest or self.tag

    def __str__(self):
        return self.text


_REPOSITORY_RE = re.compile(r"^(?:docker://)?" + _HOST_RE + "/" + _REPO_RE +
                            r"(?::" + _TAG_RE + r")?(?:@sha256:[0-9a-f]{64})?$")


def parse_repository(text):
    """``[docker://]HOST[:PORT]/REPO[:TAG][@DIGEST]`` -> (host, repository); None if it is not one.
    Where blobs are fetched by digest, a tag or digest given here does not matter."""
    m = _REPOSITORY_RE.match((text or "").strip()) if isinstance(text, str) else None
    return (m.group("host"), m.group("repo")) if m else None


def parse_reference(text):
    """Parse ``src``; raise ImageError naming the accepted forms."""
    if not isinstance(text, str) or not text.strip():
        raise ImageError("src is empty; expected %s" % TRANSPORT_HELP)
    text = text.strip()
    if text.startswith("docker://"):
        m = _DOCKER_RE.match(text)
        if not m or not (m.group("tag") or m.group("digest")):
            raise ImageError("src %r is not a registry reference with a tag or digest; expected %s"
                             % (text, TRANSPORT_HELP))
        return Reference("docker", "%s/%s" % (m.group("host"), m.group("repo")), m.group("tag"),
                         m.group("digest"), m.group("host"), m.group("repo"), text)
    if text.startswith("docker-daemon:"):
        m = _DAEMON_RE.match(text)
        if not m or not (m.group("tag") or m.group("digest")):
            raise ImageError("src %r is not a Docker engine reference with a tag; expected %s"
                             % (text, TRANSPORT_HELP))
        return Reference("docker-daemon", m.group("name"), m.group("tag"), m.group("digest"), text=text)
    if text.startswith("oci:"):
        rest = text[len("oci:"):]
        path, tag = rest, None
        if ":" in os.path.basename(rest):
            path, tag = rest.rsplit(":", 1)
            if not re.match("^" + _TAG_RE + "$", tag):
                raise ImageError("src %r has an invalid tag %r" % (text, tag))
        if not path:
            raise ImageError("src %r names no directory; expected %s" % (text, TRANSPORT_HELP))
        return Reference("oci", path, tag, None, text=text)
    raise ImageError("src %r uses no known transport; expected %s" % (text, TRANSPORT_HELP))


# --- manifests -------------------------------------------------------------------------------
def parse_json(body, what):
    try:
        doc = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ImageError("%s is not JSON: %s" % (what, e))
    if not isinstance(doc, dict):
        raise ImageError("%s is not a JSON object" % what)
    return doc


def media_type_of(doc, header_type, what):
    """The manifest's media type: the document's own ``mediaType``, else the transport's."""
    mt = doc.get("mediaType") or header_type
    if not mt:
        if "manifests" in doc:
            mt = MT_OCI_INDEX
        elif "layers" in doc:
            mt = MT_OCI_MANIFEST
    if mt not in INDEX_TYPES + MANIFEST_TYPES:
        raise ImageError("%s has media type %r; expected an OCI or Docker image index or manifest"
                         % (what, mt))
    return mt


def descriptor(d, what):
    if not isinstance(d, dict) or not is_digest(d.get("digest")) or not isinstance(d.get("size"), int) \
            or d["size"] < 0:
        raise ImageError("%s has an invalid descriptor: %r" % (what, d))
    return d


def entry_platform(d):
    """Platform of an index entry, or None for attestations and other non-images."""
    p = d.get("platform") or {}
    os_, arch, variant = p.get("os"), p.get("architecture"), p.get("variant")
    if not os_ or not arch or os_ == "unknown":
        return None
    if arch == "arm64" and variant == "v8":
        variant = None
    if arch == "arm" and not variant:
        variant = "v7"   # an ARM entry without a variant is taken as v7, as containerd does
    return "/".join([os_, arch] + ([variant] if variant else []))


def select(entries, wanted, where):
    """Pick the index entry for ``wanted`` (a Platform): exact, else a lower variant only.

    Returns (descriptor, platform string used, reason).
    """
    offered = {}
    for d in entries:
        name = entry_platform(d)
        if name and name not in offered:
            offered[name] = d
    if wanted.oci in offered:
        return offered[wanted.oci], wanted.oci, "exact match"
    lower = []
    for name, d in offered.items():
        try:
            p = P.by_oci(name)
        except P.PlatformError:
            continue
        if p != wanted and wanted.can_run(p):
            lower.append((p.rank, p, d))
    if lower:
        lower.sort(key=lambda x: -x[0])
        _rank, p, d = lower[0]
        return d, p.oci, ("no %s entry; took %s, which a %s host runs (variants fall back only downward)"
                          % (wanted.oci, p.oci, wanted.variant or wanted.architecture))
    have = ", ".join(sorted(offered)) or "no platforms"
    raise ImageError("%s has no %s manifest; it has %s" % (where, wanted.oci, have))


# --- sources ---------------------------------------------------------------------------------
class RegistrySource(object):
    def __init__(self, ref, insecure=False, username=None, password=None, timeout=30.0, retries=3):
        self.ref = ref
        self.registry = Registry(ref.host, ref.repository, insecure=insecure, username=username,
                                 password=password, timeout=timeout, retries=retries)

    @property
    def requests(self):
        return self.registry.requests

    def describe(self):
        return self.ref.text

    def resolve(self):
        try:
            return self.registry.manifest(self.ref.reference)
        except RegistryError as e:
            raise ImageError(str(e))

    def current_digest(self):
        try:
            return self.registry.manifest_digest(self.ref.reference)
        except RegistryError as e:
            raise ImageError(str(e))

    def manifest(self, digest):
        try:
            body, mt, _d = self.registry.manifest(digest)
        except RegistryError as e:
            raise ImageError(str(e))
        return body, mt

    def blob_to(self, digest, out, size, progress=None):
        self.registry.progress = progress
        try:
            return self.registry.blob_to(digest, out, size)
        except RegistryError as e:
            raise ImageError(str(e))


class LayoutSource(object):
    """An OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/sha256``)."""

    def __init__(self, ref):
        self.ref = ref
        self.root = ref.location
        self.requests = 0

    def describe(self):
        return self.ref.text

    def _blob_path(self, digest):
        if not is_digest(digest):
            raise ImageError("%s: %r is not a sha256 digest" % (self.describe(), digest))
        return os.path.join(self.root, "blobs", "sha256", digest.split(":", 1)[1])

    def _read_small(self, path, what):
        try:
            with open(path, "rb") as f:
                body = f.read(MAX_MANIFEST_BYTES + 1)
        except (IOError, OSError) as e:
            raise ImageError("%s: cannot read %s: %s" % (self.describe(), what, e.strerror or e))
        if len(body) > MAX_MANIFEST_BYTES:
            raise ImageError("%s: %s is larger than %d bytes" % (self.describe(), what, MAX_MANIFEST_BYTES))
        return body

    def resolve(self):
        if not os.path.isfile(os.path.join(self.root, "oci-layout")):
            raise ImageError("%s is not an OCI image layout (no oci-layout file)" % self.describe())
        index = parse_json(self._read_small(os.path.join(self.root, "index.json"), "index.json"),
                           "%s index.json" % self.describe())
        entries = [descriptor(d, "%s index.json" % self.describe()) for d in index.get("manifests", [])]
        if self.ref.tag:
            chosen = [d for d in entries if (d.get("annotations") or {}).get(REF_NAME) == self.ref.tag]
            if not chosen:
                tags = sorted(set((d.get("annotations") or {}).get(REF_NAME, "") for d in entries) - {""})
                raise ImageError("%s has no image tagged %r; it has %s"
                                 % (self.describe(), self.ref.tag, ", ".join(tags) or "no tags"))
        else:
            chosen = entries
        if len(chosen) != 1:
            raise ImageError("%s holds %d images; name one as oci:PATH:TAG" % (self.describe(), len(chosen)))
        d = chosen[0]
        body, _mt = self.manifest(d["digest"], d.get("size"))
        return body, d.get("mediaType"), d["digest"]

    def current_digest(self):
        return self.resolve()[2]

    def manifest(self, digest, size=None):
        body = self._read_small(self._blob_path(digest), "manifest %s" % digest)
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        if actual != digest or (size is not None and len(body) != size):
            raise ImageError("%s: manifest %s does not match its digest or size" % (self.describe(), digest))
        return body, None

    def blob_to(self, digest, out, size, progress=None):
        path = self._blob_path(digest)
        h = hashlib.sha256()
        got = 0
        try:
            with open(path, "rb") as f:
                while True:
                    chunk = f.read(_CHUNK)
                    if not chunk:
                        break
                    got += len(chunk)
                    if size is not None and got > size:
                        raise ImageError("%s: blob %s is larger than the %d bytes the manifest gives"
                                         % (self.describe(), digest, size))
                    h.update(chunk)
                    out.write(chunk)
        except (IOError, OSError) as e:
            raise ImageError("%s: cannot read blob %s: %s" % (self.describe(), digest, e.strerror or e))
        if size is not None and got != size:
            raise ImageError("%s: blob %s is %d bytes, the manifest says %d (truncated?)"
                             % (self.describe(), digest, got, size))
        if "sha256:" + h.hexdigest() != digest:
            raise ImageError("%s: blob %s does not match its digest: it was altered or corrupted"
                             % (self.describe(), digest))
        return got
