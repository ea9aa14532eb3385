# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated test fleet: one systemd container per platform, from real Debian root filesystems.

    fleet.py images     build (or reuse) the node images
    fleet.py host-native HOLDER   take the amd64 containerd shim and runc the emulated nodes run from HOLDER
    fleet.py up         images + network + running nodes, waits until systemd is up in each
    fleet.py reset      makes the nodes again from their images (a fresh fleet)
    fleet.py down       removes the nodes and the network (images stay cached)
    fleet.py status     one line per node
    fleet.py kubectl HOLDER DEST   the amd64 kubectl of HOLDER, pulled and verified, installed at DEST
    fleet.py layout     the layout (MULTIARCH_FLEET) as JSON: control plane, platforms, nodes, inventory

Root filesystems are made with mmdebstrap from Debian's packages (no Docker Hub) and cached
outside the checkout under $MULTIARCH_CACHE (default /var/cache/multiarch-k8s), keyed by their
inputs. Images are loaded from an image archive written here, so that they carry the right
os/architecture/variant (``docker import`` would label them with the host's).

Test-fleet wiring only: nothing here is part of the collection's roles.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import fcntl
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s")
NETWORK = "mk8s-fleet"
# The fleet's network, and each node's fixed address in it (NODES' "address"), so that an inventory can name them
# as a Pi owner's names their boards (inventory-examples/local-fleet). Outside Docker's default address pools; if it
# overlaps a network of this host, set MULTIARCH_FLEET_SUBNET (a /24) and the same addresses in the inventory.
SUBNET = os.environ.get("MULTIARCH_FLEET_SUBNET", "10.213.42.0/24")
IMAGE_REPO = "multiarch-k8s/fleet-node"
LABEL = "io.multiarch-k8s.fleet"
SUITE = "bookworm"
MIRROR = os.environ.get("MULTIARCH_DEBIAN_MIRROR", "http://deb.debian.org/debian")

# Packages of every node image. Changing this list (or the fix-ups) changes the cache key.
PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "python3", "python3-apt", "iproute2", "procps",
    "iptables", "conntrack", "kmod", "ca-certificates", "zstd", "openssh-server", "sudo",
    # the node-local load balancer of a control plane of several hosts (the api_lb role): installed as a Pi owner's
    # apt would, off until the role configures and starts it (the fleet's network reaches no package mirror)
    "haproxy",
]

# SSH as on a Raspberry Pi: each node runs Debian's sshd and has the user "pi" with passwordless sudo (as Raspberry
# Pi OS sets it up); ansible logs in as pi with a key and becomes root. Password logins and root logins are off. The
# keys are made on this host, once, under SSH_DIR: the controller's key pair, and one host key per node, written into
# the node at every start; the fleet writes the known_hosts file that ansible checks every node's host key against.
SSH_USER = "pi"
SSH_UID = 1000
SSH_DIR = os.path.join(CACHE, "fleet", "ssh")

# Fix-ups run in the new root by mmdebstrap (--customize-hook) before it is packed.
FIXUPS = [
    'chroot "$1" systemctl mask systemd-udevd.service systemd-udevd-control.socket '
    'systemd-udevd-kernel.socket systemd-modules-load.service getty@tty1.service '
    'console-getty.service',
    ': > "$1/etc/machine-id"',
    # credentials need mount calls QEMU user mode does not emulate; these units need none here
    'for u in systemd-tmpfiles-setup systemd-tmpfiles-setup-dev systemd-sysusers; do '
    'mkdir -p "$1/etc/systemd/system/$u.service.d" && '
    'printf "[Service]\\nLoadCredential=\\n" > "$1/etc/systemd/system/$u.service.d/no-credentials.conf"; done',
    'rm -f "$1/etc/hostname"',
    # the Pi's user: passwordless sudo, no password at all (key logins only)
    'chroot "$1" useradd --create-home --shell /bin/bash --uid 1000 --groups sudo pi',
    'printf "pi ALL=(ALL) NOPASSWD: ALL\\n" > "$1/etc/sudoers.d/010_pi-nopasswd" && chmod 0440 "$1/etc/sudoers.d/010_pi-nopasswd"',
    # no host keys in the image (every node would share them): each node gets its own at start, and sshd waits
    # for it
    'rm -f "$1"/etc/ssh/ssh_host_*',
    'printf "HostKey /etc/ssh/ssh_host_ed25519_key\\nPasswordAuthentication no\\nKbdInteractiveAuthentication no\\n'
    'PermitRootLogin no\\nUseDNS no\\n" > "$1/etc/ssh/sshd_config.d/mk8s-fleet.conf"',
    'mkdir -p "$1/etc/systemd/system/ssh.service.d" && '
    'printf "[Unit]\\nConditionPathExists=/etc/ssh/ssh_host_ed25519_key\\n" > "$1/etc/systemd/system/ssh.service.d/host-key.conf"',
    'chroot "$1" systemctl disable haproxy.service',
]


