# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A daemonless OCI distribution registry client. Private to the collection: not a public API.

Standard library only, so that nodes can use it too (the ``pull`` distribution mode fetches
blobs by digest straight from a registry or mirror). Every request is bounded in time
(socket timeout) and in tries; blobs are streamed and checked against their digest and size.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (MT_OCI_INDEX, MT_DOCKER_LIST)
MANIFEST_TYPES = (MT_OCI_MANIFEST, MT_DOCKER_MANIFEST)
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)

MAX_MANIFEST_BYTES = 4 << 20
_CHUNK = 1 << 16
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_LOOPBACK = ("127.", "localhost", "[::1]")


class RegistryError(Exception):
    """A registry request failed; the message names the registry, the request and what happened."""


def is_digest(text):
    return bool(_DIGEST_RE.match(text or ""))


def is_loopback(host):
    return host.startswith(_LOOPBACK)


class _NoRedirectAuth(urllib.request.HTTPRedirectHandler):
    """Follow redirects (blob storage) but drop the Authorization header on the way."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = urllib.request.HTTPRedirectHandler.redirect_request(self, req, fp, code, msg, headers, newurl)
        if new is not None:
            new.remove_header("Authorization")
        return new


class Registry(object):
    """One repository on one registry: ``Registry("127.0.0.1:5000", "k8s-bins")``."""

    def __init__(self, host, repository, insecure=False, username=None, password=None,
                 timeout=30.0, retries=3, backoff=0.5, progress=None):
        self.host = host
        self.repository = repository
        plain = insecure or is_loopback(host)
        self.base = "%s://%s" % ("http" if plain else "https", host)
        self.username = username
        self.password = password
        self.timeout = timeout
        self.retries = max(1, retries)
        self.backoff = backoff
        self.progress = progress
        self._token = None
        self._opener = urllib.request.build_opener(_NoRedirectAuth())
        self.requests = 0

    def describe(self):
        return "%s/%s" % (self.host, self.repository)

    # --- HTTP -----------------------------------------------------------------------------
    def _auth_header(self):
        if self._token:
            return "Bearer " + self._token
        if self.username is not None:
            raw = ("%s:%s" % (self.username, self.password or "")).encode()
            return "Basic " + base64.b64encode(raw).decode()
        return None

    def _fetch_token(self, challenge):
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = params.pop("realm", None)
        if not realm:
            raise RegistryError("registry %s asked for a bearer token without a realm: %s"
                                % (self.host, challenge))
        if not params.get("scope"):
            params["scope"] = "repository:%s:pull" % self.repository
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(params)
        req = urllib.request.Request(url)
        if self.username is not None:
            raw = ("%s:%s" % (self.username, self.password or "")).encode()
            req.add_header("Authorization", "Basic " + base64.b64encode(raw).decode())
        try:
            self.requests += 1
            with self._opener.open(req, timeout=self.timeout) as resp:
                doc = json.loads(resp.read(1 << 20).decode("utf-8"))
        except (urllib.error.URLError, socket.timeout, ValueError, OSError) as e:
            raise RegistryError("registry %s: getting a pull token from %s failed: %s"
                                % (self.host, realm, getattr(e, "reason", e)))
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise RegistryError("registry %s: the token service %s returned no token" % (self.host, realm))
        self._token = token

    def _open(self, method, path, accept=None, data=None, headers=None):
        """Open ``path`` (or an absolute URL) with bounded tries; return the response (caller closes it).

        ``data`` is bytes, or the path of a file that is opened anew for every try.
        """
        url = path if path.startswith(("http://", "https://")) else self.base + path
        last = None
        auth_tried = False
        attempt = 0
        while attempt < self.retries:
            attempt += 1
            body = data
            if isinstance(data, str):
                body = open(data, "rb")  # pylint: disable=consider-using-with
            req = urllib.request.Request(url, data=body, method=method)
            if accept:
                req.add_header("Accept", accept)
            for k, v in (headers or {}).items():
                req.add_header(k, v)
            header = self._auth_header()
            if header:
                req.add_header("Authorization", header)
            try:
                self.requests += 1
                return self._opener.open(req, timeout=self.timeout)
            except urllib.error.HTTPError as e:
                if e.code == 401 and not auth_tried:
                    challenge = e.headers.get("WWW-Authenticate", "")
                    e.close()
                    auth_tried = True
                    if challenge.lower().startswith("bearer"):
                        self._fetch_token(challenge)
                        attempt -= 1
                        continue
                    if challenge.lower().startswith("basic") and self.username is not None:
                        attempt -= 1
                        continue
                    raise RegistryError("registry %s refused %s %s: 401 Unauthorized (%s); give "
                                        "registry_username/registry_password"
                                        % (self.host, method, path, challenge or "no challenge"))
                if e.code in (401, 403):
                    e.close()
                    raise RegistryError("registry %s refused %s %s: %d %s"
                                        % (self.host, method, path, e.code, e.reason))
                if e.code == 404:
                    e.close()
                    raise RegistryError("registry %s has no %s (404 Not Found)" % (self.host, path))
                last = "%d %s" % (e.code, e.reason)
                e.close()
                if e.code < 500 and e.code != 429:
                    break
            except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as e:
                reason = getattr(e, "reason", e)
                last = "no answer within %ss" % self.timeout if isinstance(reason, socket.timeout) \
                    or "timed out" in str(reason) else str(reason)
            finally:
                if isinstance(data, str):
                    body.close()
            if attempt < self.retries:
                time.sleep(self.backoff * attempt)
        raise RegistryError("registry %s: %s %s failed after %d tries: %s"
                            % (self.host, method, path, attempt, last))

    # --- API ------------------------------------------------------------------------------
    def manifest(self, reference):
        """Return (bytes, media type, digest) of a manifest or index, verified when by digest."""
        path = "/v2/%s/manifests/%s" % (self.repository, reference)
        resp = self._open("GET", path, accept=ACCEPT)
        with resp:
            body = resp.read(MAX_MANIFEST_BYTES + 1)
            media_type = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        if len(body) > MAX_MANIFEST_BYTES:
            raise RegistryError("registry %s: manifest %s is larger than %d bytes"
                                % (self.host, reference, MAX_MANIFEST_BYTES))
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if is_digest(reference) and digest != reference:
            raise RegistryError("registry %s served %s for manifest %s: digest mismatch"
                                % (self.host, digest, reference))
        return body, media_type, digest

    def manifest_digest(self, reference):
        """Digest of a tag's manifest with one HEAD request (falls back to GET)."""
        path = "/v2/%s/manifests/%s" % (self.repository, reference)
        resp = self._open("HEAD", path, accept=ACCEPT)
        with resp:
            digest = resp.headers.get("Docker-Content-Digest")
        if digest and is_digest(digest):
            return digest
        return self.manifest(reference)[2]

    def blob_to(self, digest, out, size, max_bytes=None):
        """Stream blob ``digest`` into the writable file ``out``; check its size and digest."""
        if not is_digest(digest):
            raise RegistryError("%r is not a sha256 digest" % (digest,))
        limit = size if size is not None else max_bytes
        resp = self._open("GET", "/v2/%s/blobs/%s" % (self.repository, digest))
        h = hashlib.sha256()
        got = 0
        start = time.monotonic()
        with resp:
            while True:
                try:
                    chunk = resp.read(_CHUNK)
                except (socket.timeout, OSError) as e:
                    raise RegistryError("registry %s: blob %s stopped after %d bytes: %s"
                                        % (self.host, digest, got, e))
                if not chunk:
                    break
                got += len(chunk)
                if limit is not None and got > limit:
                    raise RegistryError("registry %s: blob %s is larger than the %d bytes the manifest "
                                        "gives" % (self.host, digest, limit))
                h.update(chunk)
                out.write(chunk)
                if self.progress:
                    self.progress(got, time.monotonic() - start)
        if size is not None and got != size:
            raise RegistryError("registry %s: blob %s is %d bytes, the manifest says %d (truncated?)"
                                % (self.host, digest, got, size))
        actual = "sha256:" + h.hexdigest()
        if actual != digest:
            raise RegistryError("registry %s: blob %s has digest %s: it was altered or corrupted"
                                % (self.host, digest, actual))
        return got

    # --- push -----------------------------------------------------------------------------
    def blob_exists(self, digest):
        try:
            with self._open("HEAD", "/v2/%s/blobs/%s" % (self.repository, digest)):
                return True
        except RegistryError as e:
            if "404" in str(e):
                return False
            raise

    def push_blob(self, digest, path, size):
        """Upload the file ``path`` as blob ``digest`` (monolithic upload); False if it was there."""
        if self.blob_exists(digest):
            return False
        with self._open("POST", "/v2/%s/blobs/uploads/" % self.repository, data=b"",
                        headers={"Content-Length": "0"}) as resp:
            location = resp.headers.get("Location")
        if not location:
            raise RegistryError("registry %s gave no upload location for %s" % (self.host, digest))
        if not location.startswith(("http://", "https://")):
            location = self.base + location
        url = location + ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": digest})
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        with self._open("PUT", url, data=path, headers=headers):
            pass
        return True

    def push_manifest(self, reference, body, media_type):
        with self._open("PUT", "/v2/%s/manifests/%s" % (self.repository, reference), data=body,
                        headers={"Content-Type": media_type, "Content-Length": str(len(body))}) as resp:
            return resp.headers.get("Docker-Content-Digest")
