# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's content-addressed binary cache and the lock file. Private to the collection.

Cache layout under ``dest``::

    .lock                          held (flock) while a pull writes
    tmp/                           downloads and extractions in progress (same file system)
    blobs/sha256/<hex>             verified binaries, by their sha256
    bundles/<manifest hex>.json    one record per platform manifest: files, platform, source

Nothing appears under ``blobs/`` or ``bundles/`` except by rename of a complete, verified file.

The lock file maps version -> index digest -> per-platform manifest digest -> file sha256.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile

from ansible.module_utils.common.yaml import HAS_YAML, yaml_dump, yaml_load

LOCK_SCHEMA = 1


class CacheError(Exception):
    pass


def atomic_write(path, data, mode=0o644):
    """Write ``data`` (bytes) to ``path`` through a temp file in the same directory and a rename."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Cache(object):
    def __init__(self, dest):
        self.dest = os.path.abspath(dest)

    def blob_path(self, sha256):
        return os.path.join(self.dest, "blobs", "sha256", sha256)

    def bundle_path(self, manifest_digest):
        return os.path.join(self.dest, "bundles", manifest_digest.split(":", 1)[1] + ".json")

    @contextlib.contextmanager
    def locked(self):
        """Exclusive use of the cache for one pull; a temp dir that is removed afterwards."""
        try:
            os.makedirs(os.path.join(self.dest, "tmp"), exist_ok=True)
            lock = open(os.path.join(self.dest, ".lock"), "a+")
        except OSError as e:
            raise CacheError("cannot use the cache at %s: %s" % (self.dest, e.strerror or e))
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            tmp = tempfile.mkdtemp(dir=os.path.join(self.dest, "tmp"))
            try:
                yield tmp
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    def has_blob(self, sha256, size=None):
        try:
            st = os.stat(self.blob_path(sha256))
        except OSError:
            return False
        return size is None or st.st_size == size

    def store_blob(self, tmp_path, sha256):
        """Move a verified file into the cache under its sha256; True if it was new."""
        path = self.blob_path(sha256)
        if os.path.exists(path):
            os.unlink(tmp_path)
            return False
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.chmod(tmp_path, 0o555)
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
        return True

    def load_bundle(self, manifest_digest):
        try:
            with open(self.bundle_path(manifest_digest)) as f:
                rec = json.load(f)
        except (OSError, ValueError):
            return None
        files = rec.get("files") or {}
        if not all(self.has_blob(f["sha256"], f.get("size")) for f in files.values()):
            return None
        return rec

    def save_bundle(self, manifest_digest, record):
        atomic_write(self.bundle_path(manifest_digest),
                     json.dumps(record, indent=2, sort_keys=True).encode("utf-8"))


class LockFile(object):
    """``version -> index digest -> platform -> manifest digest -> file sha256``, as YAML."""

    def __init__(self, path):
        self.path = path
        self.doc = {"schema": LOCK_SCHEMA, "versions": {}}
        if path and not HAS_YAML:
            raise CacheError("reading the lock file %s needs PyYAML on the controller" % path)
        if path and os.path.exists(path):
            try:
                with open(path) as f:
                    doc = yaml_load(f) or {}
            except Exception as e:  # pylint: disable=broad-except
                raise CacheError("lock file %s cannot be read: %s" % (path, e))
            if not isinstance(doc, dict) or doc.get("schema") != LOCK_SCHEMA or \
                    not isinstance(doc.get("versions"), dict):
                raise CacheError("lock file %s is not a multiarch.k8s lock file (schema %d)" % (path, LOCK_SCHEMA))
            self.doc = doc

    def entry(self, version):
        return self.doc["versions"].get(version)

    def set_entry(self, version, entry):
        self.doc["versions"][version] = entry

    def dump(self):
        head = "# multiarch.k8s lock file: written by holder_pull/holder_build, honoured by later pulls.\n"
        return (head + yaml_dump(self.doc, default_flow_style=False, sort_keys=True)).encode("utf-8")

    def save(self):
        atomic_write(self.path, self.dump())
