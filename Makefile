# multiarch.k8s — the two commands a person runs first are `make demo` and `make test`.
# Everything they need is installed and started by the scripts in tools/ (as root on Debian 12).
SHELL := /bin/bash

.PHONY: help demo demo-down check test test-integration test-formation test-faults test-upgrade test-ha test-pi lock clean-cache fleet fleet-down setup bench-pull bench-release bench-build bench-build-qemu bench-node-memory bench-scale bench-rollout bench-connection bench-dns

help:
	@echo "make demo       build the binaries, bring up the emulated fleet and converge it with site.yml"
	@echo "make demo-down  remove what the demo made"
	@echo "make check      unit tests, ansible-test sanity, lint, ecosystem checks: no fleet, no build (minutes)"
	@echo "make test       make check, then the fleet images, the Kubernetes builds, the fleet and every integration module"
	@echo "make test-integration  the integration part of make test only (MULTIARCH_TEST_MODULES, MULTIARCH_TEST_ORDER=reverse)"
	@echo "make test-formation  the cluster formed step by step on a fresh fleet (check mode, --limit join, rerun); slow"
	@echo "make test-faults  upgrade.yml with a node that stops answering mid-rollout (builds the patch release first); slow"
	@echo "make test-upgrade  the real minor upgrade: two nodes (skew guard, rollback, killed controller), then the"
	@echo "                   full fleet (four platforms formed at 1.36, upgraded to 1.37); builds 1.36 first; slow"
	@echo "make test-ha    a control plane of three hosts (amd64, arm64, arm/v7): formed, rerun, one frozen; builds"
	@echo "                the control plane for arm64 and arm/v7 first; slow"
	@echo "make test-pi    inventory-examples/pi-fleet formed as a user copies it on the emulated Pi fleet"
	@echo "                (MULTIARCH_FLEET=pi: no amd64 node, the control plane on arm64); slow"
	@echo "make lock       resolve the Python requirements into requirements.lock / requirements-sanity.lock (hashes)"
	@echo "make clean-cache  empty the cache (MULTIARCH_CACHE, default /var/cache/multiarch-k8s): venvs, builds, images"
	@echo "make fleet      bring up the emulated fleet only; make fleet-down removes it"
	@echo "make bench-pull holder_pull vs the seed recipe's docker pull+cp vs skopeo (medians, ratios)"
	@echo "make bench-release node_release vs a copy task per binary on the fleet (time, calls, bytes, RSS)"
	@echo "make bench-build build time per component and platform, cold and warm, from the Go modules (long)"
	@echo "make bench-build-qemu  cross-compiling vs a native build under QEMU (one component, Debian's sources)"
	@echo "make bench-node-memory  Go-reported memory of kubelet and kube-proxy per node (after make demo)"
	@echo "make bench-scale  one controller against 4-40 light emulated hosts, push vs pull (time, memory, pulls, bytes; after make demo)"
	@echo "make bench-rollout  one kubelet change over the fleet, staged vs cordon-first (total, cordoned time, bytes per node; after make demo)"
	@echo "make bench-connection  a no-op site.yml over SSH (pi, sudo) vs the docker connection (medians, ratio; after make demo)"
	@echo "make bench-dns  CoreDNS: Go-reported memory on arm/v6, query latency p50/p99 from a node, cache hit vs miss (after make demo)"

demo:
	@bash tools/demo.sh up

demo-down:
	@bash tools/demo.sh down

check:
	@bash tools/run-tests.sh check

test:
	@bash tools/run-tests.sh test

test-integration:
	@bash tools/run-tests.sh integration

test-formation:
	@MULTIARCH_TEST_MODULES=test_cluster_formation bash tools/run-tests.sh integration

test-faults:
	@MULTIARCH_TEST_MODULES=test_upgrade_unreachable bash tools/run-tests.sh integration

test-upgrade:
	@MULTIARCH_TEST_MODULES="test_upgrade test_upgrade_fleet" bash tools/run-tests.sh integration

test-ha:
	@MULTIARCH_TEST_MODULES=test_ha bash tools/run-tests.sh integration

test-pi:
	@MULTIARCH_FLEET=pi MULTIARCH_TEST_MODULES=test_pi_example bash tools/run-tests.sh integration

lock:
	@bash tools/lock.sh

clean-cache:
	@bash tools/clean-cache.sh

fleet:
	@bash tools/fleet.sh up

fleet-down:
	@bash tools/fleet.sh down

setup:
	@bash tools/setup-host.sh && bash tools/setup-python.sh

bench-pull:
	@bash tools/bench.sh pull --runs 5

bench-release:
	@bash tools/bench.sh release --runs 3

bench-build:
	@bash tools/bench.sh build --jobs 2

bench-build-qemu:
	@bash tools/bench.sh build --qemu --component bridge --platform linux/arm/v7

bench-node-memory:
	@bash -c 'source tools/lib.sh && python bench/node_memory.py'

bench-dns:
	@bash -c 'source tools/lib.sh && python bench/dns.py'

bench-scale:
	@bash -c 'source tools/lib.sh && PYTHONPATH="$$COLLECTIONS" python bench/scale.py'

bench-rollout:
	@bash -c 'source tools/lib.sh && PYTHONPATH="$$COLLECTIONS" python bench/rollout.py --runs 1'

bench-connection:
	@bash -c 'source tools/lib.sh && PYTHONPATH="$$COLLECTIONS" python bench/connection.py --runs 3'
