# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the cluster tests share: the fleet's nodes, kubectl on the control plane, inventories, the state of a
node (release, Node object, files written) and of the host, the test workload. Fixtures live in
tests/integration/conftest.py; this module only answers questions and builds documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import yaml

import debs
import fleet
from runner import ansible_module, docker, run_playbook, wait_for

CACHE = os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s")
HERE = os.path.dirname(os.path.abspath(__file__))
FLEET = os.path.join(os.path.dirname(HERE), "fleet", "fleet.py")
STANDIN_DIR = os.path.join(os.path.dirname(HERE), "fixtures", "standin")
# the Kubernetes line the cluster tests form (the collection's default, read from the one place it is set: the
# multiarch_k8s role's defaults) and the previous minor, which the minor-upgrade test starts from; both built from
# the collection's gomod/ folders
with open(os.path.join(os.path.dirname(os.path.dirname(HERE)), "roles", "multiarch_k8s", "defaults", "main.yml"),
          encoding="utf-8") as _defaults:
    VERSION = yaml.safe_load(_defaults)["multiarch_k8s_kubernetes_version"]
PREVIOUS = "v1.36.3"
# the control plane's binaries are built for the layout's control-plane platform: one holder per layout
HOLDER = "docker://127.0.0.1:5000/multiarch-k8s-tests/cluster%s:%s" % ("" if fleet.LAYOUT == "default" else "-" + fleet.LAYOUT,
                                                                       VERSION)
PREVIOUS_HOLDER = "docker://127.0.0.1:5000/multiarch-k8s-tests/cluster:" + PREVIOUS
# make test-ha: the control plane on three nodes of the four-platform fleet (amd64, arm64 and arm/v7: mixed
# architectures, etcd on 32-bit arm too), the arm/v6 node a worker; the holder has the control plane for all three
HA_CONTROL_PLANE = ("mk8s-amd64", "mk8s-arm64", "mk8s-armhf")
HA_HOLDER = "docker://127.0.0.1:5000/multiarch-k8s-tests/cluster-ha:" + VERSION
# the patch release before VERSION, for the workers only (kubelet and kube-proxy): the second real build the fault
# tests roll the workers between (make test-faults; make test does not build it)
PATCH = "v1.37.1"
PATCH_HOLDER = "docker://127.0.0.1:5000/multiarch-k8s-tests/workers:" + PATCH
# stand-in kubelets (tests/fixtures/standin) for faults no real release has: one that never registers with the API
# server, one that exits 1; versioned as the next patch of VERSION, so that the skew policy lets them through
STANDINS = ("v1.37.3", "v1.37.3-broken")
CP = fleet.CONTROL_PLANE
# the fleet's nodes (tests/fleet/fleet.py has the one list): name -> (platform, its Debian architecture, uname -m)
NODES = dict((n["name"], (fleet.node_platform(n).oci, fleet.node_platform(n).debian_arch,
                          fleet.node_platform(n).uname_machines[0])) for n in fleet.NODES)
WORKERS = [n for n in NODES if n != CP]
NODE_COMPONENTS = fleet.NODE_COMPONENTS
CP_COMPONENTS = fleet.CP_COMPONENTS
KUBECTL = ["docker", "exec", CP, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"]
KUBECTL_IN = KUBECTL[:2] + ["-i"] + KUBECTL[2:]
PREFIX = "/opt/multiarch-k8s"
WATCHED = "/etc /opt /usr/local /var/lib/etcd"  # where site.yml writes on a node
MARKER = "/tmp/mk8s-marker"


def kubectl(*args, stdin=None, check=True, timeout=120):
    cmd = (KUBECTL_IN if stdin is not None else KUBECTL) + list(args)
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=check, timeout=timeout).stdout


def kubectl_json(*args):
    return json.loads(kubectl(*(list(args) + ["-o", "json"])))


def pods_explained(selector=None, namespace="default"):
    """What the cluster says about pods that did not come up: the pods with their node and phase, the non-Normal
    events, and each named node's kubelet journal tail. Printed by a test that timed out waiting for a pod, so its
    failure says why (pytest shows what a failing test printed)."""
    sel = ["-n", namespace] + (["-l", selector] if selector else [])
    parts = [kubectl(*(["get", "pods", "-o", "wide"] + sel), check=False),
             kubectl("get", "events", "-n", namespace, "--field-selector", "type!=Normal", "--sort-by", ".lastTimestamp",
                     check=False)]
    try:
        items = kubectl_json(*(["get", "pods"] + sel))["items"]
    except (ValueError, subprocess.SubprocessError):
        items = []
    for node in sorted(set(i["spec"].get("nodeName") for i in items if i["spec"].get("nodeName"))):
        parts.append("kubelet on %s:\n" % node + docker("exec", node, "journalctl", "-u", "kubelet", "-n", "25",
                                                        "--no-pager", check=False).stdout)
    return "\n".join(parts)


