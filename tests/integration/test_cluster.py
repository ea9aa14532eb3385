# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""site.yml end to end on the four-node emulated fleet: a real mixed-architecture Kubernetes 1.20.2 cluster.

Everything here is real: kubelet, kube-proxy, pause and the CNI plugins built by holder_build from Debian's
sources for linux/amd64, linux/arm64, linux/arm/v7 and linux/arm/v6, the amd64 control plane and etcd,
Debian's containerd. What the emulated fleet cannot do (QEMU user emulation runs no container runtime
shim, runc or iptables) is wired by tests/fleet/fleet.py with the host's native builds of those three;
the roles know nothing of it. The workload is Debian's static busybox of each architecture, packed on
the node by node_image. On the arm/v6 node the workload is given QEMU_CPU=arm1176 in its environment: the
CPU model of the emulated Pi Zero has to reach every process QEMU runs, and runc passes only the pod's
environment. On a real Pi Zero no such variable exists or is needed. The pods on the emulated nodes are
privileged, for the same reason of emulation (see _pod).

The scenario, in order, on a fresh fleet: bad inputs fail before any change; check mode on the new fleet
writes nothing; three nodes converge; the fourth joins with --limit and touches no other node; a full run
gives every node its routes; a last full run changes nothing.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from runner import docker

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fleet"))

import debs

CACHE = os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s")
FLEET = os.path.join(os.path.dirname(HERE), "fleet", "fleet.py")
HOLDER = "docker://127.0.0.1:5000/multiarch-k8s-tests/cluster:v1.20.2"
CP = "mk8s-amd64"
NODES = {"mk8s-amd64": ("linux/amd64", "amd64", "x86_64"), "mk8s-arm64": ("linux/arm64", "arm64", "aarch64"),
         "mk8s-armhf": ("linux/arm/v7", "armhf", "armv7l"), "mk8s-armel": ("linux/arm/v6", "armel", "armv6l")}
