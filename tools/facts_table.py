"""Print the fleet report table from a site.yml run's output (ansible's json callback)."""

from __future__ import annotations

import json
import sys


def main(path):
    with open(path) as f:
        doc = json.load(f)
    for play in doc.get("plays", []):
        for task in play.get("tasks", []):
            if task["task"]["name"] == "Show the fleet report":
                for res in task["hosts"].values():
                    print("\n".join(res.get("msg") or []))
                    return 0
    print("site.yml did not get as far as the fleet report", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
