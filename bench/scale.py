# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: one controller against a growing emulated fleet, push and pull distribution.

    make bench-scale            (after make demo; or: source tools/lib.sh; PYTHONPATH=$COLLECTIONS python bench/scale.py)
    python bench/scale.py --quick                       (4 and 20 hosts, forks 20: a few minutes)
    python bench/scale.py --payload workers --sizes 4 --forks 4        (a worker's real binaries: bytes per host)

The fleet: up to 40 light containers, 10 per platform (linux/amd64, linux/arm64, linux/arm/v7 and
linux/arm/v6 with QEMU's ARM1176 CPU model), from the node images tests/fleet/fleet.py builds, each
running a plain ``sleep`` (no systemd), on an internal docker network of their own (``mk8s-scale``),
named ``mk8s-scale-<arch>-<n>``. All of it is removed at the end, also on an error or Ctrl-C.

Each run is the collection's real path through ansible-playbook (community.docker connection):
node_facts on every host (platform detection), holder_pull once per platform on the controller
(from the registry on 127.0.0.1:5000, cold cache), node_release on every host, with
``distribution=push`` (the controller sends the files) or ``distribution=pull`` (the nodes fetch
their layer from a mirror: Debian's docker-registry in a container on the scale network, as
tests/integration/test_node_release.py does). Every run starts from empty nodes and an empty
controller cache (a new version going out).

Payloads (``--payload``):
- ``small`` (default): pause and the four CNI plugins of the real holder image
  multiarch-k8s/cluster:v1.20.2 (what ``make demo`` builds and pushes), put in a holder image of
  their own (multiarch-k8s-bench/scale) so that push and pull move the same files. On this 2-core
  machine every node's work runs under QEMU on the same cores as the controller; the small payload
  keeps a full run under 20 minutes.
- ``workers``: a worker's real set from multiarch-k8s/cluster:v1.20.2 (kubelet, kube-proxy, pause, CNI
  plugins). In pull mode each node fetches its platform's whole layer (the amd64 image also holds the
  control plane). Slow here: use it with small sizes.

Cells (mode, hosts, forks): push at every size with the largest forks and at the largest size with
every forks; pull at the smallest and the largest size with the largest forks (``--matrix``: every
combination). Default: push 4/20/40 hosts with forks 20 and 40 hosts with forks 5, pull 4 and 40 hosts
with forks 20, one run each: 16-19 minutes here (2 cores, shared with other work).

Measured per run, and printed as medians over ``--runs``:
- wall time of ansible-playbook, and per host;
- controller CPU seconds: user + system of the ansible-playbook process tree, its connection
  processes (docker CLI) included (``wait4`` rusage), and of the ansible-playbook process alone
  (sampled from /proc);
- node CPU seconds: what the hosts' containers used (their cgroup's cpuacct), i.e. the emulated nodes'
  own work, which on a real fleet runs on each node's own CPU;
- controller peak memory: the ansible-playbook process tree sampled every 0.5 s; the peak of the sum
  of RSS over the tree, and the peak of the sum of PSS (which shares the pages forked workers have in
  common fairly), both also split into ansible's Python processes and the connection processes;
- origin pulls: GETs of each platform's layer blob the controller made to 127.0.0.1:5000, counted at
  the wire by a loopback relay in front of the registry (holder_pull is pointed at the relay);
- mirror pulls (pull mode): GETs of each platform's layer blob in the mirror's access log;
- bytes the controller sent per host: node_release's ``bytes_sent`` (the files) in every run, and, in
  one extra run per mode on one host per platform, everything the controller hands the connection:
  a counting stand-in for the docker CLI, first in that run's PATH, passes everything through and adds
  up the bytes of its standard input (the module payloads of node_facts and of the two node_release
  calls, pipelined, and the uploaded files) and of its arguments.

Ratios are against a baseline measured in the same run: the smallest size (per-host figures), push
(controller bytes and CPU), the largest forks (wall time). The results also go to
tests/output/bench-scale-<payload>[-<cells>].json.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import datetime
import hashlib
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(REPO, "tests", "helpers"), os.path.join(REPO, "tests", "fleet")]

import fleet
import holders
from runner import stop_group
from ansible_collections.multiarch.k8s.plugins.module_utils._holder import METADATA
from ansible_collections.multiarch.k8s.plugins.plugin_utils._oci_write import LayoutWriter, tar_entry

NETWORK = "mk8s-scale"
LABEL = "io.multiarch-k8s.scale"
MIRROR = "mk8s-scale-mirror"
PREFIX = "/opt/mk8s-scale"
CACHE = os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s")
REGISTRY = os.environ.get("MULTIARCH_REGISTRY", "127.0.0.1:5000")
CLUSTER = "multiarch-k8s/cluster"
TAG = "v1.20.2"
SCALE_REPO = "multiarch-k8s-bench/scale"
SMALL = ("pause", "bridge", "host-local", "loopback", "portmap")
WORKERS = ("kubelet", "kube-proxy") + SMALL
OUTPUT = os.path.join(REPO, "tests", "output")
SAMPLE_S = 0.5
DEFAULTS = {"sizes": "4,20,40", "forks": "5,20", "modes": "push,pull"}
# the fleet's node images, one per platform; "armel" runs with QEMU_CPU=arm1176 (set in its image)
ARCHES = [(n["name"].split("-", 1)[1], n) for n in fleet.NODES]

