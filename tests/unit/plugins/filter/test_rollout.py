# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout plan: version skew policy, batches per platform, target bundles, the whole plan."""

from __future__ import annotations

import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.multiarch.k8s.plugins.filter.rollout import FilterModule, node_versions
from ansible_collections.multiarch.k8s.plugins.plugin_utils import _rollout as R

F = FilterModule().filters()


def test_registered():
    assert sorted(F) == ["bundle_overlay", "node_versions", "rollout_batches", "rollout_plan", "version_skew"]


@pytest.mark.parametrize("text, expected", [
    ("v1.20.2", (1, 20, 2)), ("Kubernetes v1.21.0 (stand-in kubelet)", (1, 21, 0)), ("1.20", (1, 20, 0)),
    ("", None), (None, None), ("no version", None),
])
def test_parse_version(text, expected):
    assert R.parse_version(text) == expected


# --- version skew -------------------------------------------------------------------------------------

NODES = {"cp": {"kubelet": "v1.20.2", "kube-proxy": "v1.20.2"}, "pi": {"kubelet": "v1.20.2", "kube-proxy": "v1.20.2"}}


def test_patch_rebuild_is_fine():
    target = {"pi": {"kubelet": "v1.20.2", "kube-proxy": "v1.20.2"}}
    assert F["version_skew"](target, current=NODES, apiserver="v1.20.2", control_plane=["cp"]) == []


def test_kubelet_newer_than_apiserver_refused_with_hosts_and_versions():
    problems = F["version_skew"]({"pi": {"kubelet": "v1.21.0"}}, current=NODES, apiserver="v1.20.2", control_plane=["cp"])
    assert problems == ["pi: kubelet v1.21.0 would be newer than kube-apiserver v1.20"]


def test_control_plane_first_makes_newer_kubelets_fine():
    target = {"cp": {"kube-apiserver": "v1.21.0", "kubelet": "v1.21.0"}, "pi": {"kubelet": "v1.21.0"}}
    assert F["version_skew"](target, current=NODES, apiserver="v1.20.2", control_plane=["cp"]) == []


def test_skipped_minor_on_control_plane_refused():
    problems = F["version_skew"]({"cp": {"kube-apiserver": "v1.22.0"}}, current=NODES, apiserver="v1.20.2", control_plane=["cp"])
    assert "cp: kube-apiserver v1.20 -> v1.22 skips a minor version; upgrade one minor at a time" in problems


def test_untouched_kubelet_too_old_for_new_apiserver():
    current = dict(NODES, old={"kubelet": "v1.19.4"})
    target = {"cp": {"kube-apiserver": "v1.21.1"}}
    problems = F["version_skew"](target, current=current, apiserver="v1.20.2", control_plane=["cp"], max_node_skew=1)
    assert problems == ["old: kubelet v1.19.4 would be 2 minor versions older than kube-apiserver v1.21 (at most 1)"]
    assert F["version_skew"](target, current=current, apiserver="v1.20.2", control_plane=["cp"]) == []


@pytest.mark.parametrize("kubelet,apiserver,problem", [
    # kubelets of 1.25 and later may be three minors older than kube-apiserver, older ones two
    ("v1.34.1", "v1.37.2", None),
    ("v1.33.9", "v1.37.2", "k: kubelet v1.33.9 would be 4 minor versions older than kube-apiserver v1.37 (at most 3)"),
    ("v1.22.0", "v1.24.1", None),
    ("v1.21.0", "v1.24.1", "k: kubelet v1.21.0 would be 3 minor versions older than kube-apiserver v1.24 (at most 2)"),
    ("v1.38.0", "v1.37.2", "k: kubelet v1.38.0 would be newer than kube-apiserver v1.37"),
])
def test_the_node_skew_limit_follows_the_policy_of_the_kubelets_line(kubelet, apiserver, problem):
    problems = F["version_skew"]({"k": {"kubelet": kubelet}}, apiserver=apiserver)
    assert problems == ([problem] if problem else [])


