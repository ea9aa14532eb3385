# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes the Go module the collection builds a release from: gomod/<name>-<version>/go.mod and go.sum.

    python tools/gomod.py kubernetes v1.37.2     # k8s.io/kubernetes, its staging modules pinned to v0.37.2
    python tools/gomod.py etcd v3.6.17           # go.etcd.io/etcd: server (the etcd program), etcdctl, etcdutl
    python tools/gomod.py cni-plugins v1.10.0    # github.com/containernetworking/plugins
    python tools/gomod.py containerd v2.4.2      # github.com/containerd/containerd/v2: containerd and its runc shim
    python tools/gomod.py runc v1.5.3            # github.com/opencontainers/runc (cgo: built with zig cc and libseccomp)
    python tools/gomod.py coredns v1.15.0        # github.com/coredns/coredns with the plugins a cluster's DNS uses

The module is ours (``module multiarch.k8s/gomod/<name>``): it requires the release and names every program the
collection builds from it with a ``tool`` directive, so ``go mod tidy`` keeps exactly what those programs need and
go.sum holds their hashes. A cgo program's C libraries are pinned next to it, one ``NAME.clib.json`` each (the
upstream tarball of a Debian source package, its path in the Debian archive and the sha256 its .dsc gives, read
over https): runc links libseccomp, which the builder compiles with zig cc for each platform. k8s.io/kubernetes
replaces its staging modules (k8s.io/api, ...) with ``./staging`` paths that only exist in its own repository;
here each is replaced by its published release v0.<minor>.<patch>.
The go command fetches everything from the Go module proxy (GOPROXY); nothing else is downloaded. Commit the
result: builds use it read-only (-mod=readonly), so a build gets exactly what was tidied here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOMOD = os.path.join(REPO, "gomod")
GO = "1.26.0"

# name -> [(module path, programs (package paths in it) the collection builds)], all at the version asked for
RELEASES = {
    "kubernetes": [("k8s.io/kubernetes", ["cmd/kubelet", "cmd/kube-proxy", "cmd/kubeadm", "cmd/kubectl",
                                          "cmd/kube-apiserver", "cmd/kube-controller-manager", "cmd/kube-scheduler"])],
    # the etcd program is the server module's main package; etcdctl and etcdutl are modules of their own
    "etcd": [("go.etcd.io/etcd/server/v3", [""]), ("go.etcd.io/etcd/etcdctl/v3", [""]),
             ("go.etcd.io/etcd/etcdutl/v3", [""])],
    "cni-plugins": [("github.com/containernetworking/plugins", ["plugins/main/bridge", "plugins/ipam/host-local",
                                                                "plugins/main/loopback", "plugins/meta/portmap"])],
    "containerd": [("github.com/containerd/containerd/v2", ["cmd/containerd", "cmd/containerd-shim-runc-v2", "cmd/ctr"])],
    "runc": [("github.com/opencontainers/runc", [""])],
    # CoreDNS chooses its plugins at compile time: the program is a main package of the folder's own module
    # (main.go, written here) that links CoreDNS's coremain and the plugins below, the way CoreDNS documents for
    # a build with other plugins; upstream's own main links every plugin, cloud providers' SDKs included
    "coredns": [("github.com/coredns/coredns", [])],
}

# name -> the plugins (github.com/coredns/coredns/plugin/<name>) of a folder whose program is its own main package:
# what the collection's Corefile uses (kubeadm's default set: errors, health, ready, kubernetes, prometheus
# (package metrics), forward, cache, loop, reload, loadbalance) and what a user adds most (log, hosts, rewrite,
# template, bind, whoami for tests)
OWN_MAIN = {"coredns": ("github.com/coredns/coredns/coremain", "github.com/coredns/coredns/plugin/", [
    "bind", "cache", "errors", "forward", "health", "hosts", "kubernetes", "loadbalance", "log", "loop", "metrics",
    "ready", "reload", "rewrite", "template", "whoami"])}


# name -> [(C library, Debian source package, its Debian version)]: libseccomp 2.6 (Debian 13), because runc's
# libseccomp-golang 0.12 needs the architectures 2.6 added
CLIBS = {"runc": [("libseccomp", "libseccomp", "2.6.0-2")]}
DEBIAN = "https://deb.debian.org/debian"


