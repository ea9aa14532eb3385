# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""holder_pull against hostile and broken images: one clear error, nothing written, cache unchanged.

The images are OCI layouts built here with real ELF files (Debian's dash binaries from
tests/unit/fixtures/elf). Registry faults (401, 404, 500, a hang, a corrupted blob) come from
tests/helpers/fault_registry.py, a real HTTP server on 127.0.0.1 that misbehaves on purpose,
because a real registry cannot be told to; the pull tests against Debian's docker-registry are in
tests/integration.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from ansible_collections.multiarch.k8s.plugins.plugin_utils._oci_write import LayoutWriter, tar_entry
from ansible_collections.multiarch.k8s.plugins.plugin_utils._pull import Puller, PullError
from fault_registry import FaultRegistry
from holders import metadata

ELF = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "elf")


def dash(arch):
    return os.path.join(ELF, "dash-" + arch)


def snapshot(*roots):
    """Every path under ``roots`` (a root may be a file, or not exist yet) with its size, mtime and, for files,
    content: to show nothing changed."""
    out = {}
    for root in roots:
        if not os.path.isdir(root):
            if os.path.lexists(root):
                with open(root, "rb") as f:
                    out[root] = (os.lstat(root).st_size, os.lstat(root).st_mtime_ns, f.read())
            else:
                out[root] = "absent"
            continue
        for d, dirs, files in os.walk(root):
            for name in dirs + files:
                p = os.path.join(d, name)
                st = os.lstat(p)
                out[p] = (st.st_size, st.st_mtime_ns) if not os.path.isdir(p) else None
    return out


def good_layout(root, tag="v1", platform="linux/arm/v6", arch="armel", extra=(), meta=True):
    w = LayoutWriter(root)
    files = {"k8s-bins/dash": dash(arch)}
    entries = [tar_entry("k8s-bins/", kind="dir"), tar_entry("k8s-bins/dash", src=dash(arch))]
    if meta:
        doc = metadata(platform, files)
        entries.append(tar_entry("multiarch-k8s/holder.json", data=json.dumps(doc).encode(), mode=0o644))
    entries += list(extra)
    layer = w.add_layer(entries)
    return w, w.add_index([w.add_image(platform, [layer])], tag)


@pytest.fixture
def cache(tmp_path):
    """A cache with one good bundle already in it, and its lock file."""
    src = str(tmp_path / "good")
    good_layout(src)
    dest = str(tmp_path / "cache")
    lock = str(tmp_path / "lock.yml")
    Puller("oci:%s:v1" % src, ["linux/arm/v6"], dest, lock_file=lock).run()
    return dest, lock


def expect_refused(tmp_path, cache, src, message, platforms=("linux/arm/v6",), **kw):
    dest, lock = cache
    before = snapshot(dest, lock)
    with pytest.raises(PullError, match=message):
        Puller(src, list(platforms), dest, lock_file=lock, version="hostile", **kw).run()
    after = snapshot(dest, lock)
    assert before == after, "the cache or the lock file changed"


def layout_with(tmp_path, entries, platform="linux/arm/v6", arch="armel", name="bad"):
    root = str(tmp_path / name)
    good_layout(root, platform=platform, arch=arch, extra=entries)
    return "oci:%s:v1" % root


@pytest.mark.parametrize("entry, message", [
    (tar_entry("k8s-bins/../../etc/evil", data=b"x"), r"climbs out of the image with '\.\.': k8s-bins/\.\./\.\./etc/evil"),
    (tar_entry("/k8s-bins/kubelet", data=b"x"), "an entry with an absolute path: /k8s-bins/kubelet"),
    (tar_entry("k8s-bins/kubelet", kind="symlink", linkname="/etc/passwd"),
     "/k8s-bins/kubelet is a symbolic link to /etc/passwd; only regular files are taken from k8s-bins/"),
    (tar_entry("cni-plugin-bins/bridge", kind="hardlink", linkname="etc/shadow"),
     "/cni-plugin-bins/bridge is a hard link to etc/shadow; only regular files"),
    (tar_entry("k8s-bins/escape", kind="hardlink", linkname="../../../etc/shadow"), r"climbs out of the image"),
    (tar_entry("k8s-bins/mem", kind="chr"), "/k8s-bins/mem is a device node"),
    (tar_entry("k8s-bins/pipe", kind="fifo"), "/k8s-bins/pipe is a FIFO"),
    (tar_entry("k8s-bins/su", src=dash("armel"), mode=0o4755), "/k8s-bins/su has the setuid or setgid bit"),
    (tar_entry("k8s-bins/sg", src=dash("armel"), mode=0o2755), "/k8s-bins/sg has the setuid or setgid bit"),
    (tar_entry("k8s-bins/sub/kubelet", src=dash("armel")), "is in a subfolder"),
    (tar_entry("k8s-bins/README", data=b"hello\n", mode=0o644), "/k8s-bins/README is not in the image's metadata"),
])
def test_hostile_entries(tmp_path, cache, entry, message):
    expect_refused(tmp_path, cache, layout_with(tmp_path, [entry]), message)


