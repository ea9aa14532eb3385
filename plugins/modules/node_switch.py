#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: node_switch
short_description: Point a node's current release at another release it already holds (upgrade switch, rollback)
version_added: 0.2.0
description:
  - Switches C(<prefix>/current) to a complete release already on the node, staged earlier by
    M(multiarch.k8s.node_release) with O(multiarch.k8s.node_release#module:switch=false), or kept from before. The
    switch renames a new symlink over the old one, so there is never a moment without one.
    C(<prefix>/previous) then names the release that was current, for a later rollback.
  - Reports which binaries differ between the two releases (by sha256), so that only the services whose
    binaries changed are restarted.
  - Nothing is sent and nothing is removed. The node side uses the Python standard library only.
author:
  - multiarch.k8s developers (@multiarch-k8s)
extends_documentation_fragment:
  - multiarch.k8s.release
options:
  release:
    description:
      - The release to switch to, by id, or V(previous) for the release C(current) pointed at before its last switch.
    type: str
    required: true
  services:
    description:
      - systemd services named after a binary of the release (V(kubelet) runs C(<bin_dir>/kubelet)). Each one whose
        running main process executes another file than the one its binary resolves to after the switch is
        returned in RV(stale_services). So a restart that the last run did not get to (a controller that died
        between the switch and the restart) is not missed by the next run, whose switch changes nothing.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Reports the switch and the binaries that would change; changes nothing.
  diff_mode:
    support: full
    description: The diff shows C(current) and C(previous) before and after.
  idempotent:
    support: full
    description: Switching to the release that is current changes nothing.
seealso:
  - module: multiarch.k8s.node_release
"""

EXAMPLES = r"""
- name: Switch to the release staged before the node was drained
  multiarch.k8s.node_switch:
    release: "{{ staged.release }}"
  register: switched

- name: Back to the release the node ran before
  multiarch.k8s.node_switch:
    release: previous
"""

RETURN = r"""
before:
  description: The release C(current) pointed at before the run, or null.
  returned: always
  type: str
current:
  description: The release C(current) points at after the run.
  returned: success
  type: str
previous:
  description: The release C(previous) points at after the run, or null.
  returned: success
  type: str
changed_binaries:
  description: Binaries whose file differs between the release before and the release after (or that only one has), sorted.
  returned: success
  type: list
  elements: str
  sample: [kube-proxy, kubelet]
stale_services:
  description: The O(services) whose running process executes another binary than the release's (see O(services)).
  returned: success
  type: list
  elements: str
  sample: [kubelet]
versions:
  description: Binary name to version of the release after the run, where the release records one.
  returned: success
  type: dict
"""

import errno
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiarch.k8s.plugins.module_utils._release import Prefix, ReleaseError, link_bins, switch
from ansible_collections.multiarch.k8s.plugins.module_utils._paths import DEFAULT_BIN_DIR, DEFAULT_PREFIX


def changed_binaries(before, after):
    a = dict((n, m.get("sha256")) for n, m in ((before or {}).get("files") or {}).items())
    b = dict((n, m.get("sha256")) for n, m in ((after or {}).get("files") or {}).items())
    return sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))


def _undeleted(path):
    return path[:-len(" (deleted)")] if path.endswith(" (deleted)") else path


def binary_of_pid(pid, name):
    """The file process ``pid`` runs as program ``name``: its /proc exe link, or, when that is an interpreter (QEMU
    user emulation through binfmt_misc runs the program inside qemu-ARCH), the mapped file called ``name``."""
    try:
        exe = _undeleted(os.readlink("/proc/%s/exe" % pid))
    except OSError:
        return None
    if os.path.basename(exe) == name:
        return exe
    try:
        with open("/proc/%s/maps" % pid) as f:
            for line in f:
                parts = line.rstrip("\n").split(None, 5)
                if len(parts) == 6 and os.path.basename(_undeleted(parts[5])) == name:
                    return _undeleted(parts[5])
    except OSError:
        return None
    return exe


def running_binary(module, service):
    """The file the service's main process runs, or None when it does not run."""
    rc, out, _err = module.run_command(["systemctl", "show", "-p", "MainPID", "--value", service])
    pid = out.strip()
    if rc != 0 or not pid.isdigit() or pid == "0":
        return None
    return binary_of_pid(pid, service)


def stale_services(module, prefix, release, services, files):
    """Services running another binary than ``release``'s file of their name."""
    stale = []
    for name in services:
        if name not in files:
            continue
        running = running_binary(module, name)
        if running is not None and os.path.realpath(running) != os.path.realpath(os.path.join(prefix.release_dir(release), name)):
            stale.append(name)
    return stale


def main():
    module = AnsibleModule(
        argument_spec=dict(
            release=dict(type="str", required=True),
            prefix=dict(type="path", default=DEFAULT_PREFIX),
            bin_dir=dict(type="path", default=DEFAULT_BIN_DIR),
            services=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    prefix = Prefix(p["prefix"], p["bin_dir"] or None)
    before = prefix.current()
    before_state = {"current": before, "previous": prefix.previous()}
    try:
        target = p["release"]
        if target == "previous":
            target = prefix.previous()
            if not target:
                raise ReleaseError("%s has no previous release to go back to (current is %s)" % (p["prefix"], before))
        releases, _current, _have = prefix.inventory()
        rec = prefix.read_release(target) if target in releases else None
        if rec is None:
            raise ReleaseError("release %s is not complete on this node (complete: %s); current stays %s"
                               % (target, ", ".join(releases) or "none", before))
        old = prefix.read_release(before) if before else None
        diff_bins = changed_binaries(old, rec)
        changed = before != target
        if changed and not module.check_mode:
            switch(prefix, target)
        links = link_bins(prefix, sorted(rec["files"]), dry_run=module.check_mode)
        changed = changed or bool(links)
        stale = stale_services(module, prefix, target, p["services"], rec["files"])
    except ReleaseError as e:
        module.fail_json(msg=str(e), before=before)
    except OSError as e:
        if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            module.fail_json(msg="cannot write %s (%s): current still points at %s" % (p["prefix"], e.strerror, prefix.current()),
                             before=before)
        module.fail_json(msg="%s: %s" % (getattr(e, "filename", None) or p["prefix"], e.strerror or e), before=before)
    after = target
    previous = (before if before != target else before_state["previous"]) if module.check_mode else prefix.previous()
    module.exit_json(changed=changed, before=before, current=after, previous=previous,
                     changed_binaries=diff_bins if before != target else [], stale_services=stale,
                     versions=dict((n, m["version"]) for n, m in rec["files"].items() if m.get("version")),
                     diff={"before": before_state, "after": {"current": after, "previous": previous}})


if __name__ == "__main__":
    main()
