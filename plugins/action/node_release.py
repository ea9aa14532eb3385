# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of multiarch.k8s.node_release: sends only what the node lacks, compressed.

Two module runs per host (one when the first finds the release already in place): the first
asks the node which sha256 its releases hold and how much space it has; the controller then
sends the missing files gzip-compressed (each compressed once, cached by sha256, streamed by the
connection plugin); the second run stages, smoke-tests, switches and prunes on the node. In pull mode nothing but the module arguments (the manifest's
layer list and the files' sha256) goes out: the node fetches the layers from a registry itself.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.multiarch.k8s.plugins.module_utils._gzip import gzip_writer
from ansible_collections.multiarch.k8s.plugins.module_utils._paths import DEFAULT_PREFIX

display = Display()
_MARGIN_MB = 16
_CHUNK = 1 << 20


def compressed(path, sha256, cache_dir):
    """gzip of ``path`` in ``cache_dir`` (made once per sha256, by rename); returns its path."""
    out = os.path.join(cache_dir, sha256 + ".gz")
    if os.path.exists(out):
        return out
    os.makedirs(cache_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".gz-")
    try:
        with os.fdopen(fd, "wb") as raw, gzip_writer(raw) as gz:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, gz, _CHUNK)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out


class ActionModule(ActionBase):
    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        bundle = args.get("bundle")
        if not isinstance(bundle, dict) or not isinstance(bundle.get("files"), list):
            result.update(failed=True, msg="bundle must be a holder_pull bundle (a dict with bundle_id and files), "
                                           "got %s" % type(bundle).__name__)
            return result
        if bundle.get("pending") and self._task.check_mode:
            # check mode upstream: holder_pull resolved the image but downloaded nothing yet
            what = "would install %s once it is pulled (%s)" % (bundle.get("bundle_id"), bundle.get("platform_used"))
            result.update(changed=True, release=bundle.get("bundle_id"), actions=[what])
            return result
        inv = self._execute_module(module_name="multiarch.k8s.node_release",
                                   module_args=dict(args, inventory_only=True, uploads={}), task_vars=task_vars)
        if inv.get("failed"):
            return inv
        if inv.get("settled"):
            # nothing to send, switch, link or prune: the first call was enough
            result.update(changed=False, release=bundle["bundle_id"], current=inv.get("current"),
                          previous=inv.get("current"), releases=inv.get("releases"), files_sent=0,
                          files_reused=0, bytes_sent=0, bytes_pulled=0, actions=[], module_calls=1,
                          peak_rss_kb=inv.get("peak_rss_kb"))
            return result
        have = set(inv.get("have") or [])
        missing = [f for f in bundle["files"] if f["sha256"] not in have]
        pull = args.get("distribution") == "pull"
        if missing and inv.get("not_writable"):
            result.update(failed=True, current=inv.get("current"),
                          msg="cannot install under %s: %s; nothing was sent, current still points at %s"
                              % (args.get("prefix", DEFAULT_PREFIX), inv["not_writable"], inv.get("current")))
            return result
        if missing and pull and not bundle.get("layers"):
            result.update(failed=True, msg="distribution=pull: the bundle %s lists no image layers (it came from "
                                           "check mode or an older cache); run holder_pull for it again"
                                           % bundle.get("bundle_id"))
            return result
        needed_mb = sum(int(f.get("size") or 0) for f in missing) // (1024 * 1024)
        needed_mb = needed_mb * 3 // 2 + _MARGIN_MB if missing else 0  # upload (compressed) + unpacked
        if missing and inv.get("free_mb") is not None and inv["free_mb"] < needed_mb:
            result.update(failed=True, msg="not enough space at %s: %d MB needed for %d files, %d MB free; nothing "
                                           "was sent" % (args.get("prefix", DEFAULT_PREFIX).rstrip("/") + "/releases", needed_mb,
                                                         len(missing), inv["free_mb"]))
            return result
        uploads = {}
        bytes_sent = 0
        remote_tmp = None
        try:
            if missing and not pull and not self._task.check_mode:
                cache_dir = os.path.join(os.path.expanduser("~/.cache/multiarch-k8s"), "compressed")
                remote_tmp = self._make_tmp_path()
                for f in missing:
                    if f["sha256"] in uploads:
                        continue
                    local = compressed(f["path"], f["sha256"], cache_dir)
                    remote = self._connection._shell.join_path(remote_tmp, f["sha256"] + ".gz")
                    display.v("node_release: sending %s (%.1f MB compressed)" % (f["name"], os.path.getsize(local) / 1048576.0))
                    self._transfer_file(local, remote)
                    uploads[f["sha256"]] = remote
                    bytes_sent += os.path.getsize(local)
            out = self._execute_module(module_name="multiarch.k8s.node_release",
                                       module_args=dict(args, inventory_only=False, uploads=uploads),
                                       task_vars=task_vars)
        finally:
            if remote_tmp:
                self._remove_tmp_path(remote_tmp)
        result.update(out)
        if not out.get("failed"):
            result["bytes_sent"] = bytes_sent
            result["module_calls"] = 2
        if not self._task.diff:
            result.pop("diff", None)
        return result