LATE = "mk8s-armhf"  # joins the running cluster with --limit
NODE_COMPONENTS = ["kubelet", "kube-proxy", "pause", "bridge", "host-local", "loopback", "portmap"]
CP_COMPONENTS = ["kubeadm", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"]
KUBECTL = ["docker", "exec", CP, "kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf"]
WATCHED = "/etc /opt /usr/local /var/lib/etcd"  # where site.yml writes on a node


def run_playbook(name, extra, inventory=None, limit=None, check=False, timeout=3600, env=None):
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json", **(env or {}))
    cmd = ["ansible-playbook", name, "-e", json.dumps(extra)]
    cmd += ["-i", str(inventory)] if inventory else []
    cmd += ["--limit", limit] if limit else []
    cmd += ["--check"] if check else []
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        return json.loads(proc.stdout), proc.returncode
    except ValueError:
        pytest.fail("%s printed no JSON (rc %d):\n%s\n%s" % (name, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))


def failures(doc):
    return ["%s / %s: %s" % (h, t["task"]["name"], r.get("msg") or r.get("stderr"))
            for p in doc["plays"] for t in p["tasks"] for h, r in t["hosts"].items()
            if r.get("failed") or r.get("unreachable")]


def changed_tasks(doc, host):
    return [t["task"]["name"] for p in doc["plays"] for t in p["tasks"] if t["hosts"].get(host, {}).get("changed")]


def inventory(path, hosts, control_plane=(CP,), host_vars=None):
    """The fleet group (the hosts site.yml converges) and the control_plane group, which may name others."""
    host_vars = host_vars or {}
    conn = {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3",
            # fleet nodes run without CAP_SYS_RESOURCE (see tests/fleet/fleet.py)
            "container_runtime_restrict_oom_score_adj": True,
            "container_runtime_privileged_without_host_devices": True}
    doc = {"all": {"children": {
        "fleet": {"hosts": dict((h, host_vars.get(h, {})) for h in hosts), "vars": conn},
        "control_plane": {"hosts": dict((h, dict(conn, **host_vars.get(h, {}))) for h in control_plane)}}}}
    path.write_text(json.dumps(doc))
    return path


def host_state():
    """The host's kernel settings a kubelet or kube-proxy would change, and its firewall."""
    sysctls = subprocess.run(["sysctl", "vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops",
                              "net.ipv4.ip_forward"], capture_output=True, text=True, check=True).stdout
    rules = "".join(subprocess.run(["iptables", "-t", t, "-S"], capture_output=True, text=True, check=True).stdout
                    for t in ("filter", "nat", "mangle"))
    return sysctls, rules


def node_changes_since(node, marker):
    """Files site.yml could write that are newer than ``marker`` on ``node``."""
    out = docker("exec", node, "sh", "-c", "find %s -xdev -newer %s 2>/dev/null | grep -v '^/etc/ld.so.cache$' "
                 "| sort" % (WATCHED, marker), check=False).stdout
    return out.split()


@pytest.fixture(scope="module")
def holder(tmp_path_factory):
    """The node components for all four platforms and the control plane for amd64, built from Debian's sources."""
    doc, rc = run_playbook("multiarch.k8s.build", {
        "multiarch_k8s_build_dest": HOLDER, "multiarch_k8s_build_dir": os.path.join(CACHE, "build"),
        "multiarch_k8s_build_components": NODE_COMPONENTS,
        "multiarch_k8s_build_platform_components": {"linux/amd64": CP_COMPONENTS},
        "multiarch_k8s_lock_file": str(tmp_path_factory.mktemp("lock") / "lock.yml")})
    assert rc == 0, failures(doc)
    return HOLDER


@pytest.fixture(scope="module")
def fresh_fleet():
    """The four nodes made again from their images; made again at the end so later tests get an idle fleet."""
    subprocess.run([sys.executable, FLEET, "reset"], check=True, timeout=900)
    yield
    subprocess.run([sys.executable, FLEET, "reset"], check=True, timeout=900)


@pytest.fixture(scope="module")
def base_extra(holder, tmp_path_factory):
    return {"multiarch_k8s_holder_src": holder, "multiarch_k8s_cache_dir": str(tmp_path_factory.mktemp("bins")),
            "multiarch_k8s_report_file": str(tmp_path_factory.mktemp("report") / "fleet-report.json")}


# --- bad input: a clear error before any node changes -----------------------------------------
def _refused(tmp_path, base_extra, extra=None, host_vars=None, control_plane=(CP,)):
    for node in NODES:
        docker("exec", node, "touch", "/tmp/mk8s-marker")
    time.sleep(1.1)  # file times have one-second steps on some filesystems
    inv = inventory(tmp_path / "hosts.json", list(NODES), control_plane=control_plane, host_vars=host_vars)
    doc, rc = run_playbook("multiarch.k8s.site", dict(base_extra, **(extra or {}), multiarch_k8s_hosts="fleet"),
                           inventory=inv)
    assert rc != 0
    for node in NODES:
        assert node_changes_since(node, "/tmp/mk8s-marker") == [], node
    return " ".join(failures(doc))


def test_two_control_planes_of_different_versions_are_refused(fresh_fleet, base_extra, tmp_path):
    msg = _refused(tmp_path, base_extra, control_plane=(CP, "mk8s-arm64"),
                   host_vars={"mk8s-arm64": {"control_plane_kubernetes_version": "v1.21.0"}})
    assert "disagree on the Kubernetes version" in msg
    assert "mk8s-amd64 has v1.20.2" in msg and "mk8s-arm64 has v1.21.0" in msg


def test_pod_cidr_too_small_for_the_fleet_is_refused(fresh_fleet, base_extra, tmp_path):
    msg = _refused(tmp_path, base_extra, extra={"multiarch_k8s_cluster_cidr": "10.244.0.0/23"})
    assert "10.244.0.0/23" in msg and "4" in msg


def test_pod_cidr_overlapping_the_service_cidr_is_refused(fresh_fleet, base_extra, tmp_path):
    msg = _refused(tmp_path, base_extra, extra={"multiarch_k8s_cluster_cidr": "10.96.0.0/16"})
    assert "overlap" in msg and "10.96.0.0/12" in msg


def test_unreachable_control_plane_is_refused(fresh_fleet, base_extra, tmp_path):
    msg = _refused(tmp_path, base_extra, control_plane=("mk8s-gone",))
    assert "mk8s-gone cannot be reached" in msg


def test_memory_cgroup_off_is_refused(fresh_fleet, base_extra, tmp_path):
    """The armel node's kernel is made to say what a Pi without cgroup_enable=memory says: /proc/cgroups
    with the memory controller's enabled column 0 (a file bind-mounted in the node's own mount namespace)."""
    node = "mk8s-armel"
    docker("exec", node, "sh", "-c", "awk '$1 == \"memory\" {$4 = 0} {print}' OFS='\\t' /proc/cgroups "
           "> /run/mk8s-cgroups && mount --bind /run/mk8s-cgroups /proc/cgroups")
    try:
        msg = _refused(tmp_path, base_extra)
    finally:
        docker("exec", node, "umount", "/proc/cgroups", check=False)
    assert "mk8s-armel: the memory cgroup controller is disabled" in msg
    assert "Nothing was changed on any host" in msg


# --- the cluster ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster(fresh_fleet, base_extra, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cluster")
    before = host_state()
    early = [n for n in NODES if n != LATE]
    inv3 = inventory(tmp / "three.json", early)
    inv4 = inventory(tmp / "four.json", list(NODES))
    for node in NODES:
        docker("exec", node, "touch", "/tmp/mk8s-check-marker")
    time.sleep(1.1)
    check = run_playbook("multiarch.k8s.site", base_extra, inventory=inv3, check=True)
    check_left = dict((n, node_changes_since(n, "/tmp/mk8s-check-marker")) for n in early)
    first = run_playbook("multiarch.k8s.site", base_extra, inventory=inv3)
    assert first[1] == 0, failures(first[0])
    # the late node joins: only it is in the run
    pids = dict((n, docker("exec", n, "systemctl", "show", "-p", "MainPID", "--value", "kubelet").stdout.strip())
                for n in early)
    for node in early:
        docker("exec", node, "touch", "/tmp/mk8s-join-marker")
    time.sleep(1.1)
    join = run_playbook("multiarch.k8s.site", base_extra, inventory=inv4, limit=LATE)
    # the control plane's own records change with the join (etcd's database; kubeadm's copy of the new
    # node's kubeconfig): they are the cluster's, not the node's
    join_touched = dict((n, [f for f in node_changes_since(n, "/tmp/mk8s-join-marker")
                             if not f.startswith(("/etc/kubernetes/multiarch-k8s/", "/var/lib/etcd/"))]) for n in early)
    pids_after = dict((n, docker("exec", n, "systemctl", "show", "-p", "MainPID", "--value", "kubelet").stdout.strip())
                      for n in early)
    full = run_playbook("multiarch.k8s.site", base_extra, inventory=inv4)
    again = run_playbook("multiarch.k8s.site", base_extra, inventory=inv4)
    yield {"check": check, "check_left": check_left, "first": first, "join": join, "join_touched": join_touched,
           "pids": (pids, pids_after), "full": full, "again": again, "host_before": before, "inv4": inv4}


def test_check_mode_on_a_new_fleet_writes_nothing(cluster):
    doc, rc = cluster["check"]
    assert rc == 0, failures(doc)
    assert doc["stats"][CP]["changed"] > 0  # it says what it would do
    assert cluster["check_left"] == dict((n, []) for n in cluster["check_left"])


def test_a_node_joins_with_limit_and_touches_no_other_node(cluster):
    doc, rc = cluster["join"]
    assert rc == 0, failures(doc)
    # the control plane is asked (kubectl, kubeadm for the node's certificate), nothing else on it changes
    assert set(doc["stats"]) == {LATE}
    assert cluster["join_touched"] == dict((n, []) for n in cluster["join_touched"])
    assert cluster["pids"][0] == cluster["pids"][1]


def test_full_run_after_the_join_changes_only_routes_on_the_others(cluster):
    doc, rc = cluster["full"]
    assert rc == 0, failures(doc)
    for node in NODES:
        if node != LATE:
            assert set(changed_tasks(doc, node)) <= {
                "multiarch.k8s.cni : Write the routes to the other nodes' pod CIDRs and the masquerade rule",
                "multiarch.k8s.cni : Apply the pod network routes again"}, node


def test_control_plane_is_up_with_pki_made_by_kubeadm(cluster):
    for service in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert docker("exec", CP, "systemctl", "is-active", service, check=False).stdout.strip() == "active", service
    assert subprocess.run(KUBECTL + ["get", "--raw", "/readyz"], capture_output=True, text=True,
                          check=True).stdout.strip() == "ok"
    version = json.loads(subprocess.run(KUBECTL + ["version", "-o", "json"], capture_output=True, text=True,
                                        check=True).stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.20.2"
    ip = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", CP).stdout.strip()
    cert = docker("exec", CP, "openssl", "x509", "-noout", "-text", "-in", "/etc/kubernetes/pki/apiserver.crt").stdout
    assert "IP Address:%s" % ip in cert and "DNS:%s" % CP in cert
    assert docker("exec", CP, "stat", "-c", "%a", "/etc/kubernetes/pki/ca.key").stdout.strip() == "600"
    # each node's kubelet has its own client certificate, in system:nodes
    for node in NODES:
        conf = docker("exec", node, "cat", "/etc/kubernetes/kubelet.conf").stdout
        data = [line.split(":", 1)[1].strip() for line in conf.splitlines() if "client-certificate-data" in line][0]
        subject = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=base64.b64decode(data),
                                 capture_output=True, check=True).stdout.decode()
        assert "O = system:nodes" in subject and "CN = system:node:%s" % node in subject, subject


def test_every_platform_is_ready_with_kubelet_v1_20_2(cluster):
    nodes = json.loads(subprocess.run(KUBECTL + ["get", "nodes", "-o", "json"], capture_output=True, text=True,
                                      check=True).stdout)["items"]
    seen = {}
    for item in nodes:
        ready = [c["status"] for c in item["status"]["conditions"] if c["type"] == "Ready"]
        seen[item["metadata"]["name"]] = (item["metadata"]["labels"].get("multiarch.k8s/platform"), ready,
                                          item["status"]["nodeInfo"]["kubeletVersion"],
                                          item["status"]["nodeInfo"]["kubeProxyVersion"])
    for node, (platform, _deb, _uname) in NODES.items():
        assert seen[node] == (platform.replace("/", "-"), ["True"], "v1.20.2", "v1.20.2"), (node, seen[node])
    table = subprocess.run(KUBECTL + ["get", "nodes", "-L", "multiarch.k8s/platform", "-o", "wide"],
                           capture_output=True, text=True, check=True).stdout
    print(table)


def test_no_kubelet_asks_the_ec2_metadata_address(cluster):
    """kubelet 1.20 has the AWS credential provider built in; at each start it asks the EC2 metadata address
    (169.254.169.254) and waits about 6 s for an answer that never comes off EC2 (measured here: /healthz
    answered 12 s after a restart, 5.5 s without it). The unit turns it off; the running kubelet has it off."""
    for node in NODES:
        pid = docker("exec", node, "systemctl", "show", "-p", "MainPID", "--value", "kubelet").stdout.strip()
        environ = docker("exec", node, "cat", "/proc/%s/environ" % pid).stdout.split("\0")
        assert "AWS_EC2_METADATA_DISABLED=true" in environ, (node, environ)


def test_pod_cidrs_are_recorded_distinct_and_routed(cluster):
    nodes = json.loads(subprocess.run(KUBECTL + ["get", "nodes", "-o", "json"], capture_output=True, text=True,
                                      check=True).stdout)["items"]
    cidrs = dict((i["metadata"]["name"], i["metadata"]["annotations"]["multiarch.k8s/pod-cidrs"]) for i in nodes)
    assert len(set(cidrs.values())) == 4 and all(c.startswith("10.244.") for c in cidrs.values())
    for node in NODES:
        routes = docker("exec", node, "ip", "route", "show", "proto", "77").stdout
        for other, cidr in cidrs.items():
            assert (cidr in routes) is (other != node), (node, routes)


def _workload(node, deb_arch):
    """Debian's static busybox of the node's architecture, packed into an image on the node."""
    busybox = debs.fetch([deb_arch])[deb_arch]["busybox"]
    docker("exec", node, "mkdir", "-p", "/opt/mk8s-tests")
    docker("cp", busybox, "%s:/opt/mk8s-tests/busybox" % node)
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    args = {"name": "localhost/multiarch-k8s-tests/uname-http:1", "platform": NODES[node][0],
            "files": [{"src": "/opt/mk8s-tests/busybox", "dest": "/bin/busybox"}], "entrypoint": ["/bin/busybox"]}
    proc = subprocess.run(["ansible", node, "-m", "multiarch.k8s.node_image", "-a", json.dumps(args)],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:]


def _pod(node):
    """On the emulated nodes the pod is privileged: the kubelet asks for the runtime/default seccomp profile
    for every pod sandbox, containerd under QEMU user emulation cannot use seccomp (QEMU refuses
    prctl(PR_SET_SECCOMP)), and a privileged sandbox is the one case where containerd skips it. The
    workload is still the node's own architecture, on the pod network. A real Pi needs none of this."""
    platform = NODES[node][0]
    env = [{"name": "QEMU_CPU", "value": "arm1176"}] if node == "mk8s-armel" else []
    emulated = NODES[node][1] != "amd64"
    script = ("/bin/busybox mkdir -p /www && /bin/busybox uname -m > /www/index.html && "
              "exec /bin/busybox httpd -f -p 8080 -h /www")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "uname-" + node, "namespace": "default"},
            "spec": {"nodeSelector": {"multiarch.k8s/platform": platform.replace("/", "-")},
                     "containers": [{"name": "http", "image": "localhost/multiarch-k8s-tests/uname-http:1",
                                     "imagePullPolicy": "Never", "env": env,
                                     "securityContext": {"privileged": emulated},
                                     "command": ["/bin/busybox", "sh", "-c", script]}]}}


