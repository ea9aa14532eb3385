# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: putting the binaries on the 4-node emulated fleet, node_release against the usual way.

    make bench-release          (or: python bench/release.py --runs 3, after make setup and make fleet)

Three phases, each on all four nodes at once (forks 8): a fresh install, a no-op rerun, and a
one-binary upgrade. Two methods:

- node_release: this collection's staged release (two module calls per host, missing files only,
  gzip in transit, smoke test on the node, atomic switch);
- baseline: what common roles do, an ``ansible.builtin.copy`` task looping over the binaries (no
  staging, no smoke test, no switch).

The bundles are the test holder image's (Debian's kubectl, etcd and CNI plugins) pulled with
holder_pull for each node's platform. The "upgrade" changes one binary, kubectl, by appending 4 KiB
of random bytes to it (it still runs): a synthetic change, so that no second real version is needed.

Printed: median wall time per phase and the ratio baseline/node_release; module calls per host
(counted from ansible's -vvv EXEC lines that start python, pipelined or not); bytes sent per node (everything put on the node: module
payloads and files: the files from ansible's -vvv PUT lines, the module payloads from a separate pass
with pipelining off and ANSIBLE_KEEP_REMOTE_FILES=1, where they stay in the node's ~/.ansible/tmp);
the peak RSS node_release reports on each node
(on the ARM nodes under QEMU user emulation, which counts the emulator too).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(REPO, "tests", "helpers"), os.path.join(REPO, "tests", "fleet")]

import holders
from ansible_collections.multiarch.k8s.plugins.action.node_release import compressed
from ansible_collections.multiarch.k8s.plugins.plugin_utils._build import sha256_file
from ansible_collections.multiarch.k8s.plugins.plugin_utils._pull import Puller

NODES = {"mk8s-amd64": "linux/amd64", "mk8s-arm64": "linux/arm64", "mk8s-armhf": "linux/arm/v7",
         "mk8s-armel": "linux/arm/v6"}
OURS_PREFIX = "/opt/mk8s-bench-release"
BASE_DIR = "/opt/mk8s-bench-copy"
PLAYBOOK = """
- name: node_release
  hosts: fleet
  gather_facts: false
  tasks:
    - name: Install the bundle as a staged release
      multiarch.k8s.node_release:
        bundle: "{{ bench_bundles[inventory_hostname] }}"
        prefix: %(ours)s
        bin_dir: ""
      register: bench_out

    - name: Report the module's peak RSS
      ansible.builtin.debug:
        msg: "BENCH {{ inventory_hostname }} rss_kb={{ bench_out.peak_rss_kb }} bytes={{ bench_out.bytes_sent }}"

- name: baseline
  hosts: fleet
  gather_facts: false
  tasks:
    - name: Binary directory
      ansible.builtin.file:
        path: %(base)s
        state: directory
        mode: "0755"

    - name: Copy each binary (the way common roles do)
      ansible.builtin.copy:
        src: "{{ item.path }}"
        dest: "%(base)s/{{ item.name }}"
        mode: "0755"
      loop: "{{ bench_bundles[inventory_hostname].files }}"
      loop_control:
        label: "{{ item.name }}"
""" % {"ours": OURS_PREFIX, "base": BASE_DIR}


def docker_exec(node, script):
    return subprocess.run(["docker", "exec", node, "sh", "-c", script], capture_output=True, text=True,
                          check=False, timeout=120).stdout


def play(work, bundles, measure=False):
    """Run bench.yml on the fleet; return (seconds, {host: module calls}, {host: rss kb}, {host: bytes put})."""
    vars_file = os.path.join(work, "vars.json")
    with open(vars_file, "w") as f:
        json.dump({"bench_bundles": bundles}, f)
    env = dict(os.environ)
    if measure:
        env.update(ANSIBLE_PIPELINING="0", ANSIBLE_KEEP_REMOTE_FILES="1")
        for node in NODES:
            docker_exec(node, "rm -rf /root/.ansible/tmp")
    start = time.perf_counter()
    proc = subprocess.run(["ansible-playbook", "-vvv", os.path.join(work, "bench.yml"), "-e", "@" + vars_file],
                          env=env, capture_output=True, text=True, timeout=3600, check=False)
    secs = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit("bench.yml failed:\n%s" % proc.stdout[-4000:])
    calls = collections.Counter()
    put = collections.Counter()
    for line in proc.stdout.splitlines():
        m = re.match(r"^<(mk8s-[a-z0-9]+)> (EXEC|PUT) (.*)$", line)
        if not m:
            continue
        if m.group(2) == "EXEC" and ("AnsiballZ_" in m.group(3) or "python3 && sleep 0" in m.group(3)):
            calls[m.group(1)] += 1
        elif m.group(2) == "PUT" and "AnsiballZ_" not in m.group(3):
            local = m.group(3).rsplit(" TO ", 1)[0]
            put[m.group(1)] += os.path.getsize(local) if os.path.exists(local) else 0
    rss = dict((m.group(1), int(m.group(2))) for m in re.finditer(r"BENCH (mk8s-\S+) rss_kb=(\d+)", proc.stdout))
    if measure:  # module payloads: with pipelining off and remote files kept, they stay on the node
        for node in NODES:
            out = docker_exec(node, "find /root/.ansible/tmp -type f -name 'AnsiballZ_*' -exec cat {} + | wc -c")
            put[node] += int(out.strip() or 0)
            docker_exec(node, "rm -rf /root/.ansible/tmp")
    return secs, calls, rss, put