def _load_platforms():
    path = os.path.join(REPO, "plugins", "module_utils", "_platforms.py")
    spec = importlib.util.spec_from_file_location("mk8s_platforms", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


PLATFORMS = _load_platforms()

# One node per platform. "qemu_cpu" makes QEMU emulate that CPU model for every process of the
# node (an ARM1176, like a Pi Zero: it reports armv6l and dies with SIGILL on ARMv7 code).
# MULTIARCH_FLEET picks the layout: "default" (one node per platform, the control plane on amd64) or "pi" (no amd64
# node: the control plane on an arm64 node, a second arm64, arm/v7 and arm/v6, as a fleet of Raspberry Pis). The
# first node of a layout holds the control plane. Each node's "address" is its host number on SUBNET: a node has
# the same address in every layout.
LAYOUTS = {
    "default": [
        {"name": "mk8s-amd64", "platform": "linux/amd64", "address": 10},
        {"name": "mk8s-arm64", "platform": "linux/arm64", "address": 11},
        {"name": "mk8s-armhf", "platform": "linux/arm/v7", "address": 12},
        {"name": "mk8s-armel", "platform": "linux/arm/v6", "qemu_cpu": "arm1176", "address": 13},
    ],
    # each node with its board's memory (a container memory limit): a Pi 4 4 GB, a Pi 4 2 GB, a Pi 3, a Pi Zero
    "pi": [
        {"name": "mk8s-arm64", "platform": "linux/arm64", "address": 11, "memory": "4g"},
        {"name": "mk8s-arm64b", "platform": "linux/arm64", "address": 14, "memory": "2g"},
        {"name": "mk8s-armhf", "platform": "linux/arm/v7", "address": 12, "memory": "1g"},
        {"name": "mk8s-armel", "platform": "linux/arm/v6", "qemu_cpu": "arm1176", "address": 13, "memory": "512m"},
    ],
}
# what the fleet's nodes run (the tests and make demo build these): the node set everywhere, the control plane on
# the control plane's platform
NODE_COMPONENTS = ["kubelet", "kube-proxy", "pause", "bridge", "host-local", "loopback", "portmap", "containerd",
                   "containerd-shim-runc-v2", "runc", "ctr", "coredns"]
CP_COMPONENTS = ["kubeadm", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"]
LAYOUT = os.environ.get("MULTIARCH_FLEET") or "default"
if LAYOUT not in LAYOUTS:
    raise SystemExit("MULTIARCH_FLEET=%s is not a fleet layout; the layouts are %s" % (LAYOUT, ", ".join(sorted(LAYOUTS))))
NODES = LAYOUTS[LAYOUT]
CONTROL_PLANE = NODES[0]["name"]


ABSENT = 250  # an address of the network no node has (an inventory's host that never answers)
# the fleet's upstream resolver (tests/fleet/upstream_dns.py), where a Pi owner's router is: the cluster's DNS forwards
# names outside the cluster domain to it (the inventories' multiarch_k8s_dns_upstreams), never off this machine
UPSTREAM_DNS = {"name": "mk8s-upstream-dns", "address": 53}
UPSTREAM_DNS_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "upstream_dns.py")


def node_address(node):
    """The node's fixed IPv4 address on the fleet's network (host ``node["address"]`` of SUBNET)."""
    import netaddr  # pylint: disable=import-outside-toplevel
    return str(netaddr.IPNetwork(SUBNET)[node["address"]])


def node_by_name(name):
    for node in NODES:
        if node["name"] == name:
            return node
    raise KeyError(name)


def log(msg):
    sys.stderr.write("[fleet %6.1fs] %s\n" % (time.monotonic() - _T0, msg))
    sys.stderr.flush()


_T0 = time.monotonic()


def docker_client():
    try:
        import docker  # pylint: disable=import-outside-toplevel
    except ImportError:
        sys.exit("fleet.py needs the docker SDK (pip install docker) in %s" % sys.executable)
    return docker.from_env(timeout=600)


def node_platform(node):
    return PLATFORMS.by_oci(node["platform"])


def rootfs_key(debian_arch):
    h = hashlib.sha256()
    h.update(json.dumps([SUITE, MIRROR, debian_arch, PACKAGES, FIXUPS, 2]).encode())
    return h.hexdigest()[:16]


def build_rootfs(debian_arch):
    """Root filesystem tarball for ``debian_arch`` from the cache, built with mmdebstrap if absent."""
    key = rootfs_key(debian_arch)
    out = os.path.join(CACHE, "rootfs", "%s-%s.tar" % (debian_arch, key))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build per root filesystem, whoever asks
        if not os.path.exists(out):
            _mmdebstrap(debian_arch, out)
    return out, key


def _mmdebstrap(debian_arch, out):
    tmp = out[:-len(".tar")] + ".part.tar"
    cmd = ["mmdebstrap", "--quiet", "--format=tar", "--arch=" + debian_arch, "--variant=apt",
           "--include=" + ",".join(PACKAGES), "--skip=output/dev"]
    for hook in FIXUPS:
        cmd.append("--customize-hook=" + hook)
    cmd += [SUITE, tmp, MIRROR]
    log("building %s root filesystem with mmdebstrap (a few minutes under QEMU)" % debian_arch)
    start = time.monotonic()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
    os.replace(tmp, out)
    log("%s root filesystem built in %.0fs" % (debian_arch, time.monotonic() - start))


def _add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def image_tag(node):
    plat = node_platform(node)
    key = rootfs_key(plat.debian_arch)
    suffix = "-" + node["qemu_cpu"] if node.get("qemu_cpu") else ""
    return "%s:%s%s-%s" % (IMAGE_REPO, plat.debian_arch, suffix, key)


def build_image(client, node):
    """Load the node's image from its root filesystem with the right os/architecture/variant."""
    import docker.errors  # pylint: disable=import-outside-toplevel
    tag = image_tag(node)
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    plat = node_platform(node)
    rootfs, key = build_rootfs(plat.debian_arch)
    h = hashlib.sha256()
    with open(rootfs, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    diff_id = "sha256:" + h.hexdigest()
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "container=docker"]
    if node.get("qemu_cpu"):
        env.append("QEMU_CPU=" + node["qemu_cpu"])
    config = {
        "architecture": plat.architecture,
        "os": plat.os,
        "config": {
            "Env": env,
            "Cmd": ["/sbin/init"],
            "StopSignal": "SIGRTMIN+3",
            "Labels": {
                LABEL: "node",
                "org.opencontainers.image.title": "multiarch.k8s test fleet node",
                "org.opencontainers.image.description": "Debian %s %s root filesystem (mmdebstrap), "
                                                        "systemd as PID 1" % (SUITE, plat.debian_arch),
                "io.multiarch-k8s.rootfs-key": key,
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "mmdebstrap %s %s (multiarch.k8s tests/fleet)" % (SUITE, plat.debian_arch)}],
    }
    if plat.variant:
        config["variant"] = plat.variant
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": ["layer/layer.tar"]}]
    log("loading image %s (%s)" % (tag, plat.oci))
    with tempfile.NamedTemporaryFile(dir=os.path.dirname(rootfs), suffix=".image.tar") as tmp:
        with tarfile.open(fileobj=tmp, mode="w") as tar:
            _add_bytes(tar, config_name, config_bytes)
            _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
            tar.add(rootfs, arcname="layer/layer.tar")
        tmp.flush()
        tmp.seek(0)
        client.images.load(tmp)
    return tag


def ensure_network(client):
    """The fleet's network on SUBNET (one made on another subnet, by an older fleet.py, is removed with its nodes)."""
    import docker.errors  # pylint: disable=import-outside-toplevel
    import docker.types  # pylint: disable=import-outside-toplevel
    try:
        net = client.networks.get(NETWORK)
        import netaddr  # pylint: disable=import-outside-toplevel
        wanted = netaddr.IPNetwork(SUBNET).cidr
        if wanted in [netaddr.IPNetwork(c["Subnet"]).cidr for c in (net.attrs.get("IPAM") or {}).get("Config") or []
                      if c.get("Subnet")]:
            return net
        log("docker network %s is not on %s: removing it and its nodes" % (NETWORK, SUBNET))
        cmd_down(None)
    except docker.errors.NotFound:
        pass
    log("creating docker network %s on %s (internal: nodes reach only each other and this host)" % (NETWORK, SUBNET))
    try:
        return client.networks.create(NETWORK, driver="bridge", internal=True, labels={LABEL: "network"},
                                      ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=SUBNET)]))
    except docker.errors.APIError as e:
        raise SystemExit("cannot make the fleet's network on %s (%s); if it overlaps a network of this host, set "
                         "MULTIARCH_FLEET_SUBNET to a free /24 and use its addresses in the inventory" % (SUBNET, e))