def test_control_plane_hosts_disagree():
    target = {"cp": {"kube-apiserver": "v1.21.0"}, "cp2": {"kube-apiserver": "v1.20.9"}}
    problems = F["version_skew"](target, apiserver="v1.20.2", control_plane=["cp", "cp2"])
    assert problems[0] == "the control-plane hosts would run different kube-apiserver minors: cp v1.21, cp2 v1.20"


def test_kubectl_and_scheduler_rules():
    target = {"cp": {"kube-apiserver": "v1.21.0", "kube-scheduler": "v1.22.0", "kubectl": "v1.23.0"}}
    problems = F["version_skew"](target, apiserver="v1.20.2", control_plane=["cp"])
    assert "cp: kube-scheduler v1.22.0 must be the kube-apiserver's minor v1.21 or one older" in problems
    assert "cp: kubectl v1.23.0 would be more than one minor from kube-apiserver v1.21" in problems


def test_unknown_apiserver_is_a_problem_not_a_pass():
    assert F["version_skew"]({"pi": {"kubelet": "v1.20.2"}}) == [
        "the kube-apiserver version is not known (the control plane did not answer), so no skew can be checked"]


def test_bad_skew_input():
    with pytest.raises(AnsibleFilterError, match="mapping of host"):
        F["version_skew"](["pi"], apiserver="v1.20.2")
    with pytest.raises(AnsibleFilterError, match="whole number"):
        F["version_skew"]({}, apiserver="v1.20.2", max_node_skew="two")


# --- batches ------------------------------------------------------------------------------------------

def test_batches_never_take_a_whole_platform():
    hosts = {"a1": "linux/arm64", "a2": "linux/arm64", "a3": "linux/arm64", "v7a": "linux/arm/v7", "v7b": "linux/arm/v7",
             "zero": "linux/arm/v6"}
    batches = F["rollout_batches"](hosts, serial=3)
    assert sorted(h for b in batches for h in b) == sorted(hosts)
    for b in batches:
        assert len(b) <= 3
        assert not {"v7a", "v7b"} <= set(b)
        assert not {"a1", "a2", "a3"} <= set(b)
    assert batches[0] == ["a1", "a2", "v7a"]


def test_single_node_platforms_never_share_a_batch():
    hosts = {"zero": "linux/arm/v6", "pi3": "linux/arm/v7", "pi5": "linux/arm64"}
    assert F["rollout_batches"](hosts, serial="100%") == [["zero"], ["pi3"], ["pi5"]]


def test_percentage_and_count():
    hosts = dict(("n%02d" % i, "linux/arm64") for i in range(10))
    assert [len(b) for b in F["rollout_batches"](hosts, serial="20%")] == [2] * 5
    assert [len(b) for b in F["rollout_batches"](hosts, serial="5%")] == [1] * 10
    assert [len(b) for b in F["rollout_batches"](hosts, serial=4)] == [4, 4, 2]


@pytest.mark.parametrize("serial", ["0", "0%", "150%", "lots", -1])
def test_bad_serial(serial):
    with pytest.raises(AnsibleFilterError, match="serial must be"):
        F["rollout_batches"]({"a": "linux/arm64"}, serial=serial)


# --- bundles ------------------------------------------------------------------------------------------

BASE = {"id": "v1.20.2-linux-arm-v6-aaaaaaaaaaaa", "files": {
    "kubelet": {"sha256": "1" * 64, "size": 10, "version": "v1.20.2"},
    "kube-proxy": {"sha256": "2" * 64, "size": 20, "version": "v1.20.2"},
    "pause": {"sha256": "3" * 64, "size": 30}}}


def top(files):
    return {"bundle_id": "v1.20.3-linux-arm-v6-bbbbbbbbbbbb", "platform": "linux/arm/v6", "manifest_digest": "sha256:" + "b" * 64,
            "files": [dict(name=n, sha256=s, size=5, version="v1.20.3", path="/cache/" + s) for n, s in files]}


