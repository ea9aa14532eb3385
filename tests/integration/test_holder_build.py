# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""holder_build from the collection's Go modules (gomod/: Kubernetes, the CNI plugins, runc with its C), with the
go command and the Go module proxy, pushed to the real registry on 127.0.0.1, read back by holder_pull, and run on
the emulated fleet (the armel node has an ARM1176 CPU, like a Pi Zero).

Only what the tests need is built here (arm/v6 and arm/v7); builds are cached under $MULTIARCH_CACHE/build by all
their inputs (make test's build stage made them already), so a warm run builds nothing, except the
reproducibility test, which builds runc for arm/v6 again with empty Go, zig and C library caches.
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.error
import urllib.request

import pytest

from ansible_collections.multiarch.k8s.plugins.plugin_utils._build import Builder
from ansible_collections.multiarch.k8s.plugins.plugin_utils._sources import SourceCache
from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P
from ansible_collections.multiarch.k8s.plugins.plugin_utils._pull import Puller
import cluster as C
from holders import REGISTRY
from runner import ansible_module, docker

CACHE = os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s")
BUILD_DIR = os.path.join(CACHE, "build")
PLATFORMS = ["linux/arm/v6", "linux/arm/v7"]
VERSION = C.VERSION  # the collection's default line
SOURCE = "gomod:kubernetes-" + VERSION
COMPONENTS = ["kubelet", "kube-proxy", "pause", "bridge", "host-local", "loopback", "portmap", "runc"]
GO = ["kubelet", "kube-proxy", "bridge", "host-local", "loopback", "portmap", "runc"]
DEST = "docker://%s/multiarch-k8s-tests/k8s:%s" % (REGISTRY, VERSION)


def build(args, **kw):
    hosts, rc = ansible_module("multiarch.k8s.holder_build", args, timeout=5400, **kw)
    return hosts["localhost"], rc


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    lock = str(tmp_path_factory.mktemp("build") / "lock.yml")
    args = {"source": SOURCE, "components": COMPONENTS, "platforms": PLATFORMS,
            "dest": DEST, "build_dir": BUILD_DIR, "lock_file": lock}
    first, rc = build(args, diff=True)
    assert rc == 0, first
    check, rc = build(args, check=True)
    assert rc == 0, check
    second, rc = build(args)
    assert rc == 0, second
    return {"first": first, "second": second, "check": check, "lock": lock}


def test_index_has_each_platform_and_every_binary_is_static_goarm(built):
    first = built["first"]
    assert sorted(first["manifests"]) == PLATFORMS
    rows = dict(((b["platform"], b["component"]), b) for b in first["binaries"])
    assert sorted(rows) == sorted((p, c) for p in PLATFORMS for c in COMPONENTS)
    for (platform, component), b in rows.items():
        assert b["static"] is True and b["stripped"] is True
        if component in GO:
            assert b["goarm"] == P.by_oci(platform).goarm
        else:
            assert b["goarm"] is None and ("ARM " + platform.split("/")[-1]) in b["elf"]  # C: Tag_CPU_arch
    assert first["summary"][0].split() == ["platform", "binary", "size", "MB", "sha256", "static", "GOARM", "seconds"]
    assert first["version"] == VERSION
    assert "gomod kubernetes-%s (k8s.io/kubernetes %s)" % (VERSION, VERSION) in first["source"]
    assert "gomod runc-v1.5.3 (github.com/opencontainers/runc v1.5.3)" in first["source"]


def test_rerun_with_the_same_inputs_changes_nothing(built):
    first, second, check = built["first"], built["second"], built["check"]
    assert check["changed"] is False, check["actions"]
    assert second["changed"] is False, second["actions"]
    assert second["index_digest"] == first["index_digest"]
    assert len(second["binaries"]) == len(first["binaries"]) > 0
    assert all(b["cached"] for b in second["binaries"])


def test_holder_pull_reads_the_built_image_back(built, tmp_path):
    res = Puller(DEST, PLATFORMS, str(tmp_path / "cache"), lock_file=built["lock"]).run()
    assert res["index_digest"] == built["first"]["index_digest"]
    for platform in PLATFORMS:
        bundle = res["bundles"][platform]
        assert bundle["layout"] == "multiarch.k8s"
        assert sorted(f["name"] for f in bundle["files"]) == sorted(COMPONENTS)
        assert sorted(set(f["folder"] for f in bundle["files"])) == ["cni-plugin-bins", "container-runtime-bins", "k8s-bins"]
        for f in bundle["files"]:
            assert f["static"] is True
            assert f["goarm"] == (P.by_oci(platform).goarm if f["name"] in GO else None)


def _copy_to(node, path, name):
    docker("cp", path, "%s:/var/tmp/%s" % (node, name))
    return "/var/tmp/" + name


@pytest.fixture(scope="module")
def pulled_paths(built, tmp_path_factory):
    res = Puller(DEST, PLATFORMS, str(tmp_path_factory.mktemp("pulled"))).run()
    return dict(((p, f["name"]), f["path"]) for p, b in res["bundles"].items() for f in b["files"])


@pytest.mark.parametrize("component, args, expected", [
    ("kubelet", "--version", "Kubernetes " + VERSION),
    ("kube-proxy", "--version", "Kubernetes " + VERSION),
    ("pause", "-v", "pause.c v3.10.2"),
    ("loopback", "", "CNI loopback plugin v1.10.0"),
    ("bridge", "", "CNI bridge plugin v1.10.0"),
    # cgo: Go for ARMv6 and C (libseccomp, runc's nsenter) from zig cc for the ARM1176
    ("runc", "--version", "runc version 1.5.3\ncommit: module\nspec: 1.3.0\ngo: go1.26.8\nlibseccomp: 2.6.0"),
])
def test_armv6_build_runs_on_the_arm1176_node(pulled_paths, component, args, expected):
    target = _copy_to("mk8s-armel", pulled_paths[("linux/arm/v6", component)], component + "-v6")
    try:
        out = docker("exec", "mk8s-armel", "sh", "-c", "%s %s 2>&1" % (target, args), timeout=300, check=False).stdout
        assert expected in out
    finally:
        docker("exec", "mk8s-armel", "rm", "-f", target, check=False)


@pytest.mark.parametrize("component", ["kubelet", "kube-proxy"])
def test_goarm7_build_of_the_same_binary_does_not_run_there(pulled_paths, component):
    """The GOARM=7 build dies with SIGILL on the ARMv6 CPU model; the same file runs on the armv7 node."""
    path = pulled_paths[("linux/arm/v7", component)]
    on_v6 = _copy_to("mk8s-armel", path, component + "-v7")
    on_v7 = _copy_to("mk8s-armhf", path, component + "-v7")
    try:
        bad = docker("exec", "mk8s-armel", "sh", "-c", "%s --version 2>&1; echo rc=$?" % on_v6, check=False, timeout=300)
        assert "Kubernetes " + VERSION not in bad.stdout
        assert "rc=0" not in bad.stdout
        assert "rc=132" in bad.stdout, bad.stdout  # 128 + SIGILL, as on a Pi Zero
        good = docker("exec", "mk8s-armhf", on_v7, "--version", timeout=300).stdout
        assert good.strip() == "Kubernetes " + VERSION
    finally:
        docker("exec", "mk8s-armel", "rm", "-f", on_v6, check=False)
        docker("exec", "mk8s-armhf", "rm", "-f", on_v7, check=False)


def _local_mirror(root):
    """A Debian mirror of one file on the local disk (file://): libseccomp's tarball as the build stage fetched it,
    so that no test reaches deb.debian.org."""
    lib = SourceCache(BUILD_DIR).prepare("gomod:runc-v1.5.3").gomod["clibs"]["libseccomp"]
    dest = os.path.join(root, lib["path"])
    os.makedirs(os.path.dirname(dest))
    shutil.copy(SourceCache(BUILD_DIR).clib_tarball(lib), dest)  # cached: checked, not fetched
    return "file://" + root


def test_rebuild_with_every_cache_emptied_gives_the_same_sha256(built, tmp_path, monkeypatch):
    """Reproducible: runc for arm/v6 (Go, and C through cgo: the hardest case) built again in a fresh build
    directory: no output cache, an empty Go build cache, zig's cache and libseccomp built again; only the downloaded
    modules are shared (GOPROXY=off: nothing is fetched). The same bytes come out."""
    monkeypatch.setenv("GOPROXY", "off")
    src = SourceCache(BUILD_DIR).prepare("gomod:runc-v1.5.3")
    fresh = Builder(str(tmp_path / "b"), src, sources=SourceCache(str(tmp_path / "b"), mirror=_local_mirror(str(tmp_path / "m"))))
    fresh.gomodcache = os.path.join(BUILD_DIR, "gomodcache")
    assert not os.path.exists(fresh.gocache)
    rec = fresh.build("runc", P.by_oci("linux/arm/v6"))
    assert rec["cached"] is False
    original = [b for b in built["first"]["binaries"] if b["platform"] == "linux/arm/v6" and b["component"] == "runc"]
    assert rec["sha256"] == original[0]["sha256"]


@pytest.mark.parametrize("case, message", [
    ("missing-source", "gomod:kubernetes-v0.0.0 is not a Go module of this collection (known: "),
    ("not-a-tool", "does not name k8s.io/kubernetes/cmd/kube-proxy (for kube-proxy) as a tool in its go.mod"),
    ("unknown-platform", "platforms: 'linux/mips' is not a platform this collection knows"),
    ("failing-compile", "go build of kube-proxy for linux/arm/v6 failed (exit 1):"),
    ("tampered-c-library", "has sha256 "),
])
def test_bad_input_fails_clearly_and_publishes_nothing(tmp_path, case, message):
    """GOPROXY=off: a refusal must not depend on the network. The failing compile uses the shared build directory's
    module and build caches (the module cache has everything; the go.sum is what is wrong) under a build directory
    of its own, whose out/ it then finds empty: no build left behind (a build running beside this test, in the
    shared directory, does not count)."""
    repo = "multiarch-k8s-tests/bad-%s" % case
    gomod = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "gomod")
    args = {"source": "gomod:kubernetes-v0.0.0", "components": ["kube-proxy"], "platforms": ["linux/arm/v6"],
            "dest": "docker://%s/%s:v0" % (REGISTRY, repo), "build_dir": str(tmp_path / "build"),
            "lock_file": str(tmp_path / "lock.yml")}
    if case == "not-a-tool":  # the collection's go.mod, without the kube-proxy tool
        folder = _gomod_copy(os.path.join(gomod, "kubernetes-" + VERSION), str(tmp_path / "k"))
        _edit(folder, "go.mod", lambda t: t.replace("tool k8s.io/kubernetes/cmd/kube-proxy\n", ""))
        args.update(source="gomod:" + folder)
    elif case == "unknown-platform":
        args.update(source=SOURCE, platforms=["linux/mips"])
    elif case == "failing-compile":  # a go.sum that lacks the release's own hash: the go command refuses
        folder = _gomod_copy(os.path.join(gomod, "kubernetes-" + VERSION), str(tmp_path / "k"))
        _edit(folder, "go.sum", lambda t: "\n".join(line for line in t.splitlines() if "k8s.io/kubernetes " not in line) + "\n")
        os.makedirs(args["build_dir"])
        for cache in ("gomodcache", "gocache"):
            os.symlink(os.path.join(BUILD_DIR, cache), os.path.join(args["build_dir"], cache))
        args.update(source="gomod:" + folder)
    elif case == "tampered-c-library":  # the pinned libseccomp sha256 changed: the tarball is not used
        folder = _gomod_copy(os.path.join(gomod, "runc-v1.5.3"), str(tmp_path / "r"))
        _edit(folder, "libseccomp.clib.json", lambda t: re.sub(r'"sha256": "[0-9a-f]{64}"', '"sha256": "%s"' % ("0" * 64), t))
        args.update(source=SOURCE, runc_source="gomod:" + folder, components=["runc"],
                    debian_mirror=_local_mirror(str(tmp_path / "m")))
    res, rc = build(args, env={"GOPROXY": "off"})
    assert rc != 0
    assert message in res["msg"], res["msg"]
    assert not os.path.exists(args["lock_file"])
    assert _registry_has(repo) is False
    records = [f for _d, _s, files in os.walk(str(tmp_path / "build")) for f in files if f == "record.json"]
    assert records == []  # no half-built binary is kept
    out = os.path.join(args["build_dir"], "out")
    left = [os.path.join(sub, d) for sub in (os.listdir(out) if os.path.isdir(out) else []) for d in os.listdir(os.path.join(out, sub))]
    assert left == [], left