def test_a_pod_per_platform_answers_across_nodes_with_its_machine(cluster):
    for node, (_platform, deb_arch, _uname) in NODES.items():
        _workload(node, deb_arch)
    pods = {"apiVersion": "v1", "kind": "List", "items": [_pod(n) for n in NODES]}
    subprocess.run(KUBECTL[:2] + ["-i"] + KUBECTL[2:] + ["apply", "-f", "-"], input=json.dumps(pods),
                   capture_output=True, text=True, check=True)
    deadline = time.monotonic() + 300
    ips = {}
    while time.monotonic() < deadline:
        items = json.loads(subprocess.run(KUBECTL + ["get", "pods", "-o", "json"], capture_output=True, text=True,
                                          check=True).stdout)["items"]
        ips = dict((i["metadata"]["name"][len("uname-"):], i["status"].get("podIP")) for i in items
                   if i["status"].get("phase") == "Running")
        if len(ips) == 4:
            break
        time.sleep(3)
    described = "" if len(ips) == 4 else subprocess.run(KUBECTL + ["describe", "pods"], capture_output=True,
                                                        text=True, check=False).stdout[-4000:]
    assert len(ips) == 4, described
    names = list(NODES)
    for i, node in enumerate(names):
        other = names[(i + 1) % len(names)]  # ask from the next node: traffic crosses the fleet's network
        url = "http://%s:8080/" % ips[node]
        answer = docker("exec", other, "python3", "-c",
                        "import urllib.request; print(urllib.request.urlopen(%r, timeout=10).read().decode().strip())"
                        % url).stdout.strip()
        assert answer == NODES[node][2], (node, other, answer)


