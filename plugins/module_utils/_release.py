# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Staged releases on a node. Private to the collection: not a public API.

Node-side: standard library only (a 512 MB Pi Zero runs this), streaming, never a whole binary
in memory. Layout under the prefix (default ``/opt/multiarch-k8s``)::

    releases/<bundle-id>/<binary>          files of one release
    releases/<bundle-id>/.release.json     written last: the release is complete when it exists
    current -> releases/<bundle-id>        switched by renaming a new symlink over it
    previous -> releases/<bundle-id>       what current pointed at before its last switch (rollback)
    <bin dir>/<binary> -> <prefix>/current/<binary>

A file is written as a temp file in the release directory, checked against its sha256, fsynced
and renamed into place: nothing ever sits under its final name half-written. A file some other
release already has is hard-linked, not sent again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from ansible_collections.multiarch.k8s.plugins.module_utils import _elfhdr
from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P
from ansible_collections.multiarch.k8s.plugins.module_utils._holder import Extraction, HolderError
from ansible_collections.multiarch.k8s.plugins.module_utils._oci import LAYER_TYPES, parse_repository
from ansible_collections.multiarch.k8s.plugins.module_utils._registry import Registry, RegistryError

RELEASE_FILE = ".release.json"
STAGING_FILE = ".staging"
_CHUNK = 1 << 16
_TEMP_PREFIXES = (".part-", ".take-", ".blob-", ".link-", RELEASE_FILE + ".tmp")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


class ReleaseError(Exception):
    """A release that cannot be staged or switched; the message says why and where."""


def check_id(bundle_id):
    if not isinstance(bundle_id, str) or not _ID_RE.match(bundle_id) or bundle_id in (".", ".."):
        raise ReleaseError("%r is not a release id this collection makes (letters, digits, . _ + -)" % (bundle_id,))
    return bundle_id


def check_name(name):
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ReleaseError("%r is not a binary name (letters, digits, . _ + -)" % (name,))
    return name


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


class Prefix(object):
    def __init__(self, prefix, bin_dir=None):
        self.prefix = os.path.abspath(prefix)
        self.releases = os.path.join(self.prefix, "releases")
        self.current_link = os.path.join(self.prefix, "current")
        self.previous_link = os.path.join(self.prefix, "previous")
        self.bin_dir = bin_dir

    def release_dir(self, bundle_id):
        return os.path.join(self.releases, check_id(bundle_id))

    def current(self):
        return self._link(self.current_link)

    def previous(self):
        """The release ``current`` pointed at before its last switch, or None."""
        return self._link(self.previous_link)

    @staticmethod
    def _link(path):
        try:
            target = os.readlink(path)
        except OSError:
            return None
        return os.path.basename(target.rstrip("/"))

    def read_release(self, bundle_id):
        """The record of a complete release, or None (missing, partial, or not ours)."""
        path = os.path.join(self.releases, bundle_id, RELEASE_FILE)
        try:
            with open(path) as f:
                rec = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(rec, dict) or rec.get("id") != bundle_id or not isinstance(rec.get("files"), dict):
            return None
        return rec

    def inventory(self):
        """Complete releases (oldest first), the current one, and sha256 -> a path that has it."""
        releases = []
        have = {}
        try:
            names = os.listdir(self.releases)
        except OSError:
            names = []
        for name in names:
            rec = self.read_release(name)
            if rec is None:
                continue
            releases.append((rec.get("created", 0), name))
            for fname, meta in rec["files"].items():
                path = os.path.join(self.releases, name, fname)
                if os.path.isfile(path) and not os.path.islink(path):
                    have.setdefault(meta["sha256"], path)
        releases.sort()
        return [n for _c, n in releases], self.current(), have

    def staged_files(self, bundle_id, clean=True):
        """sha256 -> path of the files an interrupted staging of ``bundle_id`` already finished.

        A file only ever gets its final name after its sha256 was checked, so these can be kept;
        temp files of the interrupted run are removed.
        """
        release_dir = self.release_dir(bundle_id)
        if not os.path.isfile(os.path.join(release_dir, STAGING_FILE)):
            return {}
        have = {}
        for entry in sorted(os.listdir(release_dir)):
            path = os.path.join(release_dir, entry)
            if entry.startswith(_TEMP_PREFIXES) and not os.path.islink(path):
                if clean:
                    os.unlink(path)
            elif not entry.startswith(".") and os.path.isfile(path) and not os.path.islink(path):
                have.setdefault(sha256_of(path), path)
        return have

    def _nearest_existing(self, path=None):
        """``path`` (default: the prefix), or its nearest ancestor that exists (before the first install)."""
        path = path or self.prefix
        while not os.path.exists(path):
            path = os.path.dirname(path)
        return path

    def writable(self):
        """None if releases can be written under the prefix, else why not (a read-only mount...)."""
        path = self._nearest_existing()
        if os.access(path, os.W_OK):
            return None
        try:
            st = os.statvfs(path)
            if st.f_flag & os.ST_RDONLY:
                return "%s is on a read-only file system" % path
        except OSError:
            pass
        return "%s is not writable by this user" % path

    def free_mb(self):
        """Free space where the release files are written: the releases directory, which may be a mount of its own."""
        st = os.statvfs(self._nearest_existing(self.releases))
        return st.f_bavail * st.f_frsize // (1024 * 1024)


