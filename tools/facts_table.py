"""Print a site.yml or node_facts run (ansible's json callback output) as a table, one row per host."""

from __future__ import annotations

import json
import sys


def per_host(doc):
    hosts = {}
    for play in doc.get("plays", []):
        for task in play.get("tasks", []):
            for host, res in task.get("hosts", {}).items():
                h = hosts.setdefault(host, {"failed": None})
                facts = res.get("ansible_facts", {}).get("multiarch_k8s")
                if facts:
                    h["facts"] = facts
                if res.get("action") == "multiarch.k8s.node_release" and not res.get("failed"):
                    h["release"] = res
                if (res.get("failed") or res.get("unreachable")) and not h["failed"]:
                    h["failed"] = "%s: %s" % (task["task"]["name"], res.get("msg", "failed"))
    return hosts


def rows(doc):
    for host, h in sorted(per_host(doc).items()):
        if host == "localhost":
            continue
        f = h.get("facts") or {}
        rel = h.get("release") or {}
        release = rel.get("current") or "-"
        sent = "%d sent, %d reused" % (rel.get("files_sent", 0), rel.get("files_reused", 0)) if rel else "-"
        findings = ", ".join("%s:%s" % (x["severity"], x["id"]) for x in f.get("preflight", [])) or "-"
        yield (host, f.get("platform", "FAILED"), f.get("platform_reason", h["failed"] or "-"),
               "%s MB" % f.get("memory_total_mb", "?"), release, sent, h["failed"] or findings)


def main(path):
    with open(path) as f:
        doc = json.load(f)
    table = list(rows(doc))
    header = ("host", "platform", "how it was decided", "memory", "release (current)", "files", "preflight / error")
    widths = [max(len(str(r[i])) for r in table + [header]) for i in range(len(header))]
    for r in [header] + table:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    return 1 if any(r[1] == "FAILED" for r in table) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