def _keygen(path, comment):
    """An ed25519 key pair at ``path`` (and path.pub), made once."""
    if os.path.exists(path + ".pub"):
        return
    tmp = path + ".part"
    for p in (tmp, tmp + ".pub"):
        if os.path.exists(p):
            os.remove(p)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", tmp], check=True,
                   stdin=subprocess.DEVNULL)
    os.replace(tmp, path)
    os.replace(tmp + ".pub", path + ".pub")


def ssh_keys(nodes):
    """The controller's key and each node's host key (SSH_DIR, made once); returns the controller's public key."""
    os.makedirs(SSH_DIR, mode=0o700, exist_ok=True)
    _keygen(os.path.join(SSH_DIR, "id_ed25519"), "multiarch.k8s test controller")
    for node in nodes:
        _keygen(os.path.join(SSH_DIR, "host-" + node["name"]), node["name"])
    with open(os.path.join(SSH_DIR, "id_ed25519.pub"), encoding="utf-8") as f:
        return f.read()


def write_known_hosts():
    """SSH_DIR/known_hosts: every node of every layout by its name and its address, with its own host key."""
    lines = []
    for node in dict((n["name"], n) for layout in LAYOUTS.values() for n in layout).values():
        pub = os.path.join(SSH_DIR, "host-%s.pub" % node["name"])
        if os.path.exists(pub):
            with open(pub, encoding="utf-8") as f:
                kind, key = f.read().split()[:2]
            lines.append("%s,%s %s %s\n" % (node["name"], node_address(node), kind, key))
    tmp = os.path.join(SSH_DIR, "known_hosts.part")
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(lines)
    os.replace(tmp, os.path.join(SSH_DIR, "known_hosts"))


