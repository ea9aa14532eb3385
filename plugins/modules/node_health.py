#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: node_health
short_description: Wait until a node's Kubernetes services are active and their health endpoints answer
version_added: 0.2.0
description:
  - The health gate of an upgrade or a rollback, on the node itself. It waits until every check passes (its systemd
    unit is active and its health URL on the node answers HTTP 200) and keeps passing for O(settle) seconds, within
    O(timeout) seconds in all. By default, the
    kubelet (C(http://127.0.0.1:10248/healthz)) and kube-proxy (C(http://127.0.0.1:10256/healthz)).
  - When a check does not pass in time, the module fails with the check, the last answer or error, the unit's
    state and the last O(journal_lines) lines of its journal, the output that explains the failure.
  - HTTPS URLs (the API server's C(/readyz) on the node) are asked without certificate verification, as the
    check only reads a status from the node's own loopback address.
  - Read-only. The node side uses the Python standard library only.
author:
  - multiarch.k8s developers (@multiarch-k8s)
options:
  checks:
    description:
      - What to check, in order. Each has C(name), C(url) (or none, for the unit's state only) and C(unit).
    type: list
    elements: dict
    default:
      - {name: kubelet, url: "http://127.0.0.1:10248/healthz", unit: kubelet}
      - {name: kube-proxy, url: "http://127.0.0.1:10256/healthz", unit: kube-proxy}
  timeout:
    description:
      - Seconds all checks together may take (emulated or small CPUs start services slowly).
    type: int
    default: 120
  interval:
    description:
      - Seconds between two tries of a check.
    type: int
    default: 2
  settle:
    description:
      - Seconds all checks must keep passing before they count (a service that crashes right after it starts fails).
    type: int
    default: 5
  journal_lines:
    description:
      - Lines of a failing unit's journal to return.
    type: int
    default: 25
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  idempotent:
    support: full
    description: Never changes anything.
seealso:
  - module: multiarch.k8s.node_switch
  - module: multiarch.k8s.cluster_node
"""

EXAMPLES = r"""
- name: The kubelet and kube-proxy answer after the restart
  multiarch.k8s.node_health:
    timeout: 180

- name: The API server is ready on a control-plane host
  multiarch.k8s.node_health:
    checks:
      - {name: kube-apiserver, url: "https://127.0.0.1:6443/readyz", unit: kube-apiserver}
"""

RETURN = r"""
checks:
  description: Per check, C(name), C(ok), C(status) (HTTP), C(unit_state) and C(answer) (the last body or error).
  returned: always
  type: list
  elements: dict
seconds:
  description: Seconds until every check passed for O(settle) seconds (or until the timeout).
  returned: always
  type: float
failed_check:
  description: The name of the check that did not pass.
  returned: failure
  type: str
journal:
  description: The last lines of the failing unit's journal.
  returned: failure
  type: list
  elements: str
"""

import subprocess
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url


def unit_state(unit):
    if not unit:
        return "n/a"
    try:
        out = subprocess.run(["systemctl", "is-active", unit], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=30, check=False)
        return out.stdout.decode("utf-8", "replace").strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired) as e:
        return "unknown (%s)" % e


def probe(url, timeout):
    """(HTTP status or None, body or error text)."""
    try:
        resp = open_url(url, timeout=timeout, validate_certs=False, follow_redirects="none")
        return resp.getcode(), resp.read(512).decode("utf-8", "replace").strip()
    except HTTPError as e:
        return e.code, e.read(512).decode("utf-8", "replace").strip()
    except (URLError, OSError, ValueError) as e:
        return None, str(getattr(e, "reason", e))


def journal(unit, lines):
    if not unit or lines <= 0:
        return []
    try:
        out = subprocess.run(["journalctl", "-u", unit, "-n", str(lines), "--no-pager", "-o", "cat"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30, check=False)
        return out.stdout.decode("utf-8", "replace").splitlines()[-lines:]
    except (OSError, subprocess.TimeoutExpired) as e:
        return ["journalctl: %s" % e]


def check_once(check):
    """One try of a check: its result dict with ``ok``."""
    res = {"name": check["name"], "ok": False, "status": None, "answer": None}
    res["unit_state"] = unit_state(check.get("unit"))
    if res["unit_state"] not in ("active", "n/a"):
        res["answer"] = "unit %s is %s" % (check.get("unit"), res["unit_state"])
        return res
    if check.get("url"):
        res["status"], res["answer"] = probe(check["url"], timeout=10)
        res["ok"] = res["status"] == 200
    else:
        res["ok"] = True
    return res


def run_checks(checks, deadline, interval, settle, clock=time.monotonic, sleep=time.sleep):
    """Try all checks until they all pass and keep passing for ``settle`` seconds, or the deadline passes.
    Returns the last results (each with ``ok``), the seconds it took and whether they passed and settled."""
    start = clock()
    passing_since = None
    while True:
        results = [check_once(c) for c in checks]
        now = clock()
        if all(r["ok"] for r in results):
            passing_since = now if passing_since is None else passing_since
            if now - passing_since >= settle:
                return results, round(now - start, 1), True
        else:
            passing_since = None
        if now >= deadline:
            return results, round(now - start, 1), False
        sleep(max(0.2, min(interval, deadline - now)))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            checks=dict(type="list", elements="dict", default=[
                {"name": "kubelet", "url": "http://127.0.0.1:10248/healthz", "unit": "kubelet"},
                {"name": "kube-proxy", "url": "http://127.0.0.1:10256/healthz", "unit": "kube-proxy"},
            ]),
            timeout=dict(type="int", default=120),
            interval=dict(type="int", default=2),
            settle=dict(type="int", default=5),
            journal_lines=dict(type="int", default=25),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for c in p["checks"]:
        if not c.get("name") or not (c.get("url") or c.get("unit")):
            module.fail_json(msg="each check needs a name and a url or a unit, not %r" % (c,))
        if c.get("url") and not str(c["url"]).startswith(("http://", "https://")):
            module.fail_json(msg="check %s: url must be http:// or https://, not %r" % (c["name"], c["url"]))
    if p["timeout"] < 1 or p["interval"] < 1 or p["settle"] < 0:
        module.fail_json(msg="timeout and interval must be at least 1 second and settle not negative")
    results, seconds, passed = run_checks(p["checks"], time.monotonic() + p["timeout"], p["interval"], p["settle"])
    for res, c in zip(results, p["checks"]):
        if not res["ok"]:
            module.fail_json(msg="%s is not healthy after %ss: %s (unit %s)"
                             % (c["name"], seconds, res["answer"] or "no answer", res["unit_state"]),
                             checks=results, failed_check=c["name"], journal=journal(c.get("unit"), p["journal_lines"]))
    if not passed:
        module.fail_json(msg="the checks passed but did not keep passing for %ss within %ss (a service that keeps restarting?)"
                         % (p["settle"], p["timeout"]), checks=results, failed_check=p["checks"][-1]["name"],
                         journal=journal(p["checks"][-1].get("unit"), p["journal_lines"]))
    module.exit_json(changed=False, checks=results, seconds=seconds)


if __name__ == "__main__":
    main()
