# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""holder_pull's worker: one verified bundle per platform into the cache. Private to the collection.

Controller-side. Flow per pull: parse ``src`` -> resolve the index (or single manifest) ->
pick each platform's manifest (exact, else a lower variant) -> reuse the cached bundle, or
download the layers (digest and size checked), take the allow-listed files, verify every binary
(ELF identity, static/stripped claims, ARM architecture, GOARM, metadata sha256) and store them
content-addressed -> record the lock file entry.
"""

from __future__ import annotations

import os
import re
import time

from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P
from ansible_collections.multiarch.k8s.plugins.plugin_utils._cache import Cache, CacheError, LockFile
from ansible_collections.multiarch.k8s.plugins.plugin_utils._elf import NotElf, describe, inspect, problems
from ansible_collections.multiarch.k8s.plugins.module_utils._holder import (
    FOLDERS, Extraction, HolderError, binaries, read_metadata,
)
from ansible_collections.multiarch.k8s.plugins.module_utils._oci import (
    INDEX_TYPES, LAYER_TYPES, ImageError, LayoutSource, RegistrySource, descriptor, entry_platform,
    media_type_of, parse_json, parse_reference, select,
)

DEFAULT_MAX_LAYER_MB = 2048


class PullError(Exception):
    """Anything that stops a pull; the message is one sentence a person can act on."""


def bundle_id(version, platform, manifest_digest):
    """Id of a bundle: component version, platform label and the manifest digest it came from."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", version or "unversioned")
    return "%s-%s-%s" % (safe, platform.label, manifest_digest.split(":", 1)[1][:12])


def _mb(n):
    return round(n / 1048576.0, 2)


class _Progress(object):
    """Logs bytes and rate of a download every two seconds."""

    def __init__(self, log, platform, base):
        self.log = log
        self.platform = platform
        self.base = base
        self.last = 0.0

    def __call__(self, got, secs):
        if secs - self.last >= 2.0:
            self.last = secs
            self.log("%s: %.1f MB, %.1f MB/s" % (self.platform, _mb(self.base + got), _mb(got) / max(secs, 1e-3)))