PLAYBOOK = """---
- name: Scale bench
  hosts: scale
  gather_facts: false
  tasks:
    - name: Decide each host's platform
      multiarch.k8s.node_facts:
        install_dir: %(prefix)s

    - name: Pull the binaries once per platform the fleet needs (on the controller)
      multiarch.k8s.holder_pull:
        src: "{{ scale_src }}"
        platforms: "{{ ansible_play_hosts | map('extract', hostvars, ['multiarch_k8s', 'platform']) | unique | list }}"
        files: "{{ scale_files }}"
        dest: "{{ scale_cache }}"
      run_once: true
      delegate_to: localhost
      register: scale_pulled

    - name: Install each host's bundle as a staged release and switch to it
      multiarch.k8s.node_release:
        bundle: "{{ scale_pulled.bundles[multiarch_k8s.platform] }}"
        prefix: %(prefix)s
        bin_dir: ""
        distribution: "{{ scale_distribution }}"
        pull_source: "{{ scale_pull_source | default(omit) }}"
        pull_insecure: true
""" % {"prefix": PREFIX}

MIRROR_CONF = """version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
"""


def log(msg):
    sys.stderr.write("[scale %6.1fs] %s\n" % (time.monotonic() - _T0, msg))
    sys.stderr.flush()


_T0 = time.monotonic()


def docker(*args, check=True, timeout=300):
    proc = subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError("docker %s failed: %s" % (" ".join(args[:3]), proc.stderr.strip()[-500:]))
    return proc


# --- the fleet ------------------------------------------------------------------------------------
class Fleet(object):
    """The light containers and their network; ``remove`` takes away everything labelled as ours."""

    def __init__(self, per_platform):
        self.per_platform = per_platform
        self.hosts = []  # round robin over the platforms: any prefix of it is a balanced fleet
        for i in range(1, per_platform + 1):
            for arch, node in ARCHES:
                self.hosts.append({"name": "mk8s-scale-%s-%d" % (arch, i), "platform": node["platform"], "node": node})
        self.ids = {}

    @staticmethod
    def _ours():
        """Whether our network exists (a network of that name that is not ours stops the bench)."""
        proc = docker("network", "inspect", NETWORK, check=False)
        if proc.returncode != 0:
            return False
        if (json.loads(proc.stdout)[0].get("Labels") or {}).get(LABEL) != "network":
            raise SystemExit("docker network %s exists and is not this bench's; remove or rename it" % NETWORK)
        return True

    @classmethod
    def remove(cls, network=True):
        names = docker("ps", "-aq", "--filter", "label=" + LABEL, check=False).stdout.split()
        if names:
            docker("rm", "-f", "-v", *names, check=False, timeout=600)
        if not network:
            return
        deadline = time.monotonic() + 30
        while cls._ours():
            err = docker("network", "rm", NETWORK, check=False).stderr.strip()
            if cls._ours() and time.monotonic() > deadline:
                held = json.loads(docker("network", "inspect", NETWORK).stdout)[0].get("Containers") or {}
                log("could not remove the docker network %s: %s. %s; the next run reuses the network."
                    % (NETWORK, err.splitlines()[0] if err else "no reason given",
                       "It holds no container (a stale endpoint in dockerd)" if not held else
                       "It still holds %s" % ", ".join(sorted(v.get("Name", k) for k, v in held.items()))))
                return
            time.sleep(2)

    def up(self):
        client = fleet.docker_client()
        tags = dict((arch, fleet.build_image(client, node)) for arch, node in ARCHES)
        self.remove(network=False)  # what an interrupted run left
        if not self._ours():
            docker("network", "create", "--internal", "--label", LABEL + "=network", NETWORK)
        elif not json.loads(docker("network", "inspect", NETWORK).stdout)[0].get("Internal"):
            raise SystemExit("docker network %s is not internal; remove it" % NETWORK)

        def start(host):
            arch = host["name"].split("-")[2]
            cid = docker("run", "-d", "--name", host["name"], "--hostname", host["name"], "--network", NETWORK,
                         "--label", LABEL + "=node", "--platform", host["platform"], "--log-driver", "none",
                         "--entrypoint", "/bin/sleep", tags[arch], "infinity").stdout.strip()
            return host["name"], cid

        start_t = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            self.ids = dict(pool.map(start, self.hosts))
        platforms = ", ".join(sorted(set(h["platform"] for h in self.hosts)))
        log("%d hosts up in %.1fs (%s)" % (len(self.hosts), time.monotonic() - start_t, platforms))

    def each(self, names, script):
        def run(name):
            return name, docker("exec", name, "sh", "-c", script, check=False, timeout=120).stdout

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            return dict(pool.map(run, names))

    def cpu_ns(self, names):
        total = 0
        for name in names:
            try:
                with open("/sys/fs/cgroup/cpuacct/docker/%s/cpuacct.usage" % self.ids[name]) as f:
                    total += int(f.read())
            except OSError:
                return None
        return total


# --- the payload's holder image -------------------------------------------------------------------
def skopeo(*args, timeout=900):
    subprocess.run(["skopeo"] + list(args), check=True, timeout=timeout, stdout=subprocess.DEVNULL)


