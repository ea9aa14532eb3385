# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: one kubelet change rolled across the 4-node demo cluster, staged first (upgrade.yml) against cordon first.

    make bench-rollout          (after make demo; or: source tools/lib.sh; PYTHONPATH=$COLLECTIONS python bench/rollout.py)
    python bench/rollout.py --runs 3            (medians over three runs)

The change is real: kubelet built from the Kubernetes 1.20.2 tree (Debian's source package, the tree
make demo builds) for the four platforms by the collection's own build playbook (multiarch.k8s.build),
stamped with another version (``v1.20.2-bench.N``: a relink from the warm Go build cache), published as
a holder image holding only kubelet (multiarch-k8s-bench/kubelet:<version> in the registry on
127.0.0.1:5000). Each node keeps its other files from the release it runs (upgrade.yml's overlay), and
the Node must come back Ready reporting the new version.

Two methods, each a real rollout over mk8s-amd64 (the control plane, first), mk8s-arm64, mk8s-armhf and
mk8s-armel, one node at a time:

- staged: ``ansible-playbook multiarch.k8s.upgrade``. The new release is sent and smoke-tested on every node
  while it still serves; then per node drain, switch, restart, health gate, Ready, uncordon.
- cordon-first (the baseline, bench/cordon_first.yml): what most installers do. Per node: drain, then copy
  (the same node_release, same bundle, smoke test included) and switch, restart, health gate, Ready,
  uncordon. The same modules and arguments; only the order differs.

Each rollout installs a version no node runs or ran just before (``current`` and ``previous``), and
before it the bench removes from every node any other kept release of a bench version: every rollout
sends the whole kubelet to every node. Three versions are used in turn (two are not enough: from the
third rollout on, the target would be every node's ``previous`` release, whose kubelet node_release
hard-links instead of sending). Each rollout starts with an empty controller cache (holder_pull's and
node_release's gzip cache) and a new HOME. A run is one rollout of each method; their order alternates
from run to run.

Measured per node, from a small callback (bench/callback_plugins/host_times.py) that records when each
task started and ended for each host, cross-checked by polling ``kubectl get nodes`` (spec.unschedulable)
about every 0.5 s from another thread:

- cordoned: from the start of the drain task to the end of the uncordon task;
- total: for staged, its staging task plus its cordoned time; for cordon-first, its cordoned time (the
  copy is inside it). The goal of staging: cordoned under 25% of the node's total;
- bytes: node_release's ``bytes_sent`` (gzip-compressed, controller to node) plus ``bytes_pulled``.

And per rollout: the wall time of ansible-playbook (upgrade.yml also reads the cluster, checks version
skew, plans and ends with the fleet report) and the span from the first byte sent or node cordoned to
the last uncordon. Printed: medians over the runs and the ratios cordon-first / staged. At the end the
fleet goes back to the build make demo installed (multiarch-k8s/cluster:v1.20.2) with upgrade.yml, and
the bench checks that every node reports kubelet v1.20.2 again. Results also go to
tests/output/bench-rollout.json.

Nodes under QEMU user emulation run the kubelet (and its smoke test) many times slower than a real
board; on this machine they also share two cores with the controller and the amd64 node.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(REPO, "tests", "helpers"), os.path.join(REPO, "tests", "fleet")]

import cluster  # pylint: disable=wrong-import-position
from runner import stop_group
CACHE = os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s")
REGISTRY = os.environ.get("MULTIARCH_REGISTRY", "127.0.0.1:5000")
UPSTREAM = "docker://%s/multiarch-k8s/cluster:v1.20.2" % REGISTRY  # what make demo installs (tools/demo.sh)
UPSTREAM_VERSION = "v1.20.2"
BENCH_REPO = "multiarch-k8s-bench/kubelet"
VERSIONS = ("v1.20.2-bench.1", "v1.20.2-bench.2", "v1.20.2-bench.3")
CP = "mk8s-amd64"
NODES = ["mk8s-amd64", "mk8s-arm64", "mk8s-armhf", "mk8s-armel"]  # control plane first, as upgrade.yml goes
PREFIX = "/opt/multiarch-k8s"
KUBECTL = ["docker", "exec", CP, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"]
METHODS = ("staged", "cordon-first")
OUTPUT = os.path.join(REPO, "tests", "output")
POLL_S = 0.5
ROLLOUT_TIMEOUT = 3600

# Run on a node (python3 there, standard library): the kubelet versions of its current and previous
# releases; removes the kept releases (neither current nor previous) whose kubelet has one of the
# versions given, so that the next rollout finds nothing of them to hard-link.
NODE_SCRIPT = r"""
import json, os, shutil, sys
prefix, versions = sys.argv[1], set(sys.argv[2:])
releases = os.path.join(prefix, "releases")
def target(link):
    try:
        return os.path.basename(os.readlink(os.path.join(prefix, link)))
    except OSError:
        return None
def kubelet(name):
    try:
        with open(os.path.join(releases, name, ".release.json")) as f:
            return (json.load(f).get("files") or {}).get("kubelet", {}).get("version")
    except (OSError, ValueError, AttributeError):
        return None
out = {"current": target("current"), "previous": target("previous"), "removed": []}
out["current_kubelet"], out["previous_kubelet"] = kubelet(out["current"] or "-"), kubelet(out["previous"] or "-")
for name in sorted(os.listdir(releases)) if os.path.isdir(releases) else []:
    if name in (out["current"], out["previous"]) or name.startswith("."):
        continue
    if kubelet(name) in versions:
        doomed = os.path.join(releases, ".pruning-" + name)
        os.replace(os.path.join(releases, name), doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        out["removed"].append(name)
print(json.dumps(out))
"""


def log(msg):
    sys.stderr.write("[rollout %6.1fs] %s\n" % (time.monotonic() - _T0, msg))
    sys.stderr.flush()


_T0 = time.monotonic()


def run(cmd, timeout=300, check=True, stdin=None):
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise SystemExit("%s failed (rc %d): %s" % (" ".join(cmd[:4]), proc.returncode, (proc.stderr or proc.stdout).strip()[-800:]))
    return proc


def kubectl_nodes(timeout=30):
    """{node: {"unschedulable", "ready", "kubelet"}} from the control plane, or None when it did not answer."""
    try:
        proc = run(KUBECTL + ["get", "nodes", "-o", "json", "--request-timeout=10s"], timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    out = {}
    for item in json.loads(proc.stdout).get("items", []):
        conds = dict((c["type"], c["status"]) for c in item["status"].get("conditions", []))
        out[item["metadata"]["name"]] = {"unschedulable": bool(item["spec"].get("unschedulable")),
                                         "ready": conds.get("Ready") == "True",
                                         "kubelet": item["status"]["nodeInfo"]["kubeletVersion"]}
    return out


def on_nodes(script_args):
    """NODE_SCRIPT on every node at once; {node: its JSON answer}."""
    def one(node):
        proc = run(["docker", "exec", "-i", node, "python3", "-", PREFIX] + list(script_args), timeout=180, stdin=NODE_SCRIPT)
        return node, json.loads(proc.stdout)

    with concurrent.futures.ThreadPoolExecutor(len(NODES)) as pool:
        return dict(pool.map(one, NODES))


def write_inventory(path):
    """The fleet group (control plane first) and the control_plane group, written by the integration tests' own
    helper (over SSH as user pi, as a Pi is reached)."""
    import pathlib  # pylint: disable=import-outside-toplevel
    return str(cluster.inventory(pathlib.Path(path), NODES, control_plane=(CP,)))


def failures(doc):
    return ["%s / %s: %s" % (h, t["task"]["name"], r.get("msg") or r.get("stderr"))
            for p in doc.get("plays", []) for t in p["tasks"] for h, r in t["hosts"].items()
            if r.get("failed") or r.get("unreachable")]


def playbook(work, name, extra, inventory=None, times=None, timeout=ROLLOUT_TIMEOUT):
    """ansible-playbook NAME with the json stdout callback (and the timing callback when ``times`` names a
    file), a HOME of its own (empty controller caches); returns (doc, rc, seconds)."""
    run_dir = tempfile.mkdtemp(prefix="run-", dir=work)
    home = os.path.join(run_dir, "home")
    os.makedirs(home)
    env = dict(os.environ, HOME=home, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    if times:
        env.update(ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"), ANSIBLE_CALLBACKS_ENABLED="host_times",
                   MK8S_BENCH_HOST_TIMES=times)
    with open(os.path.join(run_dir, "vars.json"), "w") as f:
        json.dump(extra, f)
    cmd = ["ansible-playbook", name, "-e", "@" + os.path.join(run_dir, "vars.json")]
    cmd += ["-i", inventory] if inventory else []
    out_path = os.path.join(run_dir, "stdout.json")
    start = time.perf_counter()
    with open(out_path, "w+") as out, open(os.path.join(run_dir, "stderr.txt"), "w+") as err:
        # a session of its own: on an interruption the whole tree (workers, docker CLI) is ended together
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,  # pylint: disable=consider-using-with
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except BaseException:
            stop_group(proc)  # the group of the ansible-playbook started above, and only it
            raise
        secs = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        text, stderr = out.read(), err.read()
    try:
        doc = json.loads(text)
    except ValueError:
        raise SystemExit("%s printed no JSON (rc %d):\n%s\n%s" % (name, proc.returncode, text[-2000:], stderr[-2000:]))
    return doc, proc.returncode, secs


# --- the kubelet builds ---------------------------------------------------------------------------
def build(work, version):
    """kubelet for the four platforms stamped ``version``, published as a holder image; returns what it took."""
    ref = "docker://%s/%s:%s" % (REGISTRY, BENCH_REPO, version)
    doc, rc, secs = playbook(work, "multiarch.k8s.build", {
        "multiarch_k8s_build_dir": os.path.join(CACHE, "build"), "multiarch_k8s_build_components": ["kubelet"],
        "multiarch_k8s_build_version": version, "multiarch_k8s_build_dest": ref,
        "multiarch_k8s_lock_file": os.path.join(work, "lock-%s.yml" % version)})
    if rc != 0:
        raise SystemExit("building kubelet %s failed:\n  %s" % (version, "\n  ".join(failures(doc))))
    res = doc["plays"][0]["tasks"][0]["hosts"]["localhost"]
    bins = dict((b["platform"], b) for b in res["binaries"])
    log("kubelet %s for %d platforms in %.0f s (%s)" % (version, len(bins), secs, ", ".join(
        "%s %s" % (p, "cached" if b.get("cached") else "%.0f s" % (b.get("seconds") or 0)) for p, b in sorted(bins.items()))))
    return {"ref": ref, "version": res.get("version"), "wall_s": secs, "index_digest": res.get("index_digest"),
            "platforms": dict((p, {"cached": bool(b.get("cached")), "seconds": b.get("seconds"), "size": b.get("size")})
                              for p, b in bins.items())}


# --- the cordon watcher ---------------------------------------------------------------------------
class CordonWatch(threading.Thread):
    """Polls ``kubectl get nodes`` about every POLL_S seconds until stopped (or ROLLOUT_TIMEOUT passed):
    (time, {node: unschedulable}) samples."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.samples = []
        self.deadline = time.time() + ROLLOUT_TIMEOUT

    def run(self):
        while not self.stop.is_set() and time.time() < self.deadline:
            t0 = time.time()
            nodes = kubectl_nodes(timeout=15)
            if nodes is not None:
                self.samples.append(((t0 + time.time()) / 2.0, dict((n, s["unschedulable"]) for n, s in nodes.items())))
            self.stop.wait(max(0.0, POLL_S - (time.time() - t0)))

    def cordoned_s(self, node):
        """Seconds ``node`` was seen unschedulable: from the first sample that saw it so to the first that did not."""
        total, since = 0.0, None
        for t, seen in self.samples:
            if seen.get(node) and since is None:
                since = t
            elif not seen.get(node) and since is not None:
                total += t - since
                since = None
        if since is not None and self.samples:
            total += self.samples[-1][0] - since
        return total

    def resolution_s(self):
        gaps = [b[0] - a[0] for a, b in zip(self.samples, self.samples[1:])]
        return statistics.median(gaps) if gaps else None


# --- one rollout ----------------------------------------------------------------------------------
def read_times(path):
    """{(host, task uuid): {"start", "end", "action", "state", "switch", bytes...}} from the callback's lines."""
    tasks = {}
    if not os.path.exists(path):
        return tasks
    with open(path) as f:
        for line in f:
            ev = json.loads(line)
            rec = tasks.setdefault((ev["host"], ev["uuid"]), {"host": ev["host"], "task": ev["task"], "action": ev["action"],
                                                              "state": ev.get("state"), "switch": ev.get("switch")})
            if ev["event"] == "start":
                rec.setdefault("start", ev["t"])
            else:
                rec["end"] = ev["t"]
                rec["event"] = ev["event"]
                for k in ("bytes_sent", "bytes_pulled", "files_sent"):
                    if k in ev:
                        rec[k] = ev[k]
    return tasks


def per_node(tasks, watch):
    """Per node: cordoned window, staging, copy, total, bytes (see the docstring)."""
    out = {}
    for node in NODES:
        mine = [r for (h, _u), r in tasks.items() if h == node and "start" in r and "end" in r]
        drains = [r for r in mine if r["action"].endswith("cluster_node") and r["state"] == "drained"]
        uncordons = [r for r in mine if r["action"].endswith("cluster_node") and r["state"] == "uncordoned"]
        releases = [r for r in mine if r["action"].endswith("node_release")]
        if not drains or not uncordons:
            raise SystemExit("%s: the run has no drain or no uncordon task for it (timing callback lines: %d)" % (node, len(mine)))
        start, end = min(r["start"] for r in drains), max(r["end"] for r in uncordons)
        staged = [r for r in releases if r["end"] <= start]
        inside = [r for r in releases if r["start"] >= start]
        cordoned = end - start
        staging = sum(r["end"] - r["start"] for r in staged)
        out[node] = {
            "cordoned_s": cordoned, "cordoned_kubectl_s": watch.cordoned_s(node), "staging_s": staging,
            "copy_s": sum(r["end"] - r["start"] for r in staged + inside), "total_s": staging + cordoned,
            "bytes": sum((r.get("bytes_sent") or 0) + (r.get("bytes_pulled") or 0) for r in releases),
            "files_sent": sum(r.get("files_sent") or 0 for r in releases),
            "window": (start, end), "first": min([r["start"] for r in staged] + [start]),
            # where the cordoned time goes: each task of the window, by name (its host's part only)
            "steps": dict((r["task"], r["end"] - r["start"]) for r in mine if r["start"] >= start and r["end"] <= end),
        }
    return out


def choose_version(state):
    """The first bench version that no node runs (current) or ran before it (previous)."""
    seen = set(v for s in state.values() for v in (s["current_kubelet"], s["previous_kubelet"]))
    return [v for v in VERSIONS if v not in seen][0]


def preflight():
    repo, tag = UPSTREAM[len("docker://"):].split("/", 1)[1].rsplit(":", 1)
    req = urllib.request.Request("http://%s/v2/%s/manifests/%s" % (REGISTRY, repo, tag), method="HEAD", headers={
        "Accept": "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"})
    try:
        urllib.request.urlopen(req, timeout=10).close()  # pylint: disable=consider-using-with
    except (OSError, ValueError) as e:
        raise SystemExit("%s is not in the registry (%s): run make demo first; the bench ends by putting the fleet back on it"
                         % (UPSTREAM, e))
    nodes = kubectl_nodes()
    if nodes is None:
        raise SystemExit("the control plane on %s did not answer kubectl get nodes: run make demo first" % CP)
    missing = [n for n in NODES if n not in nodes]
    bad = ["%s (%s)" % (n, "not Ready" if not s["ready"] else "cordoned") for n, s in sorted(nodes.items())
           if not s["ready"] or s["unschedulable"]]
    if missing or bad:
        raise SystemExit("the demo cluster is not the 4-node fleet, all Ready and schedulable: missing %s; %s"
                         % (", ".join(missing) or "none", ", ".join(bad) or "none bad"))
    pods = json.loads(run(KUBECTL + ["get", "pods", "-A", "-o", "json"], timeout=60).stdout)["items"]
    bare = ["%s/%s" % (p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods
            if not p["metadata"].get("ownerReferences") and "kubernetes.io/config.mirror" not in p["metadata"].get("annotations", {})]
    if bare:
        raise SystemExit("pods that no controller manages would stop every drain (and so both methods): %s; delete them "
                         "and run the bench again" % ", ".join(sorted(bare)[:10]))
    return nodes


def rollout(ctx, method, version):
    ref = ctx["builds"][version]["ref"]
    state = on_nodes(VERSIONS)
    removed = dict((n, s["removed"]) for n, s in state.items() if s["removed"])
    if removed:
        log("removed kept bench releases so that the whole kubelet is sent again: %s" % removed)
    busy = [n for n, s in state.items() if version in (s["current_kubelet"], s["previous_kubelet"])]
    if busy:
        raise SystemExit("%s runs or ran kubelet %s just before; the bench picks versions that no node has" % (", ".join(busy), version))
    work = ctx["work"]
    times = os.path.join(work, "times-%d.jsonl" % len(ctx["rollouts"]))
    extra = {"multiarch_k8s_upgrade_src": ref, "multiarch_k8s_cache_dir": tempfile.mkdtemp(prefix="bins-", dir=work)}
    if method == "staged":
        name = "multiarch.k8s.upgrade"
        extra["multiarch_k8s_hosts"] = "fleet"
    else:
        name = os.path.join(HERE, "cordon_first.yml")
    watch = CordonWatch()
    watch.start()
    ctx["touched"] = True  # from here on the fleet may be off the demo's build: put it back at the end
    log("%s rollout of kubelet %s ..." % (method, version))
    try:
        doc, rc, secs = playbook(work, name, extra, inventory=ctx["inventory"], times=times)
    finally:
        watch.stop.set()
        watch.join()
    if rc != 0:
        raise SystemExit("the %s rollout of kubelet %s failed (rc %d):\n  %s" % (method, version, rc, "\n  ".join(failures(doc)[:10])))
    nodes = per_node(read_times(times), watch)
    order = sorted(NODES, key=lambda n: nodes[n]["window"][0])
    now = kubectl_nodes() or {}
    wrong = ["%s %s" % (n, (now.get(n) or {}).get("kubelet")) for n in NODES if (now.get(n) or {}).get("kubelet") != version]
    if wrong:
        raise SystemExit("after the %s rollout of %s the nodes report: %s" % (method, version, ", ".join(wrong)))
    plan = [r["msg"] for p in doc["plays"] for t in p["tasks"] if t["task"]["name"] == "Show the plan" for r in t["hosts"].values()]
    out = {"method": method, "version": version, "wall_s": secs, "order": order,
           "span_s": max(v["window"][1] for v in nodes.values()) - min(v["first"] for v in nodes.values()),
           "poll_resolution_s": watch.resolution_s(), "polls": len(watch.samples), "nodes": nodes,
           "planned_order": plan[0]["order"] if plan else None}
    if order != NODES:
        log("warning: the %s rollout went %s, not %s" % (method, order, NODES))
    log("%s rollout of kubelet %s: %.0f s wall, %.0f s span; cordoned %s; every node reports %s"
        % (method, version, secs, out["span_s"], ", ".join("%s %.0f s" % (n, nodes[n]["cordoned_s"]) for n in NODES), version))
    return out


def restore(ctx):
    """upgrade.yml back to what make demo installed; {node: kubelet version} afterwards."""
    log("putting the fleet back on %s ..." % UPSTREAM)
    extra = {"multiarch_k8s_upgrade_src": UPSTREAM, "multiarch_k8s_hosts": "fleet",
             "multiarch_k8s_cache_dir": tempfile.mkdtemp(prefix="bins-", dir=ctx["work"])}
    doc, rc, secs = playbook(ctx["work"], "multiarch.k8s.upgrade", extra, inventory=ctx["inventory"])
    now = kubectl_nodes() or {}
    versions = dict((n, (now.get(n) or {}).get("kubelet")) for n in NODES)
    ok = rc == 0 and all(v == UPSTREAM_VERSION for v in versions.values()) and \
        all((now.get(n) or {}).get("ready") and not now[n]["unschedulable"] for n in NODES)
    return {"ok": ok, "rc": rc, "wall_s": secs, "kubelet": versions, "failures": failures(doc)[:10]}


# --- report ---------------------------------------------------------------------------------------
def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def report(rollouts, builds, runs):
    by = collections.defaultdict(list)
    for r in rollouts:
        by[r["method"]].append(r)
    print()
    print("kubelet builds (multiarch.k8s.build, four platforms, warm Go build cache; per platform the seconds of the go build, "
          "'cached': taken from holder_build's cache, built in an earlier run in that many seconds):")
    for v, b in sorted(builds.items()):
        print("  %s %.0f s wall: %s" % (v, b["wall_s"], ", ".join(
            "%s %s%.0f s" % (p, "cached, " if x["cached"] else "", x["seconds"] or 0) for p, x in sorted(b["platforms"].items()))))
    print("rollout of one kubelet change over the 4-node fleet, %d run(s), medians; one node at a time, control plane first"
          % runs)
    fmt = "%-13s %-11s %8s %11s %10s %9s %9s %8s %9s"
    print(fmt % ("method", "node", "total_s", "cordoned_s", "kubectl_s", "cord/tot", "staging_s", "copy_s", "MiB_sent"))
    summary = {}
    for method in METHODS:
        for node in NODES:
            vals = dict((k, med([r["nodes"][node][k] for r in by[method]]))
                        for k in ("total_s", "cordoned_s", "cordoned_kubectl_s", "staging_s", "copy_s", "bytes"))
            vals["share"] = med([r["nodes"][node]["cordoned_s"] / r["nodes"][node]["total_s"] for r in by[method]])
            summary[(method, node)] = vals
            print(fmt % (method, node, "%.1f" % vals["total_s"], "%.1f" % vals["cordoned_s"], "%.1f" % vals["cordoned_kubectl_s"],
                         "%.0f%%" % (100 * vals["share"]), "%.1f" % vals["staging_s"], "%.1f" % vals["copy_s"],
                         "%.1f" % (vals["bytes"] / 1048576.0)))
    walls = dict((m, (med([r["wall_s"] for r in by[m]]), med([r["span_s"] for r in by[m]]))) for m in METHODS)
    for m in METHODS:
        print("%-13s ansible-playbook wall %.1f s, rollout span %.1f s (first byte sent or node cordoned to the last uncordon)"
              % (m, walls[m][0], walls[m][1]))
    print("total_s: staging + cordoned (cordon-first: cordoned, the copy inside); cordoned_s: drain start to uncordon end "
          "(callback); kubectl_s: seen unschedulable by kubectl get nodes every ~%.1f s; copy_s: the node_release task "
          "(staged: before the drain); MiB_sent: node_release bytes_sent + bytes_pulled (gzip)"
          % (med([r["poll_resolution_s"] for r in rollouts]) or POLL_S))
    print()
    print("ratios cordon-first / staged (above 1: staging is better):")
    ratios = {}
    for node in NODES:
        s, b = summary[("staged", node)], summary[("cordon-first", node)]
        ratios[node] = {"cordoned": b["cordoned_s"] / s["cordoned_s"], "total": b["total_s"] / s["total_s"]}
        print("  %-11s cordoned %.1f/%.1f s = %.2fx   node total %.1f/%.1f s = %.2fx   staged cordoned share %.0f%% (goal < 25%%: %s)"
              % (node, b["cordoned_s"], s["cordoned_s"], ratios[node]["cordoned"], b["total_s"], s["total_s"], ratios[node]["total"],
                 100 * s["share"], "met" if s["share"] < 0.25 else "not met"))
    print()
    print("where the cordoned time goes (medians, seconds; the tasks of the window for that node):")
    for method in METHODS:
        names = []
        for r in by[method]:
            for node in NODES:
                names += [n for n in r["nodes"][node].get("steps", {}) if n not in names]
        for name in names:
            print("  %-13s %-72s %s" % (method, name[:72], "  ".join(
                "%s %4.1f" % (node[5:], med([r["nodes"][node].get("steps", {}).get(name) for r in by[method]]) or 0) for node in NODES)))
    print()
    cord = dict((m, sum(summary[(m, n)]["cordoned_s"] for n in NODES)) for m in METHODS)
    ratios["fleet_cordoned"] = cord["cordon-first"] / cord["staged"]
    ratios["wall"] = walls["cordon-first"][0] / walls["staged"][0]
    ratios["span"] = walls["cordon-first"][1] / walls["staged"][1]
    print("  %-11s cordoned node-seconds %.1f/%.1f = %.2fx   wall %.1f/%.1f s = %.2fx   span %.1f/%.1f s = %.2fx"
          % ("fleet", cord["cordon-first"], cord["staged"], ratios["fleet_cordoned"], walls["cordon-first"][0], walls["staged"][0],
             ratios["wall"], walls["cordon-first"][1], walls["staged"][1], ratios["span"]))
    return summary, ratios


# --- main -----------------------------------------------------------------------------------------
def _interrupted(signum, _frame):
    raise SystemExit("interrupted by signal %d" % signum)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs (one rollout of each method per run); medians (default 1)")
    parser.add_argument("--no-restore", action="store_true", help="leave the fleet on the last bench kubelet")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupted)

    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="mk8s-bench-rollout-")
    ctx = {"work": work, "inventory": write_inventory(os.path.join(work, "hosts.json")), "builds": {}, "rollouts": []}
    restored = None
    try:
        preflight()
        for i in range(args.runs):
            methods = METHODS if i % 2 == 0 else METHODS[::-1]
            for method in methods:
                version = choose_version(on_nodes([]))
                if version not in ctx["builds"]:
                    ctx["builds"][version] = build(work, version)
                ctx["rollouts"].append(dict(rollout(ctx, method, version), run=i + 1))
    finally:
        if not args.no_restore and ctx.get("touched"):
            restored = restore(ctx)
            log("fleet back on %s: %s" % (UPSTREAM, "yes" if restored["ok"] else "NO: %s" % restored))
        shutil.rmtree(work, ignore_errors=True)

    summary, ratios = report(ctx["rollouts"], ctx["builds"], args.runs)
    if restored:
        print()
        print("fleet put back on %s with upgrade.yml in %.0f s: %s" % (
            UPSTREAM, restored["wall_s"], ", ".join("%s kubelet %s" % (n, v) for n, v in restored["kubelet"].items())
            + ("; every node Ready and schedulable" if restored["ok"] else "; NOT all back: %s" % restored["failures"])))
    print("total %.1f min" % ((time.monotonic() - started) / 60.0))
    os.makedirs(OUTPUT, exist_ok=True)
    path = os.path.join(OUTPUT, "bench-rollout.json")
    for r in ctx["rollouts"]:
        for v in r["nodes"].values():
            v.pop("window", None)
            v.pop("first", None)
    doc = {"command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]), "runs": args.runs, "builds": ctx["builds"],
           "rollouts": ctx["rollouts"], "ratios": ratios, "restored": restored, "cores": os.cpu_count(),
           "summary": dict(("%s %s" % k, v) for k, v in summary.items()), "minutes": (time.monotonic() - started) / 60.0}
    tmp = path + ".part"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
    print("results: %s" % os.path.relpath(path, REPO))
    if restored and not restored["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
