# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parts of the build path: versions, module detection, build flags, cache keys, bad input."""

from __future__ import annotations

import json
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


# --- module builds (gomod/): the collection's go.mod and go.sum per release ---
def _gomod(folder, text, gosum=True):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "go.mod"), "w") as f:
        f.write(text)
    if gosum:
        with open(os.path.join(folder, "go.sum"), "w") as f:
            f.write("")
    return folder


K8S_GOMOD = """module multiarch.k8s/gomod/kubernetes

go 1.26.0

require k8s.io/kubernetes v1.37.2

require (
\tgithub.com/x/y v1.0.0 // indirect
)

tool k8s.io/kubernetes/cmd/kubelet
tool k8s.io/kubernetes/cmd/kube-proxy

replace (
\tk8s.io/api => k8s.io/api v0.37.2
)
"""


def test_gomod_source_reads_release_tools_and_go(tmp_path):
    folder = _gomod(str(tmp_path / "kubernetes-v1.37.2"), K8S_GOMOD)
    src = S.SourceCache(str(tmp_path / "cache")).prepare("gomod:" + folder)
    assert src.module == B.K8S and src.version == "v1.37.2" and src.gomod["go"] == "1.26.0"
    assert src.gomod["tools"] == ["k8s.io/kubernetes/cmd/kube-proxy", "k8s.io/kubernetes/cmd/kubelet"]
    assert src.gomod["requires"]["github.com/x/y"] == "v1.0.0"
    # the key follows go.mod and go.sum, nothing else
    again = S.SourceCache(str(tmp_path / "other")).prepare("gomod:" + folder)
    assert again.key == src.key
    with open(os.path.join(folder, "go.sum"), "a") as f:
        f.write("k8s.io/api v0.37.2 h1:x\n")
    assert S.SourceCache(str(tmp_path / "cache")).prepare("gomod:" + folder).key != src.key


def test_gomod_ldflags_stamp_the_published_version_packages(tmp_path):
    src = S.SourceCache(str(tmp_path / "c")).prepare("gomod:" + _gomod(str(tmp_path / "k"), K8S_GOMOD))
    flags = B.Builder(str(tmp_path / "b"), src).ldflags()
    assert "-X 'k8s.io/component-base/version.gitVersion=v1.37.2'" in flags
    assert "-X 'k8s.io/client-go/pkg/version.gitMinor=37'" in flags and "vendor/" not in flags


@pytest.mark.parametrize("text,gosum,message", [
    (K8S_GOMOD, False, "has no go.sum: write it with tools/gomod.py"),
    ("module m\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes v1.37.2\n", True, "names no tool to build"),
    ("module m\n\ngo 1.26.0\n\nrequire example.com/other v1.0.0\n\ntool example.com/other\n", True,
     "requires none of k8s.io/kubernetes"),
])
def test_gomod_sources_that_cannot_be_built_are_refused(tmp_path, text, gosum, message):
    folder = _gomod(str(tmp_path / "m"), text, gosum)
    with pytest.raises(B.BuildError, match=message):
        S.SourceCache(str(tmp_path / "c")).prepare("gomod:" + folder)


def test_gomod_refusals_name_the_problem(tmp_path):
    cache = S.SourceCache(str(tmp_path / "c"))
    with pytest.raises(B.BuildError, match="gomod:kubernetes-v9.9.9 is not a Go module of this collection"):
        cache.prepare("gomod:kubernetes-v9.9.9")
    folder = _gomod(str(tmp_path / "k"), K8S_GOMOD)
    with pytest.raises(B.BuildError, match=r"builds v1.37.2, not the version asked for \(v1.36.3\)"):
        cache.prepare("gomod:" + folder, version="v1.36.3")
    src = cache.prepare("gomod:" + folder)
    with pytest.raises(B.BuildError, match="only the cross strategy can"):
        B.Builder(str(tmp_path / "b"), src, strategy="qemu")
    with pytest.raises(B.BuildError, match="does not name k8s.io/kubernetes/cmd/kubectl"):
        B.Builder(str(tmp_path / "b"), src).lookup("kubectl", P.by_oci("linux/arm/v6"))


