# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print a fleet report (the JSON multiarch.k8s.fleet_report writes) as the table site.yml shows, with one
line per platform: where its binaries came from."""

from __future__ import annotations

import json
import sys

from ansible_collections.multiarch.k8s.plugins.plugin_utils._report import table


def main(path):
    try:
        with open(path) as f:
            records = json.load(f)["hosts"]
    except (OSError, ValueError, KeyError) as e:
        print("no fleet report at %s (%s): site.yml did not get that far" % (path, e), file=sys.stderr)
        return 1
    seen = {}
    for r in records:
        image = r.get("image") or {}
        if r.get("platform") and image.get("manifest"):
            seen.setdefault(r["platform"], "%s  %s" % (image.get("source"), image["manifest"]))
    for platform, line in sorted(seen.items()):
        print("  %-13s pulled once from %s" % (platform, line))
    print("\n".join(table(records)))
    return 0 if all((r.get("node") or {}).get("ready") for r in records) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
