# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""holder_build's worker: source -> verified static binaries -> holder image -> lock entry.

Private to the collection. Controller-side.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.multiarch.k8s.plugins.plugin_utils._build import (
    CNI, COMPONENTS, CONTAINERD, COREDNS, ETCD, K8S, RUNC, STANDIN, BuildError, Builder, platforms_of,
)
from ansible_collections.multiarch.k8s.plugins.plugin_utils._cache import CacheError, LockFile
from ansible_collections.multiarch.k8s.plugins.module_utils import _components as C
from ansible_collections.multiarch.k8s.plugins.module_utils._oci import ImageError, parse_reference
from ansible_collections.multiarch.k8s.plugins.plugin_utils._sources import SourceCache
from ansible_collections.multiarch.k8s.plugins.plugin_utils._publish import (
    image_annotations, layout_tag_digest, load_into_docker, push_layout, write_holder,
)
from ansible_collections.multiarch.k8s.plugins.module_utils._registry import Registry, RegistryError

_ROW_FIELDS = ("platform", "component", "size", "sha256", "static", "stripped", "goarm", "seconds", "cached", "elf",
               "origin")
DEFAULT_COMPONENTS = C.KUBERNETES


def summary_table(rows):
    header = ("platform", "binary", "size MB", "sha256", "static", "GOARM", "seconds")
    table = [header] + [(r["platform"], r["component"], "%.1f" % (r["size"] / 1048576.0), r["sha256"][:16],
                         "yes" if r["static"] else "NO", r.get("goarm") or "-",
                         "cached" if r.get("cached") else "%.0f" % r["seconds"]) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]


def _check_request(platforms, components, platform_components, dest, lock_file):
    """The platforms, the components for each, the destination and the lock, checked before anything is built."""
    plats = platforms_of(platforms)
    comps = list(components or DEFAULT_COMPONENTS)
    extra = {}
    for key, more in (platform_components or {}).items():
        matching = [p for p in plats if p == platforms_of([key])[0]]
        if not matching:
            raise BuildError("platform_components names %s, which is not one of the platforms asked for (%s)"
                             % (key, ", ".join(p.oci for p in plats)))
        if not isinstance(more, list):
            raise BuildError("platform_components[%s] must be a list of components" % key)
        extra[matching[0].oci] = [c for c in more if c not in comps]
    all_comps = comps + [c for more in extra.values() for c in more]
    unknown = sorted(set(c for c in all_comps if c not in COMPONENTS))
    if unknown:
        raise BuildError("components %s are not ones this collection builds (known: %s)"
                         % (", ".join(unknown), ", ".join(sorted(COMPONENTS))))
    try:
        ref = parse_reference(dest)
    except ImageError as e:
        raise BuildError("dest: %s" % e)
    if ref.transport == "docker-daemon" and len(plats) != 1:
        raise BuildError("dest %s: the Docker engine keeps one platform per tag, and %d platforms were asked "
                         "for; load one platform per tag, or publish to a registry (docker://) or an OCI "
                         "layout (oci:)" % (dest, len(plats)))
    if not ref.tag:
        raise BuildError("dest %s needs a tag to publish under" % dest)
    try:
        lock = LockFile(lock_file) if lock_file else None
    except CacheError as e:
        raise BuildError(str(e))
    return plats, dict((p.oci, comps + extra.get(p.oci, [])) for p in plats), all_comps, ref, lock


def _builders(sources, specs, all_comps, debian_patches, build_dir, log, timeout, strategy):
    """A Builder per Go module the components come from (Kubernetes, the CNI plugins, etcd, containerd, runc)."""
    builders = {}
    for module, spec, ver in specs:
        if any(COMPONENTS[c][0] == module for c in all_comps):
            # sources without vendor/ build against Debian's Go libraries: with Debian's patches,
            # as Debian builds them; for Kubernetes the choice is the user's
            src = sources.prepare(spec, debian_patches=debian_patches if module == K8S else True, version=ver)
            if src.module != module and not (module == K8S and src.module == STANDIN):
                raise BuildError("source %s is %s, not %s" % (spec, src.module, module))
            builders[module] = Builder(build_dir, src, log=log, timeout=timeout, strategy=strategy, sources=sources)
    return builders