@pytest.mark.skipif(not os.access(B.DEBIAN_GO, os.X_OK), reason="Debian's golang-go (1.19) is not installed")
def test_gomod_build_with_a_go_older_than_go_mod_asks_is_refused(tmp_path):
    """Debian's Go 1.19 (installed for the GOPATH builds) cannot build a release whose go.mod says go 1.26.0."""
    src = S.SourceCache(str(tmp_path / "c")).prepare("gomod:" + _gomod(str(tmp_path / "k"), K8S_GOMOD))
    with pytest.raises(B.BuildError, match="needs Go 1.26.0 or newer; /usr/lib/go/bin/go is go1.19"):
        B.Builder(str(tmp_path / "b"), src, go=B.DEBIAN_GO).go_version()


def test_the_collections_gomod_folders_are_complete():
    """Every folder of gomod/ is one the builder accepts: go.mod with the release and its tools, and go.sum."""
    folders = sorted(os.listdir(S.GOMOD_DIR))
    assert folders, "gomod/ is empty"
    for name in folders:
        src = S.SourceCache("/nonexistent").prepare("gomod:" + name)
        assert src.module and src.version and name.endswith("-" + src.version), name


COREDNS_GOMOD = """module multiarch.k8s/gomod/coredns

go 1.26.0

require github.com/coredns/coredns v1.15.0

require (
\tk8s.io/client-go v0.37.1 // indirect
)

tool multiarch.k8s/gomod/coredns
"""


def test_a_gomod_folder_whose_program_is_its_own_main_package_builds_that_release(tmp_path):
    """CoreDNS's plugins are chosen at compile time: the folder's own main package (main.go) is the program; the
    family is the release it requires, and main.go is an input of the source's key like go.mod and go.sum."""
    folder = _gomod(str(tmp_path / "coredns-v1.15.0"), COREDNS_GOMOD)
    with open(os.path.join(folder, "main.go"), "w") as f:
        f.write("package main\n")
    src = S.SourceCache(str(tmp_path / "c")).prepare("gomod:" + folder)
    assert src.module == B.COREDNS and src.version == "v1.15.0" and src.gomod["module"] == "multiarch.k8s/gomod/coredns"
    b = B.Builder(str(tmp_path / "b"), src)
    assert "-X 'github.com/coredns/coredns/coremain.GitCommit=module'" in b.ldflags("coredns")
    assert "gitVersion" not in b.ldflags("coredns")
    with open(os.path.join(folder, "main.go"), "a") as f:
        f.write("// another plugin\n")
    assert S.SourceCache(str(tmp_path / "c")).prepare("gomod:" + folder).key != src.key
    with pytest.raises(B.BuildError, match="kubelet is built from k8s.io/kubernetes, but source gomod coredns-v1.15.0"):
        b.lookup("kubelet", P.by_oci("linux/arm/v6"))


# --- the container runtime: containerd (pure Go) and runc (cgo, libseccomp built with zig cc) ---
RUNC_GOMOD = """module multiarch.k8s/gomod/runc

go 1.26.0

require (
\tgithub.com/opencontainers/runc v1.5.3 // indirect
\tgithub.com/containernetworking/plugins v1.9.1 // indirect
)

tool github.com/opencontainers/runc
"""
SECCOMP = {"name": "libseccomp", "version": "2.6.0", "sha256": "83" * 32,
           "path": "pool/main/libs/libseccomp/libseccomp_2.6.0.orig.tar.gz"}


def _clib(folder, doc):
    with open(os.path.join(folder, "libseccomp.clib.json"), "w") as f:
        json.dump(doc, f)


def test_a_gomod_folder_builds_the_release_of_its_tools_not_one_it_merely_requires(tmp_path):
    """containerd's go.mod requires the CNI plugins too: the family is the one whose programs are tools."""
    folder = _gomod(str(tmp_path / "runc-v1.5.3"), RUNC_GOMOD)
    _clib(folder, SECCOMP)
    src = S.SourceCache(str(tmp_path / "c")).prepare("gomod:" + folder)
    assert src.module == B.RUNC and src.version == "v1.5.3"
    assert src.gomod["clibs"] == {"libseccomp": SECCOMP}


