# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test holder images, built here from real files.

- ``build_ours``: this collection's layout (FROM scratch, /k8s-bins, /cni-plugin-bins and
  /multiarch-k8s/holder.json), one manifest per platform, one index.
- ``build_seed``: the seed recipe's layout: several layers over a base layer (Debian's
  busybox-static stands in for the recipe's Alpine base: there is no Docker Hub here), no
  metadata, and a whiteout that deletes a file an earlier layer added.
- ``push``: skopeo copies a layout to the test registry on 127.0.0.1 (an independent tool, so a
  layout this collection writes is checked by someone else's reader too).
"""

from __future__ import annotations

import json
import os
import subprocess

from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P
from ansible_collections.multiarch.k8s.plugins.plugin_utils._build import sha256_file
from ansible_collections.multiarch.k8s.plugins.plugin_utils._elf import inspect
from ansible_collections.multiarch.k8s.plugins.module_utils._holder import METADATA
from ansible_collections.multiarch.k8s.plugins.plugin_utils._oci_write import LayoutWriter, tar_entry

REGISTRY = os.environ.get("MULTIARCH_REGISTRY", "127.0.0.1:5000")
K8S = ("kubectl", "etcd")
CNI = ("bridge", "host-local", "loopback", "portmap")
VERSIONS = {"kubectl": "v1.20.2", "etcd": "3.4.23"}


def metadata(platform, files, source="Debian bookworm packages"):
    """This collection's metadata for ``files`` ({"k8s-bins/kubectl": path}), from the files themselves."""
    out = {}
    for rel, path in sorted(files.items()):
        info = inspect(path)
        go = ((info.get("go") or {}).get("settings") or {})
        name = os.path.basename(rel)
        out[rel] = {
            "sha256": sha256_file(path), "size": os.path.getsize(path),
            "version": VERSIONS.get(name, "v1.1.1"),
            "goarch": go.get("GOARCH") or (P.by_oci(platform).goarch if info.get("go") else None),
            "goarm": go.get("GOARM"),
            "static": info["static"], "stripped": info["stripped"], "origin": "debian",
        }
    return {"schema": 1, "platform": platform, "source": source, "files": out}


def layer_of(files, extra=()):
    entries = [tar_entry("k8s-bins/", kind="dir"), tar_entry("cni-plugin-bins/", kind="dir")]
    entries += [tar_entry(rel, src=path) for rel, path in sorted(files.items())]
    return entries + list(extra)


def files_for(bins, names_k8s=K8S, names_cni=CNI):
    files = dict(("k8s-bins/" + n, bins[n]) for n in names_k8s)
    files.update(("cni-plugin-bins/" + n, bins[n]) for n in names_cni)
    return files


def build_ours(root, tag, debian_bins, platforms, meta_edit=None, files_edit=None):
    """Our layout, one image per platform from Debian's binaries of that platform's Debian arch."""
    w = LayoutWriter(root)
    manifests = []
    for platform in platforms:
        files = files_for(debian_bins[P.by_oci(platform).debian_arch])
        if files_edit:
            files = files_edit(platform, files)
        meta = metadata(platform, files)
        if meta_edit:
            meta = meta_edit(platform, meta)
        entries = layer_of(files, [tar_entry("multiarch-k8s/", kind="dir"),
                                   tar_entry(METADATA, data=json.dumps(meta, sort_keys=True).encode(), mode=0o644)])
        layer = w.add_layer(entries)
        manifests.append(w.add_image(platform, [layer], labels={"io.multiarch-k8s.layout": "1"}))
    return w.add_index(manifests, tag)


def build_seed(root, tag, debian_bins, platforms):
    """The seed recipe's layout: base layer, then binaries over several layers, then a whiteout."""
    w = LayoutWriter(root)
    manifests = []
    for platform in platforms:
        bins = debian_bins[P.by_oci(platform).debian_arch]
        base = w.add_layer([
            tar_entry("bin/", kind="dir"), tar_entry("bin/busybox", src=bins["busybox"]),
            tar_entry("bin/sh", kind="symlink", linkname="/bin/busybox"),
            tar_entry("etc/", kind="dir"), tar_entry("etc/os-release", data=b"NAME=stand-in base\n", mode=0o644),
        ])
        k8s = w.add_layer([tar_entry("k8s-bins/", kind="dir"),
                           tar_entry("k8s-bins/kubectl", src=bins["kubectl"]),
                           tar_entry("k8s-bins/kubectl.old", src=bins["kubectl"])])
        cni = w.add_layer([tar_entry("cni-plugin-bins/", kind="dir")] +
                          [tar_entry("cni-plugin-bins/" + n, src=bins[n]) for n in ("loopback", "portmap")])
        cleanup = w.add_layer([tar_entry("k8s-bins/.wh.kubectl.old", data=b"", mode=0o644)])
        manifests.append(w.add_image(platform, [base, k8s, cni, cleanup]))
    return w.add_index(manifests, tag)


def push(layout, tag, repo):
    """Copy the layout's ``tag`` (all platforms) to the test registry; return the docker:// reference."""
    dest = "docker://%s/%s:%s" % (REGISTRY, repo, tag)
    subprocess.run(["skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false",
                    "oci:%s:%s" % (layout, tag), dest], check=True, timeout=600)
    return dest


def bench_holder(platforms, repo="multiarch-k8s-bench/holder"):
    """The benches' holder image (Debian's binaries, this layout), cached under $MULTIARCH_CACHE/bench
    and pushed to the test registry; returns its docker:// reference."""
    import shutil  # pylint: disable=import-outside-toplevel
    import debs  # pylint: disable=import-outside-toplevel
    layout = os.path.join(os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s"), "bench", "holder-layout")
    if not os.path.exists(os.path.join(layout, "index.json")):
        shutil.rmtree(layout, ignore_errors=True)
        build_ours(layout, "v1.20.2", debs.fetch(), sorted(platforms))
    return push(layout, "v1.20.2", repo)
