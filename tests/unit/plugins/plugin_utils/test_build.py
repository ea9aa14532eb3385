# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parts of the build path: versions, module detection, build flags, cache keys, bad input."""

from __future__ import annotations

import os

import pytest

from ansible_collections.multiarch.k8s.plugins.plugin_utils import _build as B
from ansible_collections.multiarch.k8s.plugins.plugin_utils import _sources as S
from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P


@pytest.mark.parametrize("debian, upstream", [
    ("1.20.5+really1.20.2-1.1+deb12u1", "1.20.2"),
    ("1.1.1+ds1-3", "1.1.1"),
    ("3.4.23-4", "3.4.23"),
    ("1:1.35.0-4+deb12u1", "1.35.0"),
])
def test_upstream_version(debian, upstream):
    assert S._upstream_version(debian) == upstream  # pylint: disable=protected-access


@pytest.mark.parametrize("name, version", [
    ("kubernetes-1.20.2", "v1.20.2"), ("plugins-1.1.1", "v1.1.1"), ("etcd-3.4.23", "v3.4.23"),
    ("golang-github-containernetworking-plugins-1.1.1", "v1.1.1"), ("src", None),
])
def test_tree_version(tmp_path, name, version):
    assert S._tree_version(str(tmp_path / name)) == version  # pylint: disable=protected-access


def _tree(root, module=None, kube=False):
    os.makedirs(os.path.join(root, "vendor"))
    if module:
        with open(os.path.join(root, "go.mod"), "w") as f:
            f.write("module %s\n\ngo 1.17\n" % module)
    if kube:
        os.makedirs(os.path.join(root, "cmd", "kube-proxy"))
    return root


def test_module_detection(tmp_path):
    assert S._module_of(_tree(str(tmp_path / "a"), module=B.CNI)) == B.CNI  # pylint: disable=protected-access
    assert S._module_of(_tree(str(tmp_path / "b"), kube=True)) == B.K8S  # pylint: disable=protected-access
    assert S._module_of(_tree(str(tmp_path / "c"))) is None  # pylint: disable=protected-access


def test_kubernetes_ldflags_stamp_the_version_reproducibly(tmp_path):
    tree = _tree(str(tmp_path / "kubernetes-1.20.2"), kube=True)
    src = S.SourceCache(str(tmp_path / "cache")).prepare(tree)
    flags = B.Builder(str(tmp_path / "b"), src).ldflags()
    assert flags.startswith("-s -w -buildid= ")
    for pkg in ("component-base/version", "client-go/pkg/version"):
        assert "-X 'k8s.io/kubernetes/vendor/k8s.io/%s.gitVersion=v1.20.2'" % pkg in flags
        assert "-X 'k8s.io/kubernetes/vendor/k8s.io/%s.gitMinor=20'" % pkg in flags
        assert "-X 'k8s.io/kubernetes/vendor/k8s.io/%s.buildDate=1970-01-01T00:00:00Z'" % pkg in flags


def test_cache_key_covers_platform_component_and_strategy(tmp_path):
    tree = _tree(str(tmp_path / "kubernetes-1.20.2"), kube=True)
    src = S.SourceCache(str(tmp_path / "cache")).prepare(tree)
    cross = B.Builder(str(tmp_path / "b"), src)
    native = B.Builder(str(tmp_path / "b"), src, strategy="qemu")
    v6, v7 = P.by_oci("linux/arm/v6"), P.by_oci("linux/arm/v7")
    keys = {cross.key("kube-proxy", v6), cross.key("kube-proxy", v7), cross.key("kubelet", v6),
            native.key("kube-proxy", v6)}
    assert len(keys) == 4
    assert cross.key("kube-proxy", v6) == B.Builder(str(tmp_path / "b"), src).key("kube-proxy", v6)


@pytest.mark.parametrize("spec, message", [
    ("", "source is empty"),
    ("/nonexistent/kubernetes.tar.gz", "does not exist"),
    ("debian:", "names no package"),
])
def test_bad_sources(tmp_path, spec, message):
    with pytest.raises(B.BuildError, match=message):
        S.SourceCache(str(tmp_path)).prepare(spec)


def test_component_from_another_module_is_refused(tmp_path):
    tree = _tree(str(tmp_path / "kubernetes-1.20.2"), kube=True)
    src = S.SourceCache(str(tmp_path / "cache")).prepare(tree)
    with pytest.raises(B.BuildError, match="bridge is built from github.com/containernetworking/plugins"):
        B.Builder(str(tmp_path / "b"), src).lookup("bridge", P.by_oci("linux/arm/v6"))


def test_unknown_strategy(tmp_path):
    tree = _tree(str(tmp_path / "kubernetes-1.20.2"), kube=True)
    src = S.SourceCache(str(tmp_path / "cache")).prepare(tree)
    with pytest.raises(B.BuildError, match="strategy must be cross or qemu"):
        B.Builder(str(tmp_path / "b"), src, strategy="buildx")


def test_every_platform_has_a_c_cross_target():
    for p in P.all_platforms():
        assert p.zig_target and p.zig_target.split()[0].endswith(("-musl", "-musleabi", "-musleabihf"))


def test_directory_source_key_follows_its_files(tmp_path):
    tree = _tree(str(tmp_path / "kubernetes-1.20.2"), kube=True)
    before = S._tree_key(tree)  # pylint: disable=protected-access
    with open(os.path.join(tree, "cmd", "kube-proxy", "main.go"), "w") as f:
        f.write("package main\n")
    assert S._tree_key(tree) != before  # pylint: disable=protected-access


def test_stand_in_source_builds_kubernetes_names_from_its_own_package():
    fixture = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "standin")
    assert S._module_of(fixture) == B.STANDIN  # pylint: disable=protected-access


@pytest.mark.parametrize("extra, message", [
    ({"linux/arm/v7": ["kubeadm"]}, "names linux/arm/v7, which is not one of the platforms asked for"),
    ({"linux/amd64": "kubeadm"}, "must be a list of components"),
    ({"linux/amd64": ["kubectx"]}, "components kubectx are not ones this collection builds"),
    ({"nonsense": ["kubeadm"]}, "platforms:"),
])
def test_platform_components_are_checked_before_any_build(tmp_path, extra, message):
    from ansible_collections.multiarch.k8s.plugins.plugin_utils import _holder_build as HB
    with pytest.raises(B.BuildError, match=message):
        HB.run(str(tmp_path / "no-source-needed"), ["linux/amd64", "linux/arm/v6"], "oci:%s:v1" % (tmp_path / "o"),
               components=["kubelet"], platform_components=extra, build_dir=str(tmp_path / "b"))


def test_gopath_builds_use_debians_go_when_installed(tmp_path, monkeypatch):
    """A newer Go first on PATH must not change the binaries of the Debian sources: Debian's toolchain is
    taken when it is there, the one on PATH only when it is not, and a caller's choice always."""
    tree = _tree(str(tmp_path / "kubernetes-1.20.2"), kube=True)
    src = S.SourceCache(str(tmp_path / "cache")).prepare(tree)
    debian_go = tmp_path / "debian-go"
    debian_go.write_text("#!/bin/sh\n")
    debian_go.chmod(0o755)
    monkeypatch.setattr(B, "DEBIAN_GO", str(debian_go))
    assert B.Builder(str(tmp_path / "b"), src).go == str(debian_go)
    assert B.Builder(str(tmp_path / "b"), src, go="/opt/go/bin/go").go == "/opt/go/bin/go"
    monkeypatch.setattr(B, "DEBIAN_GO", str(tmp_path / "absent"))
    assert B.Builder(str(tmp_path / "b"), src).go == "go"
