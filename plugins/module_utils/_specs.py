# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by action plugins and their documentation modules. Private to the collection.

Standard library only: module files import it for ansible-test's validate-modules.
"""

from __future__ import annotations

from ansible_collections.multiarch.k8s.plugins.module_utils import _components as C

HOLDER_PULL_SPEC = dict(
    src=dict(type="str", required=True),
    platforms=dict(type="list", elements="str", required=True),
    dest=dict(type="path", default="~/.cache/multiarch-k8s/binaries"),
    files=dict(type="list", elements="str"),
    lock_file=dict(type="path"),
    update_lock=dict(type="bool", default=False),
    version=dict(type="str"),
    insecure=dict(type="bool", default=False),
    registry_username=dict(type="str"),
    registry_password=dict(type="str", no_log=True),
    timeout=dict(type="float", default=30.0),
    retries=dict(type="int", default=3),
    max_layer_mb=dict(type="int", default=2048),
    require_static=dict(type="str", default="auto", choices=["auto", "true", "false"]),
)

HOLDER_BUILD_SPEC = dict(
    source=dict(type="str", required=True),
    platforms=dict(type="list", elements="str", required=True),
    dest=dict(type="str", required=True),
    components=dict(type="list", elements="str", choices=list(C.NAMES)),
    platform_components=dict(type="dict", default={}),
    version=dict(type="str"),
    debian_patches=dict(type="bool", default=False),
    cni_source=dict(type="str", default="gomod:cni-plugins-v1.10.0"),
    etcd_source=dict(type="str", default="gomod:etcd-v3.6.17"),
    containerd_source=dict(type="str", default="gomod:containerd-v2.4.2"),
    runc_source=dict(type="str", default="gomod:runc-v1.5.3"),
    coredns_source=dict(type="str", default="gomod:coredns-v1.15.0"),
    strategy=dict(type="str", default="cross", choices=["cross", "qemu"]),
    debian_mirror=dict(type="str", default="http://deb.debian.org/debian"),
    build_dir=dict(type="path", default="~/.cache/multiarch-k8s/build"),
    lock_file=dict(type="path"),
    insecure=dict(type="bool", default=False),
    registry_username=dict(type="str"),
    registry_password=dict(type="str", no_log=True),
    timeout=dict(type="int", default=3600),
    jobs=dict(type="int", default=1),
)

FLEET_REPORT_SPEC = dict(
    hosts=dict(type="list", elements="str", required=True),
    facts_var=dict(type="str", default="multiarch_k8s"),
    release_var=dict(type="str"),
    outcome_var=dict(type="str"),
    health_var=dict(type="str"),
    bundles=dict(type="dict"),
    nodes=dict(type="raw"),
    dest=dict(type="path"),
)

CONTROL_PLANE_PLAN_SPEC = dict(
    hosts=dict(type="list", elements="str", required=True),
    platforms=dict(type="dict", required=True),
    bundles=dict(type="dict"),
    source=dict(type="str", default=""),
    group=dict(type="str", default="control_plane"),
    binaries=dict(type="list", elements="str", default=list(C.CONTROL_PLANE_BINARIES)),
    node_binaries=dict(type="list", elements="str", default=[]),
)