def test_runc_is_linked_by_zig_cc_with_its_tags_and_version(tmp_path):
    folder = _gomod(str(tmp_path / "runc-v1.5.3"), RUNC_GOMOD)
    _clib(folder, SECCOMP)
    src = S.SourceCache(str(tmp_path / "c")).prepare("gomod:" + folder)
    b = B.Builder(str(tmp_path / "b"), src)
    flags = b.ldflags("runc")
    assert "-X 'main.version=1.5.3'" in flags and "-linkmode external -extldflags '-static -s'" in flags
    assert "seccomp" in B.TAGS["runc"].split() and "libpathrs" not in B.TAGS["runc"].split()
    assert B.CGO["runc"] == ("libseccomp",)
    # the C library's pinned sha256 and the target are inputs of the key
    monkey = {"zig": "0.17.1"}
    b.zig_version = lambda: monkey["zig"]
    b.go_version = lambda: "go1.26.8"
    key = b.key("runc", P.by_oci("linux/arm/v6"))
    assert key != b.key("runc", P.by_oci("linux/arm/v7"))
    monkey["zig"] = "0.18.0"
    assert b.key("runc", P.by_oci("linux/arm/v6")) != key
    _clib(folder, dict(SECCOMP, sha256="84" * 32))
    other = B.Builder(str(tmp_path / "b"), S.SourceCache(str(tmp_path / "c")).prepare("gomod:" + folder))
    other.zig_version, other.go_version = b.zig_version, b.go_version
    assert other.key("runc", P.by_oci("linux/arm/v6")) != b.key("runc", P.by_oci("linux/arm/v6"))


def test_containerd_is_stamped_with_its_version_package(tmp_path):
    text = RUNC_GOMOD.replace("opencontainers/runc v1.5.3", "containerd/containerd/v2 v2.4.2").replace(
        "tool github.com/opencontainers/runc", "tool github.com/containerd/containerd/v2/cmd/containerd")
    src = S.SourceCache(str(tmp_path / "c")).prepare("gomod:" + _gomod(str(tmp_path / "containerd-v2.4.2"), text))
    flags = B.Builder(str(tmp_path / "b"), src).ldflags("containerd")
    assert "-X 'github.com/containerd/containerd/v2/version.Version=v2.4.2'" in flags
    assert "linkmode" not in flags  # pure Go, CGO_ENABLED=0


@pytest.mark.parametrize("doc,message", [
    (dict(SECCOMP, sha256="xyz"), "must name a C library"),
    (dict(SECCOMP, path="/etc/passwd"), "must name a C library"),
    (dict(SECCOMP, path="pool/../../x"), "must name a C library"),
    ({"name": "libseccomp"}, "must name a C library"),
])
def test_a_bad_c_library_pin_is_refused(tmp_path, doc, message):
    folder = _gomod(str(tmp_path / "runc-v1.5.3"), RUNC_GOMOD)
    _clib(folder, doc)
    with pytest.raises(B.BuildError, match=message):
        S.SourceCache(str(tmp_path / "c")).prepare("gomod:" + folder)


def test_runc_without_its_c_library_pin_is_refused_before_building(tmp_path):
    src = S.SourceCache(str(tmp_path / "c")).prepare("gomod:" + _gomod(str(tmp_path / "runc-v1.5.3"), RUNC_GOMOD))
    b = B.Builder(str(tmp_path / "b"), src)
    b.zig_version = lambda: "0.17.1"
    b.go_version = lambda: "go1.26.8"
    with pytest.raises(B.BuildError, match="needs the C library libseccomp, and .* pins none"):
        b.key("runc", P.by_oci("linux/amd64"))


