"""Print node_facts results (ansible's json callback output) as a table, one row per host."""

from __future__ import annotations

import json
import sys


def rows(doc):
    for play in doc.get("plays", []):
        for task in play.get("tasks", []):
            for host, res in sorted(task.get("hosts", {}).items()):
                facts = res.get("ansible_facts", {}).get("multiarch_k8s")
                if res.get("failed") or res.get("unreachable") or not facts:
                    yield host, "FAILED", res.get("msg", "no facts"), "", "", ""
                    continue
                findings = ", ".join("%s:%s" % (f["severity"], f["id"]) for f in facts["preflight"])
                yield (host, facts["platform"], facts["platform_reason"],
                       "%s MB" % facts["memory_total_mb"], facts.get("board_model") or "-", findings or "-")


def main(path):
    with open(path) as f:
        doc = json.load(f)
    table = list(rows(doc))
    header = ("host", "platform", "how it was decided", "memory", "board", "preflight")
    widths = [max(len(str(r[i])) for r in table + [header]) for i in range(len(header))]
    for r in [header] + table:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    return 1 if any(r[1] == "FAILED" for r in table) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
