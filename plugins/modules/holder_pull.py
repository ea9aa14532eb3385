#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: holder_pull
short_description: Pull, verify and cache the binaries of a multi-arch holder image, once per platform
version_added: 0.1.0
description:
  - Gets the binaries each platform needs from a multi-arch I(holder image) (an image that only holds
    files under C(/k8s-bins/) and C(/cni-plugin-bins/)), verifies every file and stores it in a
    content-addressed cache on the controller.
  - Runs on the controller (an action plugin). Call it once per pull, not once per host, for example
    with C(run_once) and the unique platforms of the fleet's M(multiarch.k8s.node_facts).
  - "Reads both layouts: the seed recipe's (an Alpine-based, multi-layer image; whiteouts honoured) and this
    collection's own (C(FROM scratch), the same folders, plus C(/multiarch-k8s/holder.json) with each
    binary's sha256, version, GOARCH/GOARM and static/stripped flags)."
  - An image index with separate C(linux/arm/v6) and C(linux/arm/v7) entries is matched exactly. A variant
    falls back only downward (a v7 host may take a v6 build, a v6 host never takes a v7 one); the result
    says which variant was used and why.
  - Verification before anything is kept, every blob's digest and size against its manifest; every
    binary's ELF class, machine and byte order against the platform; static (no C(PT_INTERP), no
    C(DT_NEEDED)) and stripped when the image claims so; for 32-bit ARM the C(Tag_CPU_arch) build attribute
    and the Go build's GOARM must fit the variant; the sha256 against the image's metadata.
  - Extraction is an allow-list. Only regular files directly under the binary folders are taken; entries
    with C(..), absolute paths, links, device nodes, FIFOs or setuid/setgid bits in those folders, and
    layers that decompress past O(max_layer_mb), stop the pull with a message naming the entry.
  - A second run with everything pinned in O(lock_file) and present in the cache makes one manifest
    check and reports C(changed=false).
author:
  - multiarch.k8s developers (@multiarch-k8s)