def place_file(release_dir, name, sha256, src=None, link_from=None, compressed=True):
    """Put ``name`` into ``release_dir``: hard-link ``link_from`` (same sha256), unpack the gzip file
    ``src``, or (``compressed=False``) take ``src``, a temp file already in the release directory.

    Streams into a temp file in the release directory, checks the sha256, fsyncs, renames.
    """
    check_name(name)
    final = os.path.join(release_dir, name)
    if not compressed and os.path.dirname(os.path.abspath(src)) == os.path.abspath(release_dir):
        try:
            got = sha256_of(src)
            if got != sha256:
                raise ReleaseError("%s arrived with sha256 %s, expected %s: not installed" % (name, got, sha256))
            os.chmod(src, 0o755)
            with open(src, "rb") as f:
                os.fsync(f.fileno())
            os.replace(src, final)
        except BaseException:
            if os.path.exists(src):
                os.unlink(src)
            raise
        return
    if link_from is not None and os.path.lexists(final) and os.path.samefile(link_from, final):
        return  # finished by an interrupted run (renaming a hard link over itself would do nothing)
    if link_from is not None:
        tmp = os.path.join(release_dir, ".link-%s" % name)
        if os.path.lexists(tmp):
            os.unlink(tmp)
        try:
            os.link(link_from, tmp)
        except OSError:
            shutil.copy2(link_from, tmp)
        if sha256_of(tmp) != sha256:
            os.unlink(tmp)
            raise ReleaseError("%s on this node no longer has sha256 %s" % (link_from, sha256))
        os.replace(tmp, final)
        return
    fd, tmp = tempfile.mkstemp(dir=release_dir, prefix=".part-%s-" % name)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            opener = gzip.open if compressed else open
            with opener(src, "rb") as inp:
                for chunk in iter(lambda: inp.read(_CHUNK), b""):
                    h.update(chunk)
                    out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != sha256:
            raise ReleaseError("%s arrived with sha256 %s, expected %s: not installed" % (name, h.hexdigest(), sha256))
        os.chmod(tmp, 0o755)
        os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class RegistryFetcher(object):
    """Pull mode: the node streams its platform's layers by digest from a registry or mirror.

    Each layer goes into a temp file in the release directory (size and digest checked while it
    streams, bounded tries), then only the wanted files are taken out of it; the layer file is
    removed before the next one. Whiteouts of later layers are honoured.
    """

    def __init__(self, source, layers, insecure=False, username=None, password=None, timeout=60, retries=3,
                 max_layer_bytes=2 << 30):
        parsed = parse_repository(source)
        if parsed is None:
            raise ReleaseError("pull_source %r is not HOST[:PORT]/REPOSITORY" % (source,))
        host, repo = parsed
        if not layers:
            raise ReleaseError("the bundle lists no image layers to pull from %s; pull it again with this "
                               "collection's holder_pull" % source)
        self.registry = Registry(host, repo, insecure=insecure, username=username, password=password,
                                 timeout=timeout, retries=retries)
        self.layers = layers
        self.max_layer_bytes = max_layer_bytes
        self.bytes = 0

    def __call__(self, release_dir, wanted):
        """``wanted``: {path in the image: sha256}; returns {sha256: temp file in release_dir}."""
        extraction = Extraction(release_dir)
        names = set(wanted)
        try:
            for i, layer in enumerate(self.layers):
                what = "%s layer %d (%s)" % (self.registry.describe(), i + 1, layer["digest"][:19])
                mt = layer.get("mediaType") or "application/vnd.oci.image.layer.v1.tar+gzip"
                if mt not in LAYER_TYPES:
                    raise ReleaseError("%s has media type %r, not an image layer" % (what, mt))
                fd, blob = tempfile.mkstemp(dir=release_dir, prefix=".blob-")
                try:
                    with os.fdopen(fd, "w+b") as out:
                        self.bytes += self.registry.blob_to(layer["digest"], out, layer.get("size"))
                        out.seek(0)
                        extraction.apply_layer(out, LAYER_TYPES[mt], what, self.max_layer_bytes, wanted=names)
                finally:
                    os.unlink(blob)
        except (RegistryError, HolderError) as e:
            extraction.cleanup()
            raise ReleaseError("pull mode: %s" % e)
        except BaseException:
            extraction.cleanup()
            raise
        out = {}
        for path, sha in wanted.items():
            rec = extraction.files.get(path)
            if rec is None:
                extraction.cleanup()
                raise ReleaseError("pull mode: the layers at %s hold no /%s" % (self.registry.describe(), path))
            if sha in out:
                os.unlink(rec["tmp"])  # the same file under two names: one copy, linked later
            else:
                out[sha] = rec["tmp"]
        return out


