# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The component table. Private to the collection: not a public API.

Every binary the collection builds, ships and installs: where it is built from (Go module and package), the folder
of the holder image that carries it, where it runs (every node, or the control plane), how a node smoke-tests it,
and whether the version skew policy constrains it. The builder, the holder images, node_release's smoke tests,
the rollout plan and the tests read it here, and only here.

Node-side: standard library only (node_release reads the smoke tests on the node).
"""

from __future__ import annotations

K8S = "k8s.io/kubernetes"
CNI = "github.com/containernetworking/plugins"
ETCD = "go.etcd.io/etcd"
CONTAINERD = "github.com/containerd/containerd/v2"
RUNC = "github.com/opencontainers/runc"
COREDNS = "github.com/coredns/coredns"

K8S_FOLDER = "k8s-bins"
CNI_FOLDER = "cni-plugin-bins"
RUNTIME_FOLDER = "container-runtime-bins"


class Component(object):
    __slots__ = ("name", "module", "package", "folder", "runs_on", "smoke", "skew", "program")

    def __init__(self, name, module, package, folder, runs_on, smoke=("--version",), skew=None, program=None):
        self.name = name
        self.module = module        # Go module it is built from (its source tree)
        self.package = package      # package directory in that tree
        # its import path in a module-mode build (gomod/): the package of the published module(s)
        self.program = program or (module if package == "." else "%s/%s" % (module, package))
        self.folder = folder        # folder of the holder image
        self.runs_on = runs_on      # "node" (every node), "control_plane", or "tool" (both, never a service)
        self.smoke = list(smoke)    # arguments of the smoke test on the node (exit 0 expected)
        self.skew = skew            # the skew policy's group: "node", "control_plane" or None

    def __repr__(self):
        return "Component(%r)" % self.name


def _cni(name, package):
    # CNI plugins print their version only when run as a plugin: a bare run exits 0 with a line about it
    return Component(name, CNI, package, CNI_FOLDER, "node", smoke=())


TABLE = (
    Component("kubelet", K8S, "cmd/kubelet", K8S_FOLDER, "node", skew="node"),
    Component("kube-proxy", K8S, "cmd/kube-proxy", K8S_FOLDER, "node", skew="node"),
    Component("kubeadm", K8S, "cmd/kubeadm", K8S_FOLDER, "tool", smoke=("version", "-o", "short")),
    Component("kubectl", K8S, "cmd/kubectl", K8S_FOLDER, "tool", smoke=("version", "--client")),
    Component("kube-apiserver", K8S, "cmd/kube-apiserver", K8S_FOLDER, "control_plane"),
    Component("kube-controller-manager", K8S, "cmd/kube-controller-manager", K8S_FOLDER, "control_plane",
              skew="control_plane"),
    Component("kube-scheduler", K8S, "cmd/kube-scheduler", K8S_FOLDER, "control_plane", skew="control_plane"),
    # the sandbox ("pause") process, C: upstream publishes no arm/v6 pause image
    Component("pause", K8S, "build/pause/linux", K8S_FOLDER, "node", smoke=("-v",)),
    _cni("bridge", "plugins/main/bridge"),
    _cni("host-local", "plugins/ipam/host-local"),
    _cni("loopback", "plugins/main/loopback"),
    _cni("portmap", "plugins/meta/portmap"),
    _cni("ptp", "plugins/main/ptp"),
    _cni("bandwidth", "plugins/meta/bandwidth"),
    _cni("firewall", "plugins/meta/firewall"),
    _cni("tuning", "plugins/meta/tuning"),
    # etcd's published modules: the etcd program is the server module's main package
    Component("etcd", ETCD, ".", K8S_FOLDER, "control_plane", program="go.etcd.io/etcd/server/v3"),
    Component("etcdctl", ETCD, "etcdctl", K8S_FOLDER, "control_plane", program="go.etcd.io/etcd/etcdctl/v3"),
    Component("etcdutl", ETCD, "etcdutl", K8S_FOLDER, "control_plane", program="go.etcd.io/etcd/etcdutl/v3"),
    # the container runtime: current kubelets need containerd 2.x (the CRI RuntimeConfig call), which no stable
    # Debian ships; runc is the one component with C in it (cgo: libcontainer/nsenter, libseccomp)
    Component("containerd", CONTAINERD, "cmd/containerd", RUNTIME_FOLDER, "node"),
    Component("containerd-shim-runc-v2", CONTAINERD, "cmd/containerd-shim-runc-v2", RUNTIME_FOLDER, "node",
              smoke=("-v",)),
    Component("runc", RUNC, ".", RUNTIME_FOLDER, "node"),
    # containerd's own client: node_image imports the node's pause image with it
    Component("ctr", CONTAINERD, "cmd/ctr", RUNTIME_FOLDER, "node"),
    # the cluster's DNS server: its plugins are chosen at compile time, so the program is the main package of the
    # collection's own gomod folder (tools/gomod.py writes it), which links CoreDNS's coremain and those plugins
    Component("coredns", COREDNS, ".", K8S_FOLDER, "node", smoke=("-version",), program="multiarch.k8s/gomod/coredns"),
)

BY_NAME = dict((c.name, c) for c in TABLE)
NAMES = tuple(c.name for c in TABLE)
# what holder_build builds when no components are named: the Kubernetes binaries
KUBERNETES = tuple(c.name for c in TABLE if c.module == K8S and c.name != "pause")
# components whose version the Kubernetes version skew policy constrains against kube-apiserver
SKEW_NODE = tuple(c.name for c in TABLE if c.skew == "node")
SKEW_CONTROL_PLANE = tuple(c.name for c in TABLE if c.skew == "control_plane")
# smoke-test arguments that differ from --version
SMOKE = dict((c.name, c.smoke) for c in TABLE if c.smoke != ["--version"])
# what a control-plane host runs (the control_plane role): kubeadm makes the PKI and kubeconfigs, kubectl the bindings
CONTROL_PLANE_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubeadm", "kubectl")
