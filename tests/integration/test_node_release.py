# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/site.yml (multiarch.k8s.site) and node_release on the emulated fleet: facts -> one pull per
platform -> each node gets its bundle.

The bundle is the test holder image of Debian's binaries (kubectl, etcd, CNI plugins) from the
registry on 127.0.0.1; smoke tests run on the nodes (under QEMU for the ARM ones).

Break tried (2026-12-07): the smoke test's failure ignored in _release;
test_armv7_binary_fails_its_smoke_test_and_is_never_switched_to failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

import cluster as C
from runner import ansible_module, docker, run_playbook, wait_for

NODES = list(C.NODES)
# a prefix and a bin dir of this module's own: the module stands alone beside a cluster on the same fleet
PREFIX = "/opt/mk8s-release-test"
BIN_DIR = "/opt/mk8s-release-test-bin"
INSTALL_TASK = "Install the host's release (staged and smoke-tested; switched to unless release_switch is false)"


def playbook(extra, check=False):
    res = run_playbook("multiarch.k8s.site", extra, check=check, timeout=1800)
    return res.hosts(INSTALL_TASK), res.stats, res.rc


def _wipe():
    for node in NODES:
        docker("exec", node, "rm", "-rf", PREFIX, BIN_DIR)


@pytest.fixture(scope="module")
def runs(ours_ref, tmp_path_factory):
    extra = {"multiarch_k8s_holder_src": ours_ref, "multiarch_k8s_cache_dir": str(tmp_path_factory.mktemp("cache")),
             "multiarch_k8s_hosts": "fleet", "multiarch_k8s_cluster": False, "multiarch_k8s_prefix": PREFIX,
             "multiarch_k8s_bin_dir": BIN_DIR}
    _wipe()
    check = playbook(extra, check=True)
    after_check = dict((node, docker("exec", node, "test", "-e", PREFIX, check=False).returncode == 0)
                       for node in NODES)
    first = playbook(extra)
    second = playbook(extra)
    yield {"check": check, "first": first, "second": second, "extra": extra, "after_check": after_check}
    _wipe()


def test_check_mode_sends_nothing(runs):
    hosts, _stats, rc = runs["check"]
    assert rc == 0
    for node in NODES:
        assert hosts[node]["changed"] is True
        assert hosts[node]["actions"][0].startswith("would install v1.20.2-")
        assert runs["after_check"][node] is False  # nothing was written on the node


@pytest.mark.parametrize("node", NODES)
def test_each_node_gets_its_platform_bundle(runs, node):
    hosts, _stats, rc = runs["first"]
    assert rc == 0, hosts
    res = hosts[node]
    assert res["changed"] is True and res["module_calls"] == 2
    assert res["files_sent"] == 6 and res["bytes_sent"] > 0
    platform_label = res["release"].split("-", 1)[1].rsplit("-", 1)[0]
    expected = {"mk8s-amd64": "linux-amd64", "mk8s-arm64": "linux-arm64", "mk8s-armhf": "linux-arm-v7",
                "mk8s-armel": "linux-arm-v6"}[node]
    assert platform_label == expected
    link = docker("exec", node, "readlink", PREFIX + "/current").stdout.strip()
    assert link == "releases/" + res["release"]
    out = docker("exec", node, BIN_DIR + "/kubectl", "version", "--client", "--short").stdout
    assert "Client Version: v1.20.2" in out  # through the bin dir -> current


def test_rerun_sends_nothing_and_changes_nothing(runs):
    hosts, stats, rc = runs["second"]
    assert rc == 0
    for node in NODES:
        assert hosts[node]["changed"] is False, hosts[node]["actions"]
        assert hosts[node]["bytes_sent"] == 0 and hosts[node]["module_calls"] == 1
        assert stats[node]["changed"] == 0


