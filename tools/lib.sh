# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables here are used by the scripts that source this file
# Common settings of the project's scripts (sourced, not run). Nothing here changes the machine.
# Caches live outside the checkout so that a fresh clone reuses them.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${MULTIARCH_CACHE:-/var/cache/multiarch-k8s}
PYTHON=${MULTIARCH_PYTHON:-/usr/bin/python3}
# The `ansible` package on PyPI bundles community.docker (for the docker connection plugin).
# community.docker: the docker connection plugin; ansible.posix: the json callback (reports, tests)
ANSIBLE_BUNDLE_VERSION=12.3.0
BUNDLED_COLLECTIONS=(community.docker ansible.posix)
# virtualenvs are keyed by their lock files (make lock writes them from the requirements files)
VENV="$CACHE/venv/$(sha256sum <"$REPO/requirements.lock" | cut -c1-12)"
# ansible-test sanity installs its own pinned tools (pylint, ...): a venv of its own, ansible-core only
SANITY_VENV="$CACHE/venv/sanity-$(sha256sum <"$REPO/requirements-sanity.lock" | cut -c1-12)"
DEPS_COLLECTIONS="$CACHE/collections/ansible-$ANSIBLE_BUNDLE_VERSION"
OUT="$REPO/tests/output"
COLLECTIONS="$OUT/collections"
# a copy of the working tree where ansible-test and the unit tests run (they need the
# ansible_collections/<namespace>/<name> layout); one per checkout
SANITY_ROOT="$CACHE/src/$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
SANITY_TREE="$SANITY_ROOT/ansible_collections/multiarch/k8s"
RUN_DIR="$CACHE/run"
# the test registry (Debian's docker-registry), loopback only
REGISTRY=${MULTIARCH_REGISTRY:-127.0.0.1:5000}
export MULTIARCH_REGISTRY="$REGISTRY"
PYVER=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
export MULTIARCH_CACHE="$CACHE"
# the Go that builds the current Kubernetes lines (1.26 or later; Debian 12's golang-go is 1.19): the one at
# /usr/local/go when it is there (installed from go.dev's archive, not by this project), else the first on PATH
[ -x /usr/local/go/bin/go ] && PATH="/usr/local/go/bin:$PATH"
export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS:$DEPS_COLLECTIONS"
export ANSIBLE_CONFIG="$REPO/tests/ansible.cfg"
# the fleet layout's inventory (tests/ansible.cfg names the default layout's): ad-hoc commands on a node of the Pi
# fleet (MULTIARCH_FLEET=pi) find it
if [ "${MULTIARCH_FLEET:-default}" = pi ]; then export ANSIBLE_INVENTORY="$REPO/inventory-examples/local-pi-fleet/hosts.yml"; fi
export PIP_DISABLE_PIP_VERSION_CHECK=1

export _t0=${_t0:-$(date +%s)}
stage() { printf '==> [%4ss] %s\n' "$(( $(date +%s) - _t0 ))" "$*"; }