def split_playbook(work):
    """One playbook file per method (the template holds both plays)."""
    ours, base = PLAYBOOK.split("\n- name: baseline\n")
    with open(os.path.join(work, "node_release.yml"), "w") as f:
        f.write("---" + ours)
    with open(os.path.join(work, "baseline.yml"), "w") as f:
        f.write("---\n- name: baseline\n" + base)


def run_method(work, method, bundles, measure=False):
    shutil.copy(os.path.join(work, "%s.yml" % method), os.path.join(work, "bench.yml"))
    return play(work, bundles, measure)


def upgraded(bundles, work):
    """The same bundles with kubectl changed (4 KiB of random bytes appended; it still runs)."""
    out = {}
    for node, b in bundles.items():
        files = []
        for f in b["files"]:
            f = dict(f)
            if f["name"] == "kubectl":
                path = os.path.join(work, "kubectl-%s" % node)
                with open(f["path"], "rb") as src, open(path, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                    dst.write(os.urandom(4096))
                os.chmod(path, 0o755)
                f.update(path=path, size=os.path.getsize(path), sha256=sha256_file(path))
            files.append(f)
        out[node] = dict(b, files=files, bundle_id=b["bundle_id"] + "-bench2")
    return out


def clean():
    for node in NODES:
        docker_exec(node, "rm -rf %s %s /root/.ansible/tmp" % (OURS_PREFIX, BASE_DIR))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    ref = holders.bench_holder(set(NODES.values()))
    work = tempfile.mkdtemp(prefix="mk8s-bench-release-")
    try:
        pulled = Puller(ref, sorted(set(NODES.values())), os.path.join(work, "cache")).run()["bundles"]
        v1 = dict((node, pulled[plat]) for node, plat in NODES.items())
        v2 = upgraded(v1, work)
        split_playbook(work)
        phases = [("fresh install", v1, True), ("no-op rerun", v1, False), ("one-binary upgrade", v2, False)]
        times = collections.defaultdict(list)
        calls, sent, rss = {}, {}, {}
        for i in range(args.runs + 1):
            measure = i == args.runs  # the last pass measures bytes (pipelining off, remote files kept)
            for method in ("node_release", "baseline"):
                for phase, bundles, fresh in phases:
                    if fresh:
                        clean()
                    secs, c, r, s = run_method(work, method, bundles, measure)
                    if measure:
                        sent[(method, phase)] = s
                    else:
                        times[(method, phase)].append(secs)
                        calls[(method, phase)] = c
                        if r:
                            rss[phase] = r
        clean()
        kubectl_gz = dict((node, os.path.getsize(compressed(
            [f for f in v2[node]["files"] if f["name"] == "kubectl"][0]["path"],
            [f for f in v2[node]["files"] if f["name"] == "kubectl"][0]["sha256"], os.path.join(work, "gz"))))
            for node in NODES)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    total_mb = sum(f["size"] for f in v1["mk8s-armel"]["files"]) / 1048576.0
    print("binaries on the 4-node fleet: %d files per node (%.1f MB on arm/v6), %d runs, median seconds"
          % (len(v1["mk8s-armel"]["files"]), total_mb, args.runs))
    print("%-20s %14s %10s %8s %22s %22s" % ("phase", "node_release_s", "baseline_s", "ratio", "calls/host ours|base",
                                             "KiB/node ours|base"))
    for phase, _b, _f in phases:
        ours = statistics.median(times[("node_release", phase)])
        base = statistics.median(times[("baseline", phase)])
        c_ours = max(list(calls[("node_release", phase)].values()) or [0])
        c_base = max(list(calls[("baseline", phase)].values()) or [0])
        s_ours = max(list(sent[("node_release", phase)].values()) or [0]) / 1024.0
        s_base = max(list(sent[("baseline", phase)].values()) or [0]) / 1024.0
        row = (phase, ours, base, base / ours, "%d | %d" % (c_ours, c_base), "%.0f | %.0f" % (s_ours, s_base))
        print("%-20s %14.1f %10.1f %8.2f %22s %22s" % row)
    print("ratio = baseline time / node_release time (above 1: node_release is faster)")
    for phase, values in rss.items():
        print("node_release peak RSS, %s: %s" % (phase, ", ".join("%s %.1f MB" % (n, kb / 1024.0)
                                                                  for n, kb in sorted(values.items()))))
    print("one-binary upgrade: kubectl gzip-compressed is %s KiB per node (the bytes above include ansible's "
          "module payloads)" % ", ".join("%.0f" % (v / 1024.0) for _n, v in sorted(kubectl_gz.items())))


if __name__ == "__main__":
    main()
