# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Staged releases on a node. Private to the collection: not a public API.

Node-side: standard library only (a 512 MB Pi Zero runs this), streaming, never a whole binary
in memory. Layout under the prefix (default ``/opt/multiarch-k8s``)::

    releases/<bundle-id>/<binary>          files of one release
    releases/<bundle-id>/.release.json     written last: the release is complete when it exists
    current -> releases/<bundle-id>        switched by renaming a new symlink over it
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

RELEASE_FILE = ".release.json"
STAGING_FILE = ".staging"
_CHUNK = 1 << 16
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
        self.bin_dir = bin_dir

    def release_dir(self, bundle_id):
        return os.path.join(self.releases, check_id(bundle_id))

    def current(self):
        try:
            target = os.readlink(self.current_link)
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

    def free_mb(self):
        path = self.prefix
        while not os.path.exists(path):
            path = os.path.dirname(path)
        st = os.statvfs(path)
        return st.f_bavail * st.f_frsize // (1024 * 1024)


def place_file(release_dir, name, sha256, src=None, link_from=None, compressed=True):
    """Put ``name`` into ``release_dir``: hard-link ``link_from`` (same sha256) or unpack ``src``.

    Streams into a temp file in the release directory, checks the sha256, fsyncs, renames.
    """
    check_name(name)
    final = os.path.join(release_dir, name)
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


def smoke(path, args, timeout):
    """Run ``path args`` (bounded in time); return (ok, one line saying what happened)."""
    try:
        proc = subprocess.run([path] + list(args), capture_output=True, timeout=timeout, check=False)
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


def switch(prefix, bundle_id):
    """Point ``current`` at the release by renaming a new symlink over it: no moment without one."""
    target = os.path.join("releases", check_id(bundle_id))
    tmp = os.path.join(prefix.prefix, ".current-%d" % os.getpid())
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, prefix.current_link)
    dfd = os.open(prefix.prefix, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def link_bins(prefix, names):
    """``<bin dir>/<name> -> <prefix>/current/<name>``; returns the links made or fixed."""
    changed = []
    if not prefix.bin_dir:
        return changed
    os.makedirs(prefix.bin_dir, exist_ok=True)
    for name in names:
        link = os.path.join(prefix.bin_dir, check_name(name))
        target = os.path.join(prefix.current_link, name)
        if os.path.islink(link) and os.readlink(link) == target:
            continue
        if os.path.lexists(link) and not os.path.islink(link):
            raise ReleaseError("%s exists and is not a link this collection made; move it away first" % link)
        tmp = link + ".mk8s-tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, link)
        changed.append(link)
    return changed


def prune(prefix, keep):
    """Remove the oldest complete releases beyond ``keep`` (never current), and leftovers of
    interrupted stagings; returns what was removed."""
    releases, current, _have = prefix.inventory()
    removed = []
    complete = set(releases)
    try:
        names = os.listdir(prefix.releases)
    except OSError:
        names = []
    for name in names:
        path = os.path.join(prefix.releases, name)
        if name not in complete and name != current and os.path.isdir(path) and not os.path.islink(path) \
                and os.path.exists(os.path.join(path, STAGING_FILE)):
            shutil.rmtree(path, ignore_errors=True)  # an interrupted staging of ours
            removed.append(name)
    old = [r for r in releases if r != current]
    while len(old) + (1 if current in complete else 0) > keep and old:
        victim = old.pop(0)
        shutil.rmtree(os.path.join(prefix.releases, victim), ignore_errors=True)
        removed.append(victim)
    return removed


def stage(prefix, bundle_id, files, uploads, smoke_args, smoke_timeout, check_mode=False):
    """Make ``releases/<bundle_id>`` hold ``files`` ([{name, sha256, size}]), smoke-tested.

    ``uploads`` maps sha256 -> a gzip file on this node (sent by the controller). Files another
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
    actions, sent, reused = [], 0, 0
    plan = []
    for f in files:
        name, sha = f["name"], f["sha256"]
        if sha in have:
            plan.append((name, sha, None, have[sha]))
            reused += 1
            actions.append("link %s (same file in %s)" % (name, os.path.basename(os.path.dirname(have[sha]))))
        elif sha in uploads or check_mode:
            plan.append((name, sha, uploads.get(sha), None))
            sent += 1
            actions.append("%s %s (%d bytes)" % ("would receive" if check_mode else "receive", name, f.get("size") or 0))
        else:
            raise ReleaseError("%s (sha256 %s) is neither on this node nor sent by the controller" % (name, sha))
    if check_mode:
        return True, actions + ["would smoke-test %d binaries" % len(files)], sent, reused
    created = not os.path.isdir(release_dir)
    os.makedirs(release_dir, exist_ok=True)
    with open(os.path.join(release_dir, STAGING_FILE), "w") as marker:
        marker.write("staging in progress; a later run removes this directory if it stays unfinished\n")
    try:
        for name, sha, upload, link_from in plan:
            place_file(release_dir, name, sha, src=upload, link_from=link_from)
        for name, _sha, _u, _l in plan:
            args = smoke_args.get(name, ["--version"])
            ok, line = smoke(os.path.join(release_dir, name), args, smoke_timeout)
            if not ok:
                raise ReleaseError("smoke test failed, nothing switched: %s" % line)
            actions.append("smoke-tested %s: %s" % (name, line[:80]))
        record = {"id": bundle_id, "created": _now(), "files": dict(
            (f["name"], {"sha256": f["sha256"], "size": f.get("size")}) for f in files)}
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
