# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""node_image's archive: deterministic, a valid OCI layout of one platform, and clear errors."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

import pytest

from ansible_collections.multiarch.k8s.plugins.module_utils._node_image import (
    ImageInputError, build, listed_digest, listed_pinned, parse_platform, write_archive)

NAME = "localhost/multiarch-k8s/pause:3.4"


@pytest.fixture
def binary(tmp_path):
    path = tmp_path / "pause"
    path.write_bytes(b"\x7fELF pretend binary")
    os.chmod(path, 0o755)
    return str(path)


def test_same_files_give_the_same_digest(binary, tmp_path):
    a = build(NAME, "linux/arm/v6", [(binary, "/pause")], ["/pause"])
    os.utime(binary, (1, 1))  # file times do not enter the image
    b = build(NAME, "linux/arm/v6", [(binary, "/pause")], ["/pause"])
    assert a == b
    c = build(NAME, "linux/arm/v7", [(binary, "/pause")], ["/pause"])
    assert c[0] != a[0]


def test_archive_is_an_oci_layout_with_the_platform(binary, tmp_path):
    digest, blobs, layout_index = build(NAME, "linux/arm/v6", [(binary, "/bin/pause")], ["/bin/pause"],
                                        labels={"x": "y"})
    out = tmp_path / "image.tar"
    write_archive(str(out), blobs, layout_index)
    with tarfile.open(out) as tar:
        files = dict((m.name, tar.extractfile(m).read()) for m in tar.getmembers())
    for name, body in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(body).hexdigest() == name.rsplit("/", 1)[1]
    top = json.loads(files["index.json"])
    assert top["manifests"][0]["digest"] == digest
    assert top["manifests"][0]["annotations"]["io.containerd.image.name"] == NAME
    index = json.loads(files["blobs/sha256/" + digest.split(":")[1]])
    assert index["manifests"][0]["platform"] == {"os": "linux", "architecture": "arm", "variant": "v6"}
    manifest = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    assert config["architecture"] == "arm" and config["variant"] == "v6"
    assert config["config"]["Entrypoint"] == ["/bin/pause"] and config["config"]["Labels"] == {"x": "y"}
    layer = files["blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]]
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = dict((m.name, m) for m in tar.getmembers())
    assert members["bin"].isdir() and members["bin/pause"].mode == 0o755 and members["bin/pause"].mtime == 0


@pytest.mark.parametrize("name, platform, dest, match", [
    ("pause", "linux/arm/v6", "/pause", "registry-style name and a tag"),
    ("localhost/pause", "linux/arm/v6", "/pause", "registry-style name and a tag"),
    (NAME, "arm", "/pause", "os/architecture"),
    (NAME, "linux//v6", "/pause", "os/architecture"),
    (NAME, "linux/arm/v6", "/", "must be absolute"),
    (NAME, "linux/arm/v6", "/../etc/passwd", "stay inside"),
])
def test_bad_input_is_refused(binary, name, platform, dest, match):
    with pytest.raises(ImageInputError, match=match):
        build(name, platform, [(binary, dest)], ["/pause"])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ImageInputError, match="cannot read .*nothing"):
        build(NAME, "linux/amd64", [(str(tmp_path / "nothing"), "/pause")], ["/pause"])


def test_parse_platform():
    assert parse_platform("linux/amd64") == {"os": "linux", "architecture": "amd64"}


def test_listed_digest():
    out = ("REF TYPE DIGEST SIZE PLATFORMS LABELS\n"
           "localhost/multiarch-k8s/pause:3.4 application/vnd.oci.image.index.v1+json sha256:abc 31.0 KiB "
           "linux/arm/v6 io.cri-containerd.image=managed\n")
    assert listed_digest(out, NAME) == "sha256:abc"
    assert listed_digest(out, "localhost/other:1") is None
    assert listed_digest("", NAME) is None


def test_listed_pinned_reads_containerds_label():
    head = "REF TYPE DIGEST SIZE PLATFORMS LABELS\n"
    row = "%s application/vnd.oci.image.index.v1+json sha256:abc 31.0 KiB linux/arm/v6 %s\n"
    assert listed_pinned(head + row % (NAME, "io.cri-containerd.image=managed,io.cri-containerd.pinned=pinned"), NAME)
    assert not listed_pinned(head + row % (NAME, "io.cri-containerd.image=managed"), NAME)
    assert not listed_pinned(head + row % ("localhost/other:1", "io.cri-containerd.pinned=pinned"), NAME)
    assert not listed_pinned("", NAME)