def test_rerun_changes_nothing_on_any_host(cluster):
    doc, rc = cluster["again"]
    assert rc == 0, failures(doc)
    for node in NODES:
        assert doc["stats"][node]["changed"] == 0, (node, changed_tasks(doc, node))


def test_fleet_report_shows_every_platform_ready(cluster, base_extra):
    doc, _rc = cluster["again"]
    shown = [r for p in doc["plays"] for t in p["tasks"] if t["task"]["name"] == "Show the fleet report"
             for r in t["hosts"].values()]
    table = "\n".join(shown[0]["msg"])
    print(table)
    with open(base_extra["multiarch_k8s_report_file"]) as f:
        records = dict((r["host"], r) for r in json.load(f)["hosts"])
    assert sorted(records) == sorted(NODES)
    for node, (platform, _deb, _uname) in NODES.items():
        r = records[node]
        assert r["platform"] == platform and r["release"].startswith("v1.20.2-" + platform.replace("/", "-"))
        assert r["node"]["ready"] is True and r["node"]["kubelet"] == "v1.20.2"
        assert r["services"] == {"containerd": "active", "kubelet": "active", "kube-proxy": "active"}
        assert r["image"]["manifest"].startswith("sha256:") and r["versions"]["kubelet"] == "v1.20.2"
        assert node in table
    assert records["mk8s-armel"]["decided"]  # how the platform was decided, in words