def ssh_vars():
    """The connection variables of an inventory that reaches the fleet over SSH, as inventory-examples/local-fleet
    sets them: user pi, become (sudo), the controller's key, the fleet's known_hosts checked strictly, pipelining.
    ServerAlive makes a node that stops answering (docker pause, a hung Pi) unreachable after about 15 s instead
    of a task that waits for ever."""
    return {"ansible_connection": "ssh", "ansible_user": SSH_USER, "ansible_become": True, "ansible_host_key_checking": True,
            "ansible_ssh_private_key_file": os.path.join(SSH_DIR, "id_ed25519"),
            "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes "
                                       "-o ServerAliveInterval=5 -o ServerAliveCountMax=3"
                                       % os.path.join(SSH_DIR, "known_hosts"),
            "ansible_ssh_pipelining": True, "ansible_python_interpreter": "/usr/bin/python3"}


def wire_ssh(client, node, controller_key):
    """Into a started node: its host key and pi's authorized_keys (the controller's key); then sshd starts.

    A node with a QEMU CPU model also gets it in /etc/environment (read by PAM's pam_env for SSH sessions and for
    sudo, which is told to keep it): sshd starts a login with a clean environment, and QEMU takes the CPU model from
    the environment of each program it runs, so without this everything ansible runs over SSH on the Pi Zero model
    would run on QEMU's default ARMv7 CPU (seen: uname -m said armv7l)."""
    buf = io.BytesIO()
    with open(os.path.join(SSH_DIR, "host-" + node["name"]), "rb") as f:
        private = f.read()
    with open(os.path.join(SSH_DIR, "host-%s.pub" % node["name"]), "rb") as f:
        public = f.read()
    files = [("etc/ssh/ssh_host_ed25519_key", private, 0o600, 0),
             ("etc/ssh/ssh_host_ed25519_key.pub", public, 0o644, 0),
             ("home/pi/.ssh/authorized_keys", controller_key.encode(), 0o600, SSH_UID)]
    if node.get("qemu_cpu"):
        files += [("etc/environment", ("QEMU_CPU=%s\n" % node["qemu_cpu"]).encode(), 0o644, 0),
                  ("etc/sudoers.d/020_mk8s-fleet-qemu-cpu", b'Defaults env_keep += "QEMU_CPU"\n', 0o440, 0)]
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, mode, uid in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid, info.mtime = len(data), mode, uid, uid, 0
            tar.addfile(info, io.BytesIO(data))
    c = client.containers.get(node["name"])
    res = c.exec_run(["install", "-d", "-o", str(SSH_UID), "-g", str(SSH_UID), "-m", "700", "/home/pi/.ssh"])
    if res.exit_code != 0 or not c.put_archive("/", buf.getvalue()):
        raise SystemExit("fleet node %s: could not write its SSH keys: %s" % (node["name"], res.output.decode("utf-8", "replace")))
    res = c.exec_run(["systemctl", "reload-or-restart", "ssh"])
    if res.exit_code != 0:
        status = c.exec_run(["journalctl", "-u", "ssh", "-n", "30", "--no-pager"]).output.decode("utf-8", "replace")
        raise SystemExit("fleet node %s: sshd did not start:\n%s" % (node["name"], status))


# What an emulated node takes from the host: QEMU user emulation cannot run a container runtime
# (containerd's shim needs prctl(PR_SET_CHILD_SUBREAPER), runc needs seccomp) nor iptables (its
# netlink calls fail), so these run natively, bind-mounted into the node. The shim and runc are the
# collection's own amd64 builds of the same Go modules as the nodes' (``fleet.py host-native HOLDER`` takes them
# out of a holder image: the cluster's own in make test, this host's own build in make demo), mounted under RUNTIME_DIR, where the test inventories point the
# container_runtime role's runc and shim variables. RUNTIME_DIR is one directory mount of a copy named by
# their digest, not a mount per file: runc (1.2 and later) guards its own binary by mounting the directory it
# lives in as an overlayfs lower layer and running itself from there, and an overlay shows what lies under a
# file bind mount (the empty mount point), not the file: "runc init: exec format error". iptables and conntrack are the host's Debian
# 12 builds (the collection builds neither; the nodes install the same Debian 12 packages), bind-
# mounted over the node's own files with the host's libraries and loader in paths an ARM root
# filesystem does not use. The node's own containerd daemon, kubelet, kube-proxy, CNI plugins, pause
# and workloads stay ARM. A Pi runs everything natively: this is test-fleet wiring, not the roles'.
HOST_NATIVE = ["/usr/sbin/xtables-nft-multi", "/usr/sbin/xtables-legacy-multi", "/usr/sbin/conntrack",
               # sudo (set-user-ID root): binfmt_misc runs a foreign binary with QEMU's credentials, not the file's
               # (this host registers QEMU without the C flag, and the fleet changes no host setting), so the node's
               # own sudo runs as pi and cannot become root. The host's Debian 12 sudo, its plugins, the node's
               # /etc/sudoers and /etc/pam.d (the host's PAM modules, in the host's library path)
               "/usr/bin/sudo", "/usr/libexec/sudo"]
