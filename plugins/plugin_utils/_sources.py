# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sources the builder compiles, fetched and cached. Private to the collection.

Controller-side. A source is a Debian source package (``debian:kubernetes``, fetched with ``apt-get source``
through a private apt configuration, Debian's patches applied or not), an upstream tarball or a directory. Each
is unpacked once into a cache keyed by its content, with its Go module, version and build date found out; the
builder (_build) compiles from there. Also the Debian toolchain of the qemu build strategy.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import threading

from ansible.module_utils.urls import ConnectionError as UrlConnectionError, open_url

from ansible_collections.multiarch.k8s.plugins.module_utils._components import CNI, CONTAINERD, COREDNS, ETCD, K8S, RUNC
from ansible_collections.multiarch.k8s.plugins.module_utils._release import sha256_of as sha256_file

_FETCH_LOCK = threading.Lock()
# the collection's Go modules, one per release it builds (tools/gomod.py writes them)
GOMOD_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "gomod")
# a fixed build date keeps builds reproducible (SOURCE_DATE_EPOCH when the source gives one)
DEFAULT_BUILD_DATE = "1970-01-01T00:00:00Z"


class BuildError(Exception):
    """A build that cannot go on; the message names the source, component and platform."""


def _run(cmd, what, env=None, cwd=None, timeout=3600):
    try:
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise BuildError("%s needs %s, which is not installed on the controller" % (what, cmd[0]))
    except subprocess.TimeoutExpired:
        raise BuildError("%s did not finish within %d s" % (what, timeout))
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-15:])
        raise BuildError("%s failed (exit %d):\n%s" % (what, proc.returncode, tail))
    return proc.stdout


class Source(object):
    """A prepared Go source: its module path, version and where its dependencies are.

    ``gomod`` sources are one of the collection's Go modules (gomod/<name>-<version>/go.mod and go.sum): the go
    command fetches the release and its dependencies from the Go module proxy and builds in module mode; the
    others are source trees built in GOPATH mode."""

    def __init__(self, spec, key, tree, version, description, build_date, gocode=None, gomod=None):
        self.spec = spec
        self.key = key
        self.tree = tree
        self.version = version
        self.description = description
        self.build_date = build_date
        self.gocode = gocode  # a GOPATH of Debian's packaged Go libraries, for trees without vendor/
        self.gomod = gomod    # for module builds: {"go": "1.26.0", "requires": {...}, "tools": [...]}
        self.module = _gomod_release(gomod)[0] if gomod else _module_of(tree)


# the module a gomod/ folder requires -> the source family (the component table's module) it builds
_FAMILIES = (("k8s.io/kubernetes", K8S), ("go.etcd.io/etcd/server/v3", ETCD), (CNI, CNI), (CONTAINERD, CONTAINERD),
             (RUNC, RUNC), (COREDNS, COREDNS))
# the C libraries a gomod/ folder's cgo programs link (runc: libseccomp), one JSON file each, written by tools/gomod.py
CLIB_SUFFIX = ".clib.json"
_CLIB_KEYS = ("name", "version", "path", "sha256")


def _gomod_release(gomod):
    """(family, version) of the release a gomod/ folder requires, or (None, None). A folder's tools are programs of
    that release, or the folder's own main package (its module path) linking the release's packages (CoreDNS)."""
    own = gomod.get("module")
    for required, family in _FAMILIES:  # the release whose programs the folder builds (its tools), not a dependency
        if required in gomod["requires"] and any(t in (required, own) or t.startswith(required + "/") for t in gomod["tools"]):
            return family, gomod["requires"][required]
    return None, None