def wait_rollout(deployment, seconds=180, namespace="default", selector=None):
    """``kubectl rollout status`` of ``deployment``; when it fails, the pods' story is printed first."""
    try:
        kubectl("rollout", "status", "-n", namespace, "deployment/" + deployment, "--timeout=%ds" % seconds, timeout=seconds + 60)
    except subprocess.CalledProcessError:
        print(pods_explained(selector or "app=" + deployment, namespace))
        raise


def inventory(path, hosts, control_plane=(CP,), host_vars=None, connection="ssh"):
    """The fleet group (the hosts site.yml converges) and the control_plane group, which may name others. Every host
    is reached over SSH as a Pi is (fleet.ssh_vars: user pi with sudo, a key, the fleet's known_hosts); a name
    that is not a fleet node gets an address of the fleet's network where nothing answers. ``connection="docker"``:
    the docker connection as root instead (bench/connection.py compares the two)."""
    host_vars = host_vars or {}
    via = fleet.ssh_vars() if connection == "ssh" else {"ansible_connection": "community.docker.docker",
                                                        "ansible_python_interpreter": "/usr/bin/python3"}
    conn = dict(via, **{
        # fleet nodes run without CAP_SYS_RESOURCE (see tests/fleet/fleet.py)
        "container_runtime_restrict_oom_score_adj": True,
        "container_runtime_privileged_without_host_devices": True,
        # the test host runs cgroup v1 (hybrid); real Pis on Raspberry Pi OS Bookworm and later run v2
        "multiarch_k8s_allow_cgroup_v1": True,
        # an emulated ARM1176 under QEMU, its host's two cores shared with the rest of the run, once took more
        # than the default 180 s to get its Node Ready (seen 2026-12-07, with a make check running beside it)
        "kubelet_ready_timeout": 420,
        # the nodes' resolv.conf names Docker's resolver on loopback: the fleet's upstream resolver instead, and
        # CoreDNS's pods privileged (QEMU user emulation cannot apply seccomp)
        "multiarch_k8s_dns_upstreams": [fleet.upstream_dns_address()],
        "cluster_dns_security_context": {"privileged": True}})

    def one(h):
        where = {"ansible_host": address(h)} if connection == "ssh" else {}
        return dict(emulated_runtime(h), **dict(where, **host_vars.get(h, {})))
    doc = {"all": {"children": {
        "fleet": {"hosts": dict((h, one(h)) for h in hosts), "vars": conn},
        "control_plane": {"hosts": dict((h, dict(conn, **one(h))) for h in control_plane)}}}}
    path.write_text(json.dumps(doc))
    return path


def address(host):
    """A fleet node's address; for any other name, one of the fleet's network that no node has."""
    try:
        return fleet.node_address(fleet.node_by_name(host))
    except KeyError:
        return fleet.node_address({"address": fleet.ABSENT})


def emulated_runtime(host):
    """An emulated node's containerd runs the host-native amd64 shim and runc that tests/fleet/fleet.py mounts (the
    collection's own builds from the same holder image); the amd64 node runs its release's own."""
    if host not in NODES or NODES[host][1] == "amd64":
        return {}
    return {"container_runtime_runc_binary": fleet.RUNTIME_DIR + "/runc",
            "container_runtime_shim_binary": fleet.RUNTIME_DIR + "/containerd-shim-runc-v2"}


def host_state():
    """The host's kernel settings a kubelet or kube-proxy would change, and its firewall."""
    sysctls = subprocess.run(["sysctl", "vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops",
                              "net.ipv4.ip_forward"], capture_output=True, text=True, check=True).stdout
    rules = "".join(subprocess.run(["iptables", "-t", t, "-S"], capture_output=True, text=True, check=True).stdout
                    for t in ("filter", "nat", "mangle"))
    return sysctls, rules


def touch_markers(nodes=None, marker=MARKER):
    """A marker file on each node; node_changes_since(node) lists what was written after it. File times have
    one-second steps on some filesystems: the call returns 1.1 s after the touch, so that anything written
    later is newer than the marker."""
    for node in nodes or NODES:
        docker("exec", node, "touch", marker)
    time.sleep(1.1)


def node_changes_since(node, marker=MARKER, skip=("/var/lib/etcd/",)):
    """Files site.yml could write that are newer than ``marker`` on ``node``; etcd's own data (it changes all the
    time in a running cluster) is left out unless ``skip`` says otherwise. Fails if the node or its marker is gone
    (an empty answer must mean that nothing was written)."""
    proc = docker("exec", node, "sh", "-c", "test -e %s || exit 3; find %s -xdev -newer %s 2>/dev/null; exit 0"
                  % (marker, WATCHED, marker), check=False)
    assert proc.returncode == 0, "%s: cannot list what changed since %s (rc %d): %s" % (node, marker, proc.returncode, proc.stderr)
    return sorted(f for f in proc.stdout.split() if f != "/etc/ld.so.cache" and not f.startswith(tuple(skip)))