HOST_NATIVE_RUNTIME = ["containerd-shim-runc-v2", "runc"]
HOST_NATIVE_DIR = os.environ.get("MULTIARCH_FLEET_HOST_NATIVE", os.path.join(CACHE, "fleet", "host-native"))
RUNTIME_DIR = "/usr/local/lib/mk8s-fleet"
HOST_NATIVE_LIBS = {"/usr/lib/x86_64-linux-gnu": "/usr/lib/x86_64-linux-gnu", "/usr/lib64": "/lib64"}

# Kernel settings the kubelet writes at start. /proc/sys stays read-only in every node (a write
# there would change the whole machine); inside the node's own mount namespace a small file is
# bind-mounted over each, so the kubelet finds and sets them without touching the host.
SHIELDED_SYSCTLS = ["vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops"]

# Per-network-namespace settings a Kubernetes node needs, set by Docker for the node's own namespace.
NODE_SYSCTLS = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.route_localnet": "1",
                "net.bridge.bridge-nf-call-iptables": "1", "net.bridge.bridge-nf-call-ip6tables": "1"}

# Run in each node after systemd is up (again after every start): writable cgroup controllers
# (the host's cgroup v1 controllers arrive read-only) and the shielded sysctl files.
WIRING = r"""
set -e
awk '$5 ~ "^/sys/fs/cgroup/" && $6 ~ /^ro/ {print $5}' /proc/self/mountinfo | while read -r d; do
  mount -o remount,bind,rw "$d"
done
mkdir -p /run/mk8s-fleet/sysctl
for p in SYSCTLS; do
  f=/run/mk8s-fleet/sysctl/$(echo "$p" | tr / _)
  [ -f "$f" ] || cat "/proc/sys/$p" > "$f"
  grep -q " /proc/sys/$p " /proc/self/mountinfo || mount --bind "$f" "/proc/sys/$p"
done
""".replace("SYSCTLS", " ".join(SHIELDED_SYSCTLS))


# a running node made with other wiring is made again
WIRING_LABEL = "io.multiarch-k8s.fleet-wiring"
LAYOUT_LABEL = "io.multiarch-k8s.fleet-layout"  # a node of another layout is made again: its cluster state is not this one's
WIRING_VERSION = "6"
HOST_NATIVE_LABEL = "io.multiarch-k8s.fleet-host-native"
UPSTREAM_DNS_LABEL = "io.multiarch-k8s.fleet-upstream-dns"
MEMORY_LABEL = "io.multiarch-k8s.fleet-memory"  # the memory limit the node was made with ("" for none)