class Puller(object):
    def __init__(self, src, platforms, dest, files=None, lock_file=None, update_lock=False, version=None,
                 insecure=False, username=None, password=None, timeout=30.0, retries=3,
                 max_layer_mb=DEFAULT_MAX_LAYER_MB, require_static="auto", check_mode=False, log=None):
        try:
            self.ref = parse_reference(src)
        except ImageError as e:
            raise PullError(str(e))
        if not platforms:
            raise PullError("platforms is empty: give at least one, e.g. linux/arm/v6")
        try:
            self.wanted = []
            for p in platforms:
                plat = P.by_oci(p)
                if plat not in self.wanted:
                    self.wanted.append(plat)
        except P.PlatformError as e:
            raise PullError("platforms: %s" % e)
        if require_static not in ("auto", True, False):
            raise PullError("require_static must be auto, true or false, not %r" % (require_static,))
        self.dest = dest
        self.files = set(files) if files else None
        self.lock_path = lock_file
        self.update_lock = update_lock
        self.version = version or self.ref.tag or (self.ref.digest or "")[:19]
        self.options = dict(insecure=insecure, username=username, password=password,
                            timeout=timeout, retries=retries)
        self.max_layer = int(max_layer_mb) << 20
        self.require_static = require_static
        self.check_mode = check_mode
        self.log = log or (lambda msg: None)
        self.cache = Cache(dest)
        self.actions = []
        self.transfer = {}

    # ---------------------------------------------------------------------------------------
    def _source(self, tmpdir):
        if self.ref.transport == "docker":
            return RegistrySource(self.ref, **self.options)
        if self.ref.transport == "oci":
            return LayoutSource(self.ref)
        from ansible_collections.multiarch.k8s.plugins.plugin_utils._docker_source import (  # pylint: disable=import-outside-toplevel
            DaemonSource,
        )
        return DaemonSource(self.ref, tmpdir)

    def _fetch_json(self, source, desc, what, tmpdir):
        path = os.path.join(tmpdir, "json-" + desc["digest"].split(":", 1)[1])
        with open(path, "wb") as out:
            source.blob_to(desc["digest"], out, desc["size"])
        with open(path, "rb") as f:
            return parse_json(f.read(), what)

    def _plan(self, source, tmpdir):
        """Index digest and, per wanted platform, (manifest descriptor, platform used, reason)."""
        body, header_mt, top_digest = source.resolve()
        where = "holder image %s" % source.describe()
        doc = parse_json(body, "%s manifest" % where)
        mt = media_type_of(doc, header_mt, "%s manifest" % where)
        plan = {}
        if mt in INDEX_TYPES:
            entries = [descriptor(d, where) for d in doc.get("manifests") or []]
            for plat in self.wanted:
                d, used, reason = select(entries, plat, where)
                plan[plat] = (d, used, reason)
        else:
            cfg = self._fetch_json(source, descriptor(doc.get("config"), where), "%s config" % where, tmpdir)
            fake = {"digest": top_digest, "size": len(body), "platform": {
                "os": cfg.get("os"), "architecture": cfg.get("architecture"), "variant": cfg.get("variant")}}
            for plat in self.wanted:
                d, used, reason = select([fake], plat, where + " (a single-platform image)")
                plan[plat] = (d, used, reason)
        return top_digest, plan

    def _manifest(self, source, d, used, where, tmpdir):
        body, mt = source.manifest(d["digest"])
        doc = parse_json(body, "%s %s manifest" % (where, used))
        mt = media_type_of(doc, mt or d.get("mediaType"), "%s %s manifest" % (where, used))
        if mt in INDEX_TYPES:
            raise PullError("%s: the %s entry is another index, not an image manifest" % (where, used))
        config_desc = descriptor(doc.get("config"), "%s %s manifest" % (where, used))
        cfg = self._fetch_json(source, config_desc, "%s %s config" % (where, used), tmpdir)
        cfg_platform = entry_platform({"platform": cfg})
        if cfg_platform is not None and cfg_platform != used:
            raise PullError("%s: the %s manifest's config says %s" % (where, used, cfg_platform))
        layers = [descriptor(layer, "%s %s manifest" % (where, used)) for layer in doc.get("layers") or []]
        if not layers:
            raise PullError("%s: the %s manifest has no layers" % (where, used))
        return layers

    # ---------------------------------------------------------------------------------------
    def _verify(self, extraction, used_platform, where):
        meta = read_metadata(extraction, where)
        names = binaries(extraction)
        if not names:
            raise PullError("%s for %s has no files under %s" % (where, used_platform.oci,
                                                                 ", ".join("/%s/" % f for f in FOLDERS)))
        if self.files is not None:
            have = set(os.path.basename(n) for n in names) | set(names)
            missing = sorted(f for f in self.files if f not in have)
            if missing:
                raise PullError("%s for %s has no %s; it has %s" % (
                    where, used_platform.oci, ", ".join(missing), ", ".join(os.path.basename(n) for n in names)))
        if meta is not None:
            if meta.get("platform") and meta["platform"] != used_platform.oci:
                raise PullError("%s: its metadata is for %s, found in the %s slot"
                                % (where, meta["platform"], used_platform.oci))
            listed = meta["files"]
            if self.files is None:
                absent = sorted(set(listed) - set(names))
                if absent:
                    raise PullError("%s for %s: metadata lists %s, which the layers do not hold"
                                    % (where, used_platform.oci, ", ".join(absent)))
        files = {}
        for name in names:
            rec = extraction.files[name]
            claim = (meta or {}).get("files", {}).get(name) if meta is not None else None
            if meta is not None and claim is None:
                raise PullError("%s for %s: /%s is not in the image's metadata" % (where, used_platform.oci, name))
            if claim is not None and claim.get("sha256") != rec["sha256"]:
                raise PullError("%s for %s: /%s has sha256 %s, the metadata says %s"
                                % (where, used_platform.oci, name, rec["sha256"], claim.get("sha256")))
            if self.require_static == "auto":
                static = bool(claim.get("static", True)) if claim is not None else True
            else:
                static = bool(self.require_static)
            stripped = bool(claim.get("stripped")) if claim is not None else False
            try:
                info = inspect(rec["tmp"])
            except NotElf as e:
                reason = str(e).split(": ", 1)[-1]
                raise PullError("%s for %s: /%s is not a binary: %s" % (where, used_platform.oci, name, reason))
            found = problems("/" + name, info, used_platform, require_static=static, require_stripped=stripped)
            if claim is not None and claim.get("goarch"):
                try:
                    claimed = P.by_go(claim["goarch"], claim.get("goarm"))
                except P.PlatformError as e:
                    claimed = None
                    found.append("/%s metadata: %s" % (name, e))
                if claimed is not None and not used_platform.can_run(claimed):
                    found.append("/%s is claimed a %s build (GOARCH=%s GOARM=%s), which a %s host cannot run"
                                 % (name, claimed.oci, claim["goarch"], claim.get("goarm"), used_platform.oci))
            if found:
                raise PullError("%s for %s: %s" % (where, used_platform.oci, "; ".join(found)))
            files[name] = {
                "name": os.path.basename(name), "folder": name.split("/", 1)[0], "sha256": rec["sha256"],
                "size": rec["size"], "elf": describe(info), "static": info["static"],
                "stripped": info["stripped"], "version": (claim or {}).get("version"),
                "goarm": ((info.get("go") or {}).get("settings") or {}).get("GOARM"),
                "tmp": rec["tmp"],
            }
        return files, meta

    def _download(self, source, plat, used, layers, where, tmpdir):
        extraction = Extraction(tmpdir)
        total = 0
        start = time.monotonic()
        used_platform = P.by_oci(used)
        try:
            for i, layer in enumerate(layers):
                mt = layer.get("mediaType") or "application/vnd.oci.image.layer.v1.tar+gzip"
                if mt not in LAYER_TYPES:
                    raise PullError("%s %s layer %d has media type %r, not an image layer"
                                    % (where, used, i + 1, mt))
                blob = os.path.join(tmpdir, "layer-%d" % i)
                progress = _Progress(self.log, plat.oci, total)
                # download first (digest and size checked), then unpack: measured faster here than
                # unpacking while downloading in a second thread (bench/pull.py)
                with open(blob, "w+b") as out:
                    total += source.blob_to(layer["digest"], out, layer["size"], progress=progress)
                    out.seek(0)
                    what = "%s %s layer %d (%s)" % (where, used, i + 1, layer["digest"][:19])
                    extraction.apply_layer(out, LAYER_TYPES[mt], what, self.max_layer, wanted=self.files)
                os.unlink(blob)
            files, meta = self._verify(extraction, used_platform, "%s" % where)
        except BaseException:
            extraction.cleanup()
            raise
        secs = time.monotonic() - start
        self.transfer[plat.oci] = {"bytes": total, "seconds": round(secs, 3),
                                   "mb_per_s": round(_mb(total) / max(secs, 1e-3), 1)}
        self.log("%s: %.1f MB in %.1fs (%.1f MB/s), %d files verified"
                 % (plat.oci, _mb(total), secs, _mb(total) / max(secs, 1e-3), len(files)))
        return files, meta

    # ---------------------------------------------------------------------------------------
    def run(self):
        try:
            lock = LockFile(self.lock_path) if self.lock_path else None
        except CacheError as e:
            raise PullError(str(e))
        before = (lock.entry(self.version) if lock else None)
        try:
            with self.cache.locked() as tmpdir:
                source = self._source(tmpdir)
                return self._run(source, lock, before, tmpdir)
        except (ImageError, HolderError, CacheError) as e:
            raise PullError(str(e))
        except OSError as e:
            raise PullError("cannot write the cache at %s: %s" % (self.dest, e.strerror or e))

    def _cached_from_lock(self, entry):
        out = {}
        for plat in self.wanted:
            p = (entry.get("platforms") or {}).get(plat.oci)
            if not p:
                return None
            rec = self.cache.load_bundle(p["manifest"])
            if rec is None or not self._covers(rec):
                return None
            out[plat] = rec
        return out

    def _covers(self, rec):
        if self.files is None:
            return rec.get("complete", False)
        have = set(rec["files"]) | set(os.path.basename(n) for n in rec["files"])
        return self.files <= have

    def _run(self, source, lock, before, tmpdir):
        where = "holder image %s" % source.describe()
        # fast path: everything the lock file pins is in the cache -> one manifest check
        if before and self.ref.transport != "docker-daemon":
            cached = self._cached_from_lock(before)
            if cached is not None:
                current = self.ref.digest or source.current_digest()
                if current == before["index"]:
                    return self._result(source, before["index"], cached, {}, lock, before, changed=False)
                if not self.update_lock:
                    raise PullError(self._moved(source, before["index"], current))
        index_digest, plan = self._plan(source, tmpdir)
        if before and before.get("index") != index_digest and not self.update_lock:
            raise PullError(self._moved(source, before["index"], index_digest))
        bundles = {}
        new_files = {}
        for plat in self.wanted:
            d, used, reason = plan[plat]
            rec = self.cache.load_bundle(d["digest"])
            if rec is not None and self._covers(rec):
                rec = dict(rec, platform=plat.oci, reason=reason)
                bundles[plat] = rec
                continue
            used_platform = P.by_oci(used)
            if self.check_mode:
                self.actions.append("would pull %s for %s (%s)" % (used, plat.oci, reason))
                bundles[plat] = self._record(plat, used_platform, reason, d["digest"], index_digest, {}, None,
                                             pending=True)
                continue
            self.log("%s: pulling %s manifest %s (%s)" % (plat.oci, used, d["digest"][:19], reason))
            layers = self._manifest(source, d, used, where, tmpdir)
            files, meta = self._download(source, plat, used, layers, where, tmpdir)
            added = 0
            for name, f in files.items():
                tmp = f.pop("tmp")
                if self.cache.store_blob(tmp, f["sha256"]):
                    new_files[f["sha256"]] = name
                    added += 1
            rec = self._record(plat, used_platform, reason, d["digest"], index_digest, files, meta)
            rec["layers"] = [dict((k, layer.get(k)) for k in ("digest", "size", "mediaType")) for layer in layers]
            self.cache.save_bundle(d["digest"], rec)
            self.actions.append("pulled %s for %s: %d files verified, %d new in the cache"
                                % (used, plat.oci, len(files), added))
            bundles[plat] = rec
        changed = bool(new_files) or any(b.get("pending") for b in bundles.values())
        return self._result(source, index_digest, bundles, new_files, lock, before, changed=changed)

    def _moved(self, source, pinned, current):
        return ("%s moved: the lock file %s pins %s, the source now has %s; pull by digest, or set "
                "update_lock to follow it" % (self.ref.text, self.lock_path, pinned, current))

    def _record(self, plat, used_platform, reason, manifest_digest, index_digest, files, meta, pending=False):
        rec = {
            "bundle_id": bundle_id(self.version, used_platform, manifest_digest),
            "platform": plat.oci,
            "platform_used": used_platform.oci,
            "reason": reason,
            "manifest_digest": manifest_digest,
            "index_digest": index_digest,
            "source": self.ref.text,
            "version": self.version,
            "layout": "multiarch.k8s" if meta is not None else "seed",
            "complete": self.files is None,
            "files": files,
        }
        if pending:
            rec["pending"] = True
        return rec

    def _result(self, source, index_digest, bundles, new_files, lock, before, changed):
        after = None
        lock_changed = False
        if lock is not None:
            after = {
                "source": self.ref.text,
                "index": index_digest,
                "platforms": dict(
                    (b["platform_used"], {"manifest": b["manifest_digest"],
                                          "files": dict((n, f["sha256"]) for n, f in sorted(b["files"].items())),
                                          "versions": dict((n.rsplit("/", 1)[-1], f["version"])
                                                           for n, f in sorted(b["files"].items()) if f.get("version"))})
                    for b in bundles.values() if not b.get("pending")),
            }
            merged = dict(after)
            if before and before.get("index") == index_digest:
                plats = dict(before.get("platforms") or {})
                plats.update(after["platforms"])
                merged["platforms"] = plats
            if merged != before:
                lock_changed = True
                if not self.check_mode:
                    lock.set_entry(self.version, merged)
                    lock.save()
                    self.actions.append("wrote %s entry %s -> %s" % (self.lock_path, self.version, index_digest))
                else:
                    self.actions.append("would write %s entry %s -> %s" % (self.lock_path, self.version, index_digest))
            after = merged
        out = {}
        for plat, b in bundles.items():
            b = dict(b)
            b["platform"] = plat.oci
            b["files"] = [dict(f, path=self.cache.blob_path(f["sha256"])) for _n, f in sorted(b["files"].items())]
            out[plat.oci] = b
        return {
            "changed": bool(changed or lock_changed),
            "index_digest": index_digest,
            "version": self.version,
            "bundles": out,
            "actions": self.actions,
            "diff": {"before": {"lock": before}, "after": {"lock": after}},
            "transfer": self.transfer,
            "requests": source.requests,
            "new_files": len(new_files),
        }