def _build_all(builders, plats, wanted, check_mode, jobs=1):
    """(rows, bundles by platform, actions, what check mode would build) for every component of every platform.
    With ``jobs`` > 1 (module-mode sources only), that many platforms build at once, each platform's components in
    order: builds of different platforms share no compiled package, so none is compiled twice, and one platform's
    serial phases (linking, a C library's configure) overlap another's compiling."""
    def one_platform(plat):
        done = []
        for comp in wanted[plat.oci]:
            builder = builders[COMPONENTS[comp][0]]
            done.append((comp, builder.lookup(comp, plat) if check_mode else builder.build(comp, plat)))
        return done

    if jobs > 1 and not check_mode and len(plats) > 1 and all(b.source.gomod for b in builders.values()):
        with ThreadPoolExecutor(max_workers=min(jobs, len(plats))) as pool:
            results = list(pool.map(one_platform, plats))  # the first failure is raised once all have stopped
    else:
        results = [one_platform(plat) for plat in plats]
    rows, bundles, actions, missing = [], {}, [], []
    for plat, done in zip(plats, results):
        for comp, rec in done:
            if rec is None:
                missing.append("would build %s for %s" % (comp, plat.oci))
                continue
            rows.append(rec)
            bundles.setdefault(plat.oci, []).append(rec)
            if not rec["cached"]:
                actions.append("built %s for %s in %.0fs" % (comp, plat.oci, rec["seconds"]))
    return rows, bundles, actions, missing


def _stage_image(build_dir, ref, bundles, rows, annotations, log):
    """The holder image as an OCI layout under build_dir, written once per content: (path, index descriptor,
    manifest digest by platform)."""
    staged = _staged_path(build_dir, ref, annotations, rows)
    if not os.path.exists(os.path.join(staged, "index.json")):
        tmp = staged + ".part"
        shutil.rmtree(tmp, ignore_errors=True)
        log("writing the holder image (%d platforms, %d binaries)" % (len(bundles), len(rows)))
        write_holder(tmp, ref.tag, bundles, annotations)
        os.replace(tmp, staged)
    index_digest = layout_tag_digest(staged, ref.tag)
    with open(os.path.join(staged, "blobs", "sha256", index_digest.split(":", 1)[1]), "rb") as f:
        index_body = f.read()
    index = json.loads(index_body.decode("utf-8"))
    index_desc = {"mediaType": index["mediaType"], "digest": index_digest, "size": len(index_body)}
    manifests = dict(("/".join(filter(None, [m["platform"]["os"], m["platform"]["architecture"],
                                             m["platform"].get("variant")])), m["digest"]) for m in index["manifests"])
    return staged, index, index_desc, manifests


def _publish(ref, dest, staged, index, index_desc, bundles, annotations, build_dir, check_mode, log, registry_args):
    """Publishes the staged image to dest (Docker engine, OCI layout or registry): (published, actions)."""
    index_digest = index_desc["digest"]
    actions = []
    if ref.transport == "docker-daemon":
        name = ref.location + ":" + ref.tag
        if check_mode:
            return True, ["would load %s into the Docker engine" % name]
        try:
            image_id, published = load_into_docker(staged, dict(index["manifests"][0]), name,
                                                   os.path.join(build_dir, "images"))
        except Exception as e:  # pylint: disable=broad-except
            raise BuildError("loading %s into the Docker engine failed: %s" % (name, e))
        if published:
            actions.append("loaded %s into the Docker engine (image %s)" % (name, image_id))
        return published, actions
    if ref.transport == "oci":
        before = layout_tag_digest(ref.location, ref.tag)
        if before == index_digest:
            return False, []
        if check_mode:
            return True, ["would write %s (index %s)" % (dest, index_digest)]
        write_holder(ref.location, ref.tag, bundles, annotations)
        return True, ["wrote %s (index %s)" % (dest, index_digest)]
    registry = Registry(ref.host, ref.repository, **registry_args)
    try:
        try:
            current = registry.manifest_digest(ref.tag)
        except RegistryError as e:
            if "404" not in str(e):
                raise
            current = None
        if current == index_digest:
            return False, []
        if check_mode:
            return True, ["would push %s (index %s)" % (dest, index_digest)]
        uploaded = push_layout(staged, index_desc, registry, ref.tag, log=log)
        return True, ["pushed %s (index %s, %d new blobs)" % (dest, index_digest, uploaded)]
    except RegistryError as e:
        raise BuildError("publishing to %s failed: %s" % (dest, e))