def host_native_runtime():
    """name -> path of the amd64 shim and runc the emulated nodes run, and a digest of them (a node made with
    others is made again)."""
    paths = dict((n, os.path.join(HOST_NATIVE_DIR, n)) for n in HOST_NATIVE_RUNTIME)
    missing = [p for p in paths.values() if not os.access(p, os.X_OK)]
    if missing:
        raise SystemExit("the emulated fleet needs the collection's own amd64 %s in %s (missing: %s): build the "
                         "holder image first, then run fleet.py host-native HOLDER (make demo and make test do)"
                         % (" and ".join(HOST_NATIVE_RUNTIME), HOST_NATIVE_DIR, ", ".join(missing)))
    h = hashlib.sha256()
    for name in HOST_NATIVE_RUNTIME:
        with open(paths[name], "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return paths, h.hexdigest()[:16]


def runtime_copy(paths, digest):
    """A directory of its own holding the shim and runc of ``digest``, made once and never changed (a node keeps
    it mounted for its life)."""
    folder = os.path.join(CACHE, "fleet", "runtime-" + digest)
    if not os.path.isdir(folder):
        tmp = folder + ".part"
        subprocess.run(["rm", "-rf", tmp], check=True)
        os.makedirs(tmp)
        for name, path in sorted(paths.items()):
            shutil.copy2(path, os.path.join(tmp, name))
        os.replace(tmp, folder)
    return folder


def run_node(client, node, tag):
    import docker.errors  # pylint: disable=import-outside-toplevel
    import docker.types  # pylint: disable=import-outside-toplevel
    emulated = node_platform(node).debian_arch != host_debian_arch()
    runtime, runtime_digest = host_native_runtime() if emulated else ({}, "")
    try:
        c = client.containers.get(node["name"])
        if c.status == "running" and c.image.tags and tag in c.image.tags \
                and c.labels.get(WIRING_LABEL) == WIRING_VERSION and c.labels.get(HOST_NATIVE_LABEL, "") == runtime_digest \
                and c.labels.get(LAYOUT_LABEL) == LAYOUT and c.labels.get(MEMORY_LABEL, "") == node.get("memory", ""):
            return c, False
        c.remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
    volumes = {}
    if node.get("qemu_cpu"):
        # systemd starts services with its DefaultEnvironment, not PID 1's: give them the CPU model
        conf = os.path.join(CACHE, "fleet", "qemu-cpu-%s.conf" % node["qemu_cpu"])
        os.makedirs(os.path.dirname(conf), exist_ok=True)
        with open(conf, "w") as f:
            f.write("[Manager]\nDefaultEnvironment=QEMU_CPU=%s\n" % node["qemu_cpu"])
        volumes[conf] = {"bind": "/etc/systemd/system.conf.d/50-qemu-cpu.conf", "mode": "ro"}
    if emulated:
        wanted = dict((p, p) for p in HOST_NATIVE)
        wanted.update(HOST_NATIVE_LIBS)
        for path, target in sorted(wanted.items()):
            if not os.path.exists(path):
                raise SystemExit("the emulated fleet needs the host's %s (apt-get install iptables conntrack sudo)" % path)
            volumes[os.path.realpath(path)] = {"bind": target, "mode": "ro"}
        volumes[runtime_copy(runtime, runtime_digest)] = {"bind": RUNTIME_DIR, "mode": "ro"}
    # containerd's and the kubelet's state on volumes: overlayfs cannot be stacked on overlayfs
    mounts = [docker.types.Mount(target, None, type="volume") for target in ("/var/lib/containerd", "/var/lib/kubelet")]
    c = client.containers.run(
        tag, name=node["name"], volumes=volumes, mounts=mounts, hostname=node["name"], detach=True,
        network=NETWORK, networking_config={NETWORK: client.api.create_endpoint_config(ipv4_address=node_address(node))},
        # what a Kubernetes node needs, short of --privileged (which fails here)
        cap_add=["ALL"], cap_drop=["SYS_RESOURCE"],
        devices=["/dev/kmsg:/dev/kmsg:r"],
        sysctls=NODE_SYSCTLS,
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        cgroupns="private",
        tmpfs={"/run": "rw,mode=755", "/run/lock": "rw", "/tmp": "rw"},
        stop_signal="SIGRTMIN+3",
        # the board's memory, no swap beyond it (a Pi's SD card swap is off in a Kubernetes node)
        mem_limit=node.get("memory"), memswap_limit=node.get("memory"),
        labels={LABEL: "node", "io.multiarch-k8s.platform": node["platform"], WIRING_LABEL: WIRING_VERSION,
                HOST_NATIVE_LABEL: runtime_digest, LAYOUT_LABEL: LAYOUT, MEMORY_LABEL: node.get("memory", "")},
    )
    return c, True


def host_debian_arch():
    return subprocess.run(["dpkg", "--print-architecture"], check=True, capture_output=True,
                          text=True).stdout.strip()


def wire_node(client, name):
    res = client.containers.get(name).exec_run(["sh", "-c", WIRING])
    if res.exit_code != 0:
        raise SystemExit("wiring fleet node %s failed: %s" % (name, res.output.decode("utf-8", "replace")))


def wait_systemd(client, names, timeout=240):
    """Wait until systemd in every node answers (running or degraded), bounded in time."""
    deadline = time.monotonic() + timeout
    pending = list(names)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            c = client.containers.get(name)
            if c.status != "running":
                raise SystemExit("fleet node %s stopped while booting:\n%s"
                                 % (name, c.logs(tail=30).decode("utf-8", "replace")))
            res = c.exec_run(["systemctl", "is-system-running"])
            state = res.output.decode().strip()
            if state in ("running", "degraded"):
                log("%s: systemd %s" % (name, state))
                pending.remove(name)
        if pending:
            time.sleep(1)
    if pending:
        raise SystemExit("fleet nodes %s did not finish booting within %ds"
                         % (", ".join(pending), timeout))


def build_images(nodes):
    """node name -> image tag. The root filesystems are made two at a time (the emulated ones are bound by one
    QEMU process each, the amd64 one by downloads and dpkg), the slowest first: armel under an ARMv6 CPU model."""
    slowest_first = sorted(nodes, key=lambda n: (not n.get("qemu_cpu"), n["platform"] == "linux/amd64"))

    def one(node):
        return node["name"], build_image(docker_client(), node)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, slowest_first))


def cmd_images(args):
    build_images(selected(args))


def selected(args):
    names = getattr(args, "nodes", None)
    if not names:
        return NODES
    unknown = set(names) - set(n["name"] for n in NODES)
    if unknown:
        sys.exit("unknown fleet node(s) %s; the fleet has %s"
                 % (", ".join(sorted(unknown)), ", ".join(n["name"] for n in NODES)))
    return [n for n in NODES if n["name"] in names]