def test_blocking_preflight_stops_the_host_before_anything_changes(ours_ref, tmp_path):
    docker("exec", "mk8s-armel", "rm", "-rf", "/opt/mk8s-preflight", check=False)
    extra = {"multiarch_k8s_holder_src": ours_ref, "multiarch_k8s_cache_dir": str(tmp_path / "c"),
             "multiarch_k8s_hosts": "mk8s-armel", "multiarch_k8s_prefix": "/opt/mk8s-preflight",
             "multiarch_k8s_min_free_mb": 10 ** 9}
    res = run_playbook("multiarch.k8s.site", extra, timeout=900)
    assert res.rc != 0
    failed = [t for t in res.doc["plays"][0]["tasks"] if t["hosts"].get("mk8s-armel", {}).get("failed")]
    assert failed[0]["task"]["name"] == "Stop every host when one has a blocking preflight finding, before anything changes"
    assert failed[0]["hosts"]["mk8s-armel"]["msg"].startswith("mk8s-armel: only ")
    assert "MB needed for the binaries and two releases" in failed[0]["hosts"]["mk8s-armel"]["msg"]
    assert docker("exec", "mk8s-armel", "test", "-e", "/opt/mk8s-preflight", check=False).returncode != 0


# --- faults: each one leaves a working current, or none if there was none ---------------------
FAULT_PREFIX = "/opt/mk8s-fault"