options:
  src:
    description:
      - The holder image, in the transports people know from skopeo.
      - C(docker://HOST/REPO:TAG) or C(docker://HOST/REPO@sha256:DIGEST), an OCI distribution registry,
        reached directly over HTTPS (plain HTTP for loopback addresses or with O(insecure=true)), with
        token or basic authentication.
      - C(docker-daemon:REPO:TAG), an image held by the local Docker engine (through the Docker SDK; one
        platform per tag).
      - C(oci:PATH[:TAG]), an OCI image layout directory, for air-gapped sites.
    type: str
    required: true
  platforms:
    description:
      - OCI platforms to pull, such as C(linux/arm/v6); usually the unique C(multiarch_k8s.platform) facts
        of the fleet.
    type: list
    elements: str
    required: true
  dest:
    description:
      - The cache directory (C(blobs/sha256/), C(bundles/)). Concurrent pulls into one cache wait for each
        other.
    type: path
    default: ~/.cache/multiarch-k8s/binaries
  files:
    description:
      - Names of the binaries to take (C(kubelet), or C(k8s-bins/kubelet)); all when omitted.
    type: list
    elements: str
  lock_file:
    description:
      - YAML file mapping version -> index digest -> per-platform manifest digest -> file sha256.
      - Written by a pull and honoured by later pulls; a tag that moved away from the pinned digest fails
        the pull unless O(update_lock=true).
    type: path
  update_lock:
    description:
      - Follow a tag that moved and rewrite its entry in O(lock_file).
    type: bool
    default: false
  version:
    description:
      - Key of the entry in O(lock_file) and part of each bundle id; the tag when omitted.
    type: str
  insecure:
    description:
      - Talk plain HTTP to a registry that is not on a loopback address.
    type: bool
    default: false
  registry_username:
    description:
      - User name for the registry or its token service.
    type: str
  registry_password:
    description:
      - Password for the registry or its token service.
    type: str
  timeout:
    description:
      - Seconds each registry request may stay silent before it is retried.
    type: float
    default: 30.0
  retries:
    description:
      - Tries per registry request (5xx answers, timeouts, refused connections).
    type: int
    default: 3
  max_layer_mb:
    description:
      - Largest decompressed size of one layer, in MB; a layer that grows past it is refused.
    type: int
    default: 2048
  require_static:
    description:
      - C(auto) requires static binaries where the image claims them (this collection's metadata) and
        everywhere in the seed layout, which promises static binaries.
      - C(true) or C(false) decide for every binary.
    type: str
    default: auto
    choices: [auto, "true", "false"]
attributes:
  check_mode:
    support: full
    description: Resolves the image and reports what would be pulled and written; downloads and writes nothing.
  diff_mode:
    support: full
    description: The diff shows the lock file entry before and after.
  idempotent:
    support: full
    description: A second run with the same pinned digests changes nothing and reports C(changed=false).
  action:
    support: full
    description: Runs on the controller.
notes:
  - Needs the Python packages pyelftools (and docker for C(docker-daemon:)) on the controller.
  - Progress (per platform, bytes and rate) is printed with C(-v); a summary is in RV(transfer).
seealso:
  - module: multiarch.k8s.node_facts
"""

EXAMPLES = r"""
- name: Pull the binaries of every platform the fleet needs, once per platform
  multiarch.k8s.holder_pull:
    src: docker://registry.example.com:5000/k8s-bins:v1.37.2
    platforms: "{{ groups['all'] | map('extract', hostvars, ['multiarch_k8s', 'platform']) | unique }}"
    lock_file: "{{ playbook_dir }}/multiarch-k8s.lock.yml"
  run_once: true

- name: Air-gapped site, from an OCI layout copied on a USB stick
  multiarch.k8s.holder_pull:
    src: oci:/media/usb/k8s-bins:v1.37.2
    platforms: [linux/arm/v6, linux/arm/v7]
  run_once: true
"""

RETURN = r"""
bundles:
  description:
    - Per requested platform, the verified bundle. C(layers) are the manifest's layer descriptors, which
      M(multiarch.k8s.node_release) in pull mode gives the nodes so they fetch the layers themselves.
  returned: success
  type: dict
  sample:
    linux/arm/v7:
      bundle_id: v1.37.2-linux-arm-v6-1a2b3c4d5e6f
      platform: linux/arm/v7
      platform_used: linux/arm/v6
      reason: "no linux/arm/v7 entry; took linux/arm/v6, which a v7 host runs (variants fall back only downward)"
      manifest_digest: "sha256:1a2b..."
      layout: multiarch.k8s
      layers:
        - digest: "sha256:5e6f..."
          size: 21567890
          mediaType: application/vnd.oci.image.layer.v1.tar+gzip
      files:
        - name: kubelet
          folder: k8s-bins
          sha256: "9f86d0..."
          size: 100663296
          version: v1.37.2
          path: /root/.cache/multiarch-k8s/binaries/blobs/sha256/9f86d0...
          elf: "ELF32 little-endian ARM, static, GOARM=6"
index_digest:
  description: Digest of the image index (or single manifest) that was resolved.
  returned: success
  type: str
version:
  description: The version the lock file entry is keyed by.
  returned: success
  type: str
actions:
  description: What was done (or, in check mode, would be done), in words.
  returned: always
  type: list
  elements: str
transfer:
  description: Per platform pulled, bytes, seconds and MB/s.
  returned: success
  type: dict
requests:
  description: Number of requests made to the source.
  returned: success
  type: int
new_files:
  description: Number of files added to the cache.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiarch.k8s.plugins.module_utils._specs import HOLDER_PULL_SPEC


def main():
    module = AnsibleModule(argument_spec=HOLDER_PULL_SPEC, supports_check_mode=True)
    module.fail_json(msg="multiarch.k8s.holder_pull runs on the controller through its action plugin; "
                         "it cannot be run as a plain module")


if __name__ == "__main__":
    main()
