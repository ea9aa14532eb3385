#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: node_facts
short_description: Decide the OCI platform of a node and run the preflight checks
version_added: 0.1.0
description:
  - Reads, in one round trip, the evidence that decides which binaries a node takes and returns
    one OCI platform such as C(linux/arm/v6), with the reason and the preflight findings.
  - The architecture and word size are the B(userland's) (the ELF header of C(/bin/sh), symlinks
    resolved inside O(root)), not the kernel's. A Raspberry Pi 4 running a 64-bit kernel with a
    32-bit Raspberry Pi OS gets C(linux/arm/v7), matching the rest of its userland.
  - The ARM variant is what the B(CPU) runs, because the binaries are static. C(/proc/cpuinfo)
    decides when it describes an ARM CPU (an ARM1176 prints C(CPU architecture 7); its part number
    C(0xb76) and its model name, which ends in v6l, tell the truth), else the kernel machine name, with the
    userland's C(Tag_CPU_arch) build attribute as a lower bound.
  - A host that cannot be classified fails with what was found; the module never guesses.
  - Runs on the node with the Python standard library only (a 512 MB Pi Zero is a target).
author:
  - multiarch.k8s developers (@multiarch-k8s)
options:
  root:
    description:
      - Read every file under this directory instead of C(/), to classify a host captured as a
        snapshot offline.
      - A snapshot holds C(proc/cpuinfo), C(proc/sys/kernel/arch) (what C(uname -m) says; it replaces
        the live kernel's answer), the userland's C(bin/sh) (an ELF file, or a symlink to one inside
        the snapshot), and optionally C(proc/device-tree/model), C(proc/meminfo), C(proc/swaps),
        C(proc/cgroups), C(sys/fs/cgroup/cgroup.controllers) and C(proc/1/comm).
      - A missing optional file lowers RV(ansible_facts.multiarch_k8s.platform_confidence); it does not fail.
    type: path
    default: /
  install_dir:
    description:
      - Where the binaries will be installed; the free space there is reported and checked
        against O(min_free_mb).
    type: path
    default: /opt/multiarch-k8s
  min_free_mb:
    description:
      - Free space in MB that O(install_dir) needs; less is a blocking preflight finding.
    type: int
    default: 300
  platform:
    description:
      - Pin the platform, normally from the inventory variable C(multiarch_k8s_platform).
      - A pin the host can run (the detected platform or a lower ARM variant) is accepted. A pin
        that contradicts the host (64-bit binaries on a 32-bit userland, C(arm/v7) on an ARMv6 CPU)
        fails, unless O(force=true).
    type: str
  force:
    description:
      - Accept a pinned O(platform) that contradicts the evidence; a warning finding records it.
    type: bool
    default: false
  allow_cgroup_v1:
    description:
      - Whether the host may run cgroup v1 (a hybrid or legacy hierarchy, no C(cgroup.controllers) at the top of
        C(/sys/fs/cgroup)), normally from the inventory variable C(multiarch_k8s_allow_cgroup_v1).
      - With V(false), such a host gets the blocking finding C(cgroup_v1) (severity C(error)) - since Kubernetes
        1.35 the kubelet refuses to start on cgroup v1 unless its C(failCgroupV1) is false.
      - With V(true), the finding is a C(warning). The playbooks pass C(multiarch_k8s_allow_cgroup_v1) here, and the
        same variable sets the kubelet's C(failCgroupV1) to false.
      - Raspberry Pi OS Bookworm and later, and Debian 11 and later, run cgroup v2.
    type: bool
    default: false
    version_added: 0.3.0
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode returns the same facts.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  idempotent:
    support: full
    description: Reads only and never reports a change.
  facts:
    support: full
    description: Sets the C(multiarch_k8s) fact on the host.
notes:
  - Under QEMU user emulation, C(/proc/cpuinfo) describes the host's CPU; the module notices that the
    CPU kind differs from the userland's, records the C(cpu_emulated) finding, and decides the ARM
    variant from the kernel machine name, which QEMU derives from the emulated CPU model.
seealso:
  - name: Raspberry Pi kernel command line
    description: Where C(cgroup_enable=memory) goes on a Raspberry Pi.
    link: https://www.raspberrypi.com/documentation/computers/configuration.html#the-kernel-command-line
"""

EXAMPLES = r"""
- name: Decide each host's platform and run the preflight checks
  multiarch.k8s.node_facts:
    platform: "{{ multiarch_k8s_platform | default(omit) }}"
    install_dir: /opt/multiarch-k8s

- name: Hosts that must stay on cgroup v1 get a warning instead of a blocking finding
  multiarch.k8s.node_facts:
    allow_cgroup_v1: true

- name: Stop a host with a blocking finding before anything changes on it
  ansible.builtin.fail:
    msg: "{{ multiarch_k8s.preflight | selectattr('severity', '==', 'error') | map(attribute='msg') | join('; ') }}"
  when: multiarch_k8s.preflight_blocking

- name: Classify a host captured as a snapshot, offline
  multiarch.k8s.node_facts:
    root: /srv/snapshots/pi-zero-w
  delegate_to: localhost
"""

RETURN = r"""
ansible_facts:
  description: Facts set on the host.
  returned: success
  type: dict
  contains:
    multiarch_k8s:
      description: What was found on the host.
      returned: success
      type: dict
      contains:
        platform:
          description: The OCI platform the host takes binaries for.
          type: str
          sample: linux/arm/v6
        platform_label:
          description: Value of the C(multiarch.k8s/platform) node label.
          type: str
          sample: linux-arm-v6
        platform_detected:
          description: What the evidence says, whether or not a pin overrides it.
          type: str
          sample: linux/arm/v6
        platform_pinned:
          description: Whether O(platform) decided.
          type: bool
        platform_reason:
          description: Which evidence decided, in words.
          type: str
          sample: "kernel armv6l, userland armhf (32-bit), CPU: cpuinfo: CPU part 0xb76 (ARM1176) is ARMv6 ... -> linux/arm/v6"
        platform_confidence:
          description: C(high) when the userland and an ARM or matching cpuinfo agree, C(medium) or C(low) with less evidence.
          type: str
          sample: high
        goarch:
          description: Go's GOARCH for the platform.
          type: str
          sample: arm
        goarm:
          description: Go's GOARM for the platform, or null.
          type: str
          sample: "6"
        debian_arch:
          description: Debian architecture whose packages fit the platform (C(armel) for arm/v6 and arm/v5).
          type: str
          sample: armel
        kernel_machine:
          description: The kernel's machine name (C(uname -m)).
          type: str
          sample: aarch64
        userland_arch:
          description: Debian-style architecture name of the userland, from its ELF header.
          type: str
          sample: armhf
        userland_elf:
          description: The ELF file read and what it is.
          type: str
          sample: "/bin/sh -> /usr/bin/dash: ELF32 ARM hard-float built for v7 (armhf)"
        userland_arm_cpu_arch:
          description: The userland's ARM C(Tag_CPU_arch) build attribute, or null.
          type: str
          sample: v7
        cpu_model:
          description: CPU model from cpuinfo.
          type: str
          sample: ARMv6-compatible processor rev 7 (v6l)
        cpu_count:
          description: Number of processors listed in cpuinfo.
          type: int
        cpu_emulated:
          description: True when cpuinfo describes another kind of CPU than the userland's (QEMU user emulation).
          type: bool
        board_model:
          description: Board model from the device tree, cpuinfo or DMI, or null.
          type: str
          sample: Raspberry Pi Zero W Rev 1.1
        board_model_source:
          description: Where O(root)'s board model came from (C(device-tree), C(cpuinfo), C(dmi)).
          type: str
        memory_total_mb:
          description:
            - Total RAM in MB, from C(/proc/meminfo), or the memory limit of the host's cgroup when that is smaller
              (RV(ansible_facts.multiarch_k8s.memory_total_source) says which).
          type: int
        memory_total_source:
          description: C(meminfo), or C(cgroup) when the host's cgroup allows less memory than the machine has.
          type: str
        memory_limit_mb:
          description:
            - The memory limit in MB of the cgroup the host's processes run in, as the host sees it (C(memory.max),
              or C(memory.limit_in_bytes) on cgroup v1), or null when there is none, as on a Pi.
          type: int
        memory_available_mb:
          description: Available RAM in MB.
          type: int
        swap_total_mb:
          description: Swap size in MB.
          type: int
        swap_active:
          description: Whether any swap area is in use.
          type: bool
        install_dir:
          description: The O(install_dir) checked.
          type: str
        install_dir_free_mb:
          description: Free MB at O(install_dir) (or its nearest existing parent).
          type: int
        cgroup_version:
          description: 1 or 2.
          type: int
        memory_cgroup:
          description: Whether the memory cgroup controller is enabled.
          type: bool
        init_system:
          description: Name of PID 1.
          type: str
          sample: systemd
        resolv_conf:
          description:
            - The resolv.conf whose resolvers a pod can use, none of them on loopback - systemd-resolved's list of its
              upstream servers (C(/run/systemd/resolve/resolv.conf)) when it has one, else C(/etc/resolv.conf). The
              kubelet gives it to the pods whose C(dnsPolicy) is C(Default), CoreDNS among them.
            - C(null) when no such file lists a resolver off loopback (the finding C(resolv_conf_loopback)).
          type: str
          sample: /run/systemd/resolve/resolv.conf
        nameservers:
          description: The resolvers that file lists (or, without one, C(/etc/resolv.conf)'s).
          type: list
          elements: str
          sample: [192.168.1.1]
        python_version:
          description: Version of the Python that ran the module.
          type: str
        root:
          description: The O(root) read.
          type: str
        preflight:
          description: Findings, each with C(id), C(severity) (C(error), C(warning), C(info)), C(msg) and C(fix).
          type: list
          elements: dict
          sample:
            - id: memory_cgroup_disabled
              severity: error
              msg: "the memory cgroup controller is disabled: the kubelet will not start"
              fix: "add cgroup_enable=memory cgroup_memory=1 to /boot/firmware/cmdline.txt (one line) and reboot"
            - id: cgroup_v1
              severity: error
              msg: >-
                the host runs cgroup v1 (hybrid or legacy): the kubelet refuses to start on it since Kubernetes 1.35
                (failCgroupV1); boot it with cgroup v2, or set multiarch_k8s_allow_cgroup_v1: true for it
              fix: >-
                boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line and reboot, or move to a
                current OS (Raspberry Pi OS Bookworm or later and Debian 11 or later run cgroup v2); or set
                multiarch_k8s_allow_cgroup_v1: true for this host
        preflight_blocking:
          description: True if any finding has severity C(error).
          type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiarch.k8s.plugins.module_utils._node_facts import DetectError, gather
from ansible_collections.multiarch.k8s.plugins.module_utils._paths import DEFAULT_PREFIX


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", default="/"),
            install_dir=dict(type="path", default=DEFAULT_PREFIX),
            min_free_mb=dict(type="int", default=300),
            platform=dict(type="str"),
            force=dict(type="bool", default=False),
            allow_cgroup_v1=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        facts = gather(root=p["root"], install_dir=p["install_dir"], min_free_mb=p["min_free_mb"],
                       pin=p["platform"], force=p["force"], allow_cgroup_v1=p["allow_cgroup_v1"])
    except DetectError as e:
        module.fail_json(msg=str(e))
    module.exit_json(changed=False, ansible_facts={"multiarch_k8s": facts})


if __name__ == "__main__":
    main()