def _update_lock(lock, lock_file, ref, dest, index_digest, manifests, bundles, check_mode):
    """The lock entry of the tag set to what was published: (before, after, changed, actions)."""
    if lock is None:
        return None, None, False, []
    before = lock.entry(ref.tag)
    # the version of each component too: upgrade.yml checks the version skew policy against them before it
    # fetches anything
    after = {"source": dest, "index": index_digest, "platforms": dict(
        (p, {"manifest": manifests[p], "files": dict(("%s/%s" % (r["folder"], r["component"]), r["sha256"])
                                                     for r in bundles[p]),
             "versions": dict((r["component"], r["version"]) for r in bundles[p] if r.get("version"))}) for p in bundles)}
    if after == before:
        return before, after, False, []
    if check_mode:
        return before, after, True, ["would write %s entry %s -> %s" % (lock_file, ref.tag, index_digest)]
    lock.set_entry(ref.tag, after)
    lock.save()
    return before, after, True, ["wrote %s entry %s -> %s" % (lock_file, ref.tag, index_digest)]


def run(source, platforms, dest, components=None, platform_components=None, build_dir="~/.cache/multiarch-k8s/build", version=None,
        debian_patches=False, lock_file=None, insecure=False, username=None, password=None, timeout=3600,
        mirror="http://deb.debian.org/debian", check_mode=False, log=None,
        cni_source="gomod:cni-plugins-v1.10.0", etcd_source="gomod:etcd-v3.6.17",
        containerd_source="gomod:containerd-v2.4.2", runc_source="gomod:runc-v1.5.3", coredns_source="gomod:coredns-v1.15.0",
        strategy="cross", jobs=1):
    """Builds, publishes and locks a holder image: the steps above, in order; check mode builds and writes nothing."""
    log = log or (lambda msg: None)
    if jobs < 1:
        raise BuildError("jobs must be 1 or more, not %d" % jobs)
    build_dir = os.path.expanduser(build_dir)
    plats, wanted, all_comps, ref, lock = _check_request(platforms, components, platform_components, dest, lock_file)
    builders = _builders(SourceCache(build_dir, mirror=mirror, log=log),
                         ((K8S, source, version), (CNI, cni_source, None), (ETCD, etcd_source, None),
                          (CONTAINERD, containerd_source, None), (RUNC, runc_source, None),
                          (COREDNS, coredns_source, None)),
                         all_comps, debian_patches, build_dir, log, timeout, strategy)
    # the version and the image's name come from Kubernetes when it is built, else from the first module built
    src = (builders.get(K8S) or list(builders.values())[0]).source
    described = "; ".join(b.source.description for b in builders.values())
    rows, bundles, actions, missing = _build_all(builders, plats, wanted, check_mode, jobs=jobs)
    if missing:  # check mode only: what is not built yet
        return {"changed": True, "actions": missing + ["would publish %s" % dest], "source": described,
                "version": src.version}

    annotations = image_annotations(described, src.version)
    if check_mode and not os.path.exists(os.path.join(_staged_path(build_dir, ref, annotations, rows), "index.json")):
        return {"changed": True, "actions": ["would write and publish the holder image %s" % dest],
                "source": described, "version": src.version, "summary": summary_table(rows)}
    staged, index, index_desc, manifests = _stage_image(build_dir, ref, bundles, rows, annotations, log)
    published, more = _publish(ref, dest, staged, index, index_desc, bundles, annotations, build_dir, check_mode, log,
                               dict(insecure=insecure, username=username, password=password))
    actions += more
    lock_before, lock_after, lock_changed, more = _update_lock(lock, lock_file, ref, dest, index_desc["digest"],
                                                               manifests, bundles, check_mode)
    actions += more
    built = [r for r in rows if not r["cached"]]
    return {
        "changed": bool(built or published or lock_changed),
        "index_digest": index_desc["digest"],
        "manifests": manifests,
        "dest": dest,
        "source": described,
        "version": src.version,
        "binaries": [dict((k, r[k]) for k in _ROW_FIELDS) for r in rows],
        "summary": summary_table(rows),
        "actions": actions,
        "diff": {"before": {"lock": lock_before}, "after": {"lock": lock_after}},
    }


def _staged_path(build_dir, ref, annotations, rows):
    """Where the image of this content is staged (a key of the tag, annotations and every binary's sha256)."""
    key = hashlib.sha256(json.dumps([ref.tag, annotations, sorted((r["platform"], r["component"], r["sha256"])
                                                                  for r in rows)]).encode()).hexdigest()
    return os.path.join(build_dir, "images", key[:16])