def clib(name, package, debian_version):
    """{"name", "version", "path", "sha256"} of the upstream tarball of Debian source ``package``."""
    pool = "pool/main/%s/%s" % (package[:4] if package.startswith("lib") else package[0], package)
    with urllib.request.urlopen("%s/%s/%s_%s.dsc" % (DEBIAN, pool, package, debian_version), timeout=60) as r:
        dsc = r.read().decode()
    upstream = debian_version.rsplit("-", 1)[0]
    m = re.search(r"^ ([0-9a-f]{64}) \d+ (%s_%s\.orig\.tar\.\w+)$" % (re.escape(package), re.escape(upstream)), dsc, re.M)
    if not m:
        raise SystemExit("%s %s: no orig tarball with a sha256 in its .dsc" % (package, debian_version))
    return {"name": name, "version": upstream, "path": "%s/%s" % (pool, m.group(2)), "sha256": m.group(1),
            "debian": "%s %s" % (package, debian_version)}


def proxy():
    return (os.environ.get("GOPROXY") or "https://proxy.golang.org").split(",")[0]


def upstream_go_mod(module, version):
    with urllib.request.urlopen("%s/%s/@v/%s.mod" % (proxy(), module, version), timeout=60) as r:
        return r.read().decode()


def staging_replaces(module, version):
    """k8s.io/kubernetes' ``X => ./staging/src/X`` replaced by ``X => X v0.<minor>.<patch>``."""
    m = re.match(r"v1\.(\d+)\.(\d+)$", version)
    if not m:
        raise SystemExit("kubernetes versions are v1.MINOR.PATCH, not %s" % version)
    staging = "v0.%s.%s" % m.groups()
    names = re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/src/", upstream_go_mod(module, version), re.M)
    return [(n, staging) for n in names]


def write(name, version):
    modules = RELEASES[name]
    folder = os.path.join(GOMOD, "%s-%s" % (name, version))
    replaces = staging_replaces(modules[0][0], version) if name == "kubernetes" else []
    lines = ["// Written by tools/gomod.py: the programs the collection builds from %s %s." % (name, version),
             "module multiarch.k8s/gomod/%s" % name, "", "go %s" % GO, ""]
    lines += ["require %s %s" % (module, version) for module, _programs in modules] + [""]
    lines += ["tool %s" % "/".join(filter(None, [module, p])) for module, programs in modules for p in programs]
    if name in OWN_MAIN:
        lines.append("tool multiarch.k8s/gomod/%s" % name)
    if replaces:
        lines += ["", "replace ("] + ["\t%s => %s %s" % (n, n, v) for n, v in replaces] + [")"]
    tmp = folder + ".part"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    with open(os.path.join(tmp, "go.mod"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if name in OWN_MAIN:
        main_pkg, prefix, plugins = OWN_MAIN[name]
        with open(os.path.join(tmp, "main.go"), "w") as f:
            f.write("// Written by tools/gomod.py: %s %s with the plugins listed here.\npackage main\n\nimport (\n\t\"%s\"\n\n"
                    % (name, version, main_pkg) + "".join("\t_ \"%s%s\"\n" % (prefix, p) for p in plugins)
                    + ")\n\nfunc main() {\n\tcoremain.Run()\n}\n")
    env = dict(os.environ, GOFLAGS="-mod=mod", GOTOOLCHAIN="local", GOWORK="off")
    subprocess.run(["go", "mod", "tidy"], cwd=tmp, env=env, check=True)
    for lib in CLIBS.get(name, []):
        with open(os.path.join(tmp, "%s.clib.json" % lib[0]), "w") as f:
            json.dump(clib(*lib), f, indent=2, sort_keys=True)
            f.write("\n")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    print(json.dumps({"folder": os.path.relpath(folder, REPO), "modules": [m for m, _programs in modules], "version": version,
                      "replaced": len(replaces)}))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("name", choices=sorted(RELEASES))
    parser.add_argument("version")
    args = parser.parse_args(argv)
    write(args.name, args.version)


if __name__ == "__main__":
    main(sys.argv[1:])