def _record(component, platform):
    from ansible_collections.multiarch.k8s.plugins.module_utils import _platforms as P  # pylint: disable=import-outside-toplevel
    from ansible_collections.multiarch.k8s.plugins.plugin_utils._build import Builder  # pylint: disable=import-outside-toplevel
    from ansible_collections.multiarch.k8s.plugins.plugin_utils._sources import SourceCache  # pylint: disable=import-outside-toplevel
    build_dir = os.path.join(os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s"), "build")
    sources = SourceCache(build_dir)
    # the cluster's own builds (make test's build stage made them): pause from Kubernetes, the rest CNI plugins
    spec = "gomod:kubernetes-" + C.VERSION if component == "pause" else "gomod:cni-plugins-v1.10.0"
    return Builder(build_dir, sources.prepare(spec), sources=sources).build(component, P.by_oci(platform))


def _bundle(bundle_id, *records, **overrides):
    files = [{"name": r["component"], "sha256": r["sha256"], "size": r["size"], "path": r["path"]} for r in records]
    for f in files:
        f.update(overrides.get(f["name"], {}))
    return {"bundle_id": bundle_id, "files": files}


def install(node, bundle, **args):
    hosts, rc = ansible_module("multiarch.k8s.node_release",
                               dict({"bundle": bundle, "prefix": FAULT_PREFIX, "bin_dir": ""}, **args), pattern=node)
    return hosts[node], rc


def current(node):
    return docker("exec", node, "readlink", FAULT_PREFIX + "/current", check=False).stdout.strip()


def releases(node):
    """The entries of the releases directory ([] when there is none; any other failure fails the test)."""
    proc = docker("exec", node, "sh", "-c", "test -d {0} || exit 0; ls -A {0}".format(FAULT_PREFIX + "/releases"))
    return sorted(proc.stdout.split())


@pytest.fixture
def armel_with_a_good_release():
    docker("exec", "mk8s-armel", "rm", "-rf", FAULT_PREFIX, check=False)
    good = _bundle("good-v6", _record("pause", "linux/arm/v6"), _record("loopback", "linux/arm/v6"))
    res, rc = install("mk8s-armel", good)
    assert rc == 0, res
    assert current("mk8s-armel") == "releases/good-v6"
    yield good
    docker("exec", "mk8s-armel", "sh", "-c", "umount %s 2>/dev/null; rm -rf %s" % (FAULT_PREFIX, FAULT_PREFIX), check=False)


def test_armv7_binary_fails_its_smoke_test_and_is_never_switched_to(armel_with_a_good_release):
    bad = _bundle("v7-on-v6", _record("pause", "linux/arm/v7"))
    res, rc = install("mk8s-armel", bad)
    assert rc != 0
    assert res["msg"] == ("smoke test failed, nothing switched: pause -v was killed by signal 4 "
                          "(SIGILL: code for another CPU)")
    assert current("mk8s-armel") == "releases/good-v6"
    assert releases("mk8s-armel") == ["good-v6"]


def test_file_whose_sha256_does_not_match(armel_with_a_good_release, tmp_path):
    v6 = _record("loopback", "linux/arm/v6")
    # a digest no file has: the last hex digit changed (whatever it was; the node holds a file with v6's digest)
    wrong = v6["sha256"][:-1] + ("1" if v6["sha256"][-1] == "0" else "0")
    liar = _bundle("liar", _record("pause", "linux/arm/v7"), pause={"sha256": wrong})
    res, rc = install("mk8s-armel", liar)
    assert rc != 0
    assert "pause arrived with sha256 " in res["msg"] and ": not installed" in res["msg"]
    assert current("mk8s-armel") == "releases/good-v6"
    assert releases("mk8s-armel") == ["good-v6"]


def test_not_enough_space_sends_nothing(armel_with_a_good_release):
    docker("exec", "mk8s-armel", "sh", "-c", "rm -rf %s && mkdir -p %s && mount -t tmpfs -o size=1m tmpfs %s"
           % (FAULT_PREFIX, FAULT_PREFIX, FAULT_PREFIX))
    res, rc = install("mk8s-armel", _bundle("big", _record("loopback", "linux/arm/v6")))
    assert rc != 0
    assert res["msg"].startswith("not enough space at %s/releases: " % FAULT_PREFIX)
    assert res["msg"].endswith("nothing was sent")
    assert releases("mk8s-armel") == []


@pytest.mark.parametrize("bundle_id, message", [
    ("../../etc", "'../../etc' is not a release id this collection makes"),
    ("has space", "'has space' is not a release id"),
])
def test_release_id_that_is_not_ours(armel_with_a_good_release, bundle_id, message):
    res, rc = install("mk8s-armel", _bundle(bundle_id, _record("pause", "linux/arm/v6")))
    assert rc != 0
    assert message in res["msg"]
    assert current("mk8s-armel") == "releases/good-v6"


def test_planted_symlink_in_a_release_dir(armel_with_a_good_release):
    docker("exec", "mk8s-armel", "sh", "-c", "mkdir -p %s/releases/planted && touch %s/releases/planted/.staging && "
           "ln -s /etc/shadow %s/releases/planted/pause" % ((FAULT_PREFIX,) * 3))
    res, rc = install("mk8s-armel", _bundle("planted", _record("pause", "linux/arm/v6")))
    assert rc != 0
    assert "is a symbolic link to /etc/shadow planted in a release directory; refused" in res["msg"]
    assert current("mk8s-armel") == "releases/good-v6"


def test_foreign_directory_under_a_release_name(armel_with_a_good_release):
    docker("exec", "mk8s-armel", "sh", "-c", "mkdir -p %s/releases/theirs && touch %s/releases/theirs/data"
           % (FAULT_PREFIX, FAULT_PREFIX))
    res, rc = install("mk8s-armel", _bundle("theirs", _record("pause", "linux/arm/v6")))
    assert rc != 0
    assert "releases/theirs exists but is not a release this collection made" in res["msg"]
    assert docker("exec", "mk8s-armel", "test", "-f", FAULT_PREFIX + "/releases/theirs/data", check=False).returncode == 0


def test_same_files_under_a_new_release_are_linked_not_sent(armel_with_a_good_release):
    again = dict(armel_with_a_good_release, bundle_id="good-v6-again")
    res, rc = install("mk8s-armel", again)
    assert rc == 0, res
    assert res["files_sent"] == 0 and res["files_reused"] == 2 and res["bytes_sent"] == 0
    assert res["previous"] == "good-v6" and res["current"] == "good-v6-again"
    assert releases("mk8s-armel") == ["good-v6", "good-v6-again"]


def test_read_only_prefix_sends_nothing_and_keeps_current(armel_with_a_good_release):
    docker("exec", "mk8s-armel", "sh", "-c", "rm -rf {p} && mkdir -p {p} && mount -t tmpfs -o size=64m tmpfs {p}"
           .format(p=FAULT_PREFIX))
    good = armel_with_a_good_release
    res, rc = install("mk8s-armel", good)
    assert rc == 0, res
    docker("exec", "mk8s-armel", "mount", "-o", "remount,ro", FAULT_PREFIX)
    res, rc = install("mk8s-armel", _bundle("after-ro", _record("portmap", "linux/arm/v6")))
    assert rc != 0
    assert res["msg"] == ("cannot install under %s: %s is on a read-only file system; nothing was sent, "
                          "current still points at good-v6" % (FAULT_PREFIX, FAULT_PREFIX))
    assert current("mk8s-armel") == "releases/good-v6"
    assert docker("exec", "mk8s-armel", FAULT_PREFIX + "/current/pause", "-v", check=False).returncode == 0


def test_interrupted_prune_is_finished_by_the_next_run(armel_with_a_good_release):
    # a kill during rmtree leaves the renamed directory, never a half-deleted release under its name
    docker("exec", "mk8s-armel", "sh", "-c", "mkdir -p {p}/releases/.pruning-old && echo half > {p}/releases/.pruning-old/kubelet"
           .format(p=FAULT_PREFIX))
    res, rc = install("mk8s-armel", _bundle("next", _record("pause", "linux/arm/v6")), keep=1)
    assert rc == 0, res
    assert releases("mk8s-armel") == ["next"]
    assert current("mk8s-armel") == "releases/next"


@pytest.fixture(scope="module")
def v6_bundle(ours_ref, tmp_path_factory):
    """The test holder image's linux/arm/v6 bundle (kubectl, etcd, CNI plugins), pulled on the controller."""
    hosts, rc = ansible_module("multiarch.k8s.holder_pull", {
        "src": ours_ref, "platforms": ["linux/arm/v6"], "dest": str(tmp_path_factory.mktemp("v6"))})
    assert rc == 0, hosts
    return hosts["localhost"]["bundles"]["linux/arm/v6"]


def test_transfer_killed_halfway_is_completed_by_a_rerun(armel_with_a_good_release, v6_bundle):
    bundle = v6_bundle
    rdir = "%s/releases/%s" % (FAULT_PREFIX, bundle["bundle_id"])
    cmd = ["ansible", "mk8s-armel", "-m", "multiarch.k8s.node_release", "-a",
           json.dumps({"bundle": bundle, "prefix": FAULT_PREFIX, "bin_dir": ""})]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # pylint: disable=consider-using-with
    seen = ""
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            seen = docker("exec", "mk8s-armel", "ls", "-A", rdir, check=False).stdout
            if ".part-" in seen:
                break
            time.sleep(0.2)
        assert ".part-" in seen, "the staging never got to unpacking a file (%s)" % seen
        # the module runs as the node's only python3 (pipelined: its name is not on the command line)
        pids = docker("exec", "mk8s-armel", "pgrep", "-f", "python3", check=False).stdout.split()
        assert pids, "no module process to kill"
        docker("exec", "mk8s-armel", "kill", "-KILL", *pids, check=False)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = docker("exec", "mk8s-armel", "ls", "-A", rdir).stdout.split()
    assert ".staging" in left and ".release.json" not in left
    want = dict((f["name"], f["sha256"]) for f in bundle["files"])
    for name in left:
        if not name.startswith("."):  # anything under a release name is whole and verified
            got = docker("exec", "mk8s-armel", "sha256sum", "%s/%s" % (rdir, name)).stdout.split()[0]
            assert got == want[name], name
    assert current("mk8s-armel") == "releases/good-v6"
    res, rc = install("mk8s-armel", bundle)
    assert rc == 0, res
    finished = len([n for n in left if not n.startswith(".")])
    assert res["files_sent"] == len(want) - finished and res["files_reused"] == finished
    assert current("mk8s-armel") == "releases/" + bundle["bundle_id"]
    assert docker("exec", "mk8s-armel", "sh", "-c", "ls -A %s | grep -c '^\\.'" % rdir, check=False).stdout.strip() == "1"


# --- pull mode: nodes fetch their layers from a registry on the fleet network ---------------------
MIRROR = "mk8s-mirror"
REGISTRY_CONF = "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\nhttp:\n  addr: :5000\n"


@pytest.fixture(scope="module")
def mirror(ours_layout, tmp_path_factory):
    """A registry container on the fleet's network (Debian's docker-registry in the amd64 node image)."""
    conf = tmp_path_factory.mktemp("mirror") / "config.yml"
    conf.write_text(REGISTRY_CONF)
    image = docker("inspect", "-f", "{{.Config.Image}}", "mk8s-amd64").stdout.strip()
    docker("rm", "-f", MIRROR, check=False)
    docker("run", "-d", "--name", MIRROR, "--network", "mk8s-fleet", "--tmpfs", "/var/lib/registry",
           "-v", "/usr/bin/docker-registry:/usr/bin/docker-registry:ro", "-v", "%s:/etc/registry.yml:ro" % conf,
           "--entrypoint", "/usr/bin/docker-registry", image, "serve", "/etc/registry.yml")
    try:
        ip = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", MIRROR).stdout.strip()
        wait_for(lambda: docker("exec", "mk8s-amd64", "python3", "-c", "import urllib.request as u; "
                                "u.urlopen('http://%s:5000/v2/', timeout=5)" % ip, check=False).returncode == 0,
                 60, "the mirror registry to answer on %s:5000" % ip)
        subprocess.run(["skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false", "oci:%s:v1.20.2" % ours_layout,
                        "docker://%s:5000/mirror/k8s-bins:v1.20.2" % ip], check=True, timeout=600)
        yield "%s:5000" % ip
    finally:
        docker("rm", "-f", MIRROR, check=False)


PULL_PREFIX = "/opt/mk8s-pull"


def test_pull_mode_nodes_fetch_their_layers_from_the_mirror(ours_ref, mirror, tmp_path):
    extra = {"multiarch_k8s_holder_src": ours_ref, "multiarch_k8s_cache_dir": str(tmp_path / "cache"),
             "multiarch_k8s_hosts": "fleet", "multiarch_k8s_prefix": PULL_PREFIX, "multiarch_k8s_bin_dir": "",
             "multiarch_k8s_distribution": "pull", "multiarch_k8s_pull_source": mirror + "/mirror/k8s-bins",
             "multiarch_k8s_pull_insecure": True, "multiarch_k8s_cluster": False}
    for node in NODES:
        docker("exec", node, "rm", "-rf", PULL_PREFIX, check=False)
    try:
        hosts, _stats, rc = playbook(extra)
        assert rc == 0, hosts
        for node in NODES:
            res = hosts[node]
            assert res["changed"] is True and res["bytes_sent"] == 0 and res["files_sent"] == 6
            assert res["bytes_pulled"] > 1000000, res
            assert any(a.startswith("pull kubectl (") for a in res["actions"])
            out = docker("exec", node, PULL_PREFIX + "/current/kubectl", "version", "--client", "--short").stdout
            assert "Client Version: v1.20.2" in out
        again, stats, rc = playbook(extra)
        assert rc == 0
        for node in NODES:
            assert again[node]["changed"] is False and again[node]["bytes_pulled"] == 0
            assert stats[node]["changed"] == 0
    finally:
        for node in NODES:
            docker("exec", node, "rm", "-rf", PULL_PREFIX, check=False)


def test_pull_mode_from_a_mirror_without_the_image(armel_with_a_good_release, v6_bundle, mirror):
    res, rc = install("mk8s-armel", v6_bundle, distribution="pull", pull_source=mirror + "/nothing/here",
                      pull_insecure=True, pull_retries=2)
    assert rc != 0
    assert res["msg"].startswith("pull mode: registry %s has no /v2/nothing/here/blobs/sha256:" % mirror)
    assert res["msg"].endswith("(404 Not Found)")
    assert current("mk8s-armel") == "releases/good-v6"
    assert releases("mk8s-armel") == ["good-v6"]
