# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place where controller-only third-party imports are guarded. Private to the collection.

Controller-side.

Each ``require_*`` returns what the caller needs or raises MissingDependency with the message
ansible users know (the package, the pip hint and the interpreter that lacks it).
"""

from __future__ import annotations

import sys
import types

from ansible.module_utils.basic import missing_required_lib


class MissingDependency(Exception):
    pass


def _missing(package, reason):
    msg = missing_required_lib(package, reason=reason)
    return MissingDependency("%s (pip install '%s' for %s)" % (msg, package, sys.executable))


def require_elftools():
    try:
        from elftools.common.exceptions import ELFError  # pylint: disable=import-outside-toplevel
        from elftools.elf.elffile import ELFFile  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise _missing("pyelftools>=0.29", "to verify binaries")
    return types.SimpleNamespace(ELFFile=ELFFile, ELFError=ELFError)


def require_docker():
    try:
        import docker  # pylint: disable=import-outside-toplevel
        import docker.errors  # pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        raise _missing("docker>=7", "to read images from the Docker engine")
    return docker
