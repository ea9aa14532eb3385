#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: holder_build
short_description: Build static Kubernetes binaries for every platform and publish them as a holder image
version_added: 0.1.0
description:
  - Cross-compiles Kubernetes components from source into static, stripped binaries, one set per
    platform (C(GOARM=6) for C(linux/arm/v6), which upstream never ships), verifies each one and publishes
    them as a multi-arch holder image in this collection's layout, which M(multiarch.k8s.holder_pull) reads.
  - The source is one of the collection's Go modules (C(gomod:kubernetes-v1.37.2), which is a C(go.mod) and C(go.sum) in
    its C(gomod/) folder that require the release and, for Kubernetes, pin its C(k8s.io/*) staging modules to the
    matching C(v0.MINOR.PATCH)). The go command fetches the release and its dependencies from the Go module proxy
    (C(GOPROXY)), checks them against C(go.sum) and builds in module mode (C(-mod=readonly), C(CGO_ENABLED=0)),
    with the caches in O(build_dir). This needs the Go the C(go.mod) names (1.26 for Kubernetes 1.36 and 1.37)
    first on C(PATH).
  - The source may also be a Debian source package (C(debian:kubernetes), fetched with C(apt-get source) through a
    private apt configuration, with or without Debian's patches), an upstream release tarball, or a
    directory. Those are built in GOPATH mode as Debian's own packaging does (C(GO111MODULE=off),
    C(CGO_ENABLED=0)) with Debian's Go.
  - Builds are reproducible (C(-trimpath), empty build id, fixed build date) and cached on the controller
    under a key of all their inputs; a rerun with the same inputs builds nothing, produces the same
    sha256, and reports C(changed=false) when the destination already holds the image.
  - Every binary must be static, stripped, of the platform's ELF machine and class, with the platform's
    GOARM in its Go build info; the build fails naming the binary otherwise, and nothing is published.
  - C(kube-apiserver) and C(kube-controller-manager) need C(pkg/generated/openapi), which release
    tarballs lack; it is generated once per source with the tree's own C(openapi-gen) (the published
    C(k8s.io/kubernetes) module carries it).
  - Runs on the controller (an action plugin) and needs Go there, 1.26 or later first on C(PATH) for C(gomod:)
    sources, plus C(apt-get), C(dpkg-source) and Debian's Go (C(golang-go)) for the legacy C(debian:) sources.
author:
  - multiarch.k8s developers (@multiarch-k8s)
options:
  source:
    description:
      - C(gomod:NAME) (a folder of the collection's C(gomod/), such as C(kubernetes-v1.37.2), or the path of a
        directory with a C(go.mod) and C(go.sum) written by the collection's C(tools/gomod.py)),
        C(debian:PACKAGE) or C(debian:PACKAGE=VERSION) (a Debian source package), the path of a release
        tarball holding one top directory, or the path of a Kubernetes tree with C(vendor/).
    type: str
    required: true
  platforms:
    description:
      - OCI platforms to build for, such as C(linux/arm/v6).
    type: list
    elements: str
    required: true
  dest:
    description:
      - Where to publish, C(docker://HOST/REPO:TAG) (pushed to a registry; plain HTTP for loopback or
        O(insecure=true)), C(oci:PATH:TAG) (an OCI image layout), or C(docker-daemon:REPO:TAG) (loaded into
        the local Docker engine; one platform only, as the engine keeps one platform per tag).
    type: str
    required: true
  components:
    description:
      - Components to build. The Kubernetes ones when omitted.
      - C(pause), the pod sandbox process, is C compiled static with C(zig cc) (the ziglang Python package),
        for every platform including C(linux/arm/v6), for which upstream publishes no pause image.
    type: list
    elements: str
    choices: [kubelet, kube-proxy, kubeadm, kubectl, kube-apiserver, kube-controller-manager, kube-scheduler, pause,
              bridge, host-local, loopback, portmap, ptp, bandwidth, firewall, tuning, etcd, etcdctl, etcdutl,
              containerd, containerd-shim-runc-v2, runc, ctr, coredns]
  platform_components:
    description:
      - More components for some platforms only, as a mapping of platform to a list of components, on top of
        O(components); for example the control plane for the one platform that runs it.
      - Every key must be one of O(platforms).
    type: dict
    default: {}
  cni_source:
    description:
      - Source of the CNI plugin components (C(bridge), C(host-local), C(loopback), C(portmap), ...), in the
        same forms as O(source).
    type: str
    default: gomod:cni-plugins-v1.10.0
  etcd_source:
    description:
      - Source of C(etcd), C(etcdctl) and C(etcdutl), in the same forms as O(source). etcd refuses to start on
        C(arm) unless C(ETCD_UNSUPPORTED_ARCH=arm) is set in its environment.
    type: str
    default: gomod:etcd-v3.6.17
  containerd_source:
    description:
      - Source of C(containerd), C(containerd-shim-runc-v2) and C(ctr), in the same forms as O(source). Kubernetes 1.36 and
        later need containerd 2.x (the CRI C(RuntimeConfig) call), which Debian 12 does not ship.
    type: str
    default: gomod:containerd-v2.4.2
  runc_source:
    description:
      - Source of C(runc), in the same forms as O(source). runc is built with cgo (its C(nsenter) code and
        libseccomp) by C(zig cc) for the platform's static musl target; libseccomp is compiled from the upstream
        tarball that the C(gomod) folder pins (a C(libseccomp.clib.json) with its path in the Debian archive and
        its sha256), fetched from O(debian_mirror). This needs C(make) and C(pkg-config) on the controller.
    type: str
    default: gomod:runc-v1.5.3
  coredns_source:
    description:
      - Source of C(coredns), the cluster's DNS server, in the same forms as O(source). CoreDNS chooses its plugins
        at compile time, so its C(gomod) folder holds a main package of its own (written by C(tools/gomod.py)) that
        links CoreDNS's C(coremain) and the plugins the cluster's Corefile uses (kubeadm's set, plus C(log),
        C(hosts), C(rewrite), C(template), C(bind) and C(whoami)); upstream's own program links every plugin, the
        cloud providers' SDKs included. CoreDNS 1.15.0 serves Services from the C(discovery.k8s.io/v1)
        EndpointSlices that Kubernetes 1.21 and later serve.
    type: str
    default: gomod:coredns-v1.15.0
  strategy:
    description:
      - C(cross) cross-compiles with the controller's Go (fast; Go builds do not depend on the host).
      - C(qemu) builds natively with Debian's Go toolchain of each platform's own architecture, run under
        QEMU user emulation through binfmt_misc, as the seed recipe's buildx builds did. It is 10-50x
        slower and gives the same binaries (C(make bench-build) measures both); it needs
        C(qemu-user-static) and binfmt_misc on the controller. C(pause) is always built with C(zig cc).
    type: str
    default: cross
    choices: [cross, qemu]
  version:
    description:
      - Version stamped into the Kubernetes binaries (C(--version)); read from the source tree's name when omitted.
    type: str
  debian_patches:
    description:
      - For C(debian:) sources, build the tree with Debian's patches applied (C(dpkg-source -x)) instead
        of the upstream orig tarball.
    type: bool
    default: false
  debian_mirror:
    description:
      - Debian mirror for C(debian:) sources and for the C libraries of cgo components (libseccomp for C(runc)).
    type: str
    default: http://deb.debian.org/debian
  build_dir:
    description:
      - Where sources, the Go build cache, built binaries and staged images are kept.
    type: path
    default: ~/.cache/multiarch-k8s/build
  lock_file:
    description:
      - Lock file (shared with M(multiarch.k8s.holder_pull)) to record the image under its tag.
    type: path
  insecure:
    description:
      - Talk plain HTTP to a registry that is not on a loopback address.
    type: bool
    default: false
  registry_username:
    description:
      - User name for the registry.
    type: str
  registry_password:
    description:
      - Password for the registry.
    type: str
  timeout:
    description:
      - Seconds one binary's build may take.
    type: int
    default: 3600
  jobs:
    description:
      - How many platforms build at once (module-mode C(gomod:) sources; others build one at a time). Each
        platform's components build in order, and builds of different platforms share no compiled package, so
        nothing is compiled twice; on two cores, two jobs overlap one platform's linking and C library
        configure with another's compiling. Each job may take about 2 GB of memory while the Go compiler works
        on Kubernetes.
    type: int
    default: 1
attributes:
  check_mode:
    support: full
    description: Reports which binaries would be built and that the image would be published; builds nothing.
  diff_mode:
    support: full
    description: The diff shows the lock file entry before and after.
  idempotent:
    support: full
    description: Same inputs give the same binaries and image; a rerun reports C(changed=false).
  action:
    support: full
    description: Runs on the controller.
seealso:
  - module: multiarch.k8s.holder_pull
"""

EXAMPLES = r"""
- name: Build kubelet and kube-proxy v1.37.2 for the Pi Zero and the Pi 3, push them to the local registry
  multiarch.k8s.holder_build:
    source: gomod:kubernetes-v1.37.2
    components: [kubelet, kube-proxy]
    platforms: [linux/arm/v6, linux/arm/v7]
    dest: docker://127.0.0.1:5000/k8s-bins:v1.37.2
    lock_file: "{{ playbook_dir }}/multiarch-k8s.lock.yml"
  run_once: true

- name: A whole node set (the node runtime included) for four platforms, the control plane for amd64, into an OCI layout
  multiarch.k8s.holder_build:
    source: gomod:kubernetes-v1.37.2
    components: [kubelet, kube-proxy, pause, bridge, host-local, loopback, portmap,
                 containerd, containerd-shim-runc-v2, runc, ctr, coredns]
    platform_components:
      linux/amd64: [kubeadm, kubectl, kube-apiserver, kube-controller-manager, kube-scheduler, etcd]
    platforms: [linux/amd64, linux/arm64, linux/arm/v7, linux/arm/v6]
    dest: oci:/srv/holders/k8s-bins:v1.37.2
"""

RETURN = r"""
index_digest:
  description: Digest of the image index published.
  returned: success and not check mode
  type: str
manifests:
  description: Per platform, the digest of its image manifest.
  returned: success and not check mode
  type: dict
binaries:
  description: One entry per platform and binary with size, sha256, static, stripped, GOARM, build seconds and whether it came from the cache.
  returned: success and not check mode
  type: list
  elements: dict
summary:
  description: The binaries as a table, one line each (platform, binary, size, sha256, static, GOARM, seconds).
  returned: success and not check mode
  type: list
  elements: str
source:
  description: What was built from, in words, one entry per Go module or source package used, separated by
    semicolons (module, version, patches).
  returned: success
  type: str
version:
  description: The version stamped into the binaries.
  returned: success
  type: str
actions:
  description: What was done (or would be), in words.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiarch.k8s.plugins.module_utils._specs import HOLDER_BUILD_SPEC


def main():
    module = AnsibleModule(argument_spec=HOLDER_BUILD_SPEC, supports_check_mode=True)
    module.fail_json(msg="multiarch.k8s.holder_build runs on the controller through its action plugin; "
                         "it cannot be run as a plain module")


if __name__ == "__main__":
    main()
