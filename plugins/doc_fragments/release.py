# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    """Where a node's releases live and where the links to its binaries go (node_release, node_switch)."""

    DOCUMENTATION = r"""
options:
  prefix:
    description:
      - Where releases live on the node.
    type: path
    default: /opt/multiarch-k8s
  bin_dir:
    description:
      - Directory for the links to C(<prefix>/current/<binary>); empty for none.
    type: path
    default: /usr/local/bin
"""
