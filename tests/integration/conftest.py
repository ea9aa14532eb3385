# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the integration tests: the test holder images in the real registry on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

import debs
import holders

CACHE = os.environ.get("MULTIARCH_CACHE", "/var/cache/multiarch-k8s")
PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6"]
SEED_PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v6"]


def _key(bins):
    h = hashlib.sha256()
    with open(holders.__file__, "rb") as f:
        h.update(f.read())
    for arch in sorted(bins):
        for name, path in sorted(bins[arch].items()):
            h.update(("%s %s %d" % (arch, name, os.path.getsize(path))).encode())
    return h.hexdigest()[:16]


def _cached_layout(kind, build):
    """An OCI layout under $MULTIARCH_CACHE/fixtures, rebuilt only when its inputs change."""
    bins = debs.fetch()
    root = os.path.join(CACHE, "fixtures", "%s-%s" % (kind, _key(bins)))
    if not os.path.exists(os.path.join(root, "index.json")):
        tmp = root + ".part"
        shutil.rmtree(tmp, ignore_errors=True)
        build(tmp, bins)
        os.replace(tmp, root)
    return root


@pytest.fixture(scope="session")
def debian_bins():
    return debs.fetch()


@pytest.fixture(scope="session")
def ours_layout():
    return _cached_layout("ours", lambda root, bins: holders.build_ours(root, "v1.20.2", bins, PLATFORMS))


@pytest.fixture(scope="session")
def seed_layout():
    return _cached_layout("seed", lambda root, bins: holders.build_seed(root, "v1.20.2", bins, SEED_PLATFORMS))


@pytest.fixture(scope="session")
def ours_ref(ours_layout):
    return holders.push(ours_layout, "v1.20.2", "multiarch-k8s-tests/ours")


@pytest.fixture(scope="session")
def seed_ref(seed_layout):
    return holders.push(seed_layout, "v1.20.2", "multiarch-k8s-tests/seed")