# --- upgrades and rollbacks on the running cluster ----------------------------------------------
# Real: 1.20.2 built from the upstream tarball -> 1.20.2 rebuilt from the same tree with Debian's patches
# (debian/patches: the CVE-2021-25743 fix and two printer patches). Those patches touch only kubectl's
# printers, so the rebuilt kubelet and kube-proxy are byte for byte the same; the new holder image is
# still a new release for every node (new manifest, new id), and kubectl on the control plane changes.
# Stand-ins (tests/fixtures/standin, built by the same path): a kubelet "v1.22.0" for the skew guard and a
# kubelet "v1.20.3" that never registers with the API server, for the health gate and the rollback.
PATCHED = "docker://127.0.0.1:5000/multiarch-k8s-tests/cluster:v1.20.2-debian"
STANDIN_DIR = os.path.join(os.path.dirname(HERE), "fixtures", "standin")
PREFIX = "/opt/multiarch-k8s"
WORKERS = ["mk8s-arm64", "mk8s-armhf", "mk8s-armel"]


def _build(extra, tmp_path_factory):
    doc, rc = run_playbook("multiarch.k8s.build", dict({
        "multiarch_k8s_build_dir": os.path.join(CACHE, "build"), "multiarch_k8s_build_components": ["kubelet"],
        "multiarch_k8s_lock_file": str(tmp_path_factory.mktemp("lock") / "lock.yml")}, **extra))
    assert rc == 0, failures(doc)
    return extra["multiarch_k8s_build_dest"]


@pytest.fixture(scope="module")
def patched(tmp_path_factory):
    """The Kubernetes binaries of the nodes (kubelet, kube-proxy; kubeadm and kubectl on the control plane),
    built from the same tree with Debian's patches; the nodes keep pause, the CNI plugins and the control
    plane's services from the release they run (upgrade.yml's overlay)."""
    return _build({"multiarch_k8s_build_dest": PATCHED, "multiarch_k8s_build_debian_patches": True,
                   "multiarch_k8s_build_components": ["kubelet", "kube-proxy"],
                   "multiarch_k8s_build_platform_components": {"linux/amd64": ["kubeadm", "kubectl"]}}, tmp_path_factory)


def standin(version, tmp_path_factory):
    """A holder with only a stand-in kubelet of ``version`` for the four platforms (upgrade.yml keeps the
    node's other binaries from the release it runs)."""
    return _build({"multiarch_k8s_build_source": STANDIN_DIR, "multiarch_k8s_build_version": version,
                   "multiarch_k8s_build_dest": "docker://127.0.0.1:5000/multiarch-k8s-tests/standin-kubelet:" + version},
                  tmp_path_factory)


def current(node):
    return docker("exec", node, "readlink", PREFIX + "/current").stdout.strip().rsplit("/", 1)[-1]