def index_digest(ref):
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", ref], check=True, capture_output=True,
                         timeout=120).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def small_holder():
    """A holder image of the cluster image's small files (pause, CNI plugins), one layer per platform,
    with the cluster image's own metadata for them; cached, pushed to the registry; returns its ref."""
    src = "docker://%s/%s:%s" % (REGISTRY, CLUSTER, TAG)
    try:
        digest = index_digest(src)
    except subprocess.CalledProcessError:
        raise SystemExit("the holder image %s is not in the registry: run make demo first (it builds and pushes it)" % src)
    key = hashlib.sha256(json.dumps([digest, SMALL, 1]).encode()).hexdigest()[:16]
    layout = os.path.join(CACHE, "bench", "scale-holder-" + key)
    if not os.path.exists(os.path.join(layout, "index.json")):
        log("deriving the small holder image from %s (%s)" % (src, digest[:19]))
        os.makedirs(os.path.dirname(layout), exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".scale-holder-", dir=os.path.dirname(layout))
        try:
            _derive(src, os.path.join(tmp, "src"), os.path.join(tmp, "out"), os.path.join(tmp, "files"))
            shutil.rmtree(layout, ignore_errors=True)
            os.replace(os.path.join(tmp, "out"), layout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return holders.push(layout, TAG, SCALE_REPO), layout


def _blob(root, digest):
    return os.path.join(root, "blobs", "sha256", digest.split(":", 1)[1])


def _derive(src, src_layout, out, files_dir):
    skopeo("copy", "--quiet", "--all", "--src-tls-verify=false", src, "oci:%s:%s" % (src_layout, TAG))
    with open(os.path.join(src_layout, "index.json")) as f:
        top = json.load(f)
    with open(_blob(src_layout, top["manifests"][0]["digest"])) as f:
        index = json.load(f)
    writer = LayoutWriter(out)
    manifests = []
    for desc in index["manifests"]:
        plat = desc["platform"]
        platform = "/".join(p for p in (plat["os"], plat["architecture"], plat.get("variant")) if p)
        with open(_blob(src_layout, desc["digest"])) as f:
            manifest = json.load(f)
        meta, paths = None, {}
        os.makedirs(os.path.join(files_dir, platform), exist_ok=True)
        for layer in manifest["layers"]:
            with tarfile.open(_blob(src_layout, layer["digest"]), mode="r|gz") as tar:
                for member in tar:
                    name = member.name.lstrip("./")
                    if name == METADATA:
                        meta = json.load(tar.extractfile(member))
                    elif member.isfile() and os.path.basename(name) in SMALL and "/" in name:
                        path = os.path.join(files_dir, platform, os.path.basename(name))
                        with open(path, "wb") as dst:
                            shutil.copyfileobj(tar.extractfile(member), dst)
                        paths[name] = path
        if meta is None or sorted(os.path.basename(p) for p in paths) != sorted(SMALL):
            raise SystemExit("%s %s is not this collection's layout with %s" % (src, platform, ", ".join(SMALL)))
        meta["files"] = dict((k, v) for k, v in meta["files"].items() if k in paths)
        entries = [tar_entry(d + "/", kind="dir") for d in sorted(set(p.split("/")[0] for p in paths))]
        entries += [tar_entry(rel, src=paths[rel], mode=0o755) for rel in sorted(paths)]
        entries += [tar_entry("multiarch-k8s/", kind="dir"),
                    tar_entry(METADATA, data=json.dumps(meta, indent=1, sort_keys=True).encode(), mode=0o644)]
        annotations = dict(manifest.get("annotations") or {})
        annotations["org.opencontainers.image.description"] = "bench/scale.py: %s of %s" % (", ".join(SMALL), src)
        manifests.append(writer.add_image(platform, [writer.add_layer(entries, level=9)],
                                          labels={"io.multiarch-k8s.layout": "1"}, annotations=annotations))
    writer.add_index(manifests, TAG)


# --- counting at the wire -------------------------------------------------------------------------
class Relay(object):
    """A loopback HTTP relay in front of the origin registry that records every request (method, path,
    status, body bytes): the controller's pulls counted by someone other than the puller."""

    HOP = ("connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade")

    def __init__(self, upstream):
        host, port = upstream.rsplit(":", 1)
        relay = self
        self.records = []
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: the body ends when it closes

            def _relay(self):
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                sent = 0
                try:
                    headers = dict((k, v) for k, v in self.headers.items() if k.lower() not in relay.HOP + ("host",))
                    conn.request(self.command, self.path, headers=headers)
                    resp = conn.getresponse()
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() not in relay.HOP:
                            self.send_header(k, v)
                    self.end_headers()
                    if self.command != "HEAD":
                        while True:
                            chunk = resp.read(1 << 16)
                            if not chunk:
                                break
                            self.wfile.write(chunk)
                            sent += len(chunk)
                    status = resp.status
                except (OSError, http.client.HTTPException):
                    status = 599
                finally:
                    conn.close()
                with relay.lock:
                    relay.records.append((self.command, self.path, status, sent))

            do_GET = _relay
            do_HEAD = _relay

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take(self):
        with self.lock:
            out, self.records = self.records, []
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Mirror(object):
    """Debian's docker-registry in a container on the scale network (the amd64 node image with the
    host's binary bind-mounted, as the pull-mode test does), filled with skopeo."""

    LINE = re.compile(r'"GET /v2/\S+/blobs/(sha256:[0-9a-f]{64}) HTTP/[0-9.]+" (\d{3}) (\d+)')

    def __init__(self, work, image, src_ref, src_layout, repo):
        conf = os.path.join(work, "mirror.yml")
        with open(conf, "w") as f:
            f.write(MIRROR_CONF)
        docker("run", "-d", "--name", MIRROR, "--network", NETWORK, "--label", LABEL + "=mirror",
               "--tmpfs", "/var/lib/registry", "-v", "/usr/bin/docker-registry:/usr/bin/docker-registry:ro",
               "-v", "%s:/etc/registry.yml:ro" % conf, "--entrypoint", "/usr/bin/docker-registry", image,
               "serve", "/etc/registry.yml")
        ip = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", MIRROR).stdout.strip()
        deadline = time.monotonic() + 60
        while subprocess.run(["curl", "-fsS", "-m", "3", "http://%s:5000/v2/" % ip], capture_output=True,
                             check=False, timeout=10).returncode != 0:
            if time.monotonic() > deadline:
                raise SystemExit("the mirror did not answer within 60s: %s" % docker("logs", MIRROR, check=False).stderr[-800:])
            time.sleep(1)
        source = "oci:%s:%s" % (src_layout, TAG) if src_layout else src_ref
        skopeo("copy", "--quiet", "--all", "--src-tls-verify=false", "--dest-tls-verify=false", source,
               "docker://%s:5000/%s:%s" % (ip, repo, TAG))
        self.source = "%s:5000/%s" % (ip, repo)
        self.seen = collections.Counter()

    def take(self):
        """{digest: (GETs answered 200, bytes)} since the last call."""
        logs = docker("logs", MIRROR, check=False, timeout=120)
        now = collections.Counter()
        nbytes = collections.Counter()
        for m in self.LINE.finditer(logs.stdout + logs.stderr):
            if m.group(2) == "200":
                now[m.group(1)] += 1
                nbytes[m.group(1)] += int(m.group(3))
        out = dict((d, (now[d] - self.seen[d], nbytes[d])) for d in now if now[d] > self.seen[d])
        self.seen = now
        return out


# --- controller memory ----------------------------------------------------------------------------
class TreeSampler(threading.Thread):
    """Samples the process tree under ``pid``: peaks of the summed RSS and PSS, split into ansible's
    Python processes and the rest (the docker CLI processes of the connection); and the CPU time of the
    ansible-playbook process itself. Each process's parent is read once, when it first shows up, so that
    a sample reads little more than the tree's own memory figures."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.stop = threading.Event()
        self.peak = dict(rss=0, pss=0, rss_python=0, pss_python=0, rss_conn=0, pss_conn=0, procs=0)
        self.main_cpu_s = 0.0
        self.ours = {}  # pid -> whether it descends from self.pid
        self.tick = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _read(path):
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return ""

    def _tree(self):
        pids = sorted(int(e) for e in os.listdir("/proc") if e.isdigit())
        alive = set(pids)
        for gone in [p for p in self.ours if p not in alive]:
            del self.ours[gone]
        for p in pids:
            if p in self.ours:
                continue
            stat = self._read("/proc/%d/stat" % p)
            if not stat:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            self.ours[p] = p == self.pid or self.ours.get(int(fields[1]), False)
            if p == self.pid:
                self.main_cpu_s = (int(fields[11]) + int(fields[12])) / float(self.tick)
        return [p for p in pids if self.ours.get(p)]

    def _mem(self, pid):
        rss = pss = 0
        for line in self._read("/proc/%d/smaps_rollup" % pid).splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
        return rss, pss

    def run(self):
        while not self.stop.is_set():
            s = dict.fromkeys(self.peak, 0)
            for pid in self._tree():
                if pid == self.pid:
                    stat = self._read("/proc/%d/stat" % pid)
                    if stat:
                        fields = stat[stat.rindex(")") + 2:].split()
                        self.main_cpu_s = (int(fields[11]) + int(fields[12])) / float(self.tick)
                rss, pss = self._mem(pid)
                name = self._read("/proc/%d/comm" % pid).strip()
                kind = "python" if (name.startswith("python") or name.startswith("ansible")) else "conn"
                s["rss"] += rss
                s["pss"] += pss
                s["rss_" + kind] += rss
                s["pss_" + kind] += pss
                s["procs"] += 1
            for k, v in s.items():
                self.peak[k] = max(self.peak[k], v)
            self.stop.wait(SAMPLE_S)


# --- one run --------------------------------------------------------------------------------------
def play(work, hosts, forks, extra, path_prefix=None):
    """ansible-playbook on ``hosts``; returns (json doc, seconds, controller cpu s, memory peaks, rc)."""
    run_dir = tempfile.mkdtemp(prefix="run-", dir=work)
    # the docker connection, not SSH: these light hosts are minimal containers without sshd, and what is measured
    # is the controller's work per host, the connection held the same across runs
    inv = {"all": {"children": {"scale": {"hosts": dict((h, None) for h in hosts), "vars": {
        "ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3"}}}}}
    with open(os.path.join(run_dir, "hosts.yml"), "w") as f:
        json.dump(inv, f)  # JSON is YAML
    extra = dict(extra, scale_cache=os.path.join(run_dir, "cache"))
    with open(os.path.join(run_dir, "vars.json"), "w") as f:
        json.dump(extra, f)
    home = os.path.join(run_dir, "home")  # the controller's caches (compressed files, ~/.ansible) start empty
    os.makedirs(home)
    env = dict(os.environ, HOME=home, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_FORKS=str(forks))
    if path_prefix:
        env["PATH"] = path_prefix + os.pathsep + env["PATH"]
    cmd = ["ansible-playbook", "-i", os.path.join(run_dir, "hosts.yml"), "-f", str(forks),
           os.path.join(work, "scale.yml"), "-e", "@" + os.path.join(run_dir, "vars.json")]
    out = open(os.path.join(run_dir, "stdout.json"), "w+")  # pylint: disable=consider-using-with
    start = time.perf_counter()
    # a session of its own: on an interruption the whole tree (workers, docker CLI) is ended together
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE,  # pylint: disable=consider-using-with
                            text=True, start_new_session=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    try:
        stderr = proc.stderr.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    except BaseException:
        if proc.returncode is None:
            stop_group(proc)  # the group of the ansible-playbook started above, and only it
        raise
    finally:
        sampler.stop.set()
        sampler.join()
    secs = time.perf_counter() - start
    out.seek(0)
    text = out.read()
    out.close()
    try:
        doc = json.loads(text)
    except ValueError:
        raise SystemExit("ansible-playbook did not print JSON (rc %d):\n%s\n%s" % (proc.returncode, text[-2000:], stderr[-2000:]))
    shutil.rmtree(run_dir, ignore_errors=True)
    peak = dict(sampler.peak, main_cpu_s=sampler.main_cpu_s)
    return doc, secs, usage.ru_utime + usage.ru_stime, peak, proc.returncode


def results(doc, task_index):
    return doc["plays"][0]["tasks"][task_index]["hosts"]


def duration(doc, task_index):
    d = doc["plays"][0]["tasks"][task_index]["task"].get("duration") or {}
    if not d.get("start") or not d.get("end"):
        return None
    try:
        end, start = (datetime.datetime.fromisoformat(d[k].rstrip("Z")) for k in ("end", "start"))
    except ValueError:
        return None
    return (end - start).total_seconds()


def check(doc, rc, hosts, platforms):
    """Fail loudly on a run that did not do the work: every host released, each on its own platform."""
    facts, released = results(doc, 0), results(doc, 2)
    problems = []
    for h in hosts:
        got = ((facts.get(h) or {}).get("ansible_facts") or {}).get("multiarch_k8s", {}).get("platform")
        if got != platforms[h]:
            problems.append("%s: node_facts said %s, expected %s" % (h, got, platforms[h]))
        res = released.get(h) or {}
        if res.get("failed") or not res.get("changed"):
            problems.append("%s: node_release %s" % (h, res.get("msg") or "did not change anything"))
    if rc != 0 or problems:
        raise SystemExit("the run failed (rc %d):\n  %s" % (rc, "\n  ".join(problems[:10]) or json.dumps(doc.get("stats"))[:2000]))


def one_run(ctx, size, forks, mode):
    hosts = [h["name"] for h in ctx["fleet"].hosts[:size]]
    platforms = dict((h["name"], h["platform"]) for h in ctx["fleet"].hosts[:size])
    ctx["fleet"].each(hosts, "rm -rf %s /root/.ansible" % PREFIX)
    extra = {"scale_src": ctx["relay_ref"], "scale_files": list(ctx["files"]), "scale_distribution": mode}
    if mode == "pull":
        extra["scale_pull_source"] = ctx["mirror"].source
    ctx["relay"].take()
    ctx["mirror"].take()
    cpu0 = ctx["fleet"].cpu_ns(hosts)
    doc, secs, ctl_cpu, peak, rc = play(ctx["work"], hosts, forks, extra)
    cpu1 = ctx["fleet"].cpu_ns(hosts)
    check(doc, rc, hosts, platforms)
    pulled = list(results(doc, 1).values())[0]
    layer_platform = dict((layer["digest"], p) for p, b in pulled["bundles"].items() for layer in b["layers"])
    origin = collections.Counter()
    for method, path, status, _n in ctx["relay"].take():
        digest = path.rsplit("/", 1)[-1]
        if method == "GET" and status == 200 and "/blobs/" in path and digest in layer_platform:
            origin[layer_platform[digest]] += 1
    mirror = collections.Counter()
    for digest, (n, _b) in ctx["mirror"].take().items():
        if digest in layer_platform:
            mirror[layer_platform[digest]] += n
    released = results(doc, 2)
    sent = [released[h].get("bytes_sent", 0) for h in hosts]
    pulled_bytes = [released[h].get("bytes_pulled", 0) for h in hosts]
    node_rss = [released[h].get("peak_rss_kb") or 0 for h in hosts]
    return {
        "wall_s": secs, "controller_cpu_s": ctl_cpu, "controller_main_cpu_s": peak.pop("main_cpu_s"),
        "node_cpu_s": (cpu1 - cpu0) / 1e9 if cpu0 is not None and cpu1 is not None else None,
        "task_s": {"node_facts": duration(doc, 0), "holder_pull": duration(doc, 1), "node_release": duration(doc, 2)},
        "peak_kb": peak,
        "origin_layer_gets": dict(origin), "mirror_layer_gets": dict(mirror),
        "holder_pull_requests": pulled.get("requests"),
        "bytes_sent_per_host": statistics.median(sent), "bytes_pulled_per_host": statistics.median(pulled_bytes),
        "bytes_sent_total": sum(sent),
        "node_module_peak_rss_kb_max": max(node_rss),
        "bundle_json_bytes": dict((p, len(json.dumps(b))) for p, b in pulled["bundles"].items()),
    }


# What the controller hands the connection for each host, counted on the way: a stand-in for the docker
# CLI, first in the PATH of the bytes runs, that passes everything through to the real one and adds up
# the bytes of its standard input (module payloads with pipelining, and put_file's ``dd`` uploads) and
# of its arguments, per container.
COUNTING_DOCKER = """#!%(python)s
import os, subprocess, sys
args = sys.argv[1:]
proc = subprocess.Popen([%(docker)r] + args, stdin=subprocess.PIPE)
n = sum(len(a.encode()) + 1 for a in args)
try:
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        proc.stdin.write(chunk)
        proc.stdin.flush()
        n += len(chunk)
    proc.stdin.close()
except BrokenPipeError:
    pass
rc = proc.wait()
host = [a for a in args if a.startswith("mk8s-scale-")][:1] or ["-"]
fd = os.open(%(log)r, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
os.write(fd, ("%%s %%d\\n" %% (host[0], n)).encode())
os.close(fd)
sys.exit(rc)
"""


def payload_run(ctx, mode):
    """One host per platform, the docker CLI counted: everything the controller sends each node."""
    hosts = [h["name"] for h in ctx["fleet"].hosts[:len(ARCHES)]]
    platforms = dict((h["name"], h["platform"]) for h in ctx["fleet"].hosts[:len(ARCHES)])
    ctx["fleet"].each(hosts, "rm -rf %s /root/.ansible" % PREFIX)
    bindir = os.path.join(ctx["work"], "counting-bin")
    counts = os.path.join(ctx["work"], "counting-%s.log" % mode)
    os.makedirs(bindir, exist_ok=True)
    with open(os.path.join(bindir, "docker"), "w") as f:
        f.write(COUNTING_DOCKER % {"python": sys.executable, "docker": shutil.which("docker"), "log": counts})
    os.chmod(os.path.join(bindir, "docker"), 0o755)
    extra = {"scale_src": ctx["relay_ref"], "scale_files": list(ctx["files"]), "scale_distribution": mode}
    if mode == "pull":
        extra["scale_pull_source"] = ctx["mirror"].source
    doc, _s, _c, _p, rc = play(ctx["work"], hosts, len(hosts), extra, path_prefix=bindir)
    check(doc, rc, hosts, platforms)
    ctx["relay"].take()
    ctx["mirror"].take()
    sent = collections.Counter()
    with open(counts) as f:
        for line in f:
            host, n = line.split()
            sent[host] += int(n)
    released = results(doc, 2)
    bundles = list(results(doc, 1).values())[0]["bundles"]
    out = {}
    for h in hosts:
        files = released[h].get("bytes_sent", 0)
        out[platforms[h]] = {"total": sent[h], "files": files, "rest": sent[h] - files,
                             "bundle_json": len(json.dumps(bundles[platforms[h]])),
                             "bytes_pulled": released[h].get("bytes_pulled", 0)}
    ctx["fleet"].each(hosts, "rm -rf %s /root/.ansible" % PREFIX)
    return out


# --- report ---------------------------------------------------------------------------------------
def med(runs, key, sub=None):
    vals = [r[key] if sub is None else r[key][sub] for r in runs]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def summarize(cells):
    out = []
    for (size, forks, mode), runs in sorted(cells.items(), key=lambda kv: (kv[0][2] != "push", kv[0][1], kv[0][0])):
        origin = runs[-1]["origin_layer_gets"]
        mirror = runs[-1]["mirror_layer_gets"]
        out.append({
            "size": size, "forks": forks, "mode": mode, "runs": len(runs),
            "wall_s": med(runs, "wall_s"), "controller_cpu_s": med(runs, "controller_cpu_s"),
            "controller_main_cpu_s": med(runs, "controller_main_cpu_s"),
            "node_cpu_s": med(runs, "node_cpu_s"),
            "node_release_task_s": med(runs, "task_s", "node_release"),
            "peak_rss_mb": med(runs, "peak_kb", "rss") / 1024.0, "peak_pss_mb": med(runs, "peak_kb", "pss") / 1024.0,
            "peak_pss_python_mb": med(runs, "peak_kb", "pss_python") / 1024.0,
            "peak_pss_conn_mb": med(runs, "peak_kb", "pss_conn") / 1024.0,
            "peak_procs": med(runs, "peak_kb", "procs"),
            "origin_layer_gets": origin, "mirror_layer_gets": mirror,
            "origin_pulls": sum(origin.values()),
            "bytes_sent_per_host": med(runs, "bytes_sent_per_host"),
            "bytes_pulled_per_host": med(runs, "bytes_pulled_per_host"),
            "raw": runs,
        })
    return out


def per_platform(counts, platforms):
    return "/".join(str(counts.get(p, 0)) for p in platforms)


def report(rows, payload_bytes, platforms, args):
    print()
    print("payload %s (%s), %d run(s) per cell, medians; platforms %s"
          % (args.payload, ", ".join(args.files), args.runs, ", ".join(platforms)))
    head = ("hosts", "forks", "mode", "wall_s", "s/host", "ctl_cpu_s", "main_s", "cpu/host", "node_cpu_s", "rss_MB", "pss_MB",
            "pss_py|conn", "origin_gets", "mirror_gets", "KiB_sent/host")
    fmt = "%5s %5s %5s %7s %7s %9s %6s %8s %10s %7s %7s %12s %11s %11s %13s"
    print(fmt % head)
    for r in rows:
        print(fmt % (r["size"], r["forks"], r["mode"], "%.1f" % r["wall_s"], "%.2f" % (r["wall_s"] / r["size"]),
                     "%.1f" % r["controller_cpu_s"], "%.1f" % r["controller_main_cpu_s"],
                     "%.2f" % (r["controller_cpu_s"] / r["size"]),
                     "%.1f" % r["node_cpu_s"] if r["node_cpu_s"] is not None else "-",
                     "%.0f" % r["peak_rss_mb"], "%.0f" % r["peak_pss_mb"],
                     "%.0f|%.0f" % (r["peak_pss_python_mb"], r["peak_pss_conn_mb"]),
                     per_platform(r["origin_layer_gets"], platforms), per_platform(r["mirror_layer_gets"], platforms),
                     "%.0f" % (r["bytes_sent_per_host"] / 1024.0)))
    print("origin_gets / mirror_gets: GETs of each platform's layer blob (%s) at the origin registry (controller) "
          "and at the mirror (nodes)" % "/".join(platforms))
    print("ctl_cpu_s: user+system CPU of the ansible-playbook tree (connection processes included); main_s: of the "
          "ansible-playbook process itself; node_cpu_s: of the hosts' containers (emulated node work)")
    print("rss_MB, pss_MB: peak of the summed RSS / PSS of the ansible-playbook process tree (sampled every %.2fs); "
          "pss_py|conn: ansible's Python processes | docker CLI connection processes" % SAMPLE_S)

    ratios = {}
    by = dict(((r["size"], r["forks"], r["mode"]), r) for r in rows)
    sizes = sorted(set(r["size"] for r in rows))
    forks = sorted(set(r["forks"] for r in rows))
    modes = [m for m in ("push", "pull") if any(r["mode"] == m for r in rows)]
    print()
    print("ratios against the smallest fleet (%d hosts) of the same forks and mode (per host: time, controller CPU; "
          "whole: peak PSS):" % sizes[0])
    for mode in modes:
        for f in forks:
            base = by.get((sizes[0], f, mode))
            for s in sizes[1:]:
                r = by.get((s, f, mode))
                if not base or not r:
                    continue
                k = "%s f%d %d/%d" % (mode, f, s, sizes[0])
                ratios[k] = {"time_per_host": (r["wall_s"] / s) / (base["wall_s"] / sizes[0]),
                             "cpu_per_host": (r["controller_cpu_s"] / s) / (base["controller_cpu_s"] / sizes[0]),
                             "peak_pss": r["peak_pss_mb"] / base["peak_pss_mb"]}
                print("  %-18s s/host %.2f/%.2f = %.2fx   ctl cpu/host %.3f/%.3f = %.2fx   peak PSS %.0f/%.0f MB = %.2fx"
                      % (k, r["wall_s"] / s, base["wall_s"] / sizes[0], ratios[k]["time_per_host"],
                         r["controller_cpu_s"] / s, base["controller_cpu_s"] / sizes[0], ratios[k]["cpu_per_host"],
                         r["peak_pss_mb"], base["peak_pss_mb"], ratios[k]["peak_pss"]))
    if len(forks) > 1:
        print("forks %d against forks %d (wall time, peak PSS), same size and mode:" % (forks[0], forks[-1]))
        for mode in modes:
            for s in sizes:
                lo, hi = by.get((s, forks[0], mode)), by.get((s, forks[-1], mode))
                if lo and hi:
                    k = "%s %d hosts f%d/f%d" % (mode, s, forks[0], forks[-1])
                    ratios[k] = {"wall": lo["wall_s"] / hi["wall_s"], "peak_pss": lo["peak_pss_mb"] / hi["peak_pss_mb"]}
                    print("  %-22s wall %.1f/%.1f s = %.2fx   peak PSS %.0f/%.0f MB = %.2fx"
                          % (k, lo["wall_s"], hi["wall_s"], ratios[k]["wall"], lo["peak_pss_mb"], hi["peak_pss_mb"],
                             ratios[k]["peak_pss"]))
    if "push" in modes and "pull" in modes:
        print("pull against push, same size and forks (controller CPU per host, KiB of files sent per host):")
        for s in sizes:
            for f in forks:
                a, b = by.get((s, f, "push")), by.get((s, f, "pull"))
                if a and b:
                    k = "pull/push %d hosts f%d" % (s, f)
                    ratios[k] = {"controller_cpu": b["controller_cpu_s"] / a["controller_cpu_s"], "wall": b["wall_s"] / a["wall_s"]}
                    print("  %-24s ctl cpu %.1f/%.1f s = %.2fx   wall %.1f/%.1f s = %.2fx   files sent %.0f vs %.0f KiB/host"
                          % (k, b["controller_cpu_s"], a["controller_cpu_s"], ratios[k]["controller_cpu"], b["wall_s"],
                             a["wall_s"], ratios[k]["wall"], b["bytes_sent_per_host"] / 1024.0, a["bytes_sent_per_host"] / 1024.0))
    if payload_bytes:
        print()
        print("controller -> node bytes per host, one host per platform, everything given to the connection (docker CLI "
              "stdin and arguments): files + the rest (module payloads of node_facts and node_release x2, commands):")
        for mode in sorted(payload_bytes, key=lambda m: m != "push"):
            for p in platforms:
                b = payload_bytes[mode].get(p)
                if b:
                    row = (mode, p, b["files"] / 1024.0, b["rest"] / 1024.0, b["total"] / 1024.0, b["bundle_json"] / 1024.0,
                           b["bytes_pulled"] / 1024.0)
                    print("  %-5s %-13s files %8.0f KiB + rest %5.0f KiB = %8.0f KiB   (bundle in the arguments %.1f KiB; "
                          "node pulled %.0f KiB)" % row)
        if "push" in payload_bytes and "pull" in payload_bytes:
            tot = dict((m, statistics.median(v["total"] for v in payload_bytes[m].values())) for m in ("push", "pull"))
            ratios["bytes_push_over_pull"] = tot["push"] / tot["pull"]
            print("  median over platforms: push %.0f KiB, pull %.0f KiB per host: push sends %.1fx what pull sends"
                  % (tot["push"] / 1024.0, tot["pull"] / 1024.0, ratios["bytes_push_over_pull"]))
    return ratios


# --- main -----------------------------------------------------------------------------------------
def _interrupted(signum, _frame):
    raise SystemExit("interrupted by signal %d" % signum)


def cell_plan(sizes, forks, modes, matrix=False):
    """(mode, hosts, forks) to run. By default: push at every size with the largest forks and at the largest
    size with every forks; the other modes at the smallest and the largest size with the largest forks."""
    plan = []
    for i, mode in enumerate(modes):
        for s in sizes:
            for f in forks:
                if matrix or (f == forks[-1] and (i == 0 or s in (sizes[0], sizes[-1]))) or (i == 0 and s == sizes[-1]):
                    plan.append((mode, s, f))
    return plan


def parse_list(text):
    return [int(x) for x in text.split(",") if x.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULTS["sizes"], help="fleet sizes, comma-separated (default 4,20,40; at most 40)")
    parser.add_argument("--forks", default=DEFAULTS["forks"], help="ansible forks, comma-separated (default 5,20)")
    parser.add_argument("--runs", type=int, default=1, help="runs per cell; medians are printed (default 1)")
    parser.add_argument("--modes", default=DEFAULTS["modes"], help="distribution modes (default push,pull)")
    parser.add_argument("--payload", choices=("small", "workers"), default="small")
    parser.add_argument("--quick", action="store_true", help="4 and 20 hosts, forks 20, one run")
    parser.add_argument("--matrix", action="store_true",
                        help="every size with every forks value (default: the sizes at the largest forks, the other forks "
                             "at the largest size only)")
    parser.add_argument("--no-bytes", action="store_true", help="skip the per-host bytes runs")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.forks, args.runs = "4,20", "20", 1
    sizes, forks = sorted(set(parse_list(args.sizes))), sorted(set(parse_list(args.forks)))
    modes = [m for m in args.modes.split(",") if m]
    if not sizes or max(sizes) > 40 or min(sizes) < 1 or not forks or min(forks) < 1 or set(modes) - {"push", "pull"}:
        parser.error("sizes 1..40, forks >= 1, modes push and/or pull")
    args.files = SMALL if args.payload == "small" else WORKERS
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupted)

    work = tempfile.mkdtemp(prefix="mk8s-bench-scale-")
    with open(os.path.join(work, "scale.yml"), "w") as f:
        f.write(PLAYBOOK)
    ctx = {"work": work, "files": args.files}
    scale_fleet = Fleet(-(-max(sizes) // len(ARCHES)))
    relay = None
    started = time.monotonic()
    try:
        if args.payload == "small":
            ref, layout = small_holder()
        else:
            ref, layout = "docker://%s/%s:%s" % (REGISTRY, CLUSTER, TAG), None
            try:
                index_digest(ref)
            except subprocess.CalledProcessError:
                raise SystemExit("the holder image %s is not in the registry: run make demo first" % ref)
        repo = ref[len("docker://"):].split("/", 1)[1].rsplit(":", 1)[0]
        relay = Relay(REGISTRY)
        ctx["relay"] = relay
        ctx["relay_ref"] = "docker://%s/%s:%s" % (relay.address, repo, TAG)
        scale_fleet.up()
        ctx["fleet"] = scale_fleet
        ctx["mirror"] = Mirror(work, fleet.build_image(fleet.docker_client(), fleet.NODES[0]), ref, layout, repo)
        log("holder %s (through the counting relay %s); mirror %s" % (ref, relay.address, ctx["mirror"].source))
        plan = cell_plan(sizes, forks, modes, args.matrix)
        log("cells (mode, hosts, forks) %s x %d run(s): %d host-runs" % (plan, args.runs, sum(s for _m, s, _f in plan) * args.runs))
        cells = collections.defaultdict(list)
        for i in range(args.runs):
            for mode, s, f in plan:
                r = one_run(ctx, s, f, mode)
                cells[(s, f, mode)].append(r)
                log("run %d/%d %s %2d hosts forks %2d: %.1fs wall, controller %.1f cpu-s, nodes %.1f cpu-s, "
                    "peak PSS %.0f MB, origin layer GETs %s, mirror %s"
                    % (i + 1, args.runs, mode, s, f, r["wall_s"], r["controller_cpu_s"], r["node_cpu_s"] or 0,
                       r["peak_kb"]["pss"] / 1024.0, r["origin_layer_gets"], r["mirror_layer_gets"]))
        payload_bytes = {}
        if not args.no_bytes:
            for mode in modes:
                payload_bytes[mode] = payload_run(ctx, mode)
                log("bytes run %s: %s" % (mode, dict((p, v["total"]) for p, v in payload_bytes[mode].items())))
    finally:
        if relay:
            relay.close()
        log("removing the scale fleet, its mirror and network")
        Fleet.remove()
        shutil.rmtree(work, ignore_errors=True)

    platforms = [node["platform"] for _a, node in ARCHES]
    rows = summarize(cells)
    ratios = report(rows, payload_bytes, platforms, args)
    biggest = max(rows, key=lambda r: (r["size"], r["mode"] == "push", r["forks"]))
    pulls = biggest["origin_pulls"]
    print()
    print("pulls = %d" % pulls)
    print("(layer blobs the controller fetched from the origin registry in the %d-host %s run with forks %d: %s; "
          "every run: %s)" % (biggest["size"], biggest["mode"], biggest["forks"],
                              ", ".join("%s %d" % (p, biggest["origin_layer_gets"].get(p, 0)) for p in platforms),
                              sorted(set(r["origin_pulls"] for r in rows))))
    print("total %.1f min" % ((time.monotonic() - started) / 60.0))
    os.makedirs(OUTPUT, exist_ok=True)
    name = "bench-scale-%s" % args.payload
    if (args.sizes, args.forks, args.modes, args.matrix) != (DEFAULTS["sizes"], DEFAULTS["forks"], DEFAULTS["modes"], False):
        parts = ["hosts" + args.sizes, "forks" + args.forks, args.modes] + (["matrix"] if args.matrix else [])
        name += "-" + "-".join(parts).replace(",", "_")
    path = os.path.join(OUTPUT, name + ".json")
    doc = {"command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]), "payload": args.payload,
           "files": list(args.files), "holder": ref, "cores": os.cpu_count(), "load_avg_end": os.getloadavg(),
           "minutes": (time.monotonic() - started) / 60.0, "cells": rows, "bytes_per_host": payload_bytes,
           "ratios": ratios, "pulls": pulls, "platforms": platforms}
    tmp = path + ".part"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
    print("results: %s" % os.path.relpath(path, REPO))


if __name__ == "__main__":
    main()