def test_a_c_library_tarball_that_does_not_match_its_pin_is_refused(tmp_path):
    """The mirror is a local file:// directory here: a tarball whose sha256 differs is not used."""
    mirror = tmp_path / "mirror"
    (mirror / "pool/main/libs/libseccomp").mkdir(parents=True)
    (mirror / SECCOMP["path"]).write_bytes(b"not the tarball")
    cache = S.SourceCache(str(tmp_path / "c"), mirror="file://" + str(mirror))
    with pytest.raises(B.BuildError, match="has sha256 .*, not the 8383.* the collection pins; nothing was built"):
        cache.clib_tarball(SECCOMP)
    assert not os.listdir(os.path.join(str(tmp_path / "c"), "src", "clibs"))
    good = dict(SECCOMP, sha256=B.sha256_file(str(mirror / SECCOMP["path"])))
    assert open(cache.clib_tarball(good), "rb").read() == b"not the tarball"


# --- holder_build's jobs: platforms built at once, rows in the order asked, a failure raised ---
class _FakeBuilder(object):
    """A stand-in for Builder (the real one runs the go command): records which thread built what, and when."""

    def __init__(self, fail=None):
        self.source = type("Src", (), {"gomod": {"go": "1.26"}})()
        self.fail, self.calls, self.active, self.most = fail, [], 0, 0
        import threading
        self.lock = threading.Lock()

    def build(self, comp, plat):
        import time
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        time.sleep(0.05)
        with self.lock:
            self.active -= 1
            self.calls.append((plat.oci, comp))
        if (plat.oci, comp) == self.fail:
            raise B.BuildError("go build of %s for %s failed (exit 1): stand-in failure" % (comp, plat.oci))
        return {"component": comp, "platform": plat.oci, "cached": False, "seconds": 0.05}

    lookup = build


@pytest.mark.parametrize("jobs, most", [(1, 1), (2, 2), (8, 3)])
def test_jobs_build_platforms_at_once_and_keep_the_order(jobs, most):
    from ansible_collections.multiarch.k8s.plugins.plugin_utils import _holder_build as HB
    plats = [P.by_oci(p) for p in ("linux/amd64", "linux/arm64", "linux/arm/v6")]
    fake = _FakeBuilder()
    wanted = dict((p.oci, ["kubelet", "kube-proxy"]) for p in plats)
    rows, bundles, actions, missing = HB._build_all({B.K8S: fake}, plats, wanted, False, jobs=jobs)
    assert [(r["platform"], r["component"]) for r in rows] == [(p.oci, c) for p in plats for c in ("kubelet", "kube-proxy")]
    assert fake.most == most and not missing and len(actions) == 6
    # each platform's components in order, whatever ran beside them
    for p in plats:
        assert [c for o, c in fake.calls if o == p.oci] == ["kubelet", "kube-proxy"]


def test_a_failing_build_among_jobs_is_raised():
    from ansible_collections.multiarch.k8s.plugins.plugin_utils import _holder_build as HB
    plats = [P.by_oci(p) for p in ("linux/amd64", "linux/arm/v6")]
    fake = _FakeBuilder(fail=("linux/arm/v6", "kubelet"))
    with pytest.raises(B.BuildError, match="go build of kubelet for linux/arm/v6 failed"):
        HB._build_all({B.K8S: fake}, plats, dict((p.oci, ["kubelet", "kube-proxy"]) for p in plats), False, jobs=2)


def test_jobs_below_one_are_refused_before_anything(tmp_path):
    from ansible_collections.multiarch.k8s.plugins.plugin_utils import _holder_build as HB
    with pytest.raises(B.BuildError, match="jobs must be 1 or more, not 0"):
        HB.run("gomod:kubernetes-v1.37.2", ["linux/amd64"], "oci:%s:v1" % (tmp_path / "o"), components=["kubelet"],
               build_dir=str(tmp_path / "b"), jobs=0)
    assert not os.path.exists(str(tmp_path / "b"))


def test_zig_is_run_directly_when_the_package_has_its_binary():
    """The ziglang package's own binary, not ``python -m ziglang`` (which only execs it): a configure script runs the
    C compiler hundreds of times. Both answer the same version."""
    cmd = B.zig_command()
    assert cmd[0].endswith("/ziglang/zig") and len(cmd) == 1, cmd
    assert os.access(cmd[0], os.X_OK)
