"""Offline stand-in for the pip bootstrap script that ansible-test downloads for its sanity venvs.

ansible-test creates each sanity virtualenv without pip and runs a cached "get-pip" script in it
(``~/.ansible/test/cache/get_pip_<version>.py``), which it would download from a host this
machine cannot reach. This script does the same job with what Python ships: ``ensurepip``
installs the bundled pip wheel, then pip installs the pinned packages asked for (from PyPI).
"""

from __future__ import annotations

import ensurepip
import runpy
import sys

GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")

ensurepip.bootstrap(upgrade=True)
sys.argv = ["pip", "install", "--upgrade"] + [a for a in sys.argv[1:] if a not in GET_PIP_ONLY_OPTIONS]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
