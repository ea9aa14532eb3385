# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cross-compiling Kubernetes components into static binaries. Private to the collection.

Controller-side. The source (a Debian source package, an upstream tarball or a directory) comes prepared from
_sources.SourceCache. It is built in GOPATH mode (``GO111MODULE=off``, the tree linked at
``$GOPATH/src/k8s.io/kubernetes``, as Debian's own ``debian/rules`` does) with
``CGO_ENABLED=0 GOOS=linux GOARCH=... GOARM=...`` from the platform table, ``-trimpath`` and a
fixed build id and date, so the same inputs give the same sha256. Every output is cached under
a key of all its inputs and verified (static, stripped, ELF identity, GOARM) before use.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import time

from ansible_collections.multiarch.k8s.plugins.module_utils import _components as C
from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P
from ansible_collections.multiarch.k8s.plugins.plugin_utils._sources import BuildError, _run
from ansible_collections.multiarch.k8s.plugins.plugin_utils._elf import NotElf, describe, inspect, problems
from ansible_collections.multiarch.k8s.plugins.module_utils._release import sha256_of as sha256_file

BUILD_SCHEMA = 1
K8S, CNI, ETCD, CONTAINERD, RUNC, COREDNS = C.K8S, C.CNI, C.ETCD, C.CONTAINERD, C.RUNC, C.COREDNS
# Go build tags of the components that need them, as their projects' own Makefiles set them for static builds.
# runc: seccomp (with libseccomp, below); not libpathrs, a Rust library (runc falls back to its Go code)
TAGS = {
    "containerd": "urfave_cli_no_docs netgo osusergo static_build",
    "containerd-shim-runc-v2": "urfave_cli_no_docs netgo osusergo static_build no_grpc",
    "ctr": "urfave_cli_no_docs netgo osusergo static_build",
    "runc": "seccomp urfave_cli_no_docs netgo osusergo",
}
# components built with cgo, and the C libraries (a gomod folder's *.clib.json) they link statically; C is
# cross-compiled with zig cc for the platform's musl target, so one toolchain serves every platform
CGO = {"runc": ("libseccomp",)}
# bumped when the way C libraries are built changes
CLIB_SCHEMA = 1
# the test fixture (tests/fixtures/standin): stands in for Kubernetes binaries of versions that
# cannot be had offline; built by this same path, named a stand-in in its output and metadata
STANDIN = "example.invalid/multiarch-k8s/standin"
# component -> (Go module it is built from, package directory, holder image folder), from the component table
COMPONENTS = dict((c.name, (c.module, c.package, c.folder)) for c in C.TABLE)
# packages that import k8s.io/kubernetes/pkg/generated/openapi, which the release tarball lacks
NEEDS_OPENAPI = ("kube-apiserver", "kube-controller-manager")
OPENAPI_PKG = "k8s.io/kubernetes/pkg/generated/openapi"
# bumped when the generation changes (3: the staging packages vendor/ links to, tags in any file)
OPENAPI_GEN = 3


def _has_tag(path, tag):
    with open(path, errors="replace") as f:
        return tag in f.read()


# The Go toolchain of GOPATH-mode builds: Debian's (golang-go), the one the Debian source packages are built with
# and the one the qemu strategy runs for the target, so that both strategies give the same bytes. A newer Go
# first on PATH (a machine may have one for module builds) would change every binary; it is used only where
# Debian's is not installed.
DEBIAN_GO = "/usr/lib/go/bin/go"


def _version_tuple(text):
    """(1, 26, 8) from ``go1.26.8``, ``1.26.0`` or ``1.26``."""
    return tuple(int(x) for x in re.findall(r"\d+", text.split()[0] if text else "")[:3])


def zig_command():
    """The zig of the ziglang Python package: its binary itself when it is there (``python -m ziglang`` only execs it,
    and a configure script runs the C compiler hundreds of times), else ``python -m ziglang``."""
    spec = importlib.util.find_spec("ziglang")
    if spec is not None and spec.origin:
        binary = os.path.join(os.path.dirname(spec.origin), "zig")
        if os.access(binary, os.X_OK):
            return [binary]
    return [sys.executable, "-m", "ziglang"]


def default_go():
    return DEBIAN_GO if os.access(DEBIAN_GO, os.X_OK) else "go"


class Builder(object):
    """Builds components of one source for platforms; caches outputs by all their inputs."""

    def __init__(self, root, source, go=None, log=None, timeout=3600, strategy="cross", sources=None):
        if strategy not in ("cross", "qemu"):
            raise BuildError("strategy must be cross or qemu, not %r" % (strategy,))
        self.root = root
        self.source = source
        # module builds need the go.mod's Go (1.26 for Kubernetes 1.37): the go on PATH; GOPATH builds Debian's
        self.go = go or ("go" if source.gomod else default_go())
        self.strategy = strategy
        self.sources = sources
        self.log = log or (lambda msg: None)
        self.timeout = timeout
        self.zig = zig_command()
        self.gocache = os.path.join(root, "gocache")
        self.gomodcache = os.path.join(root, "gomodcache")
        self.gopath = os.path.join(root, "gopath", source.key[:16])
        if not source.module:
            raise BuildError("source %s is not a Go module this collection builds" % source.description)
        self._go_version = None
        self._zig_version = None
        self._tree = None
        if source.gomod and strategy != "cross":
            raise BuildError("%s is built with the go command in module mode, which needs Go %s: only the cross "
                             "strategy can (qemu runs Debian's Go of each platform)"
                             % (source.description, source.gomod.get("go")))

    def go_version(self):
        if self._go_version is None:
            self._go_version = _run([self.go, "env", "GOVERSION"], "go env GOVERSION",
                                    env=dict(os.environ, GOTOOLCHAIN="local")).strip()
            need = (self.source.gomod or {}).get("go")
            if need and _version_tuple(self._go_version) < _version_tuple(need):
                raise BuildError("%s needs Go %s or newer; %s is %s (install a newer Go, or put one first on PATH)"
                                 % (self.source.description, need, self.go, self._go_version))
        return self._go_version

    def _module_env(self, platform=None):
        """Module mode: the collection's go.mod and go.sum, read-only; modules from GOPROXY into the cache dir."""
        env = dict(os.environ, GO111MODULE="on", GOFLAGS="-mod=readonly", GOTOOLCHAIN="local", GOWORK="off",
                   CGO_ENABLED="0", GOOS="linux", GOCACHE=self.gocache, GOMODCACHE=self.gomodcache,
                   GOPATH=os.path.join(self.root, "gopath-modules"))
        for name in ("GOARM", "GOARCH", "GOROOT", "GOPATH_OVERRIDE"):
            env.pop(name, None)
        if platform is not None:
            env["GOARCH"] = platform.goarch
            if platform.goarm:
                env["GOARM"] = platform.goarm
        return env

    def _env(self, platform=None):
        # PWD: go resolves the working directory through $PWD, which must be the GOPATH path of
        # the tree (a symlink), or vendor/ is not used
        gopath = self.gopath + (":" + self.source.gocode if self.source.gocode else "")
        env = dict(os.environ, GOPATH=gopath, GO111MODULE="off", CGO_ENABLED="0", GOFLAGS="",
                   GOCACHE=self.gocache, GOOS="linux",
                   PWD=os.path.join(self.gopath, "src", self.source.module))
        env.pop("GOARM", None)
        env.pop("GOROOT", None)  # the toolchain's own (the qemu strategy sets the target's)
        env.pop("GOARCH", None)
        if platform is not None:
            env["GOARCH"] = platform.goarch
            if platform.goarm:
                env["GOARM"] = platform.goarm
        return env

    def _workdir(self):
        link = os.path.join(self.gopath, "src", self.source.module)
        if os.path.realpath(link) != os.path.realpath(self.source.tree):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if os.path.islink(link):
                os.unlink(link)
            os.symlink(self.source.tree, link)
        return link

    def ldflags(self, component=None):
        v = self.source.version
        flags = ["-s", "-w", "-buildid="]
        if component in CGO:  # the external linker (zig cc) links the C statically and strips
            flags += ["-linkmode", "external", "-extldflags", "'-static -s'"]
        if self.source.module == CONTAINERD:
            for name, value in (("Version", v), ("Revision", "module"), ("Package", CONTAINERD)):
                flags.append("-X '%s/version.%s=%s'" % (CONTAINERD, name, value))
            return " ".join(flags)
        if self.source.module == RUNC:
            return " ".join(flags + ["-X 'main.version=%s'" % v.lstrip("v"), "-X 'main.gitCommit=module'"])
        if self.source.module == CNI:
            flags.append("-X '%s/pkg/utils/buildversion.BuildVersion=%s'" % (CNI, v))
            return " ".join(flags)
        if self.source.module == STANDIN:
            return " ".join(flags + ["-X 'main.version=%s'" % v])
        if self.source.module == COREDNS:  # its version is a constant of coremain; the commit is the module's
            return " ".join(flags + ["-X '%s/coremain.GitCommit=module'" % COREDNS])
        if self.source.module == ETCD:
            where = "go.etcd.io/etcd/api/v3/version" if self.source.gomod else ETCD + "/version"
            flags.append("-X '%s.GitSHA=%s'" % (where, "module" if self.source.gomod else "debian-source"))
            return " ".join(flags)
        major, minor = v.lstrip("v").split(".")[:2]
        vendor = "" if self.source.gomod else "k8s.io/kubernetes/vendor/"
        for pkg in (vendor + "k8s.io/component-base/version", vendor + "k8s.io/client-go/pkg/version"):
            for name, value in (("gitVersion", v), ("gitMajor", major), ("gitMinor", minor),
                                ("gitTreeState", "archive"), ("buildDate", self.source.build_date)):
                flags.append("-X '%s.%s=%s'" % (pkg, name, value))
        return " ".join(flags)

    def _openapi(self, workdir):
        """Generate pkg/generated/openapi (absent from release tarballs) once per source tree."""
        target = os.path.join(self.source.tree, "pkg", "generated", "openapi", "zz_generated.openapi.go")
        stamp = target + ".gen%d" % OPENAPI_GEN
        if os.path.exists(stamp):
            return
        self.log("generating %s with openapi-gen (once per source)" % OPENAPI_PKG)
        tool = os.path.join(self.root, "tools", self.source.key[:16], "openapi-gen")
        env = self._env()
        env.pop("GOOS")
        _run([self.go, "build", "-o", tool, "./vendor/k8s.io/kube-openapi/cmd/openapi-gen"],
             "building openapi-gen", env=env, cwd=workdir, timeout=self.timeout)
        packages = set()
        for base in ("pkg", "staging/src/k8s.io", "vendor/k8s.io"):
            for d, _dirs, files in os.walk(os.path.join(workdir, base)):
                if any(_has_tag(os.path.join(d, f), "+k8s:openapi-gen=") for f in files
                       if f.endswith(".go") and not f.endswith("_test.go")):
                    rel = os.path.relpath(d, workdir)
                    if rel.startswith("staging/src/"):  # what vendor/k8s.io/<repo> links to
                        rel = "vendor/" + rel[len("staging/src/"):]
                    packages.add("k8s.io/kubernetes/" + rel)
        header = os.path.join(workdir, "hack", "boilerplate", "boilerplate.generatego.txt")
        _run([tool, "--input-dirs", ",".join(sorted(packages)), "--output-package", OPENAPI_PKG,
              "-O", "zz_generated.openapi", "--go-header-file", header,
              "--report-filename", os.path.join(self.root, "tools", "openapi-violations.txt")],
             "openapi-gen", env=env, cwd=workdir, timeout=self.timeout)
        open(stamp, "w").close()

    def key(self, component, platform):
        h = hashlib.sha256()
        tool = self.zig_version() + platform.zig_target if component == "pause" else self.go_version() + self.ldflags(component)
        if component in TAGS:
            tool += "+tags " + TAGS[component]
        if component in CGO:
            tool += "+cgo %s %s %s" % (self.zig_version(), platform.zig_target,
                                       " ".join(self._clib(n)["sha256"] for n in CGO[component]))
        if component in NEEDS_OPENAPI:
            tool += "+openapi%d" % OPENAPI_GEN
        if self.strategy != "cross" and component != "pause":
            tool += "+" + self.strategy
        h.update(json.dumps([BUILD_SCHEMA, self.source.key, component, platform.oci, self.source.version,
                             tool]).encode())
        return h.hexdigest()

    def _clib(self, name):
        lib = ((self.source.gomod or {}).get("clibs") or {}).get(name)
        if lib is None:
            raise BuildError("%s needs the C library %s, and %s pins none (a %s.clib.json in its gomod folder, "
                             "written by tools/gomod.py)" % (self.source.description, name, self.source.description, name))
        return lib

    def _zig_env(self):
        return dict(os.environ, ZIG_GLOBAL_CACHE_DIR=os.path.join(self.root, "zigcache"),
                    ZIG_LOCAL_CACHE_DIR=os.path.join(self.root, "zigcache"))

    def _zig_cc(self, platform):
        if not platform.zig_target:
            raise BuildError("no C cross-compilation target is known for %s" % platform.oci)
        return " ".join(self.zig + ["cc", "-target"] + platform.zig_target.split())

    def c_library(self, name, platform):
        """C library ``name`` built static for ``platform`` with zig cc from the source tarball its gomod folder
        pins (fetched from the Debian mirror, sha256 checked); cached by all its inputs. Returns its prefix (include/,
        lib/, lib/pkgconfig/)."""
        lib = self._clib(name)
        key = hashlib.sha256(json.dumps([CLIB_SCHEMA, lib["sha256"], self.zig_version(), platform.zig_target]).encode()).hexdigest()
        prefix = os.path.join(self.root, "clibs", "%s-%s" % (name, key[:16]))
        if os.path.exists(os.path.join(prefix, "lib", "pkgconfig", name + ".pc")):
            return prefix
        if self.sources is None:
            raise BuildError("building %s needs a source cache to fetch %s" % (self.source.description, name))
        tarball = self.sources.clib_tarball(lib)
        self.log("%s: building the C library %s %s (zig cc, static)" % (platform.oci, name, lib["version"]))
        os.makedirs(os.path.dirname(prefix), exist_ok=True)
        work = tempfile.mkdtemp(dir=os.path.dirname(prefix), prefix=".clib-")
        try:
            _run(["tar", "-xf", tarball, "-C", work, "--strip-components=1", "--no-same-owner"],
                 "unpacking %s" % os.path.basename(tarball))
            env = dict(self._zig_env(), CC=self._zig_cc(platform), AR=" ".join(self.zig + ["ar"]), RANLIB="true",
                       GPERF="true")  # the tarball carries its generated gperf tables
            host = platform.zig_target.split()[0].replace("x86-", "i686-")
            _run(["./configure", "--host=" + host, "--enable-static", "--disable-shared", "--prefix=" + prefix],
                 "configure of %s for %s" % (name, platform.oci), env=env, cwd=work, timeout=self.timeout)
            for sub in ("src", "include"):
                _run(["make", "-C", sub, "-j%d" % (os.cpu_count() or 1), "install"],
                     "make of %s for %s" % (name, platform.oci), env=env, cwd=work, timeout=self.timeout)
            os.makedirs(os.path.join(prefix, "lib", "pkgconfig"), exist_ok=True)
            with open(os.path.join(prefix, "lib", "pkgconfig", name + ".pc.part"), "w") as f:
                f.write("prefix=%s\nName: %s\nDescription: %s built static by multiarch.k8s\nVersion: %s\n"
                        "Cflags: -I${prefix}/include\nLibs: -L${prefix}/lib -l%s\n"
                        % (prefix, name, name, lib["version"], name[3:] if name.startswith("lib") else name))
            os.replace(os.path.join(prefix, "lib", "pkgconfig", name + ".pc.part"),
                       os.path.join(prefix, "lib", "pkgconfig", name + ".pc"))
        except BuildError:
            shutil.rmtree(prefix, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return prefix

    def _cgo_env(self, component, platform, env):
        """cgo for ``component``: zig cc for the platform's musl target, its C libraries through pkg-config."""
        prefixes = [self.c_library(n, platform) for n in CGO[component]]
        zig = dict((k, v) for k, v in self._zig_env().items() if k.startswith("ZIG_"))
        return dict(env, CGO_ENABLED="1", CC=self._zig_cc(platform), CGO_CFLAGS="-O2", PKG_CONFIG_PATH=":".join(
            os.path.join(p, "lib", "pkgconfig") for p in prefixes), **zig)

    def zig_version(self):
        if self._zig_version is None:
            self._zig_version = _run(self.zig + ["version"], "zig version (the ziglang Python package)").strip()
        return self._zig_version

    def tree(self):
        """The source tree: for a module build, the release's module as the go command downloaded it (from
        GOPROXY, checked against go.sum) into the cache dir; C sources such as pause.c are read from there."""
        if not self.source.gomod:
            return self.source.tree
        if self._tree is None:
            release = [m for m, v in self.source.gomod["requires"].items() if v == self.source.version][0]
            out = _run([self.go, "mod", "download", "-json", release], "go mod download %s" % release,
                       env=self._module_env(), cwd=self.source.tree, timeout=self.timeout)
            self._tree = json.loads(out)["Dir"]
        return self._tree

    def pause_version(self):
        """``v3.4`` from the tree's build/pause/Makefile (``TAG = 3.4``)."""
        try:
            with open(os.path.join(self.tree(), "build", "pause", "Makefile")) as f:
                m = re.search(r"^TAG\s*\?*=\s*(\S+)", f.read(), re.M)
        except OSError:
            m = None
        return "v" + m.group(1) if m else self.source.version

    def _qemu(self, platform, env):
        """The native strategy: the platform's own Go toolchain under QEMU user emulation (binfmt_misc),
        as the seed recipe's buildx builds did; no cross-compilation."""
        if self.sources is None:
            raise BuildError("the qemu strategy needs a source cache to fetch the target's Go toolchain")
        root = self.sources.qemu_toolchain(platform)
        goroot = glob.glob(os.path.join(root, "usr", "lib", "go-*"))
        if not goroot:
            raise BuildError("the %s Go toolchain under %s has no usr/lib/go-*" % (platform.debian_arch, root))
        env = dict(env, GOROOT=goroot[0], QEMU_LD_PREFIX=root,
                   GOCACHE=os.path.join(self.root, "gocache-qemu-" + platform.debian_arch))
        if platform.qemu_cpu and platform.variant == "v6":
            env["QEMU_CPU"] = platform.qemu_cpu
        return os.path.join(goroot[0], "bin", "go"), env

    def _compile_pause(self, platform, binary):
        """Static C: the sandbox process, cross-compiled with zig cc (musl), for any platform."""
        if not platform.zig_target:
            raise BuildError("no C cross-compilation target is known for %s" % platform.oci)
        target = platform.zig_target.split()
        src = os.path.join(self.tree(), COMPONENTS["pause"][1], "pause.c")
        env = self._zig_env()
        flags = ["-static", "-Os", "-s", "-Wall", "-DVERSION=%s" % self.pause_version()]
        _run(self.zig + ["cc", "-target"] + target + flags + ["-o", binary, src],
             "zig cc of pause for %s" % platform.oci, env=env, timeout=self.timeout)

    def lookup(self, component, platform):
        """The cached record of ``component`` for ``platform`` if it is there and intact, else None."""
        if component not in COMPONENTS:
            raise BuildError("component %r is not one this collection builds (known: %s)"
                             % (component, ", ".join(sorted(COMPONENTS))))
        module, pkg, _folder = COMPONENTS[component]
        if self.source.module == STANDIN and module == K8S and component != "pause":
            module, pkg = STANDIN, "."
        if module != self.source.module:
            raise BuildError("%s is built from %s, but source %s is %s" % (component, module, self.source.description,
                                                                           self.source.module))
        if self.source.gomod:
            if C.BY_NAME[component].program not in self.source.gomod["tools"] and component != "pause":
                raise BuildError("source %s does not name %s (for %s) as a tool in its go.mod; rewrite it with "
                                 "tools/gomod.py" % (self.source.description, C.BY_NAME[component].program, component))
        elif not os.path.isdir(os.path.join(self.source.tree, pkg)):
            raise BuildError("source %s has no %s (for %s)" % (self.source.description, pkg, component))
        key = self.key(component, platform)
        record_path = os.path.join(self.root, "out", key[:2], key, "record.json")
        if os.path.exists(record_path):
            with open(record_path) as f:
                rec = json.load(f)
            if os.path.exists(rec["path"]) and sha256_file(rec["path"]) == rec["sha256"]:
                rec["cached"] = True
                rec.setdefault("folder", COMPONENTS[component][2])
                rec.setdefault("origin", "built")
                return rec
        return None

    def build(self, component, platform):
        """Build (or take from the cache) ``component`` for ``platform``; return its record."""
        rec = self.lookup(component, platform)
        if rec is not None:
            return rec
        key = self.key(component, platform)
        out_dir = os.path.join(self.root, "out", key[:2], key)
        workdir = None
        if component != "pause":
            workdir = self.source.tree if self.source.gomod else self._workdir()
        if component in NEEDS_OPENAPI and not self.source.gomod:  # published modules carry the generated code
            self._openapi(workdir)
        os.makedirs(os.path.dirname(out_dir), exist_ok=True)
        tmp_dir = tempfile.mkdtemp(dir=os.path.dirname(out_dir), prefix=".build-")
        try:
            binary = os.path.join(tmp_dir, component)
            how = "zig cc -target %s" % platform.zig_target if component == "pause" else "GOARCH=%s%s" % (
                platform.goarch, " GOARM=" + platform.goarm if platform.goarm else "")
            self.log("%s: building %s (%s)" % (platform.oci, component, how))
            start = time.monotonic()
            if component == "pause":
                self._compile_pause(platform, binary)
            else:
                pkg = COMPONENTS[component][1] if self.source.module != STANDIN else "."
                target = "./" + pkg if pkg != "." else "."
                if self.source.gomod:
                    go, env, target = self.go, self._module_env(platform), C.BY_NAME[component].program
                else:
                    go, env = self.go, self._env(platform)
                if self.strategy == "qemu":
                    go, env = self._qemu(platform, env)
                ldflags = self.ldflags(component)
                if self.source.module == STANDIN:
                    ldflags += " -X 'main.component=%s'" % component
                if component in CGO:
                    env = self._cgo_env(component, platform, env)
                tags = ["-tags", TAGS[component]] if component in TAGS else []
                _run([go, "build", "-trimpath", "-buildvcs=false"] + tags + ["-ldflags", ldflags, "-o", binary, target],
                     "go build of %s for %s" % (component, platform.oci), env=env, cwd=workdir, timeout=self.timeout)
            seconds = time.monotonic() - start
            info = inspect(binary)
            found = problems(component, info, platform, require_static=True, require_stripped=True)
            goarm = ((info.get("go") or {}).get("settings") or {}).get("GOARM")
            if component != "pause" and platform.goarm and goarm != platform.goarm:
                found.append("%s has GOARM=%s in its build info, not %s" % (component, goarm, platform.goarm))
            if found:
                raise BuildError("the %s build of %s fails verification: %s" % (platform.oci, component, "; ".join(found)))
            is_c = component == "pause"
            origin = "stand-in" if self.source.module == STANDIN else "built"
            rec = {"component": component, "folder": COMPONENTS[component][2], "origin": origin,
                   "platform": platform.oci, "sha256": sha256_file(binary),
                   "size": os.path.getsize(binary), "seconds": round(seconds, 1),
                   "go": None if is_c else self.go_version(), "goarch": None if is_c else platform.goarch,
                   "goarm": None if is_c else platform.goarm, "static": info["static"],
                   "stripped": info["stripped"], "elf": describe(info),
                   "version": self.pause_version() if is_c else self.source.version,
                   "source": self.source.description, "path": os.path.join(out_dir, component)}
            with open(os.path.join(tmp_dir, "record.json"), "w") as f:
                json.dump(rec, f, indent=2, sort_keys=True)
            shutil.rmtree(out_dir, ignore_errors=True)
            os.replace(tmp_dir, out_dir)
            self.log("%s: %s built in %.0fs, %.1f MB, sha256 %s" % (platform.oci, component, seconds,
                                                                    rec["size"] / 1048576.0, rec["sha256"][:12]))
            rec["cached"] = False
            return rec
        except NotElf as e:
            raise BuildError("the %s build of %s is not an ELF file: %s" % (platform.oci, component, e))
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)


def platforms_of(names):
    out = []
    for n in names:
        try:
            p = P.by_oci(n)
        except P.PlatformError as e:
            raise BuildError("platforms: %s" % e)
        if p not in out:
            out.append(p)
    if not out:
        raise BuildError("platforms is empty: give at least one, e.g. linux/arm/v6")
    return out