def node_state(node):
    doc = json.loads(subprocess.run(KUBECTL + ["get", "node", node, "-o", "json"], capture_output=True, text=True,
                                    check=True).stdout)
    ready = [c["status"] for c in doc["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
    return {"ready": ready, "schedulable": not doc["spec"].get("unschedulable", False),
            "cordoned_by": doc["metadata"].get("annotations", {}).get("multiarch.k8s/cordoned-by"),
            "kubelet": doc["status"]["nodeInfo"]["kubeletVersion"]}


def healthy(node):
    return node_state(node) == {"ready": True, "schedulable": True, "cordoned_by": None, "kubelet": "v1.20.2"}


def wait_healthy(node, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not healthy(node):
        time.sleep(3)
    return healthy(node)


def upgrade(cluster, base_extra, src, check=False, limit=None, env=None, **extra):
    return run_playbook("multiarch.k8s.upgrade", dict(base_extra, multiarch_k8s_upgrade_src=src, multiarch_k8s_hosts="fleet", **extra),
                        inventory=cluster["inv4"], check=check, limit=limit, env=env)


def releases_on(node):
    return sorted(docker("exec", node, "ls", PREFIX + "/releases").stdout.split())


def touch_markers():
    for node in NODES:
        docker("exec", node, "touch", "/tmp/mk8s-upgrade-marker")
    time.sleep(1.1)


def node_files_changed(node):
    """Files an upgrade could write (releases, links, configuration) newer than the marker; etcd's own data
    (/var/lib/etcd) changes all the time in a running cluster and is left out."""
    return [f for f in node_changes_since(node, "/tmp/mk8s-upgrade-marker") if not f.startswith("/var/lib/etcd/")]


@pytest.fixture(scope="module")
def idle_cluster(cluster):
    """The cluster without the pod test's bare pods (a drain rightly refuses to delete pods no controller manages)."""
    subprocess.run(KUBECTL + ["delete", "pod", "--all", "--wait=true", "--timeout=120s"], check=True, timeout=180)
    return cluster


def test_upgrade_breaking_the_skew_policy_is_refused_before_any_change(idle_cluster, base_extra, tmp_path_factory):
    src = standin("v1.22.0", tmp_path_factory)
    touch_markers()
    doc, rc = upgrade(idle_cluster, base_extra, src)
    assert rc != 0
    msg = " ".join(failures(doc))
    assert "breaks the Kubernetes version skew policy" in msg
    for node in NODES:
        assert "%s: kubelet v1.22.0 would be newer than kube-apiserver v1.20" % node in msg
        assert node_files_changed(node) == [], node
    assert "Nothing was changed on any host" in msg


def test_upgrade_check_mode_shows_the_plan_and_changes_nothing(idle_cluster, base_extra, patched):
    touch_markers()
    doc, rc = upgrade(idle_cluster, base_extra, patched, check=True)
    assert rc == 0, failures(doc)
    plan = [r["msg"] for p in doc["plays"] for t in p["tasks"] if t["task"]["name"] == "Show the plan"
            for r in t["hosts"].values()][0]
    print(json.dumps(plan, indent=1))
    assert plan["skew"] == [] and plan["control_plane"] == [CP]
    assert plan["batches"] == [["mk8s-arm64"], ["mk8s-armhf"], ["mk8s-armel"]]  # one platform each: never two at once
    # Debian's patches change kubectl and kubeadm only (their printers); the kubelet and kube-proxy are the same bytes
    assert plan["hosts"][CP]["changes"] == ["kubeadm", "kubectl"] and plan["hosts"][CP]["bytes"] > 10 * 1024 * 1024
    for node in WORKERS:
        line = plan["hosts"][node]
        assert line["changes"] == [] and line["from"] != line["to"] and line["digest"].startswith("sha256:")
    for node in NODES:
        assert node_files_changed(node) == [], node


def test_real_rollout_to_the_debian_patched_build(idle_cluster, base_extra, patched):
    before = dict((n, current(n)) for n in NODES)
    pids = dict((n, docker("exec", n, "systemctl", "show", "-p", "MainPID", "--value", "kubelet").stdout.strip()) for n in NODES)
    kubectl_before = docker("exec", CP, "sha256sum", "/usr/local/bin/kubectl").stdout.split()[0]
    started = time.monotonic()
    doc, rc = upgrade(idle_cluster, base_extra, patched)
    print("rollout of the Debian-patched build over four nodes: %.0f s" % (time.monotonic() - started))
    assert rc == 0, failures(doc)
    for node in NODES:
        assert current(node) != before[node], node
        assert docker("exec", node, "readlink", PREFIX + "/previous").stdout.strip().endswith(before[node])
        assert healthy(node), (node, node_state(node))
        # nothing a service runs changed, so nothing was restarted
        assert docker("exec", node, "systemctl", "show", "-p", "MainPID", "--value", "kubelet").stdout.strip() == pids[node]
    assert docker("exec", CP, "sha256sum", "/usr/local/bin/kubectl").stdout.split()[0] != kubectl_before
    again, rc = upgrade(idle_cluster, base_extra, patched)
    assert rc == 0, failures(again)
    for node in NODES:
        assert again["stats"][node]["changed"] == 0, (node, changed_tasks(again, node))


def test_rollback_playbook_returns_a_node_to_its_previous_release(idle_cluster, base_extra):
    node = "mk8s-armel"
    previous = docker("exec", node, "readlink", PREFIX + "/previous").stdout.strip().rsplit("/", 1)[-1]
    doc, rc = run_playbook("multiarch.k8s.rollback", dict(base_extra, multiarch_k8s_hosts=node), inventory=idle_cluster["inv4"])
    assert rc == 0, failures(doc)
    assert current(node) == previous and healthy(node)
    nobody, rc = run_playbook("multiarch.k8s.rollback", base_extra, inventory=idle_cluster["inv4"])
    assert rc != 0 and "Name the hosts to roll back" in " ".join(failures(nobody))


def test_controller_killed_mid_rollout_then_a_rerun_finishes(idle_cluster, base_extra, patched):
    """The armel node is back on the upstream build (the test above). upgrade.yml is killed (its whole process
    group, which this test started) once it has cordoned that node; a rerun finds its own cordon by the
    annotation and finishes: the node on the patched build, Ready and schedulable."""
    node = "mk8s-armel"
    before = current(node)
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    extra = dict(base_extra, multiarch_k8s_upgrade_src=patched, multiarch_k8s_hosts="fleet")
    proc = subprocess.Popen(["ansible-playbook", "multiarch.k8s.upgrade", "-i", str(idle_cluster["inv4"]), "-e", json.dumps(extra),
                             "--limit", node],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and proc.poll() is None:
            state = node_state(node)
            if state["cordoned_by"] and not state["schedulable"]:
                break
            time.sleep(1)
        assert proc.poll() is None, "upgrade.yml ended before it cordoned %s" % node
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait(timeout=60)
    crashed = node_state(node)
    assert crashed["cordoned_by"] == "multiarch.k8s" and not crashed["schedulable"], crashed
    doc, rc = upgrade(idle_cluster, base_extra, patched, limit=node)
    assert rc == 0, failures(doc)
    assert current(node) != before and current(node).startswith("v1.20.2-debian-linux-arm-v6-")
    assert healthy(node), node_state(node)


def test_kubelet_failing_its_health_gate_is_rolled_back_and_the_rollout_stops(idle_cluster, base_extra, tmp_path_factory):
    src = standin("v1.20.3", tmp_path_factory)
    before = dict((n, current(n)) for n in WORKERS)
    doc, rc = upgrade(idle_cluster, base_extra, src, limit=",".join(WORKERS), multiarch_k8s_ready_timeout=45)
    assert rc != 0
    msg = " ".join(failures(doc))
    print(msg)
    # the first batch's node tried, failed the gate, went back and is serving; the later batches were not touched
    assert "mk8s-arm64 failed at 'Health gate in the cluster (Node Ready with the new kubelet)'" in msg
    assert "It is back on %s, healthy and Ready" % before["mk8s-arm64"] in msg
    assert "The rollout stopped." in msg
    assert "Not touched (still on their release, the new one staged): mk8s-armhf, mk8s-armel." in msg
    assert doc["stats"]["mk8s-arm64"]["rescued"] == 2  # the role's rollback, then upgrade.yml noting the stop
    for node in WORKERS:
        assert current(node) == before[node], node
        assert wait_healthy(node), (node, node_state(node))
    # the stand-in was staged on every node before any switch; the untouched ones still hold it, unused
    assert any(r.startswith("v1.20.3-linux-arm-v7-") for r in docker("exec", "mk8s-armhf", "ls", PREFIX + "/releases").stdout.split())


def test_drain_blocked_by_a_disruption_budget_uncordons_and_stops(idle_cluster, base_extra, tmp_path_factory):
    node = "mk8s-armhf"
    manifest = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pinned", "namespace": "default"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "pinned"}}, "template": {
             "metadata": {"labels": {"app": "pinned"}},
             "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "containers": _pod(node)["spec"]["containers"]}}}},
        {"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "pinned", "namespace": "default"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "pinned"}}}}]}
    kubectl_in = KUBECTL[:2] + ["-i"] + KUBECTL[2:]
    subprocess.run(kubectl_in + ["apply", "-f", "-"], input=json.dumps(manifest), text=True, check=True)
    try:
        subprocess.run(KUBECTL + ["rollout", "status", "deployment/pinned", "--timeout=180s"], check=True, timeout=240)
        before = current(node)
        src = standin("v1.20.3", tmp_path_factory)
        doc, rc = upgrade(idle_cluster, base_extra, src, limit=node, multiarch_k8s_drain_timeout=20)
        assert rc != 0
        msg = " ".join(failures(doc))
        print(msg)
        assert "%s failed at 'Cordon and drain the node (evictions honour PodDisruptionBudgets)'" % node in msg
        assert "disruption budget" in msg and "Nothing had been switched" in msg
        assert current(node) == before and healthy(node), node_state(node)
        pods = subprocess.run(KUBECTL + ["get", "pods", "-l", "app=pinned", "-o", "jsonpath={.items[*].status.phase}"],
                              capture_output=True, text=True, check=True).stdout
        assert pods == "Running"
    finally:
        subprocess.run(kubectl_in + ["delete", "-f", "-"], input=json.dumps(manifest), text=True, check=False)
        # the pod goes in the background: wait until it is gone, or the next drain of this node waits for it
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and subprocess.run(
                KUBECTL + ["get", "pods", "-l", "app=pinned", "-o", "name"], capture_output=True, text=True, check=False).stdout.strip():
            time.sleep(2)


def test_a_smoke_test_failing_while_staging_switches_nothing_anywhere(idle_cluster, base_extra, tmp_path_factory):
    """A stand-in kubelet built broken (every run exits 1, as a binary that cannot run on its node would) for
    every platform: staging smoke-tests it on each node while the node still serves, fails, removes the
    half-made release, and the upgrade stops before any node is drained or switched."""
    src = standin("v1.20.3-broken", tmp_path_factory)
    before = dict((n, (current(n), releases_on(n))) for n in NODES)
    doc, rc = upgrade(idle_cluster, base_extra, src)
    assert rc != 0
    msg = " ".join(failures(doc))
    print(msg)
    assert "smoke test failed, nothing switched: kubelet --version exited 1" in msg and "was built broken" in msg
    assert not [t for p in doc["plays"] for t in p["tasks"] if t["task"]["name"].startswith("Cordon and drain")]
    for node in NODES:
        assert (current(node), releases_on(node)) == before[node], node
        assert healthy(node), (node, node_state(node))


def test_a_node_without_room_for_the_new_release_stops_the_upgrade_before_any_switch(idle_cluster, base_extra, tmp_path_factory):
    """mk8s-armel's releases directory is moved onto a tmpfs of its own, holding what it held and 2 MB more (a
    nearly full SD card; the stand-in staged there by an earlier test is removed first). node_release's space
    check, made where the files go (the releases directory), refuses the new kubelet before anything is sent,
    and the upgrade stops with every node on its release."""
    node = "mk8s-armel"
    src = standin("v1.20.3", tmp_path_factory)
    before = dict((n, current(n)) for n in NODES)
    rel = PREFIX + "/releases"
    # the stand-in may be staged there already (the health-gate test above): the node must need the space
    docker("exec", node, "sh", "-c", "rm -rf %s/v1.20.3-linux-*" % rel)
    held = releases_on(node)
    used_kb = int(docker("exec", node, "du", "-sk", rel).stdout.split()[0])
    docker("exec", node, "sh", "-c", "set -e; rm -rf /tmp/mk8s-releases; cp -a %s /tmp/mk8s-releases; "
           "mount -t tmpfs -o size=%dk tmpfs %s; cp -a /tmp/mk8s-releases/. %s/" % (rel, used_kb + 2048, rel, rel))
    try:
        assert releases_on(node) == held
        doc, rc = upgrade(idle_cluster, base_extra, src)
        assert rc != 0
        msg = " ".join(failures(doc))
        print(msg)
        assert "%s / Stage the target release" % node in msg
        assert "not enough space at %s/releases: " % PREFIX in msg and msg.count("nothing was sent") == 1
        assert releases_on(node) == held
        for other in NODES:
            assert current(other) == before[other], other
            assert healthy(other), (other, node_state(other))
    finally:
        docker("exec", node, "sh", "-c", "umount -l %s; rm -rf /tmp/mk8s-releases" % rel, check=False)
    assert releases_on(node) == held and healthy(node)


class Freezer(threading.Thread):
    """Freezes ``node`` (docker pause) once ``first`` is cordoned (the batch before it has begun, so that the first
    step of the node's own is the one that gets no answer) and, with ``thaw_after``, unfreezes it that many seconds
    after the node itself was cordoned. Bounded in time; stop() unfreezes it in any case."""

    def __init__(self, node, first, thaw_after=None):
        super().__init__(daemon=True)
        self.node, self.first, self.thaw_after, self.events, self.done = node, first, thaw_after, {}, threading.Event()

    def cordoned(self, node):
        try:
            return bool(node_state(node)["cordoned_by"])
        except subprocess.CalledProcessError:  # the API server busy for a moment: ask again
            return False

    def run(self):
        deadline = time.monotonic() + 1500
        while not self.done.is_set() and time.monotonic() < deadline:
            if "paused" not in self.events:
                if self.cordoned(self.first):
                    docker("pause", self.node)
                    self.events["paused"] = time.monotonic()
            elif "cordoned" not in self.events:
                if self.cordoned(self.node):
                    self.events["cordoned"] = time.monotonic()
            elif self.thaw_after is not None and time.monotonic() - self.events["cordoned"] > self.thaw_after:
                self.stop()
                return
            time.sleep(1)

    def stop(self):
        if "paused" in self.events and "unpaused" not in self.events:
            docker("unpause", self.node, check=False)
            self.events["unpaused"] = time.monotonic()
        self.done.set()


def frozen_rollout(idle_cluster, base_extra, patched, freezer, **extra):
    """upgrade.yml over the three workers (batches arm64, armhf, armel) with pipelining off: the docker connection
    then reports a frozen node as unreachable, as SSH does a Pi that stopped answering."""
    on_patched = current(freezer.node).startswith("v1.20.2-debian-")
    if current(freezer.first).startswith("v1.20.2-debian-") != on_patched:  # both on the same build first
        doc, rc = upgrade(idle_cluster, base_extra, patched if on_patched else base_extra["multiarch_k8s_holder_src"], limit=freezer.first)
        assert rc == 0, failures(doc)
    before = dict((n, current(n)) for n in WORKERS)
    # a real change for both: to the upstream build if they run the Debian-patched one, else to that one
    target = base_extra["multiarch_k8s_holder_src"] if on_patched else patched
    freezer.start()
    try:
        doc, rc = upgrade(idle_cluster, base_extra, target, limit=",".join(WORKERS), env={"ANSIBLE_PIPELINING": "0"}, **extra)
    finally:
        if freezer.thaw_after is not None:
            freezer.stop()
        freezer.done.set()
        freezer.join(timeout=60)
    return before, target, doc, rc


def test_a_node_that_stays_away_is_left_cordoned_and_a_rerun_finishes_it(idle_cluster, base_extra, patched):
    """mk8s-armhf stops answering (frozen) just as its turn comes and stays away past
    multiarch_k8s_unreachable_timeout (20 s). Ansible's rescue does not see unreachable hosts; the role turns it
    into a failure, waits for the node, and, its release unknown, leaves it cordoned with the annotation and says
    so; the rollout stops before mk8s-armel. Unfrozen afterwards, a rerun of upgrade.yml for it finishes it: on
    the new release, Ready and schedulable."""
    node, first = "mk8s-armhf", "mk8s-arm64"
    freezer = Freezer(node, first)
    try:
        before, target, doc, rc = frozen_rollout(idle_cluster, base_extra, patched, freezer, multiarch_k8s_unreachable_timeout=20)
        msg = " ".join(failures(doc))
        print(msg)
        assert rc != 0 and "cordoned" in freezer.events, freezer.events
        assert "%s failed at 'Switch current to the release': the node stopped answering" % node in msg
        assert "It did not answer again within 20 s and is left cordoned (annotation multiarch.k8s/cordoned-by)" in msg
        assert "Not touched (still on their release, the new one staged): mk8s-armel." in msg
        left = node_state(node)
        assert left["cordoned_by"] == "multiarch.k8s" and not left["schedulable"], left
    finally:
        freezer.stop()
    assert current(node) == before[node]
    again, rc = upgrade(idle_cluster, base_extra, target, limit=node)
    assert rc == 0, failures(again)
    assert current(node) != before[node] and wait_healthy(node), node_state(node)


def test_a_node_that_stops_answering_mid_rollout_is_rolled_back_once_it_answers(idle_cluster, base_extra, patched):
    """As above, but mk8s-armhf answers again 20 s after it was cordoned: the rescue, waiting for it, puts it back
    on its release and uncordons it, and the rollout stops before mk8s-armel."""
    node, first = "mk8s-armhf", "mk8s-arm64"
    freezer = Freezer(node, first, thaw_after=20)
    before, _target, doc, rc = frozen_rollout(idle_cluster, base_extra, patched, freezer, multiarch_k8s_unreachable_timeout=300)
    assert "cordoned" in freezer.events and "unpaused" in freezer.events, freezer.events
    msg = " ".join(failures(doc))
    print(msg)
    assert rc != 0
    assert "%s failed at 'Switch current to the release': the node stopped answering" % node in msg
    assert "It answered again after " in msg and "Nothing had been switched; it is healthy and Ready." in msg
    assert "The rollout stopped." in msg and "Not touched (still on their release, the new one staged): mk8s-armel." in msg
    assert current(first) != before[first]  # the batch before it finished
    for other in (node, "mk8s-armel"):
        assert current(other) == before[other], other
    for other in WORKERS:
        assert wait_healthy(other), (other, node_state(other))


def test_the_host_is_unchanged(cluster):
    assert host_state() == cluster["host_before"]
