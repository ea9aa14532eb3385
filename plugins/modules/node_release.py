#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: node_release
short_description: Put a verified bundle of binaries on a node as a staged release and switch to it atomically
version_added: 0.1.0
description:
  - Installs the bundle that M(multiarch.k8s.holder_pull) returned for the node's platform into
    C(<prefix>/releases/<bundle-id>/), smoke-tests every staged binary on the node, then points
    C(<prefix>/current) at it by renaming a new symlink over the old one (there is never a moment without
    one). C(<bin_dir>/<binary>) links go through C(current). The last O(keep) releases are kept.
  - Only what the node lacks is sent. The node first reports the sha256 of the files its releases hold;
    files it has are hard-linked, the others are sent gzip-compressed through the connection, streamed,
    never held whole in memory, then unpacked into a temp file in the release directory, checked against
    their sha256, fsynced and renamed. Two module runs per host; one when the node already has the release
    in place (a rerun).
  - A smoke test that fails (an ARMv7 binary on an ARMv6 CPU dies with SIGILL) leaves nothing staged and
    C(current) where it was. Free space is checked before anything is sent.
  - The node side uses the Python standard library only.
author:
  - multiarch.k8s developers (@multiarch-k8s)
extends_documentation_fragment:
  - multiarch.k8s.release
