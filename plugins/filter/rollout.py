# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout filters of multiarch.k8s (docs in their .yml files): version_skew, rollout_batches,
bundle_overlay, node_versions and rollout_plan, the plan of upgrade.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.multiarch.k8s.plugins.module_utils import _k8s_nodes as N
from ansible_collections.multiarch.k8s.plugins.plugin_utils import _rollout as R


def _wrap(func):
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except R.RolloutError as e:
            raise AnsibleFilterError(str(e))
    run.__name__ = func.__name__
    run.__doc__ = func.__doc__
    return run


def version_skew(target, current=None, apiserver=None, control_plane=None, max_node_skew=None):
    """Violations of the version skew policy by a rollout to ``target`` (empty list: none)."""
    return R.version_skew(current, target, apiserver=apiserver, control_plane=control_plane, max_node_skew=max_node_skew)


def node_versions(nodes):
    """Node name -> kubelet and kube-proxy versions, Ready and schedulable, from ``kubectl get nodes -o json``
    or the ``nodes`` that multiarch.k8s.cluster_nodes returns."""
    try:
        return dict((name, {"kubelet": s["kubelet"], "kube-proxy": s["kube_proxy"], "ready": s["ready"],
                            "schedulable": s["schedulable"]}) for name, s in N.summaries(nodes).items())
    except (N.NodesError, TypeError, KeyError, AttributeError) as e:
        raise AnsibleFilterError("node_versions needs the JSON of kubectl get nodes -o json: %s" % e)


class FilterModule(object):
    def filters(self):
        return {
            "version_skew": _wrap(version_skew),
            "rollout_batches": _wrap(R.rollout_batches),
            "bundle_overlay": _wrap(R.bundle_overlay),
            "node_versions": node_versions,
            "rollout_plan": _wrap(R.rollout_plan),
        }
