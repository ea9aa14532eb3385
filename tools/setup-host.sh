#!/usr/bin/env bash
# Host set-up for the test fleet and the demo, as root on Debian 12: apt packages, binfmt_misc
# with QEMU user emulation, and a Docker engine. Reuses what is there; records what it started
# (stop it with tools/stop-services.sh) so the machine is left as it was found.
# --packages-only: the apt packages alone (make check needs no emulation, engine or registry).
source "$(dirname "$0")/lib.sh"

PACKAGES=(docker.io qemu-user-static binfmt-support mmdebstrap arch-test python3-venv
          python3-dev git curl ca-certificates iptables conntrack shellcheck
          docker-registry skopeo golang-go dpkg-dev make pkg-config openssh-client sudo)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  stage "installing apt packages: ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# module-mode builds (gomod/) need the Go their go.mod names, and the go command must reach the module proxy
if [ "${1:-}" != --packages-only ]; then
  need=$(awk '$1 == "go" {print $2; nextfile}' "$REPO"/gomod/*/go.mod | sort -V | tail -1)
  have=$(go env GOVERSION 2>/dev/null) || have=""
  have=${have#go}
  if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
    echo "the Kubernetes builds need Go $need or later on PATH (found: $have); install it from go.dev" >&2; exit 1
  fi
fi

[ "${1:-}" = --packages-only ] && exit 0

if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  stage "mounting binfmt_misc"
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
for q in qemu-arm qemu-aarch64 qemu-ppc64le qemu-s390x qemu-riscv64; do
  if [ ! -e "/proc/sys/fs/binfmt_misc/$q" ]; then
    update-binfmts --enable "$q" >/dev/null 2>&1 || update-binfmts --import "$q" >/dev/null
  fi
  grep -q '^flags: .*F' "/proc/sys/fs/binfmt_misc/$q" || {
    echo "binfmt_misc entry $q lacks the F (fix binary) flag: containers cannot use it" >&2; exit 1; }
done

mkdir -p "$RUN_DIR"
if ! docker info >/dev/null 2>&1; then
  stage "starting dockerd (no iptables, no ip forwarding changes: the fleet's network is internal)"
  nohup dockerd --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --pidfile "$RUN_DIR/dockerd.pid" >"$RUN_DIR/dockerd.log" 2>&1 &
  echo $! >"$RUN_DIR/dockerd.started-by-us"
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 "$RUN_DIR/dockerd.log" >&2; echo "dockerd did not start" >&2; exit 1; }
fi

# a real OCI registry on 127.0.0.1 (Debian's docker-registry): reuse one that answers there
if ! curl -fsS -m 5 "http://$REGISTRY/v2/" >/dev/null 2>&1; then
  stage "starting docker-registry on $REGISTRY"
  mkdir -p "$CACHE/registry/data"
  cat >"$CACHE/registry/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $CACHE/registry/data
  delete:
    enabled: true
http:
  addr: $REGISTRY
YAML
  nohup docker-registry serve "$CACHE/registry/config.yml" >"$RUN_DIR/registry.log" 2>&1 &
  echo $! >"$RUN_DIR/registry.started-by-us"
  for _ in $(seq 1 30); do curl -fsS -m 2 "http://$REGISTRY/v2/" >/dev/null 2>&1 && break; sleep 1; done
  curl -fsS -m 2 "http://$REGISTRY/v2/" >/dev/null || { tail -20 "$RUN_DIR/registry.log" >&2; echo "docker-registry did not start" >&2; exit 1; }
fi
