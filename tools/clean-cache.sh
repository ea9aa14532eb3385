#!/usr/bin/env bash
# `make clean-cache`: empty the one cache of the project's scripts and tests, $MULTIARCH_CACHE (default
# /var/cache/multiarch-k8s): virtualenvs, Debian sources and binaries, Kubernetes builds and Go/zig build caches,
# root filesystems, test holder layouts, the test registry's data. Also removes the fleet's node images from the
# Docker engine (they are made from those root filesystems). The next make test is a cold one.
source "$(dirname "$0")/lib.sh"
if docker info >/dev/null 2>&1; then
  if [ -n "$(docker ps -aq --filter "label=io.multiarch-k8s.fleet")" ]; then
    echo "the fleet is up: run make fleet-down (or make demo-down) first" >&2; exit 1
  fi
  images=$(docker images -q "multiarch-k8s/fleet-node" | sort -u)
  if [ -n "$images" ]; then
    stage "removing the fleet's node images"
    # shellcheck disable=SC2086  # one id per word
    docker rmi -f $images >/dev/null
  fi
fi
if [ -f "$RUN_DIR/registry.started-by-us" ]; then
  echo "the test registry this project started is running from $CACHE: run make fleet-down first" >&2; exit 1
fi
case "$CACHE" in
  /|"") echo "refusing to empty '$CACHE'" >&2; exit 1 ;;
esac
stage "emptying $CACHE ($(du -sh "$CACHE" 2>/dev/null | cut -f1))"
rm -rf "${CACHE:?}"
rm -rf "$REPO/tests/output"
