# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    """The kubectl and admin kubeconfig of a control-plane host (cluster_node, cluster_nodes)."""

    DOCUMENTATION = r"""
options:
  kubectl:
    description: The C(kubectl) binary on the control-plane host.
    type: path
    default: /usr/local/bin/kubectl
  kubeconfig:
    description: The kubeconfig it uses.
    type: path
    default: /etc/kubernetes/admin.conf
"""
