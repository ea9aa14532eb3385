# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the collection puts things on a node, for the Python side. Private to the collection.

The playbooks and roles take the same values from the multiarch.k8s.multiarch_k8s role (multiarch_k8s_prefix,
multiarch_k8s_bin_dir); a unit test holds the two equal. Module documentation repeats them as literal defaults
(ansible-doc shows them), and ansible-test's validate-modules holds those equal to the argument specs.

Node-side: standard library only.
"""

from __future__ import annotations

DEFAULT_PREFIX = "/opt/multiarch-k8s"
DEFAULT_BIN_DIR = "/usr/local/bin"
DEFAULT_ADMIN_KUBECONFIG = "/etc/kubernetes/admin.conf"