# etcd 3.6 refuses to start, --version included, on an architecture outside these unless ETCD_UNSUPPORTED_ARCH names
# it (the control_plane role's unit sets it the same way)
ETCD_SUPPORTED_GOARCH = ("amd64", "arm64", "ppc64le", "s390x")


def smoke_env(name, path):
    """The environment ``name``'s smoke test runs with: etcd on 32-bit arm (and the like) gets ETCD_UNSUPPORTED_ARCH,
    its architecture read from the binary's ELF header; None (the module's own environment) for everything else."""
    if name != "etcd":
        return None
    try:
        machine = _elfhdr.read_identity(path).machine
    except (OSError, _elfhdr.ElfError):
        return None
    goarch = next((p.goarch for p in P.PLATFORMS if p.elf_machine == machine), None)
    if goarch is None or goarch in ETCD_SUPPORTED_GOARCH:
        return None
    return dict(os.environ, ETCD_UNSUPPORTED_ARCH=goarch)


def smoke(path, args, timeout, env=None):
    """Run ``path args`` (bounded in time, in ``env`` if given); return (ok, one line saying what happened)."""
    try:
        proc = subprocess.run([path] + list(args), capture_output=True, timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired:
        return False, "%s %s did not finish within %ss" % (os.path.basename(path), " ".join(args), timeout)
    except OSError as e:
        return False, "%s could not be started: %s" % (os.path.basename(path), e.strerror or e)
    out = (proc.stdout or b"").decode("utf-8", "replace").strip() or (proc.stderr or b"").decode("utf-8", "replace").strip()
    first = out.splitlines()[0] if out else ""
    if proc.returncode < 0:
        hint = " (SIGILL: code for another CPU)" if proc.returncode == -4 else ""
        return False, "%s %s was killed by signal %d%s" % (os.path.basename(path), " ".join(args), -proc.returncode, hint)
    if proc.returncode != 0:
        return False, "%s %s exited %d: %s" % (os.path.basename(path), " ".join(args), proc.returncode, first)
    return True, first


def _relink(prefix, link, bundle_id):
    target = os.path.join("releases", check_id(bundle_id))
    tmp = os.path.join(prefix.prefix, ".%s-%d" % (os.path.basename(link), os.getpid()))
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def switch(prefix, bundle_id):
    """Point ``current`` at the release by renaming a new symlink over it: no moment without one.
    ``previous`` then names the release it pointed at before (kept by ``prune``, for a rollback)."""
    before = prefix.current()
    if before and before != bundle_id:
        _relink(prefix, prefix.previous_link, before)
    _relink(prefix, prefix.current_link, bundle_id)
    dfd = os.open(prefix.prefix, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def link_bins(prefix, names, dry_run=False):
    """``<bin dir>/<name> -> <prefix>/current/<name>``; returns the links made or fixed (or to be)."""
    changed = []
    if not prefix.bin_dir:
        return changed
    if not dry_run:
        os.makedirs(prefix.bin_dir, exist_ok=True)
    for name in names:
        link = os.path.join(prefix.bin_dir, check_name(name))
        target = os.path.join(prefix.current_link, name)
        if os.path.islink(link) and os.readlink(link) == target:
            continue
        if os.path.lexists(link) and not os.path.islink(link):
            raise ReleaseError("%s exists and is not a link this collection made; move it away first" % link)
        if dry_run:
            changed.append(link)
            continue
        tmp = link + ".mk8s-tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, link)
        changed.append(link)
    return changed


def prune(prefix, keep, dry_run=False):
    """Remove the oldest complete releases beyond ``keep`` (never current), and leftovers of
    interrupted stagings; returns what was removed (with ``dry_run``, what would be)."""
    releases, current, _have = prefix.inventory()
    removed = []
    for name in _listdir(prefix.releases):
        if name.startswith(".pruning-"):  # a prune that was interrupted: finish it
            removed.append(name)
            if not dry_run:
                shutil.rmtree(os.path.join(prefix.releases, name), ignore_errors=True)
    complete = set(releases)
    for name in _listdir(prefix.releases):
        path = os.path.join(prefix.releases, name)
        if name not in complete and name != current and os.path.isdir(path) and not os.path.islink(path) \
                and os.path.exists(os.path.join(path, STAGING_FILE)):
            if not dry_run:
                _remove_release(prefix, name)  # an interrupted staging of ours
            removed.append(name)
    previous = prefix.previous() if keep >= 2 else None  # kept for a rollback when there is room for two
    old = [r for r in releases if r not in (current, previous)]
    held = len([r for r in (current, previous) if r in complete])
    while len(old) + held > keep and old:
        victim = old.pop(0)
        if not dry_run:
            _remove_release(prefix, victim)
        removed.append(victim)
    return removed


def settled(prefix, bundle_id, files, keep, switch_to):
    """True when a run would change nothing: the release is complete with exactly these files,
    ``current`` points at it (if switching), the links are right and nothing is to be pruned."""
    rec = prefix.read_release(bundle_id)
    wanted = dict((f["name"], f["sha256"]) for f in files)
    if rec is None or dict((n, m["sha256"]) for n, m in rec["files"].items()) != wanted:
        return False
    if switch_to and (prefix.current() != bundle_id or link_bins(prefix, list(wanted), dry_run=True)):
        return False
    return not prune(prefix, keep, dry_run=True)


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _remove_release(prefix, name):
    """Rename the release out of the way first (atomic), then delete it: a prune that is killed
    midway never leaves a half-deleted directory under a release name."""
    doomed = os.path.join(prefix.releases, ".pruning-%s" % name)
    os.replace(os.path.join(prefix.releases, name), doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def stage(prefix, bundle_id, files, uploads, smoke_args, smoke_timeout, check_mode=False, fetch=None, origin=None):
    """Make ``releases/<bundle_id>`` hold ``files`` ([{name, sha256, size}]), smoke-tested.

    ``uploads`` maps sha256 -> a gzip file on this node (sent by the controller); in pull mode
    ``fetch`` (a RegistryFetcher) gets the files neither sent nor on the node. Files another
    release has are hard-linked. Returns (changed, actions, sent, reused). On any failure the
    release directory is removed again: nothing half-staged stays behind, ``current`` is untouched.
    """
    release_dir = prefix.release_dir(bundle_id)
    existing = prefix.read_release(bundle_id)
    wanted = dict((check_name(f["name"]), f["sha256"]) for f in files)
    if existing is not None and dict((n, m["sha256"]) for n, m in existing["files"].items()) == wanted:
        return False, [], 0, 0
    if os.path.isdir(release_dir) and existing is None and not os.path.exists(os.path.join(release_dir, STAGING_FILE)):
        raise ReleaseError("%s exists but is not a release this collection made; move it away first" % release_dir)
    for entry in os.listdir(release_dir) if os.path.isdir(release_dir) else []:
        path = os.path.join(release_dir, entry)
        if os.path.islink(path):
            raise ReleaseError("%s is a symbolic link to %s planted in a release directory; refused"
                               % (path, os.readlink(path)))
    _releases, _current, have = prefix.inventory()
    for sha, path in prefix.staged_files(bundle_id, clean=not check_mode).items():
        have.setdefault(sha, path)  # finished by an interrupted run of this staging
    actions, sent, reused = [], 0, 0
    plan = []
    for f in files:
        name, sha = f["name"], f["sha256"]
        if sha in have:
            plan.append((name, sha, None, have[sha]))
            reused += 1
            actions.append("link %s (same file in %s)" % (name, os.path.basename(os.path.dirname(have[sha]))))
        elif sha in uploads or check_mode or fetch is not None:
            plan.append((name, sha, uploads.get(sha), None))
            sent += 1
            verb = "pull" if fetch is not None and sha not in uploads else "receive"
            actions.append("%s %s (%d bytes)" % ("would " + verb if check_mode else verb, name, f.get("size") or 0))
        else:
            raise ReleaseError("%s (sha256 %s) is neither on this node nor sent by the controller" % (name, sha))
    if check_mode:
        return True, actions + ["would smoke-test %d binaries" % len(files)], sent, reused
    created = not os.path.isdir(release_dir)
    os.makedirs(release_dir, exist_ok=True)
    with open(os.path.join(release_dir, STAGING_FILE), "w") as marker:
        marker.write("staging in progress; a later run removes this directory if it stays unfinished\n")
    try:
        pulled = {}
        to_pull = dict(("%s/%s" % (f.get("folder") or "k8s-bins", f["name"]), f["sha256"]) for f in files
                       if f["sha256"] not in have and f["sha256"] not in uploads)
        if to_pull:
            pulled = fetch(release_dir, to_pull)
        placed = {}
        for name, sha, upload, link_from in plan:
            if upload is None and link_from is None and sha in placed:
                place_file(release_dir, name, sha, link_from=placed[sha])
            elif upload is None and link_from is None:
                place_file(release_dir, name, sha, src=pulled.pop(sha), compressed=False)
            else:
                place_file(release_dir, name, sha, src=upload, link_from=link_from)
            placed[sha] = os.path.join(release_dir, name)
        for name, _sha, _u, _l in plan:
            args = smoke_args.get(name, ["--version"])
            path = os.path.join(release_dir, name)
            ok, line = smoke(path, args, smoke_timeout, env=smoke_env(name, path))
            if not ok:
                raise ReleaseError("smoke test failed, nothing switched: %s" % line)
            actions.append("smoke-tested %s: %s" % (name, line[:80]))
        record = {"id": bundle_id, "created": _now(), "origin": origin or {}, "files": dict(
            (f["name"], dict({"sha256": f["sha256"], "size": f.get("size")}, **({"version": f["version"]} if f.get("version") else {})))
            for f in files)}
        tmp = os.path.join(release_dir, RELEASE_FILE + ".tmp")
        with open(tmp, "w") as out:
            json.dump(record, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, os.path.join(release_dir, RELEASE_FILE))
        os.unlink(os.path.join(release_dir, STAGING_FILE))
    except BaseException:
        if created or prefix.read_release(bundle_id) is None:
            shutil.rmtree(release_dir, ignore_errors=True)
        raise
    return True, actions, sent, reused


def _now():
    return round(time.time(), 3)