options:
  bundle:
    description:
      - The bundle of the node's platform, as returned by M(multiarch.k8s.holder_pull) in C(bundles),
        with C(bundle_id) and C(files) (C(name), C(sha256), C(size), and C(path) on the controller).
    type: dict
    required: true
  switch:
    description:
      - Switch C(current) to the release. With C(false) the release is only staged (sent and smoke-tested),
        as an upgrade does before it drains a node.
    type: bool
    default: true
  keep:
    description:
      - How many complete releases to keep; older ones are removed (never the current one).
    type: int
    default: 3
  smoke_args:
    description:
      - Arguments of the smoke test per binary name. C(--version) for binaries not listed; the CNI plugins,
        C(pause), C(kubectl) and C(kubeadm) have their own defaults (no argument, C(-v), C(version --client),
        C(version -o short)).
    type: dict
    default: {}
  smoke_timeout:
    description:
      - Seconds a smoke test may take (emulated or small CPUs are slow).
    type: int
    default: 120
  distribution:
    description:
      - How the files reach the node. V(push) sends them from the controller through the connection.
      - V(pull) is for fleets too large for one controller's bandwidth. The controller sends only the manifest,
        and the node fetches its platform's layers by digest from O(pull_source) itself. The node uses standard
        library HTTP, streams the layers, checks their digest and size, and retries a bounded number of times.
        The node must reach that registry or mirror.
    type: str
    choices: [push, pull]
    default: push
  pull_source:
    description:
      - With O(distribution=pull), the registry or mirror the nodes fetch from, as C(HOST[:PORT]/REPOSITORY)
        (a C(docker://) prefix is accepted; a tag is ignored, as blobs are fetched by digest). Defaults to the bundle's own
        source when that is a C(docker://) reference.
    type: str
  pull_insecure:
    description:
      - Plain HTTP to O(pull_source) (a mirror on the local network). Always so for 127.0.0.1.
    type: bool
    default: false
  pull_username:
    description:
      - User name for O(pull_source), if it needs one (basic auth or a token service).
    type: str
  pull_password:
    description:
      - Password or token for O(pull_username).
    type: str
  pull_timeout:
    description:
      - Seconds a request to O(pull_source) may go without an answer.
    type: int
    default: 60
  pull_retries:
    description:
      - Tries per request to O(pull_source) before the node gives up (with a growing pause between them).
    type: int
    default: 3
  uploads:
    description:
      - B(Private to the collection; do not set.) The action plugin sets it on its second module run
        (sha256 -> path on the node of a gzip file it sent). Not part of the public interface.
    type: dict
    default: {}
  inventory_only:
    description:
      - B(Private to the collection; do not set.) The action plugin sets it on its first module run, which
        only reports what the node holds. Not part of the public interface.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports what would be sent, linked, smoke-tested and switched; sends and changes nothing.
  diff_mode:
    support: full
    description: The diff shows the current release and the releases kept, before and after.
  idempotent:
    support: full
    description: A second run sends nothing and reports C(changed=false).
seealso:
  - module: multiarch.k8s.holder_pull
  - module: multiarch.k8s.node_facts
"""

EXAMPLES = r"""
- name: Install each node's bundle (pulled once per platform) and switch to it
  multiarch.k8s.node_release:
    bundle: "{{ hostvars['localhost'].__pulled.bundles[multiarch_k8s.platform] }}"
    prefix: /opt/multiarch-k8s

- name: Nodes fetch their layers from a mirror on their own network; the controller sends only the manifest
  multiarch.k8s.node_release:
    bundle: "{{ hostvars['localhost'].__pulled.bundles[multiarch_k8s.platform] }}"
    distribution: pull
    pull_source: mirror.pi.lan:5000/multiarch-k8s/k8s-bins
    pull_insecure: true

- name: Stage only (sent and smoke-tested while the node still serves), switch later
  multiarch.k8s.node_release:
    bundle: "{{ new_bundle }}"
    switch: false
"""

RETURN = r"""
release:
  description: The release id (the bundle id).
  returned: success
  type: str
  sample: v1.37.2-linux-arm-v6-1a2b3c4d5e6f
current:
  description: The release C(current) points at after the run.
  returned: success
  type: str
previous:
  description: The release C(current) pointed at before the run, or null.
  returned: success
  type: str
releases:
  description: Complete releases on the node after the run, oldest first.
  returned: success
  type: list
  elements: str
files_sent:
  description: Files the controller sent (V(push)) or the node fetched (V(pull)).
  returned: success
  type: int
bytes_pulled:
  description: With O(distribution=pull), the layer bytes the node fetched from O(pull_source).
  returned: success
  type: int
peak_rss_kb:
  description:
    - Peak resident memory of the module on the node, in KiB (smoke tests not included). Under QEMU user
      emulation this includes the emulator's own memory.
  returned: success
  type: int
files_reused:
  description: Files hard-linked from another release on the node.
  returned: success
  type: int
bytes_sent:
  description: Compressed bytes the controller sent to this node.
  returned: success
  type: int
actions:
  description: What was done (or would be), in words.
  returned: always
  type: list
  elements: str
"""

import errno
import os
import resource

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiarch.k8s.plugins.module_utils import _components
from ansible_collections.multiarch.k8s.plugins.module_utils._paths import DEFAULT_BIN_DIR, DEFAULT_PREFIX
from ansible_collections.multiarch.k8s.plugins.module_utils._release import (
    Prefix, RegistryFetcher, ReleaseError, check_id, link_bins, prune, settled, stage, switch,
)

# smoke tests of binaries that do not answer --version (the component table)
DEFAULT_SMOKE = _components.SMOKE


def origin_of(bundle):
    """Where a release came from, kept in its record on the node (the fleet report reads it there)."""
    return dict((k, bundle.get(k)) for k in ("source", "manifest_digest", "platform", "platform_used")
                if isinstance(bundle.get(k), str))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bundle=dict(type="dict", required=True),
            prefix=dict(type="path", default=DEFAULT_PREFIX),
            bin_dir=dict(type="path", default=DEFAULT_BIN_DIR),
            switch=dict(type="bool", default=True),
            keep=dict(type="int", default=3),
            smoke_args=dict(type="dict", default={}),
            smoke_timeout=dict(type="int", default=120),
            uploads=dict(type="dict", default={}),
            inventory_only=dict(type="bool", default=False),
            distribution=dict(type="str", choices=["push", "pull"], default="push"),
            pull_source=dict(type="str"),
            pull_insecure=dict(type="bool", default=False),
            pull_username=dict(type="str"),
            pull_password=dict(type="str", no_log=True),
            pull_timeout=dict(type="int", default=60),
            pull_retries=dict(type="int", default=3),
        ),
        supports_check_mode=True,
    )
    p = module.params
    prefix = Prefix(p["prefix"], p["bin_dir"] or None)
    try:
        bundle_id = check_id(p["bundle"].get("bundle_id"))
        files = p["bundle"].get("files") or []
        if not files:
            raise ReleaseError("the bundle %s has no files" % bundle_id)
        releases, current, have = prefix.inventory()
        if p["keep"] < 1:
            raise ReleaseError("keep must be at least 1, not %d" % p["keep"])
        if p["inventory_only"]:
            for sha, path in prefix.staged_files(bundle_id, clean=False).items():
                have.setdefault(sha, path)
            module.exit_json(changed=False, have=sorted(have), current=current, releases=releases,
                             free_mb=prefix.free_mb(), staged=prefix.read_release(bundle_id) is not None,
                             not_writable=prefix.writable(),
                             settled=settled(prefix, bundle_id, files, p["keep"], p["switch"]),
                             peak_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        before = {"current": current, "releases": releases}
        smoke_args = dict(DEFAULT_SMOKE, **p["smoke_args"])
        fetch = None
        if p["distribution"] == "pull":
            source = p["pull_source"] or str(p["bundle"].get("source") or "")
            if not source.startswith("docker://") and not p["pull_source"]:
                raise ReleaseError("distribution=pull needs pull_source (HOST[:PORT]/REPOSITORY): the bundle came "
                                   "from %s, which nodes cannot fetch from" % (source or "an unknown source"))
            fetch = RegistryFetcher(source, p["bundle"].get("layers"), insecure=p["pull_insecure"],
                                    username=p["pull_username"], password=p["pull_password"],
                                    timeout=p["pull_timeout"], retries=p["pull_retries"])
        changed, actions, sent, reused = stage(prefix, bundle_id, files, p["uploads"], smoke_args,
                                               p["smoke_timeout"], check_mode=module.check_mode, fetch=fetch,
                                               origin=origin_of(p["bundle"]))
        if p["switch"] and current != bundle_id:
            changed = True
            actions.append("%s current: %s -> %s" % ("would switch" if module.check_mode else "switched",
                                                     current, bundle_id))
            if not module.check_mode:
                switch(prefix, bundle_id)
        if p["switch"] and not module.check_mode:
            links = link_bins(prefix, [f["name"] for f in files])
            if links:
                changed = True
                actions.append("linked %s" % ", ".join(links))
        if not module.check_mode:
            removed = prune(prefix, p["keep"])
            if removed:
                changed = True
                actions.append("pruned %s" % ", ".join(removed))
        releases, current, _have = prefix.inventory()
        if module.check_mode and p["switch"]:
            current = bundle_id
    except ReleaseError as e:
        module.fail_json(msg=str(e), current=prefix.current())
    except OSError as e:
        where = getattr(e, "filename", None) or p["prefix"]
        if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            module.fail_json(msg="cannot write %s (%s): current still points at %s" % (where, e.strerror, prefix.current()),
                             current=prefix.current())
        if e.errno == errno.ENOSPC:
            module.fail_json(msg="no space left on the device of %s while staging %s: the half-written release was removed, "
                                 "nothing was switched; current still points at %s" % (where, bundle_id, prefix.current()),
                             current=prefix.current())
        module.fail_json(msg="%s: %s" % (where, e.strerror or e), current=prefix.current())
    module.exit_json(changed=changed, release=bundle_id, current=current, previous=before["current"],
                     releases=releases, files_sent=sent, files_reused=reused,
                     bytes_pulled=fetch.bytes if fetch is not None else 0,
                     peak_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                     bytes_sent=sum(os.path.getsize(u) for u in p["uploads"].values() if os.path.exists(u)),
                     actions=actions, diff={"before": before, "after": {"current": current, "releases": releases}})


if __name__ == "__main__":
    main()