def read_gomod(folder):
    """{"go", "requires" (module path -> version), "tools"} of ``folder``/go.mod; BuildError if it
    is not one the collection can build from (no go.sum, nothing required or no tool named)."""
    try:
        with open(os.path.join(folder, "go.mod")) as f:
            text = f.read()
    except OSError as e:
        raise BuildError("%s has no readable go.mod: %s" % (folder, e.strerror or e))
    if not os.path.isfile(os.path.join(folder, "go.sum")):
        raise BuildError("%s has no go.sum: write it with tools/gomod.py (go mod tidy) and commit it" % folder)
    go = re.search(r"^go\s+(\S+)", text, re.M)
    module = re.search(r"^module\s+(\S+)", text, re.M)
    requires = {}
    for block in re.findall(r"^require\s*\((.*?)^\)", text, re.M | re.S) + re.findall(r"^require\s+([^(\n].*)$", text, re.M):
        for line in block.splitlines():
            parts = line.split("//")[0].split()
            if len(parts) == 2:  # with tool directives every requirement is "// indirect"
                requires[parts[0]] = parts[1]
    tools = re.findall(r"^tool\s+(\S+)", text, re.M) + [
        t for block in re.findall(r"^tool\s*\((.*?)^\)", text, re.M | re.S) for t in block.split()]
    if not requires or not tools:
        raise BuildError("%s/go.mod requires no release or names no tool to build" % folder)
    return {"go": go.group(1) if go else None, "module": module.group(1) if module else None, "requires": requires,
            "tools": sorted(set(tools)), "clibs": _read_clibs(folder)}


def _read_clibs(folder):
    """name -> {"name", "version", "path" (in the Debian archive), "sha256"} of each ``*.clib.json`` in ``folder``."""
    clibs = {}
    for path in sorted(glob.glob(os.path.join(folder, "*" + CLIB_SUFFIX))):
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            raise BuildError("%s cannot be read: %s" % (path, e))
        if not isinstance(doc, dict) or any(not isinstance(doc.get(k), str) or not doc.get(k) for k in _CLIB_KEYS) \
                or not re.match(r"^[0-9a-f]{64}$", doc["sha256"]) or doc["path"].startswith("/") or ".." in doc["path"]:
            raise BuildError("%s must name a C library: %s (strings; path relative to the Debian mirror; sha256 "
                             "64 hex digits)" % (path, ", ".join(_CLIB_KEYS)))
        clibs[doc["name"]] = doc
    return clibs


def _module_of(tree):
    try:
        with open(os.path.join(tree, "go.mod")) as f:
            for line in f:
                if line.startswith("module "):
                    return line.split()[1].strip()
    except OSError:
        pass
    return K8S if os.path.isdir(os.path.join(tree, "cmd", "kube-proxy")) else None


def _tree_key(tree):
    """Key of a source directory: its path and every file's name, size and mtime (no file is read)."""
    h = hashlib.sha256(("dir:" + os.path.abspath(tree)).encode())
    for d, dirs, files in os.walk(tree):
        dirs.sort()
        for name in sorted(files):
            try:
                st = os.lstat(os.path.join(d, name))
            except OSError:
                continue
            h.update(("%s %d %d\n" % (os.path.relpath(os.path.join(d, name), tree), st.st_size,
                                      st.st_mtime_ns)).encode())
    return h.hexdigest()


def _upstream_version(debian_version):
    """``1.20.2`` from ``1.20.5+really1.20.2-1.1+deb12u1``, ``1.1.1`` from ``1.1.1+ds1-3``."""
    v = debian_version.split(":")[-1].rsplit("-", 1)[0]
    v = v.split("really")[-1]
    return re.split(r"[+~]", v)[0]


def _tree_version(tree):
    """``v1.20.2`` from the name of the tree's directory (``kubernetes-1.20.2``, ``plugins-1.1.1``)."""
    base = os.path.basename(tree.rstrip("/"))
    m = re.match(r"^[A-Za-z-]+?-v?([0-9]+\.[0-9]+\.[0-9]+)", base)
    return "v" + m.group(1) if m else None


