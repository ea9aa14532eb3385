# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node side of node_release on a temporary prefix: staging, resuming, switching, pruning.

The "binaries" are small shell scripts so that the smoke test really runs them; the fleet tests
(tests/integration/test_node_release.py) do the same with real binaries on the emulated nodes.
"""

from __future__ import annotations

import gzip
import hashlib
import os

import pytest

from ansible_collections.multiarch.k8s.plugins.module_utils import _release as R


def script(tmp_path, name, body="echo %s v1", rc=0):
    data = ("#!/bin/sh\n" + (body % name) + "\nexit %d\n" % rc).encode()
    gz = tmp_path / ("%s-%s.gz" % (name, hashlib.sha256(data).hexdigest()[:8]))
    with gzip.open(gz, "wb") as f:
        f.write(data)
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "gz": str(gz)}


def install(prefix, bundle_id, files, keep=3):
    uploads = dict((f["sha256"], f["gz"]) for f in files)
    out = R.stage(prefix, bundle_id, files, uploads, {}, 10)
    R.switch(prefix, bundle_id)
    R.prune(prefix, keep)
    return out


@pytest.fixture
def prefix(tmp_path):
    return R.Prefix(str(tmp_path / "opt"), None)


def listing(prefix):
    return sorted(os.listdir(prefix.releases))


def test_stage_switch_and_rerun_is_a_no_op(prefix, tmp_path):
    files = [script(tmp_path, "kubelet"), script(tmp_path, "kube-proxy")]
    changed, _actions, sent, reused = install(prefix, "r1", files)
    assert (changed, sent, reused) == (True, 2, 0)
    assert prefix.current() == "r1"
    assert R.stage(prefix, "r1", files, {}, {}, 10) == (False, [], 0, 0)


def test_a_new_release_links_the_files_it_shares(prefix, tmp_path):
    a, b = script(tmp_path, "kubelet"), script(tmp_path, "kube-proxy")
    install(prefix, "r1", [a, b])
    b2 = script(tmp_path, "kube-proxy", body="echo %s v2")
    _c, _a, sent, reused = install(prefix, "r2", [a, b2])
    assert (sent, reused) == (1, 1)
    assert os.stat(os.path.join(prefix.releases, "r1", "kubelet")).st_ino == \
        os.stat(os.path.join(prefix.releases, "r2", "kubelet")).st_ino


def test_failed_smoke_test_leaves_current_and_nothing_staged(prefix, tmp_path):
    install(prefix, "good", [script(tmp_path, "kubelet")])
    bad = [script(tmp_path, "kubelet", body="echo %s broken >&2", rc=3)]
    with pytest.raises(R.ReleaseError, match="smoke test failed, nothing switched: kubelet --version exited 3"):
        R.stage(prefix, "bad", bad, {bad[0]["sha256"]: bad[0]["gz"]}, {}, 10)
    assert prefix.current() == "good"
    assert listing(prefix) == ["good"]


def test_a_killed_staging_is_resumed_keeping_what_was_verified(prefix, tmp_path):
    """The state a kill leaves: the marker, one file finished under its name, one temp file."""
    a, b = script(tmp_path, "kubelet"), script(tmp_path, "kube-proxy")
    rdir = prefix.release_dir("r1")
    os.makedirs(rdir)
    open(os.path.join(rdir, R.STAGING_FILE), "w").close()
    R.place_file(rdir, "kubelet", a["sha256"], src=a["gz"])
    with open(os.path.join(rdir, ".part-kube-proxy-x1"), "wb") as f:
        f.write(b"#!/bin/sh\nhalf")
    assert set(prefix.staged_files("r1", clean=False)) == {a["sha256"]}
    _c, _a, sent, reused = R.stage(prefix, "r1", [a, b], {b["sha256"]: b["gz"]}, {}, 10)
    assert (sent, reused) == (1, 1)
    assert sorted(os.listdir(rdir)) == [R.RELEASE_FILE, "kube-proxy", "kubelet"]


def test_an_interrupted_prune_is_finished_and_never_leaves_a_half_release(prefix, tmp_path):
    f = script(tmp_path, "kubelet")
    for i in range(3):
        install(prefix, "r%d" % i, [f])
    os.makedirs(os.path.join(prefix.releases, ".pruning-r-old"))  # what a kill during rmtree leaves
    with open(os.path.join(prefix.releases, ".pruning-r-old", "kube-proxy"), "wb") as out:
        out.write(b"half")
    install(prefix, "r3", [f])
    assert listing(prefix) == ["r1", "r2", "r3"]


def test_prune_keeps_current_even_when_it_is_the_oldest(prefix, tmp_path):
    f = script(tmp_path, "kubelet")
    for i in range(3):
        install(prefix, "r%d" % i, [f])
    R.switch(prefix, "r0")
    R.prune(prefix, 1)
    assert listing(prefix) == ["r0"]


def test_place_file_refuses_a_wrong_sha256_and_leaves_no_temp(prefix, tmp_path):
    f = script(tmp_path, "kubelet")
    rdir = prefix.release_dir("r1")
    os.makedirs(rdir)
    with pytest.raises(R.ReleaseError, match="kubelet arrived with sha256 .* expected 0+: not installed"):
        R.place_file(rdir, "kubelet", "0" * 64, src=f["gz"])
    assert os.listdir(rdir) == []


@pytest.mark.parametrize("source, host, repo", [
    ("docker://127.0.0.1:5000/multiarch-k8s/k8s-bins:v1.20.2", "127.0.0.1:5000", "multiarch-k8s/k8s-bins"),
    ("mirror.lan:5000/k8s-bins@sha256:" + "a" * 64, "mirror.lan:5000", "k8s-bins"),
    ("mirror.lan/k8s-bins", "mirror.lan", "k8s-bins"),
])
def test_pull_source_forms(source, host, repo):
    f = R.RegistryFetcher(source, [{"digest": "sha256:" + "b" * 64, "size": 1}])
    assert (f.registry.host, f.registry.repository) == (host, repo)


@pytest.mark.parametrize("source", ["", "mirror.lan", "mirror.lan/", "mirror.lan/Upper/Case", "http://x/y"])
def test_bad_pull_source(source):
    with pytest.raises(R.ReleaseError, match="is not HOST\\[:PORT\\]/REPOSITORY"):
        R.RegistryFetcher(source, [{"digest": "sha256:" + "b" * 64, "size": 1}])


def test_pull_without_layers_says_what_to_do():
    with pytest.raises(R.ReleaseError, match="lists no image layers"):
        R.RegistryFetcher("mirror.lan/k8s-bins", [])


def test_prune_keeps_the_previous_release_for_a_rollback(prefix, tmp_path):
    f = script(tmp_path, "kubelet")
    for i in range(4):
        install(prefix, "r%d" % i, [f], keep=5)
    R.switch(prefix, "r0")  # back to the oldest: r3 becomes previous
    assert prefix.previous() == "r3"
    R.prune(prefix, 2)
    assert listing(prefix) == ["r0", "r3"]


def test_a_disk_filling_up_mid_write_leaves_current_and_nothing_staged(prefix, tmp_path, monkeypatch):
    """A mock: the free-space check runs before anything is sent (tested on the fleet), so a real ENOSPC
    needs the disk to fill from elsewhere during the write, which cannot be timed on one machine. Here the
    second file's write fails with ENOSPC after a part of it was written."""
    install(prefix, "good", [script(tmp_path, "kubelet")])
    files = [script(tmp_path, "kubelet", body="echo %s v2"), script(tmp_path, "kube-proxy", body="echo %s v2")]
    real_place = R.place_file

    def place_until_full(release_dir, name, sha256, **kw):
        if name == "kube-proxy":
            with open(os.path.join(release_dir, ".part-kube-proxy-x"), "wb") as part:
                part.write(b"\0" * 4096)
            raise OSError(28, "No space left on device")
        return real_place(release_dir, name, sha256, **kw)

    monkeypatch.setattr(R, "place_file", place_until_full)
    with pytest.raises(OSError, match="No space left on device"):
        R.stage(prefix, "full", files, dict((f["sha256"], f["gz"]) for f in files), {}, 10)
    assert prefix.current() == "good"
    assert listing(prefix) == ["good"]  # the half-written release directory is gone, temp files with it


ELF = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "elf")


@pytest.mark.parametrize("name, elf, want", [
    ("etcd", "dash-armhf", "arm"), ("etcd", "dash-armel", "arm"), ("etcd", "dash-i386", "386"),
    ("etcd", "dash-riscv64", "riscv64"), ("etcd", "dash-amd64", None), ("etcd", "dash-arm64", None),
    ("kubelet", "dash-armhf", None),
])
def test_etcd_smoke_test_names_an_architecture_etcd_calls_unsupported(name, elf, want):
    """etcd 3.6 refuses --version on 32-bit arm without ETCD_UNSUPPORTED_ARCH=arm (seen on the arm/v7 node)."""
    env = R.smoke_env(name, os.path.join(ELF, elf))
    assert (env or {}).get("ETCD_UNSUPPORTED_ARCH") == want


def test_etcd_smoke_env_of_a_file_that_is_not_elf(tmp_path):
    path = tmp_path / "etcd"
    path.write_text("#!/bin/sh\n")
    assert R.smoke_env("etcd", str(path)) is None
