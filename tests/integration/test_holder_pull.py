# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""holder_pull against the real parts: Debian's docker-registry on 127.0.0.1, the Docker engine,
OCI layouts on disk, and the emulated fleet that runs what was pulled.

The holder images are built by the test set-up from real multi-arch binaries in Debian's
packages (kubectl from kubernetes-client, etcd from etcd-server, CNI plugins from
containernetworking-plugins; busybox-static stands in for the seed recipe's Alpine base layer).

Break tried (2026-12-07): the static check turned off in _pull (require_static=False);
test_seed_layout_promises_static_binaries failed.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import tempfile

import pytest
import yaml

from ansible_collections.multiarch.k8s.plugins.plugin_utils._build import sha256_file
from ansible_collections.multiarch.k8s.plugins.plugin_utils._oci_write import LayoutWriter, tar_entry
from ansible_collections.multiarch.k8s.plugins.plugin_utils._pull import Puller, PullError
from holders import REGISTRY, metadata, push
from runner import ansible_module, docker

ALL = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6"]
NODE = {"linux/amd64": "mk8s-amd64", "linux/arm64": "mk8s-arm64", "linux/arm/v7": "mk8s-armhf",
        "linux/arm/v6": "mk8s-armel"}


def pull(args, **kw):
    hosts, rc = ansible_module("multiarch.k8s.holder_pull", args, **kw)
    return hosts["localhost"], rc


@pytest.fixture(scope="module")
def pulled(ours_ref, tmp_path_factory):
    """Check mode, real run and rerun of one pull of all four platforms, through ansible."""
    base = tmp_path_factory.mktemp("pull")
    args = {"src": ours_ref, "platforms": ALL, "dest": str(base / "cache"), "lock_file": str(base / "lock.yml")}
    check, rc = pull(args, check=True, diff=True)
    assert rc == 0, check
    assert not os.path.exists(str(base / "cache" / "blobs")) and not os.path.exists(args["lock_file"])
    first, rc = pull(args, diff=True)
    assert rc == 0, first
    second, rc = pull(args, diff=True)
    assert rc == 0, second
    return {"check": check, "first": first, "second": second, "args": args}


def test_check_mode_predicts_and_writes_nothing(pulled):
    check = pulled["check"]
    assert check["changed"] is True
    assert sorted(a.split(" for ")[1].split(" ")[0] for a in check["actions"] if a.startswith("would pull")) == sorted(ALL)
    assert check["diff"]["before"]["lock"] is None


def test_first_pull_verifies_every_platform(pulled):
    first = pulled["first"]
    assert first["changed"] is True
    assert sorted(first["bundles"]) == sorted(ALL)
    for platform, bundle in first["bundles"].items():
        assert bundle["platform_used"] == platform and bundle["reason"] == "exact match"
        names = sorted(f["name"] for f in bundle["files"])
        assert names == ["bridge", "etcd", "host-local", "kubectl", "loopback", "portmap"]
        for f in bundle["files"]:
            assert sha256_file(f["path"]) == f["sha256"]
        assert bundle["layout"] == "multiarch.k8s"
        assert bundle["bundle_id"].startswith("v1.20.2-" + platform.replace("/", "-") + "-")
    kubectl_v6 = [f for f in first["bundles"]["linux/arm/v6"]["files"] if f["name"] == "kubectl"][0]
    assert kubectl_v6["static"] is True and kubectl_v6["goarm"] == "5"
    with open(pulled["args"]["lock_file"]) as f:
        lock = yaml.safe_load(f)
    entry = lock["versions"]["v1.20.2"]
    assert entry["index"] == first["index_digest"]
    assert sorted(entry["platforms"]) == sorted(ALL)
    assert entry["platforms"]["linux/arm/v6"]["files"]["k8s-bins/kubectl"] == kubectl_v6["sha256"]
    assert first["diff"]["after"]["lock"] == entry


def test_second_pull_is_one_manifest_check(pulled):
    second = pulled["second"]
    assert second["changed"] is False
    assert second["requests"] == 1
    assert second["new_files"] == 0
    assert second["bundles"]["linux/arm/v6"]["bundle_id"] == pulled["first"]["bundles"]["linux/arm/v6"]["bundle_id"]


@pytest.mark.parametrize("platform", ALL)
def test_pulled_binaries_run_on_their_fleet_node(pulled, platform):
    """The arm/v6 kubectl runs on the ARM1176 node, the v7 one on the armhf node, and so on."""
    kubectl = [f for f in pulled["first"]["bundles"][platform]["files"] if f["name"] == "kubectl"][0]
    node = NODE[platform]
    docker("cp", kubectl["path"], "%s:/var/tmp/kubectl" % node)
    try:
        out = docker("exec", node, "/var/tmp/kubectl", "version", "--client", "--short").stdout
        assert "Client Version: v1.20.2" in out
    finally:
        docker("exec", node, "rm", "-f", "/var/tmp/kubectl", check=False)


def test_seed_layout_multi_layer_with_whiteouts_and_downward_fallback(seed_ref, tmp_path):
    res, rc = pull({"src": seed_ref, "platforms": ["linux/arm/v7", "linux/amd64"], "dest": str(tmp_path / "c"),
                    "require_static": "false"})
    assert rc == 0, res
    v7 = res["bundles"]["linux/arm/v7"]
    assert v7["platform_used"] == "linux/arm/v6"
    assert v7["reason"] == ("no linux/arm/v7 entry; took linux/arm/v6, which a v7 host runs "
                            "(variants fall back only downward)")
    assert v7["layout"] == "seed"
    # the base layer (busybox, /bin/sh) is read past; kubectl.old was whited out by a later layer
    assert sorted(f["folder"] + "/" + f["name"] for f in v7["files"]) == [
        "cni-plugin-bins/loopback", "cni-plugin-bins/portmap", "k8s-bins/kubectl"]


def test_seed_layout_promises_static_binaries(seed_ref, tmp_path):
    res, rc = pull({"src": seed_ref, "platforms": ["linux/arm/v6"], "dest": str(tmp_path / "c")})
    assert rc != 0
    assert "/cni-plugin-bins/loopback is dynamically linked (interpreter /lib/ld-linux.so.3" in res["msg"]
    assert not os.path.exists(str(tmp_path / "c" / "blobs"))


def test_missing_platform_lists_what_the_index_has(tmp_path, ours_layout):
    res, rc = pull({"src": "oci:%s:v1.20.2" % ours_layout, "platforms": ["linux/riscv64"],
                    "dest": str(tmp_path / "c")})
    assert rc != 0
    assert res["msg"] == ("holder image oci:%s:v1.20.2 has no linux/riscv64 manifest; it has linux/amd64, "
                          "linux/arm/v6, linux/arm/v7, linux/arm64" % ours_layout)


def test_oci_layout_for_air_gapped_sites(ours_layout, pulled, tmp_path):
    res, rc = pull({"src": "oci:%s:v1.20.2" % ours_layout, "platforms": ["linux/arm/v6"], "dest": str(tmp_path / "c")})
    assert rc == 0, res
    by_registry = pulled["first"]["bundles"]["linux/arm/v6"]
    assert res["bundles"]["linux/arm/v6"]["manifest_digest"] == by_registry["manifest_digest"]
    assert res["requests"] == 0


def test_docker_daemon_transport(ours_ref, tmp_path):
    name = ours_ref[len("docker://"):]
    local = "multiarch-k8s-tests/daemon-holder:armv6"
    docker("pull", "--platform", "linux/arm/v6", name)
    docker("tag", name, local)
    try:
        res, rc = pull({"src": "docker-daemon:" + local, "platforms": ["linux/arm/v6"], "dest": str(tmp_path / "c")})
        assert rc == 0, res
        files = res["bundles"]["linux/arm/v6"]["files"]
        assert sorted(f["name"] for f in files) == ["bridge", "etcd", "host-local", "kubectl", "loopback", "portmap"]
        res, rc = pull({"src": "docker-daemon:" + local, "platforms": ["linux/amd64"], "dest": str(tmp_path / "c")})
        assert rc != 0
        assert "has no linux/amd64 manifest; it has linux/arm/v6" in res["msg"]
    finally:
        docker("rmi", local, name, check=False)


def test_moved_tag_is_reported_not_followed(ours_layout, seed_layout, tmp_path):
    repo = "multiarch-k8s-tests/moving"
    lock = str(tmp_path / "lock.yml")
    args = {"src": "docker://%s/%s:v1.20.2" % (REGISTRY, repo), "platforms": ["linux/arm/v6"],
            "dest": str(tmp_path / "c"), "lock_file": lock, "require_static": "false"}
    push(ours_layout, "v1.20.2", repo)
    first, rc = pull(args)
    assert rc == 0, first
    with open(lock, "rb") as f:
        pinned = f.read()
    push(seed_layout, "v1.20.2", repo)
    moved, rc = pull(args)
    assert rc != 0
    assert moved["msg"].startswith("docker://%s/%s:v1.20.2 moved: the lock file %s pins %s, the source now has sha256:"
                                   % (REGISTRY, repo, lock, first["index_digest"]))
    with open(lock, "rb") as f:
        assert f.read() == pinned
    followed, rc = pull(dict(args, update_lock=True))
    assert rc == 0, followed
    assert followed["index_digest"] != first["index_digest"]
    with open(lock) as f:
        assert yaml.safe_load(f)["versions"]["v1.20.2"]["index"] == followed["index_digest"]


def test_armhf_cgo_binary_is_refused_for_the_v6_slot_and_would_sigill(debian_bins, tmp_path):
    """Debian's armhf CNI bridge is a cgo build: its C parts are ARMv7 (Thumb-2) code."""
    root = str(tmp_path / "cgo")
    bridge = debian_bins["armhf"]["bridge"]
    w = LayoutWriter(root)
    files = {"cni-plugin-bins/bridge": bridge}
    meta = metadata("linux/arm/v6", files)
    layer = w.add_layer([tar_entry("cni-plugin-bins/bridge", src=bridge),
                         tar_entry("multiarch-k8s/holder.json", data=json.dumps(meta).encode(), mode=0o644)])
    w.add_index([w.add_image("linux/arm/v6", [layer])], "v1")
    with pytest.raises(PullError, match="/cni-plugin-bins/bridge is built for ARM v7, which a linux/arm/v6 CPU "
                                        r"cannot run \(it would die with SIGILL\)"):
        Puller("oci:%s:v1" % root, ["linux/arm/v6"], str(tmp_path / "c")).run()
    # and it would: its armhf loader, given to the ARM1176 node with the plugin, dies at once
    with tempfile.TemporaryDirectory() as tmp:
        for path in ("/lib/ld-linux-armhf.so.3", "/lib/arm-linux-gnueabihf/libc.so.6"):
            docker("cp", "-L", "mk8s-armhf:%s" % path, os.path.join(tmp, os.path.basename(path)))
        shutil.copy(bridge, os.path.join(tmp, "bridge"))
        docker("exec", "mk8s-armel", "mkdir", "-p", "/var/tmp/armhf")
        for name in os.listdir(tmp):
            docker("cp", os.path.join(tmp, name), "mk8s-armel:/var/tmp/armhf/" + name)
    try:
        run = docker("exec", "mk8s-armel", "sh", "-c",
                     "/var/tmp/armhf/ld-linux-armhf.so.3 --library-path /var/tmp/armhf /var/tmp/armhf/bridge; echo rc=$?",
                     check=False)
        assert "rc=132" in run.stdout, run.stdout + run.stderr
    finally:
        docker("exec", "mk8s-armel", "rm", "-rf", "/var/tmp/armhf", check=False)


def test_concurrent_pulls_share_one_cache(ours_ref, tmp_path):
    dest = str(tmp_path / "shared")

    def one(platforms):
        return Puller(ours_ref, platforms, dest).run()

    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(one, [["linux/arm/v6", "linux/amd64"], ["linux/arm/v6"], ["linux/amd64", "linux/arm/v6"]]))
    assert len(set(r["bundles"]["linux/arm/v6"]["manifest_digest"] for r in results)) == 1
    for name in os.listdir(os.path.join(dest, "blobs", "sha256")):
        assert sha256_file(os.path.join(dest, "blobs", "sha256", name)) == name
    assert os.listdir(os.path.join(dest, "tmp")) == []
    assert sum(r["new_files"] for r in results) == 12  # six files per platform, each stored once
