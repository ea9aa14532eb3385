#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: node_image
short_description: Make a one-layer image from files on the node and import it into containerd
version_added: 0.1.0
description:
  - Packs files that are already on the node (normally binaries of the installed release) into a one-layer
    OCI image of the node's platform and imports it into containerd with C(ctr images import).
  - Made for the pod sandbox (C(pause)) image, which upstream does not publish for C(linux/arm/v6); the
    M(multiarch.k8s.holder_build) C(pause) binary of each platform becomes the node's sandbox image, set
    as containerd's sandbox image (C(pinned_images.sandbox) of its configuration version 3). Small static
    workloads can be packed the same way.
  - The image is deterministic, so its index digest is compared with what containerd lists under O(name);
    a rerun with the same files imports nothing and reports C(changed=false).
  - Runs on the node with the Python standard library only.
author:
  - multiarch.k8s developers (@multiarch-k8s)
options:
  name:
    description: Image reference, such as C(localhost/multiarch-k8s/pause:3.10.2).
    type: str
    required: true
  platform:
    description: OCI platform of the files, such as C(linux/arm/v6) (the node's, from M(multiarch.k8s.node_facts)).
    type: str
    required: true
  files:
    description: Files on the node and where they go in the image.
    type: list
    elements: dict
    required: true
    suboptions:
      src:
        description: Path on the node (symlinks are followed).
        type: path
        required: true
      dest:
        description: Absolute path in the image.
        type: str
        required: true
  entrypoint:
    description: The image's entrypoint.
    type: list
    elements: str
    required: true
  labels:
    description: Labels of the image config.
    type: dict
    default: {}
  namespace:
    description: containerd namespace; C(k8s.io) is the one the kubelet's CRI uses.
    type: str
    default: k8s.io
  address:
    description: containerd's socket.
    type: path
    default: /run/containerd/containerd.sock
  ctr:
    description: The C(ctr) command.
    type: path
    default: ctr
  pinned:
    description:
      - Label the image C(io.cri-containerd.pinned=pinned), so that the kubelet's image garbage collection never
        removes it. An imported image cannot be pulled again; pin every image a pod may need on the node.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Builds the image in memory and reports whether an import would happen; imports nothing.
  diff_mode:
    support: full
    description: The diff shows the digest containerd listed before and the image's digest.
  idempotent:
    support: full
    description: The same files give the same digest, and an image containerd already lists is not imported again.
"""

EXAMPLES = r"""
- name: The node's own pause binary as containerd's sandbox image
  multiarch.k8s.node_image:
    name: localhost/multiarch-k8s/pause:3.10.2
    platform: "{{ multiarch_k8s.platform }}"
    files:
      - {src: /usr/local/bin/pause, dest: /pause}
    entrypoint: [/pause]
"""

RETURN = r"""
digest:
  description: Index digest of the image.
  returned: success
  type: str
  sample: sha256:5d0c...
previous_digest:
  description: What containerd listed under O(name) before, or null.
  returned: success
  type: str
pinned:
  description: Whether the image carries containerd's pinned label afterwards (in check mode, would carry it).
  returned: success
  type: bool
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiarch.k8s.plugins.module_utils._node_image import (
    PINNED, ImageInputError, build, listed_digest, listed_pinned, write_archive)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            platform=dict(type="str", required=True),
            files=dict(type="list", elements="dict", required=True, options=dict(
                src=dict(type="path", required=True), dest=dict(type="str", required=True))),
            entrypoint=dict(type="list", elements="str", required=True),
            labels=dict(type="dict", default={}),
            namespace=dict(type="str", default="k8s.io"),
            address=dict(type="path", default="/run/containerd/containerd.sock"),
            ctr=dict(type="path", default="ctr"),
            pinned=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        digest, blobs, layout_index = build(p["name"], p["platform"], [(f["src"], f["dest"]) for f in p["files"]],
                                            p["entrypoint"], p["labels"])
    except ImageInputError as e:
        module.fail_json(msg=str(e))
    ctr = [module.get_bin_path(p["ctr"], required=True), "--address", p["address"], "--namespace", p["namespace"]]
    rc, out, err = module.run_command(ctr + ["images", "ls", "name==" + p["name"]])
    if rc != 0:
        module.fail_json(msg="containerd at %s did not answer (%s); is it running?" % (p["address"], err.strip() or out.strip()))
    before = listed_digest(out, p["name"])
    # an import replaces the image's record, so a new image is labelled again
    to_pin = p["pinned"] and (before != digest or not listed_pinned(out, p["name"]))
    result = dict(changed=before != digest or to_pin, digest=digest, previous_digest=before,
                  pinned=p["pinned"] or (before == digest and listed_pinned(out, p["name"])),
                  diff=dict(before={"digest": before}, after={"digest": digest}))
    if not result["changed"] or module.check_mode:
        module.exit_json(**result)
    if before == digest:  # only the label is missing
        pin(module, ctr, p["name"])
        module.exit_json(**result)
    fd, path = tempfile.mkstemp(prefix=".multiarch-k8s-image-", suffix=".tar")
    os.close(fd)
    try:
        write_archive(path, blobs, layout_index)
        rc, out, err = module.run_command(ctr + ["images", "import", "--all-platforms", path])
    finally:
        os.unlink(path)
    if rc != 0:
        module.fail_json(msg="ctr images import of %s failed: %s" % (p["name"], (err or out).strip()))
    rc, out, err = module.run_command(ctr + ["images", "ls", "name==" + p["name"]])
    after = listed_digest(out, p["name"])
    if after != digest:
        module.fail_json(msg="after the import containerd lists %s as %s, not %s" % (p["name"], after, digest))
    if to_pin:
        pin(module, ctr, p["name"])
    module.exit_json(**result)


def pin(module, ctr, name):
    rc, out, err = module.run_command(ctr + ["images", "label", name, PINNED])
    if rc != 0:
        module.fail_json(msg="ctr images label %s %s failed: %s" % (name, PINNED, (err or out).strip()))


if __name__ == "__main__":
    main()