def test_overlay_keeps_what_the_upgrade_lacks():
    out = F["bundle_overlay"](top([("kubelet", "9" * 64)]), base=BASE)
    assert [(f["name"], f["sha256"][0]) for f in out["files"]] == [("kube-proxy", "2"), ("kubelet", "9"), ("pause", "3")]
    assert out["bundle_id"].startswith("v1.20.3-linux-arm-v6-bbbbbbbbbbbb.on.")
    assert out["changes"] == ["kubelet"] and out["change_bytes"] == 5 and out["base_bundle_id"] == BASE["id"]
    # another base gives another id: one id never names two file sets
    other = dict(BASE, files=dict(BASE["files"], pause={"sha256": "4" * 64, "size": 30}))
    assert F["bundle_overlay"](top([("kubelet", "9" * 64)]), base=other)["bundle_id"] != out["bundle_id"]


def test_complete_upgrade_keeps_its_id():
    t = top([("kubelet", "9" * 64), ("kube-proxy", "2" * 64), ("pause", "3" * 64)])
    out = F["bundle_overlay"](t, base=BASE)
    assert out["bundle_id"] == t["bundle_id"] and out["changes"] == ["kubelet"]


def test_overlay_refuses_another_platform_and_garbage():
    with pytest.raises(AnsibleFilterError, match="for linux/arm/v6, the node's release for linux/arm64"):
        F["bundle_overlay"](top([("kubelet", "9" * 64)]), base=dict(BASE, platform="linux/arm64"))
    with pytest.raises(AnsibleFilterError, match="no bundle_id and files"):
        F["bundle_overlay"]({"files": "x"}, base=BASE)


# --- nodes and the whole plan -------------------------------------------------------------------------

KUBECTL = json.dumps({"items": [
    {"metadata": {"name": "cp"}, "spec": {},
     "status": {"nodeInfo": {"kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2"},
                "conditions": [{"type": "Ready", "status": "True"}]}},
    {"metadata": {"name": "zero"}, "spec": {"unschedulable": True},
     "status": {"nodeInfo": {"kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2"},
                "conditions": [{"type": "Ready", "status": "False"}]}},
]})


def test_node_versions():
    assert node_versions(KUBECTL) == {
        "cp": {"kubelet": "v1.20.2", "kube-proxy": "v1.20.2", "ready": True, "schedulable": True},
        "zero": {"kubelet": "v1.20.2", "kube-proxy": "v1.20.2", "ready": False, "schedulable": False}}
    with pytest.raises(AnsibleFilterError, match="kubectl get nodes"):
        node_versions("not json")


def test_plan():
    target = F["bundle_overlay"](top([("kubelet", "9" * 64)]), base=BASE)
    cp_rec = dict(BASE, id="cp-release")
    same = {"bundle_id": "cp-release", "files": [dict(meta, name=n) for n, meta in BASE["files"].items()]}
    hosts = {"cp": {"platform": "linux/amd64", "from": cp_rec, "target": F["bundle_overlay"](same, base=cp_rec)},
             "zero": {"platform": "linux/arm/v6", "from": BASE, "target": target}}
    plan = F["rollout_plan"](hosts, nodes=node_versions(KUBECTL), apiserver="v1.20.2", control_plane=["cp"])
    assert plan["skew"] == []  # a patch release above the API server's is within the policy
    assert plan["order"] == ["cp", "zero"] and plan["batches"] == [["zero"]] and plan["sizes"] == [1]
    line = plan["hosts"]["zero"]
    assert line["versions"] == {"kubelet": "v1.20.2 -> v1.20.3"} and line["bytes"] == 5 and not line["up_to_date"]
    assert plan["hosts"]["cp"]["up_to_date"] and plan["hosts"]["cp"]["changes"] == []
    newer = F["rollout_plan"](hosts, nodes=node_versions(KUBECTL), apiserver="v1.19.7", control_plane=["cp"])
    assert "zero: kubelet v1.20.3 would be newer than kube-apiserver v1.19" in newer["skew"]
