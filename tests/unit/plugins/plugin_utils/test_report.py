# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report's records, table and file."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.multiarch.k8s.plugins.module_utils._k8s_nodes import summaries
from ansible_collections.multiarch.k8s.plugins.plugin_utils._report import (
    ReportError, bundle_of, host_record, table, write_json)

FACTS = {"platform": "linux/arm/v6", "platform_reason": "cpuinfo ARM1176 (part 0xb76) -> linux/arm/v6",
         "board_model": "Raspberry Pi Zero W Rev 1.1", "cpu_model": "ARMv6-compatible processor rev 7 (v6l)",
         "memory_total_mb": 427, "preflight": [{"id": "small_node", "severity": "info", "msg": "m", "fix": "f"}]}
RELEASE = {"current": "v1.20.2-linux-arm-v6-0123456789ab", "previous": None, "changed": True}
BUNDLE = {"source": "docker://r/k8s:v1.20.2", "manifest_digest": "sha256:0123456789ab",
          "files": [{"name": "kubelet", "version": "v1.20.2"}, {"name": "pause", "version": None}]}
HEALTH = {"stdout_lines": ["active", "active", "activating"], "rc": 3}


def nodes(ready="True"):
    """What cluster_nodes returns for one Node (summarised by module_utils._k8s_nodes from kubectl's JSON)."""
    item = {"metadata": {"name": "pi-zero", "labels": {"multiarch.k8s/platform": "linux-arm-v6"},
                         "annotations": {"multiarch.k8s/pod-cidrs": "10.244.0.0/24"}},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": ready}],
                       "nodeInfo": {"kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2"}}}
    return summaries({"items": [item]})


def test_record_joins_facts_release_image_services_and_node():
    r = host_record("pi-zero", FACTS, RELEASE, BUNDLE, HEALTH, nodes())
    assert r["platform"] == "linux/arm/v6" and r["decided"].startswith("cpuinfo ARM1176")
    assert r["release"] == "v1.20.2-linux-arm-v6-0123456789ab"
    assert r["versions"] == {"kubelet": "v1.20.2"}
    assert r["image"] == {"source": "docker://r/k8s:v1.20.2", "manifest": "sha256:0123456789ab"}
    assert r["services"] == {"containerd": "active", "kubelet": "active", "kube-proxy": "activating"}
    assert r["node"] == {"ready": True, "kubelet": "v1.20.2", "kube_proxy": "v1.20.2", "label": "linux-arm-v6",
                         "pod_cidrs": "10.244.0.0/24"}
    assert r["preflight"] == [{"id": "small_node", "severity": "info", "msg": "m", "fix": "f"}]
    assert r["error"] is None


def test_record_of_a_host_without_cluster_or_release():
    r = host_record("pi-zero", FACTS, None, None, None, None)
    assert r["node"] is None and r["services"] == {} and r["release"] is None and r["image"] is None
    failed = host_record("pi-zero", FACTS, {"failed": True, "msg": "SIGILL in the smoke test"}, BUNDLE, None, None)
    assert failed["error"] == "SIGILL in the smoke test" and failed["release"] is None


def test_node_not_ready_and_unknown_node():
    assert host_record("pi-zero", FACTS, RELEASE, BUNDLE, HEALTH, nodes("False"))["node"]["ready"] is False
    assert host_record("other", FACTS, RELEASE, BUNDLE, HEALTH, nodes())["node"] is None
    # a quote in a host name cannot break the query
    assert host_record("it's", FACTS, RELEASE, BUNDLE, HEALTH, nodes())["node"] is None


def test_table_has_a_row_per_host():
    lines = table([host_record("pi-zero", FACTS, RELEASE, BUNDLE, HEALTH, nodes()),
                   host_record("x86", {}, None, None, None, None)])
    assert lines[0].split()[:2] == ["host", "platform"]
    assert "pi-zero" in lines[1] and "2/3 active" in lines[1] and "Ready" in lines[1] and "info:small_node" in lines[1]
    assert lines[2].startswith("x86") and "?" in lines[2]


def test_json_is_written_whole(tmp_path):
    path = write_json(str(tmp_path / "sub" / "report.json"), [{"host": "a"}])
    with open(path) as f:
        assert json.load(f) == {"hosts": [{"host": "a"}]}
    assert os.listdir(tmp_path / "sub") == ["report.json"]


def test_unwritable_destination_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match="cannot write the fleet report to .*file/report.json"):
        write_json(str(blocker / "report.json"), [])


def test_image_shown_only_for_the_release_it_made():
    bundle = {"bundle_id": "v1.20.3-linux-arm64-aaaaaaaaaaaa", "manifest_digest": "sha256:" + "a" * 64}
    assert bundle_of({"current": "v1.20.3-linux-arm64-aaaaaaaaaaaa"}, bundle) is bundle
    assert bundle_of({"current": "v1.20.3-linux-arm64-aaaaaaaaaaaa.on.0123456789ab"}, bundle) is bundle
    assert bundle_of({"current": "v1.20.2-linux-arm64-bbbbbbbbbbbb"}, bundle) is None  # rolled back
    assert bundle_of({"failed": True, "msg": "x"}, bundle) is bundle