def kubelet_pid(node):
    return docker("exec", node, "systemctl", "show", "-p", "MainPID", "--value", "kubelet").stdout.strip()


def current(node):
    return docker("exec", node, "readlink", PREFIX + "/current").stdout.strip().rsplit("/", 1)[-1]


def releases_on(node):
    return sorted(docker("exec", node, "ls", PREFIX + "/releases").stdout.split())


def node_state(node):
    doc = kubectl_json("get", "node", node)
    ready = [c["status"] for c in doc["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
    return {"ready": ready, "schedulable": not doc["spec"].get("unschedulable", False),
            "cordoned_by": doc["metadata"].get("annotations", {}).get("multiarch.k8s/cordoned-by"),
            "kubelet": doc["status"]["nodeInfo"]["kubeletVersion"]}


def healthy(node, version=VERSION):
    return node_state(node) == {"ready": True, "schedulable": True, "cordoned_by": None, "kubelet": version}


def wait_healthy(node, seconds=180, version=VERSION):
    return wait_for(lambda: healthy(node, version), seconds, "%s Ready, schedulable, uncordoned, kubelet %s" % (node, version))


def upgrade(inv, base_extra, src, check=False, limit=None, env=None, **extra):
    """upgrade.yml to the holder ``src`` over the fleet of inventory ``inv``."""
    return run_playbook("multiarch.k8s.upgrade", dict(base_extra, multiarch_k8s_upgrade_src=src, multiarch_k8s_hosts="fleet",
                                                      **extra), inventory=inv, check=check, limit=limit, env=env)


def workload(node):
    """Debian's static busybox of the node's architecture, packed into an image on the node by node_image."""
    busybox = debs.fetch([NODES[node][1]])[NODES[node][1]]["busybox"]
    docker("exec", node, "mkdir", "-p", "/opt/mk8s-tests")
    docker("cp", busybox, "%s:/opt/mk8s-tests/busybox" % node)
    args = {"name": "localhost/multiarch-k8s-tests/uname-http:1", "platform": NODES[node][0],
            "files": [{"src": "/opt/mk8s-tests/busybox", "dest": "/bin/busybox"}], "entrypoint": ["/bin/busybox"]}
    hosts, rc = ansible_module("multiarch.k8s.node_image", args, pattern=node, timeout=300)
    assert rc == 0, hosts


def pod(node, name=None):
    """A pod serving ``uname -m`` on port 8080 on ``node``. On the emulated nodes the pod is privileged: the kubelet
    asks for the runtime/default seccomp profile for every pod sandbox, containerd under QEMU user emulation cannot
    use seccomp (QEMU refuses prctl(PR_SET_SECCOMP)), and a privileged sandbox is the one case where containerd
    skips it. On the arm/v6 node the pod gets QEMU_CPU=arm1176: the emulated Pi Zero's CPU model has to reach
    every process QEMU runs, and runc passes only the pod's environment. A real Pi needs none of this. The pod
    tolerates the control plane's NoSchedule taint, as a per-node workload does (a DaemonSet's pods do)."""
    platform = NODES[node][0]
    env = [{"name": "QEMU_CPU", "value": "arm1176"}] if node == "mk8s-armel" else []
    emulated = NODES[node][1] != "amd64"
    script = ("/bin/busybox mkdir -p /www && /bin/busybox uname -m > /www/index.html && "
              "exec /bin/busybox httpd -f -p 8080 -h /www")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name or "uname-" + node, "namespace": "default"},
            # the platform label the collection sets, and the node's name (the Pi fleet has two arm64 nodes)
            "spec": {"nodeSelector": {"multiarch.k8s/platform": platform.replace("/", "-"), "kubernetes.io/hostname": node},
                     "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
                                      "effect": "NoSchedule"}],
                     "containers": [{"name": "http", "image": "localhost/multiarch-k8s-tests/uname-http:1",
                                     "imagePullPolicy": "Never", "env": env,
                                     "securityContext": {"privileged": emulated},
                                     "command": ["/bin/busybox", "sh", "-c", script]}]}}


def start_uname_pods():
    """A uname pod on every node (cluster.pod), the busybox image packed on each node first; returns the List."""
    for node in NODES:
        workload(node)
    pods = {"apiVersion": "v1", "kind": "List", "items": [pod(n) for n in NODES]}
    kubectl("apply", "-f", "-", stdin=json.dumps(pods))
    return pods