def check_ssh(node, timeout=120):
    """pi logs in with the controller's key, the node's host key checked against the fleet's known_hosts, and
    becomes root with sudo: what every playbook run does first. Bounded in time."""
    v = ssh_vars()
    cmd = ["ssh", "-i", v["ansible_ssh_private_key_file"]] + v["ansible_ssh_common_args"].split() + [
        "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "%s@%s" % (SSH_USER, node_address(node)), "sudo", "-n", "id", "-u"]
    deadline = time.monotonic() + timeout
    while True:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60, stdin=subprocess.DEVNULL)
            answer = (proc.returncode, proc.stdout, proc.stderr)
        except subprocess.TimeoutExpired:
            answer = (None, "", "no answer within 60 s")
        if answer[0] == 0 and answer[1].strip() == "0":
            return
        if time.monotonic() > deadline:
            raise SystemExit("fleet node %s: ssh %s@%s, sudo id -u gave rc %s: %s%s" % (
                node["name"], SSH_USER, node_address(node), answer[0], answer[1], answer[2]))
        time.sleep(1)


def warn_low_disk(path="/var/lib/docker"):
    """The nodes' files and images live on this host's disk, and each kubelet judges disk pressure by that disk:
    below 15% free (its imagefs.available threshold) every node is tainted disk-pressure and no new pod is scheduled
    (seen: CoreDNS's pods Pending with 12% free). Said at fleet up, before a test waits for pods in vain."""
    try:
        st = os.statvfs(path if os.path.exists(path) else "/")
    except OSError:
        return
    free = 100.0 * st.f_bavail / st.f_blocks if st.f_blocks else 100.0
    if free < 20:
        log("WARNING: only %.0f%% of the disk under %s is free: below 15%% every node's kubelet reports disk pressure "
            "and no pod is scheduled; free space first (make clean-cache, old docker images)" % (free, path))


def cmd_up(args):
    client = docker_client()
    warn_low_disk()
    nodes = selected(args)
    tags = build_images(nodes)
    ensure_network(client)
    controller_key = ssh_keys(NODES)
    write_known_hosts()
    if not getattr(args, "nodes", None):  # the whole fleet: nodes of another layout go
        for c in client.containers.list(all=True, filters={"label": LABEL + "=node"}):
            if c.name not in [n["name"] for n in NODES]:
                log("removing %s (not a node of the %s fleet)" % (c.name, LAYOUT))
                c.remove(force=True, v=True)
    started = []
    for node in nodes:
        _c, new = run_node(client, node, tags[node["name"]])
        if new:
            started.append(node["name"])
    wait_systemd(client, [n["name"] for n in nodes])
    for node in nodes:
        wire_node(client, node["name"])
        wire_ssh(client, node, controller_key)
    for node in nodes:
        check_ssh(node)
    run_upstream_dns(client, tags)
    log("fleet up: %s; over SSH as %s (key %s, known_hosts %s)" % (
        ", ".join("%s (%s, %s)" % (n["name"], n["platform"], node_address(n)) for n in nodes), SSH_USER,
        os.path.join(SSH_DIR, "id_ed25519"), os.path.join(SSH_DIR, "known_hosts")))