class SourceCache(object):
    def __init__(self, root, mirror="http://deb.debian.org/debian", suite="bookworm", log=None):
        self.root = os.path.join(root, "src")
        self.mirror = mirror
        self.suite = suite
        self.log = log or (lambda msg: None)

    def prepare(self, spec, debian_patches=False, version=None):
        """Return a Source for ``spec``: ``gomod:NAME`` (a folder of the collection's gomod/, or a directory with a
        go.mod and go.sum), ``debian:PACKAGE[=VERSION]``, a tarball or a directory."""
        if not isinstance(spec, str) or not spec:
            raise BuildError("source is empty; give gomod:kubernetes-vX.Y.Z, debian:kubernetes, a tarball or a directory")
        if spec.startswith("gomod:"):
            return self._gomod(spec[len("gomod:"):], version)
        if spec.startswith("debian:"):
            return self._debian(spec[len("debian:"):], debian_patches, version)
        if os.path.isdir(spec):
            if not os.path.isdir(os.path.join(spec, "vendor")) or not _module_of(spec):
                raise BuildError("source %s is not a Go source tree with vendor/ this collection builds "
                                 "(Kubernetes or the CNI plugins)" % spec)
            key = _tree_key(spec)
            ver = version or _tree_version(spec)
            if not ver:
                raise BuildError("source %s does not say its version; give version (e.g. v1.20.2)" % spec)
            return Source(spec, key, os.path.abspath(spec), ver, "directory %s" % spec, DEFAULT_BUILD_DATE)
        if os.path.isfile(spec):
            return self._tarball(spec, version)
        raise BuildError("source %s does not exist (expected debian:PACKAGE, a .tar.gz or a directory)" % spec)

    def clib_tarball(self, lib):
        """The source tarball of C library ``lib`` (a ``*.clib.json`` entry) from the Debian mirror, checked against
        the sha256 the collection pins; downloaded once into the cache."""
        dest = os.path.join(self.root, "clibs", "%s-%s" % (lib["sha256"][:16], os.path.basename(lib["path"])))
        if os.path.isfile(dest) and sha256_file(dest) == lib["sha256"]:
            return dest
        with _FETCH_LOCK:  # builds of several platforms at once (holder_build's jobs) fetch it once
            return self._fetch_clib(lib, dest)

    def _fetch_clib(self, lib, dest):
        if os.path.isfile(dest) and sha256_file(dest) == lib["sha256"]:
            return dest
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        url = "%s/%s" % (self.mirror.rstrip("/"), lib["path"])
        self.log("fetching %s %s from %s" % (lib["name"], lib["version"], url))
        tmp = dest + ".part"
        try:
            with open_url(url, timeout=120) as r, open(tmp, "wb") as f:
                shutil.copyfileobj(r, f)
        except (OSError, ValueError, UrlConnectionError) as e:
            raise BuildError("%s %s cannot be fetched from %s: %s" % (lib["name"], lib["version"], url, e))
        got = sha256_file(tmp)
        if got != lib["sha256"]:
            os.unlink(tmp)
            raise BuildError("%s from %s has sha256 %s, not the %s the collection pins; nothing was built with it"
                             % (lib["name"], url, got, lib["sha256"]))
        os.replace(tmp, dest)
        return dest

    def _gomod(self, name, version):
        folder = name if os.path.isabs(name) or os.sep in name else os.path.join(GOMOD_DIR, name)
        if not os.path.isdir(folder):
            known = sorted(n for n in os.listdir(GOMOD_DIR)) if os.path.isdir(GOMOD_DIR) else []
            raise BuildError("gomod:%s is not a Go module of this collection (known: %s)" % (name, ", ".join(known) or "none"))
        gomod = read_gomod(folder)
        family, release = _gomod_release(gomod)
        if family is None:
            raise BuildError("gomod:%s requires none of %s" % (name, ", ".join(required for required, _family in _FAMILIES)))
        if version and version != release:
            raise BuildError("gomod:%s builds %s, not the version asked for (%s)" % (name, release, version))
        h = hashlib.sha256(b"gomod\n")
        # what the build reads from the folder: go.mod, go.sum, the C libraries' pins and its own Go code (main.go)
        for fname in ["go.mod", "go.sum"] + sorted(os.path.basename(p) for p in glob.glob(os.path.join(folder, "*" + CLIB_SUFFIX))
                                                   + glob.glob(os.path.join(folder, "*.go"))):
            with open(os.path.join(folder, fname), "rb") as f:
                h.update(f.read())
        return Source("gomod:" + name, h.hexdigest(), os.path.abspath(folder), release,
                      "gomod %s (%s %s)" % (os.path.basename(folder.rstrip("/")), family, release),
                      DEFAULT_BUILD_DATE, gomod=gomod)

    def _extract(self, tarball, dest):
        tmp = dest + ".part"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        try:
            with tarfile.open(tarball) as tar:
                for m in tar:
                    if m.name.startswith("/") or ".." in m.name.split("/") or not (m.isreg() or m.isdir() or m.issym()):
                        continue
                    tar.extract(m, tmp, set_attrs=False)
        except (tarfile.TarError, OSError, EOFError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BuildError("source tarball %s cannot be unpacked: %s" % (tarball, e))
        os.replace(tmp, dest)

    def _tarball(self, path, version):
        key = sha256_file(path)
        dest = os.path.join(self.root, "tar-" + key[:16])
        if not os.path.isdir(dest):
            self.log("unpacking %s" % path)
            self._extract(path, dest)
        tops = [d for d in glob.glob(os.path.join(dest, "*")) if os.path.isdir(d)]
        if len(tops) != 1:
            raise BuildError("source tarball %s should hold one top directory, it holds %d" % (path, len(tops)))
        ver = version or _tree_version(tops[0])
        if not ver:
            raise BuildError("source tarball %s does not say its version; give version (e.g. v1.20.2)" % path)
        return Source(path, key, tops[0], ver, "tarball %s (sha256 %s)" % (os.path.basename(path), key),
                      DEFAULT_BUILD_DATE)

    def _apt(self, kind="deb-src", name="apt", arches=None):
        """A private apt configuration (its own lists and archives; the host's apt and dpkg state
        are neither read nor written) for ``kind`` lines of the mirror; returns (root, env)."""
        root = os.path.join(self.root, name)
        for d in ("lists/partial", "archives/partial", "download"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        with open(os.path.join(root, "sources.list"), "w") as f:
            f.write("%s %s %s main\n" % (kind, self.mirror, self.suite))
        with open(os.path.join(root, "apt.conf"), "w") as f:
            f.write('Dir::State::Lists "%s/lists";\nDir::Cache "%s";\nDir::Cache::Archives "%s/archives";\n'
                    'Dir::State::Status "/dev/null";\nDir::Etc::SourceList "%s/sources.list";\n'
                    'Dir::Etc::SourceParts "/nonexistent";\nAPT::Sandbox::User "root";\n'
                    'APT::Install-Recommends "false";\n' % (root, root, root, root))
            if arches:
                f.write("APT::Architectures { %s };\n" % " ".join('"%s";' % a for a in arches))
        return root, dict(os.environ, APT_CONFIG=os.path.join(root, "apt.conf"), DEBIAN_FRONTEND="noninteractive")

    def qemu_toolchain(self, platform, go_package="golang-1.19"):
        """Debian's Go toolchain built for ``platform`` (its Debian architecture), unpacked with the libc it
        may need, to run under QEMU user emulation: the native-build strategy. Returns its root."""
        arch = platform.debian_arch
        dest = os.path.join(self.root, "qemu-go", "%s-%s" % (go_package, arch))
        if os.path.isdir(dest):
            return dest
        host = _run(["dpkg", "--print-architecture"], "dpkg --print-architecture").strip()
        root, env = self._apt(kind="deb", name="apt-%s" % arch, arches=sorted({host, arch}))
        names = ["%s-go:%s" % (go_package, arch), "%s-src" % go_package, "libc6:%s" % arch]
        self.log("fetching Debian's %s toolchain for %s (to run under QEMU)" % (go_package, arch))
        _run(["apt-get", "-q", "update"], "apt-get update for %s" % arch, env=env, timeout=600)
        download = os.path.join(root, "download")
        _run(["apt-get", "-q", "download"] + names, "downloading %s" % ", ".join(names), env=env, cwd=download,
             timeout=1800)
        tmp = dest + ".part"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for pattern in ("%s-go_*_%s.deb" % (go_package, arch), "%s-src_*_all.deb" % go_package,
                        "libc6_*_%s.deb" % arch):
            for deb in glob.glob(os.path.join(download, pattern)):
                _run(["dpkg-deb", "-x", deb, tmp], "dpkg-deb -x %s" % deb)
        os.replace(tmp, dest)
        return dest

    def _debian(self, package, debian_patches, version):
        name, _sep, pkg_version = package.partition("=")
        if not name:
            raise BuildError("source debian: names no package; use debian:kubernetes")
        root, env = self._apt()
        download = os.path.join(root, "download")
        dscs = sorted(glob.glob(os.path.join(download, "%s_%s.dsc" % (name, pkg_version or "*"))))
        if not dscs:
            self.log("fetching the Debian source package %s (%s %s)" % (package, self.mirror, self.suite))
            _run(["apt-get", "-q", "update"], "apt-get update for deb-src %s" % self.suite, env=env, timeout=600)
            _run(["apt-get", "-q", "source", "--download-only", name + ("=" + pkg_version if pkg_version else "")],
                 "apt-get source %s" % package, env=env, cwd=download, timeout=1800)
            dscs = sorted(glob.glob(os.path.join(download, "%s_%s.dsc" % (name, pkg_version or "*"))))
        if not dscs:
            raise BuildError("apt-get source %s gave no .dsc file" % package)
        dsc = dscs[-1]
        with open(dsc, "rb") as f:
            dsc_text = f.read()
        debian_version = os.path.basename(dsc)[len(name) + 1:-len(".dsc")]
        key = hashlib.sha256(dsc_text + (b"+patches" if debian_patches else b"")).hexdigest()
        dest = os.path.join(self.root, "deb-%s-%s" % (key[:16], "patched" if debian_patches else "orig"))
        if not os.path.isdir(dest):
            if debian_patches:
                self.log("unpacking %s with Debian's patches (dpkg-source -x)" % os.path.basename(dsc))
                tmp = dest + ".part"
                shutil.rmtree(tmp, ignore_errors=True)
                _run(["dpkg-source", "--no-check", "-x", dsc, tmp], "dpkg-source -x %s" % dsc, timeout=1800)
                os.makedirs(dest)
                os.replace(tmp, os.path.join(dest, "%s-%s" % (name, _upstream_version(debian_version))))
            else:
                origs = glob.glob(os.path.join(download, "%s_*.orig.tar.*" % name))
                if not origs:
                    raise BuildError("the Debian source package %s has no orig tarball" % package)
                self.log("unpacking %s (upstream, without Debian's patches)" % os.path.basename(origs[0]))
                self._extract(origs[0], dest)
        tops = [d for d in glob.glob(os.path.join(dest, "*")) if os.path.isdir(d)]
        if len(tops) != 1:
            raise BuildError("the unpacked source %s should hold one top directory, it holds %d" % (dest, len(tops)))
        tree = tops[0]
        ver = version or _tree_version(tree)
        what = "Debian source package %s %s%s" % (name, debian_version,
                                                  " with Debian's patches" if debian_patches else " (upstream orig tarball)")
        gocode = None
        if not os.path.isdir(os.path.join(tree, "vendor")):
            gocode = self._build_deps(dsc_text.decode("utf-8", "replace"), key)
            what += ", built against Debian's packaged Go libraries"
        return Source("debian:" + package, key, tree, ver, what, DEFAULT_BUILD_DATE, gocode=gocode)

    def _build_deps(self, dsc_text, key):
        """A GOPATH with the Go libraries (golang-*-dev) the source package builds against."""
        gocode = os.path.join(self.root, "gocode-" + key[:16])
        if os.path.isdir(gocode):
            return gocode
        m = re.search(r"^Build-Depends:(.*?)^\S", dsc_text, re.S | re.M)
        names = sorted(set(re.findall(r"\b(golang-[a-z0-9.+-]+-dev)\b", m.group(1) if m else "")))
        if not names:
            raise BuildError("the source package has no vendor/ and no golang-*-dev build dependencies")
        root, env = self._apt(kind="deb", name="apt-bin")
        self.log("fetching %d Go library packages the source builds against" % len(names))
        _run(["apt-get", "-q", "update"], "apt-get update for %s" % self.suite, env=env, timeout=600)
        _run(["apt-get", "-q", "-y", "install", "--download-only"] + names, "downloading Go library packages",
             env=env, timeout=1800)
        tmp = gocode + ".part"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for deb in sorted(glob.glob(os.path.join(root, "archives", "golang-*.deb"))):
            unpacked = os.path.join(tmp, ".x")
            _run(["dpkg-deb", "-x", deb, unpacked], "dpkg-deb -x %s" % deb)
            src = os.path.join(unpacked, "usr", "share", "gocode", "src")
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(tmp, "src"), symlinks=True, dirs_exist_ok=True)
            shutil.rmtree(unpacked)
        os.replace(tmp, gocode)
        return gocode
