# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of multiarch.k8s.holder_build: builds and publishes on the controller."""

from __future__ import annotations

from ansible_collections.multiarch.k8s.plugins.module_utils._specs import HOLDER_BUILD_SPEC
from ansible_collections.multiarch.k8s.plugins.plugin_utils._controller_action import ControllerAction


class ActionModule(ControllerAction):
    SPEC = HOLDER_BUILD_SPEC
    NAME = "holder_build"

    def work(self, args, check_mode, log):
        from ansible_collections.multiarch.k8s.plugins.plugin_utils import _holder_build  # pylint: disable=import-outside-toplevel
        from ansible_collections.multiarch.k8s.plugins.plugin_utils._build import BuildError  # pylint: disable=import-outside-toplevel
        self.ERRORS = (BuildError,)
        return _holder_build.run(
            args["source"], args["platforms"], args["dest"], components=args["components"],
            platform_components=args["platform_components"],
            build_dir=args["build_dir"], version=args["version"], debian_patches=args["debian_patches"],
            lock_file=args["lock_file"], insecure=args["insecure"], username=args["registry_username"],
            password=args["registry_password"], timeout=args["timeout"], mirror=args["debian_mirror"],
            cni_source=args["cni_source"], etcd_source=args["etcd_source"], containerd_source=args["containerd_source"],
            runc_source=args["runc_source"], coredns_source=args["coredns_source"], strategy=args["strategy"],
            jobs=args["jobs"], check_mode=check_mode, log=log)