def test_entries_outside_the_folders_are_read_past(tmp_path, cache):
    """Links and devices elsewhere (a base layer's /bin/sh) are not taken and not refused."""
    src = layout_with(tmp_path, [tar_entry("bin/sh", kind="symlink", linkname="/bin/busybox"),
                                 tar_entry("dev/null", kind="chr")])
    res = Puller(src, ["linux/arm/v6"], cache[0]).run()
    assert [f["name"] for f in res["bundles"]["linux/arm/v6"]["files"]] == ["dash"]


def test_non_binary_file_is_refused(tmp_path, cache):
    root = str(tmp_path / "txt")
    w = LayoutWriter(root)
    layer = w.add_layer([tar_entry("k8s-bins/notes.txt", data=b"just text\n")])
    w.add_index([w.add_image("linux/arm/v6", [layer])], "v1")
    expect_refused(tmp_path, cache, "oci:%s:v1" % root, "/k8s-bins/notes.txt is not a binary: .* is not an ELF file")


def test_decompression_bomb(tmp_path, cache):
    bomb = tar_entry("k8s-bins/zeros", data=b"\0" * (24 << 20))
    expect_refused(tmp_path, cache, layout_with(tmp_path, [bomb]),
                   "decompresses past the limit of 8 MB .a decompression bomb", max_layer_mb=8)


def _blob(root, desc):
    return os.path.join(root, "blobs", "sha256", desc["digest"].split(":", 1)[1])


def _layer_desc(root, index):
    with open(_blob(root, index["manifests"][0]) if "manifests" in index else _blob(root, index)) as f:
        doc = json.load(f)
    manifest_desc = doc["manifests"][0]
    with open(_blob(root, manifest_desc)) as f:
        return json.load(f)["layers"][0]


V7 = ("linux/arm/v7",)  # not in the prepared cache, so its blobs must be fetched


