# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end of tools/run-tests.sh: a table of stage -> seconds, then the tests counted over every pytest stage
(their JUnit files), as one closing line ``tests: N passed, N failed, N skipped``.

A row is ``name<TAB>seconds<TAB>ok|FAILED``, with a fourth field ``beside`` for a stage that ran beside another
one (the fleet images beside the builds): shown with its own time, left out of the total (the wall clock)."""

from __future__ import annotations

import glob
import os
import sys
import xml.etree.ElementTree as ET


def counts(junit_dir):
    total = {"passed": 0, "failed": 0, "skipped": 0}
    for path in sorted(glob.glob(os.path.join(junit_dir, "*.xml"))):
        for suite in ET.parse(path).getroot().iter("testsuite"):
            tests, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
            failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            total["failed"] += failed
            total["skipped"] += skipped
            total["passed"] += tests - failed - skipped
    return total


def main(times, junit_dir):
    rows = [(line.rstrip("\n").split("\t") + [""])[:4] for line in open(times, encoding="utf-8") if line.strip()]
    width = max([len(r[0]) for r in rows] + [5])
    line = "{0:<%d}  {1:>7}  {2}" % width
    print("\n" + line.format("stage", "seconds", "result"))
    for name, seconds, status, beside in rows:
        print(line.format(name, seconds, status + (" (not in the total)" if beside else "")))
    whole = sum(int(r[1]) for r in rows if not r[3])
    print(line.format("total", whole, "(%.1f min)" % (whole / 60.0)))
    stages_failed = [r[0] for r in rows if r[2] != "ok"]
    which = (" (" + "; ".join(stages_failed) + ")") if stages_failed else ""
    print("stages: %d passed, %d failed%s" % (len(rows) - len(stages_failed), len(stages_failed), which))
    c = counts(junit_dir)
    print("tests: %d passed, %d failed, %d skipped" % (c["passed"], c["failed"], c["skipped"]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