def _gomod_copy(folder, dest):
    shutil.copytree(folder, dest)
    return dest


def _edit(folder, name, change):
    path = os.path.join(folder, name)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(change(text))


def _registry_has(repo):
    try:
        with urllib.request.urlopen("http://%s/v2/%s/tags/list" % (REGISTRY, repo), timeout=10) as resp:
            return bool(resp.read())
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return False
        raise


def test_four_platform_index_read_back_and_run_on_every_node(tmp_path):
    dest = "docker://%s/multiarch-k8s-tests/four:v1" % REGISTRY
    args = {"source": SOURCE, "components": ["pause", "loopback"], "dest": dest,
            "platforms": ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6"], "build_dir": BUILD_DIR}
    res, rc = build(args)
    assert rc == 0, res
    assert sorted(res["manifests"]) == sorted(args["platforms"])
    pulled = Puller(dest, args["platforms"], str(tmp_path / "c")).run()
    nodes = {"linux/amd64": "mk8s-amd64", "linux/arm64": "mk8s-arm64", "linux/arm/v7": "mk8s-armhf",
             "linux/arm/v6": "mk8s-armel"}
    for platform, node in nodes.items():
        files = dict((f["name"], f["path"]) for f in pulled["bundles"][platform]["files"])
        target = _copy_to(node, files["loopback"], "loopback")
        try:
            out = docker("exec", node, "sh", "-c", target + " 2>&1", check=False).stdout
            assert "CNI loopback plugin v1.10.0" in out, (platform, out)
        finally:
            docker("exec", node, "rm", "-f", target, check=False)


def test_load_one_platform_into_the_docker_engine(tmp_path):
    name = "multiarch-k8s-tests/loaded-holder:v6"
    args = {"source": SOURCE, "components": ["pause", "loopback"], "platforms": ["linux/arm/v6"],
            "dest": "docker-daemon:" + name, "build_dir": BUILD_DIR}
    try:
        first, rc = build(args)
        assert rc == 0, first
        assert first["changed"] is True
        inspect = docker("image", "inspect", name, "--format", "{{.Os}}/{{.Architecture}}/{{.Variant}}").stdout
        assert inspect.strip() == "linux/arm/v6"
        again, rc = build(args)
        assert rc == 0 and again["changed"] is False
        pulled = Puller("docker-daemon:" + name, ["linux/arm/v6"], str(tmp_path / "c")).run()
        assert sorted(f["name"] for f in pulled["bundles"]["linux/arm/v6"]["files"]) == ["loopback", "pause"]
        many, rc = build(dict(args, platforms=["linux/arm/v6", "linux/arm/v7"]))
        assert rc != 0
        assert "the Docker engine keeps one platform per tag, and 2 platforms were asked for" in many["msg"]
    finally:
        docker("rmi", name, check=False)


STANDIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "standin")