def uname_pod_ips(seconds=300):
    """node -> pod IP once every node's uname pod runs; on a timeout, the pods' story is printed and the wait fails."""
    def running():
        items = kubectl_json("get", "pods")["items"]
        ips = dict((i["metadata"]["name"][len("uname-"):], i["status"].get("podIP")) for i in items
                   if i["metadata"]["name"].startswith("uname-") and i["status"].get("phase") == "Running")
        return ips if len(ips) == len(NODES) else None
    try:
        return wait_for(running, seconds, "a Running uname pod on each of the %d nodes" % len(NODES))
    except BaseException:
        print(pods_explained())
        raise


def ask_uname(ips):
    """node -> what its uname pod answers, each asked from the next node (traffic crosses the fleet's network)."""
    names = list(NODES)
    answers = {}
    for i, node in enumerate(names):
        other = names[(i + 1) % len(names)]
        answers[node] = docker("exec", other, "python3", "-c",
                               "import urllib.request; print(urllib.request.urlopen(%r, timeout=10).read().decode().strip())"
                               % ("http://%s:8080/" % ips[node])).stdout.strip()
    return answers


# --- the formed cluster, shared by the modules of one run (each in a pytest process of its own) -------------
OUT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "output")
STATE = os.path.join(OUT, "cluster-state.json")
# the admin kubeconfig site.yml writes on the controller (multiarch_k8s_kubeconfig_file)
ADMIN_KUBECONFIG = os.path.join(OUT, "kubeconfig", "admin.conf")


def fleet_ids():
    return dict((n, docker("inspect", "-f", "{{.Id}}", n, check=False).stdout.strip()) for n in NODES)


def forget_formed():
    if os.path.exists(STATE):
        os.unlink(STATE)


def mark_formed(holder, result, report_file):
    """Record that site.yml (``result``, with the fleet report it wrote to ``report_file``) formed the four-node
    cluster from ``holder`` on these very node containers."""
    os.makedirs(OUT, exist_ok=True)
    with open(report_file, encoding="utf-8") as f:
        report = json.load(f)
    with open(STATE, "w", encoding="utf-8") as f:
        json.dump({"holder": holder, "nodes": fleet_ids(), "report": report,
                   "table": result.results("Show the fleet report")[0]["msg"]}, f)


def formed(holder):
    """The record of mark_formed while that cluster is still there (the same containers, so no reset since; the
    same holder; every node healthy in the API server), else None."""
    try:
        with open(STATE, encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError):
        return None
    if state.get("holder") != holder or state.get("nodes") != fleet_ids():
        return None
    try:
        return state if all(healthy(n) for n in NODES) else None
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, KeyError, ValueError):
        return None


def form_at_previous(nodes, previous_holder, tmp_path_factory, name):
    """A fresh fleet, and site.yml forming a cluster of ``nodes`` at PREVIOUS from ``previous_holder``: (the
    inventory, the extra vars it was formed with), every node healthy on PREVIOUS."""
    reset_fleet()
    inv = inventory(tmp_path_factory.mktemp("inventory") / (name + ".json"), list(nodes))
    extra = {"multiarch_k8s_holder_src": previous_holder, "multiarch_k8s_kubernetes_version": PREVIOUS,
             "multiarch_k8s_cache_dir": str(tmp_path_factory.mktemp("bins")),
             "multiarch_k8s_report_file": str(tmp_path_factory.mktemp("report") / "fleet-report.json")}
    started = time.monotonic()
    res = run_playbook("multiarch.k8s.site", extra, inventory=inv)
    assert res.ok, res.failures()
    print("%d-node cluster formed at %s in %.0f s" % (len(nodes), PREVIOUS, time.monotonic() - started))
    for node in nodes:
        wait_healthy(node, version=PREVIOUS)
    return inv, extra


def reset_fleet():
    """The four nodes made again from their images: a fresh fleet, no cluster."""
    forget_formed()
    subprocess.run([sys.executable, FLEET, "reset"], check=True, timeout=900)


def main(argv):
    """``cluster.py pods``: a pod on each node of the running fleet answering with its machine (make demo)."""
    if argv != ["pods"]:
        sys.exit("usage: cluster.py pods")
    start_uname_pods()
    ips = uname_pod_ips(seconds=300)
    answers = ask_uname(ips)
    for node in NODES:
        print("  %-12s %-13s pod uname-%s at %-15s answers %s" % (node, NODES[node][0], node, ips[node], answers[node]))
    bad = [n for n in NODES if answers[n] != NODES[n][2]]
    if bad:
        sys.exit("the pods on %s answered another machine than their node's" % ", ".join(bad))


if __name__ == "__main__":
    main(sys.argv[1:])