def test_blob_digest_mismatch(tmp_path, cache):
    root = str(tmp_path / "altered")
    _w, index = good_layout(root, platform="linux/arm/v7", arch="armhf")
    layer = _blob(root, _layer_desc(root, index))
    with open(layer, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    expect_refused(tmp_path, cache, "oci:%s:v1" % root, "does not match its digest: it was altered or corrupted",
                   platforms=V7)


def test_truncated_blob(tmp_path, cache):
    root = str(tmp_path / "truncated")
    _w, index = good_layout(root, platform="linux/arm/v7", arch="armhf")
    layer = _blob(root, _layer_desc(root, index))
    size = os.path.getsize(layer)
    with open(layer, "r+b") as f:
        f.truncate(size // 2)
    expect_refused(tmp_path, cache, "oci:%s:v1" % root, r"is %d bytes, the manifest says %d \(truncated\?\)" % (size // 2, size), platforms=V7)


def test_manifest_not_json(tmp_path, cache):
    root = str(tmp_path / "notjson")
    w = LayoutWriter(root)
    junk = w.add_bytes(b"<html>not a manifest</html>", "application/vnd.oci.image.manifest.v1+json")
    junk["platform"] = {"os": "linux", "architecture": "arm", "variant": "v6"}
    w.add_index([junk], "v1")
    expect_refused(tmp_path, cache, "oci:%s:v1" % root, "linux/arm/v6 manifest is not JSON")


def test_wrong_media_type(tmp_path, cache):
    root = str(tmp_path / "mt")
    w = LayoutWriter(root)
    odd = w.add_bytes(json.dumps({"mediaType": "application/vnd.example.thing+json", "schemaVersion": 2}).encode(),
                      "application/vnd.example.thing+json")
    w.tag(odd, "v1")
    expect_refused(tmp_path, cache, "oci:%s:v1" % root,
                   "manifest has media type 'application/vnd.example.thing\\+json'; expected an OCI or Docker")


def test_index_without_the_platform_lists_what_it_has(tmp_path, cache):
    root = str(tmp_path / "v7only")
    good_layout(root, platform="linux/arm/v7", arch="armhf")
    expect_refused(tmp_path, cache, "oci:%s:v1" % root,
                   "holder image oci:%s:v1 has no linux/arm/v6 manifest; it has linux/arm/v7" % root)


@pytest.mark.parametrize("platform, arch, message", [
    ("linux/arm64", "amd64", "/k8s-bins/dash is ELF64 little-endian x86-64, dynamic, not a linux/arm64 binary"),
    ("linux/arm/v6", "armhf", "/k8s-bins/dash is built for ARM v7, which a linux/arm/v6 CPU cannot run "
                              r"\(it would die with SIGILL\)"),
    ("linux/amd64", "i386", "/k8s-bins/dash is ELF32 little-endian Intel 80386, dynamic, not a linux/amd64 binary"),
])
def test_wrong_binary_in_a_platform_slot(tmp_path, cache, platform, arch, message):
    root = str(tmp_path / "slot")
    w = LayoutWriter(root)
    layer = w.add_layer([tar_entry("k8s-bins/dash", src=dash(arch))])
    w.add_index([w.add_image(platform, [layer])], "v1")
    expect_refused(tmp_path, cache, "oci:%s:v1" % root, message, platforms=(platform,), require_static=False)


def _meta_layout(tmp_path, edit):
    root = str(tmp_path / "meta")
    w = LayoutWriter(root)
    doc = edit(metadata("linux/arm/v6", {"k8s-bins/dash": dash("armel")}))
    layer = w.add_layer([tar_entry("k8s-bins/dash", src=dash("armel")),
                         tar_entry("multiarch-k8s/holder.json", data=json.dumps(doc).encode(), mode=0o644)])
    w.add_index([w.add_image("linux/arm/v6", [layer])], "v1")
    return "oci:%s:v1" % root


def _set(path, value):
    def edit(doc):
        doc["files"]["k8s-bins/dash"][path] = value
        return doc
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set("static", True), r"/k8s-bins/dash is dynamically linked \(interpreter /lib/ld-linux.so.3; needs libc.so.6, ld-linux.so.3\) "
                           "but static binaries were claimed"),
    (_set("sha256", "0" * 64), "/k8s-bins/dash has sha256 [0-9a-f]{64}, the metadata says 0{64}"),
    (lambda d: _set("goarm", "7")(_set("goarch", "arm")(d)), r"/k8s-bins/dash is claimed a linux/arm/v7 build \(GOARCH=arm GOARM=7\), which a linux/arm/v6"),
    (lambda d: dict(d, platform="linux/arm/v7"), "its metadata is for linux/arm/v7, found in the linux/arm/v6 slot"),
    (lambda d: dict(d, schema=99), "is not a schema 1 holder metadata file"),
])
def test_metadata_claims_are_checked(tmp_path, cache, edit, message):
    expect_refused(tmp_path, cache, _meta_layout(tmp_path, edit), message)


def test_seed_layout_requires_static_by_default(tmp_path, cache):
    src = layout_with(tmp_path, [])
    root = src[len("oci:"):-len(":v1")]
    # the same image without metadata is in the seed's layout, which promises static binaries
    w = LayoutWriter(root + "-seed")
    layer = w.add_layer([tar_entry("cni-plugin-bins/bridge", src=dash("armel"))])
    w.add_index([w.add_image("linux/arm/v6", [layer])], "v1")
    expect_refused(tmp_path, cache, "oci:%s-seed:v1" % root,
                   "/cni-plugin-bins/bridge is dynamically linked .* but static binaries were claimed")


@pytest.mark.parametrize("src, message", [
    ("docker://127.0.0.1:5000/k8s-bins", "not a registry reference with a tag or digest"),
    ("docker://127.0.0.1:5000/K8S:v1", "not a registry reference"),
    ("docker://127.0.0.1:5000/k8s@sha256:1234", "not a registry reference"),
    ("registry.example.com/k8s:v1", "uses no known transport; expected docker://HOST/REPO:TAG"),
    ("oci:", "names no directory"),
    ("docker-daemon:", "not a Docker engine reference"),
    ("", "src is empty"),
])
def test_malformed_src(tmp_path, cache, src, message):
    expect_refused(tmp_path, cache, src, message)


@pytest.mark.parametrize("platform, message", [
    ("linux/arm", "does not say which ARM variant"),
    ("linux/sparc64", "not a platform this collection knows"),
    ("arm/v9", "not a platform this collection knows"),
])
def test_malformed_platform(tmp_path, cache, platform, message):
    expect_refused(tmp_path, cache, "oci:/nonexistent:v1", "platforms: .*" + message, platforms=(platform,))


def test_zstd_layers_are_refused_clearly(tmp_path, cache):
    root = str(tmp_path / "zstd")
    w = LayoutWriter(root)
    desc, diff = w.add_layer([tar_entry("k8s-bins/dash", src=dash("armel"))], compress=False)
    desc["mediaType"] = "application/vnd.oci.image.layer.v1.tar+zstd"
    w.add_index([w.add_image("linux/arm/v6", [(desc, diff)])], "v1")
    expect_refused(tmp_path, cache, "oci:%s:v1" % root, "is compressed with zst, which this collection does not read")


# --- registry faults -------------------------------------------------------------------------
@pytest.fixture
def served(tmp_path):
    root = str(tmp_path / "served")
    good_layout(root, tag="v2", platform="linux/arm/v7", arch="armhf")
    return root


@pytest.mark.parametrize("mode, message, max_requests", [
    ("401", r"refused GET /v2/k8s-bins/manifests/v2: 401 Unauthorized .*give registry_username/registry_password", 2),
    ("403", "refused GET /v2/k8s-bins/manifests/v2: 403", 1),
    ("404", r"has no /v2/k8s-bins/manifests/v2 \(404 Not Found\)", 1),
    ("500", "GET /v2/k8s-bins/manifests/v2 failed after 3 tries: 500", 3),
    ("corrupt-blob", "it was altered or corrupted", 20),
])
def test_registry_faults(tmp_path, cache, served, mode, message, max_requests):
    with FaultRegistry(served, mode) as reg:
        expect_refused(tmp_path, cache, "docker://%s/k8s-bins:v2" % reg.host, message, retries=3, platforms=V7)
        assert 1 <= len(reg.requests) <= max_requests


def test_registry_that_hangs_is_bounded_in_time(tmp_path, cache, served):
    with FaultRegistry(served, "hang", hang_seconds=2.0) as reg:
        start = time.monotonic()
        expect_refused(tmp_path, cache, "docker://%s/k8s-bins:v2" % reg.host,
                       "failed after 2 tries: no answer within 0.3s", timeout=0.3, retries=2, platforms=V7)
        assert time.monotonic() - start < 5
        assert len(reg.requests) == 2


def test_bearer_token_flow(tmp_path, served):
    with FaultRegistry(served, "token") as reg:
        res = Puller("docker://%s/k8s-bins:v2" % reg.host, ["linux/arm/v7"], str(tmp_path / "c")).run()
    assert res["bundles"]["linux/arm/v7"]["files"][0]["name"] == "dash"
    assert any(r.startswith("/token") for r in reg.requests)


@pytest.mark.parametrize("payload, message", [
    (b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"garbage that is not deflate data" * 50, "is damaged|is not a tar archive"),
    (b"plain bytes, not gzip at all" * 40, "is damaged|is not a tar archive"),
], ids=["bad-deflate", "not-gzip"])
def test_layer_that_is_not_a_gzip_tar(tmp_path, cache, payload, message):
    """The digest matches (the blob is what the manifest names) but the content is junk."""
    root = str(tmp_path / "junk")
    w = LayoutWriter(root)
    desc = w.add_bytes(payload, "application/vnd.oci.image.layer.v1.tar+gzip")
    w.add_index([w.add_image("linux/arm/v7", [(desc, "sha256:" + "0" * 64)])], "v1")
    expect_refused(tmp_path, cache, "oci:%s:v1" % root, message, platforms=V7)