def test_stand_in_of_a_version_that_cannot_be_had_offline(tmp_path):
    """A stand-in kubelet 'v1.21.0' from the fixture Go module, by the same build path: it says it is a
    stand-in, answers --version, serves /healthz and can be told to fail."""
    dest = "docker://%s/multiarch-k8s-tests/standin:v1.21.0" % REGISTRY
    res, rc = build({"source": STANDIN_DIR, "version": "v1.21.0", "components": ["kubelet"],
                     "platforms": ["linux/arm/v6"], "dest": dest, "build_dir": BUILD_DIR})
    assert rc == 0, res
    assert [b["origin"] for b in res["binaries"]] == ["stand-in"]
    pulled = Puller(dest, ["linux/arm/v6"], str(tmp_path / "c")).run()
    kubelet = pulled["bundles"]["linux/arm/v6"]["files"][0]
    assert kubelet["name"] == "kubelet" and kubelet["static"] is True and kubelet["goarm"] == "6"
    target = _copy_to("mk8s-armel", kubelet["path"], "kubelet-standin")
    probe = ("import urllib.request,urllib.error,sys\n"
             "try:\n print(urllib.request.urlopen('http://127.0.0.1:19998/healthz', timeout=5).status)\n"
             "except urllib.error.HTTPError as e:\n print(e.code)\n")
    try:
        out = docker("exec", "mk8s-armel", target, "--version").stdout.strip()
        assert out == "Kubernetes v1.21.0 (stand-in kubelet)"
        for fail, status in (("0", "200"), ("1", "500")):
            docker("exec", "-d", "-e", "STANDIN_ADDR=127.0.0.1:19998", "-e", "STANDIN_FAIL=" + fail,
                   "mk8s-armel", target)
            got = ""
            for _attempt in range(30):  # bounded: the emulated node starts it in a second or two
                got = docker("exec", "mk8s-armel", "python3", "-c", probe, check=False).stdout.strip()
                if got in ("200", "500"):
                    break
                docker("exec", "mk8s-armel", "sleep", "1", check=False)
            assert got == status
            docker("exec", "mk8s-armel", "pkill", "-f", target, check=False)
            docker("exec", "mk8s-armel", "sleep", "1", check=False)
    finally:
        docker("exec", "mk8s-armel", "pkill", "-f", target, check=False)
        docker("exec", "mk8s-armel", "rm", "-f", target, check=False)
