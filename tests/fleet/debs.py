# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real multi-arch binaries from Debian's packages, for test holder images.

Downloads the packages of each Debian architecture with apt and a private configuration
(its own lists and archive cache under $MULTIARCH_CACHE/debs; the host's apt and dpkg
settings are not touched), unpacks them, and returns the paths of the binaries asked for.
Cached: a second call with the same packages reads the unpacked tree.

    python debs.py amd64 armel      # fetch and list what the tests use
"""

from __future__ import annotations

import fcntl
import glob
import os
import subprocess
import sys

CACHE = os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s")
ROOT = os.path.join(CACHE, "debs", "bookworm")
MIRROR = os.environ.get("MULTIARCH_DEBIAN_MIRROR", "http://deb.debian.org/debian")
ARCHES = ("amd64", "arm64", "armhf", "armel")

# package -> {binary name: path inside the package}
PACKAGES = {
    "kubernetes-client": {"kubectl": "usr/bin/kubectl"},
    "containernetworking-plugins": dict((n, "usr/lib/cni/" + n) for n in ("bridge", "host-local", "loopback", "portmap")),
    "etcd-server": {"etcd": "usr/bin/etcd"},
    "busybox-static": {"busybox": "bin/busybox"},
}


def _apt_env():
    os.makedirs(os.path.join(ROOT, "lists", "partial"), exist_ok=True)
    os.makedirs(os.path.join(ROOT, "archives", "partial"), exist_ok=True)
    conf = os.path.join(ROOT, "apt.conf")
    sources = os.path.join(ROOT, "sources.list")
    with open(sources, "w") as f:
        f.write("deb %s bookworm main\n" % MIRROR)
    with open(conf, "w") as f:
        f.write('Dir::State::Lists "%s/lists";\n' % ROOT)
        f.write('Dir::Cache "%s";\nDir::Cache::Archives "%s/archives";\n' % (ROOT, ROOT))
        f.write('Dir::State::Status "/dev/null";\n')
        f.write('Dir::Etc::SourceList "%s";\nDir::Etc::SourceParts "/nonexistent";\n' % sources)
        f.write('APT::Architecture "amd64";\nAPT::Architectures { %s };\n'
                % " ".join('"%s";' % a for a in ARCHES))
        f.write('APT::Sandbox::User "root";\n')
    return dict(os.environ, APT_CONFIG=conf)


def fetch(arches=ARCHES):
    """Download and unpack PACKAGES for ``arches``; return {arch: {binary: path}}."""
    os.makedirs(ROOT, exist_ok=True)
    with open(os.path.join(ROOT, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        env = None
        out = {}
        for arch in arches:
            unpacked = os.path.join(ROOT, "unpacked", arch)
            done = os.path.join(unpacked, ".complete-" + "-".join(sorted(PACKAGES)))
            if not os.path.exists(done):
                if env is None:
                    env = _apt_env()
                    subprocess.run(["apt-get", "-q", "update"], env=env, check=True, stdout=subprocess.DEVNULL)
                archives = os.path.join(ROOT, "archives")
                subprocess.run(["apt-get", "-q", "download"] + ["%s:%s" % (p, arch) for p in PACKAGES],
                               env=env, check=True, cwd=archives, stdout=subprocess.DEVNULL)
                for pkg in PACKAGES:
                    os.makedirs(os.path.join(unpacked, pkg), exist_ok=True)
                    debs = sorted(glob.glob(os.path.join(archives, "%s_*_%s.deb" % (pkg, arch))))
                    subprocess.run(["dpkg-deb", "-x", debs[-1], os.path.join(unpacked, pkg)], check=True)
                open(done, "w").close()
            out[arch] = {}
            for pkg, binaries in PACKAGES.items():
                for name, rel in binaries.items():
                    out[arch][name] = os.path.join(unpacked, pkg, rel)
        return out


if __name__ == "__main__":
    for arch, bins in fetch(sys.argv[1:] or ARCHES).items():
        for name, path in sorted(bins.items()):
            print(arch, name, path)