def run_upstream_dns(client, tags):
    """The upstream resolver's container, on the fleet's network at UPSTREAM_DNS's address: python3 of a node image
    (a host-native one when the layout has one) serving tests/fleet/upstream_dns.py; kept while it runs that script."""
    import docker.errors  # pylint: disable=import-outside-toplevel
    with open(UPSTREAM_DNS_SCRIPT, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    native = [n for n in NODES if node_platform(n).debian_arch == host_debian_arch()]
    image = tags.get((native or NODES)[0]["name"]) or sorted(tags.values())[0]
    try:
        c = client.containers.get(UPSTREAM_DNS["name"])
        if c.status == "running" and c.labels.get(UPSTREAM_DNS_LABEL) == digest:
            return c
        c.remove(force=True)
    except docker.errors.NotFound:
        pass
    c = client.containers.run(
        image, name=UPSTREAM_DNS["name"], entrypoint=["python3", "/srv/upstream_dns.py"], detach=True,
        volumes={UPSTREAM_DNS_SCRIPT: {"bind": "/srv/upstream_dns.py", "mode": "ro"}},
        network=NETWORK, networking_config={NETWORK: client.api.create_endpoint_config(ipv4_address=node_address(UPSTREAM_DNS))},
        labels={LABEL: "upstream-dns", UPSTREAM_DNS_LABEL: digest})
    deadline = time.monotonic() + 120
    while "upstream DNS for" not in c.logs().decode(errors="replace"):
        c.reload()
        if c.status != "running" or time.monotonic() > deadline:
            raise SystemExit("the fleet's upstream resolver %s did not start: %s" % (UPSTREAM_DNS["name"], c.logs().decode(errors="replace")[-2000:]))
        time.sleep(0.5)
    log("upstream resolver %s at %s (zone upstream.test)" % (UPSTREAM_DNS["name"], node_address(UPSTREAM_DNS)))
    return c


def upstream_dns_address():
    return node_address(UPSTREAM_DNS)


def pull_amd64(holder, names):
    """The amd64 files ``names`` of ``holder``, pulled and verified by the collection's holder_pull on this host:
    [{"name", "path", ...}]."""
    cmd = ["ansible", "localhost", "-m", "multiarch.k8s.holder_pull", "-a", json.dumps({
        "src": holder, "platforms": ["linux/amd64"], "dest": os.path.join(CACHE, "fleet", "pull"), "files": names})]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=900)
    try:
        res = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
        return res["bundles"]["linux/amd64"]["files"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise SystemExit("holder_pull of the amd64 %s from %s failed (rc %d):\n%s%s"
                         % (" and ".join(names), holder, proc.returncode, proc.stdout[-3000:], proc.stderr[-2000:]))


def cmd_kubectl(args):
    """The amd64 kubectl of holder ``args.holder`` (pulled and verified) installed at ``args.dest`` (make demo)."""
    f = [f for f in pull_amd64(args.holder, ["kubectl"]) if f["name"] == "kubectl"][0]
    tmp = args.dest + ".part"
    shutil.copyfile(f["path"], tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, args.dest)


def cmd_host_native(args):
    """The amd64 shim and runc of holder ``args.holder``, pulled and verified by the collection's holder_pull,
    copied into HOST_NATIVE_DIR (replaced whole, so a running node keeps the files it was made with)."""
    files = pull_amd64(args.holder, HOST_NATIVE_RUNTIME)
    tmp = HOST_NATIVE_DIR + ".part"
    subprocess.run(["rm", "-rf", tmp], check=True)
    os.makedirs(tmp)
    for f in files:
        if f["name"] in HOST_NATIVE_RUNTIME:
            with open(f["path"], "rb") as src, open(os.path.join(tmp, f["name"]), "wb") as dst:
                dst.write(src.read())
            os.chmod(os.path.join(tmp, f["name"]), 0o755)
    old = HOST_NATIVE_DIR + ".old"
    subprocess.run(["rm", "-rf", old], check=True)
    if os.path.exists(HOST_NATIVE_DIR):
        os.replace(HOST_NATIVE_DIR, old)
    os.replace(tmp, HOST_NATIVE_DIR)
    paths, digest = host_native_runtime()
    log("host-native runtime %s from %s: %s" % (digest, args.holder, ", ".join(sorted(paths))))


def cmd_reset(args):
    """Make the named nodes (default: all) again from their images: a fresh fleet, volumes included."""
    client = docker_client()
    import docker.errors  # pylint: disable=import-outside-toplevel
    for node in selected(args):
        try:
            client.containers.get(node["name"]).remove(force=True, v=True)
            log("removed %s" % node["name"])
        except docker.errors.NotFound:
            pass
    cmd_up(args)


def cmd_down(_args=None):
    client = docker_client()
    import docker.errors  # pylint: disable=import-outside-toplevel
    for kind in ("node", "upstream-dns"):
        for c in client.containers.list(all=True, filters={"label": LABEL + "=" + kind}):
            log("removing %s" % c.name)
            c.remove(force=True, v=True)
    try:
        client.networks.get(NETWORK).remove()
        log("removed network %s" % NETWORK)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as e:
        raise SystemExit("cannot remove the fleet's network %s (a container that is not a fleet node is attached to "
                         "it?): %s" % (NETWORK, e))


INVENTORIES = {"default": "inventory-examples/local-fleet/hosts.yml", "pi": "inventory-examples/local-pi-fleet/hosts.yml"}


def cmd_layout(_args):
    """The layout as JSON (tools/demo.sh reads it): its name, control plane, platforms, nodes, inventory."""
    print(json.dumps({"layout": LAYOUT, "control_plane": CONTROL_PLANE,
                      "control_plane_platform": NODES[0]["platform"],
                      "platforms": sorted(set(n["platform"] for n in NODES)),
                      "nodes": [dict(n, ip=node_address(n)) for n in NODES],
                      "node_components": NODE_COMPONENTS, "control_plane_components": CP_COMPONENTS,
                      "inventory": os.path.join(REPO, INVENTORIES[LAYOUT])}))


def cmd_status(_args):
    client = docker_client()
    for node in NODES:
        try:
            c = client.containers.get(node["name"])
            state = c.status
        except Exception:  # pylint: disable=broad-except
            state = "absent"
        print("%-12s %-14s %s" % (node["name"], node["platform"], state))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, func in (("images", cmd_images), ("up", cmd_up), ("reset", cmd_reset), ("down", cmd_down),
                       ("status", cmd_status), ("host-native", cmd_host_native), ("layout", cmd_layout),
                       ("kubectl", cmd_kubectl)):
        p = sub.add_parser(name)
        if name in ("images", "up", "reset"):
            p.add_argument("nodes", nargs="*", help="node names (default: all)")
        if name in ("host-native", "kubectl"):
            p.add_argument("holder", help="the holder image the fleet's nodes get, e.g. docker://127.0.0.1:5000/...")
        if name == "kubectl":
            p.add_argument("dest", help="where kubectl goes")
        p.set_defaults(func=func)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
