# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A registry that misbehaves on purpose, on 127.0.0.1, serving a real OCI layout.

This is the one stand-in in the pull tests, because a real registry cannot be told to answer
401, 500 or to hang: everything else uses Debian's docker-registry. It speaks the part of the
distribution API a pull uses (manifests and blobs by tag or digest, a bearer-token service) and
counts the requests it gets, so tests can check that retries are bounded.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FaultRegistry(object):
    """``mode``: ok, 401, 403, 404, 500, hang, token (bearer auth required), corrupt-blob."""

    def __init__(self, layout, mode="ok", hang_seconds=3.0):
        self.layout = layout
        self.mode = mode
        self.hang_seconds = hang_seconds
        self.requests = []
        self.token = "t0k3n-for-tests"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                self._serve(head=True)

            def do_GET(self):
                self._serve(head=False)

            def _send(self, code, body=b"", headers=None):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _serve(self, head):
                outer.requests.append(self.path)
                if self.path.startswith("/token"):
                    return self._send(200, json.dumps({"token": outer.token}).encode())
                if outer.mode == "hang":
                    time.sleep(outer.hang_seconds)
                    return self._send(500)
                if outer.mode in ("401", "403", "404", "500"):
                    hdr = {"WWW-Authenticate": 'Basic realm="tests"'} if outer.mode == "401" else {}
                    return self._send(int(outer.mode), b"{}", hdr)
                if outer.mode == "token" and self.headers.get("Authorization") != "Bearer " + outer.token:
                    realm = "http://%s:%d/token" % self.server.server_address[:2]
                    return self._send(401, b"{}", {"WWW-Authenticate": 'Bearer realm="%s",service="tests"' % realm})
                return self._content()

            def _content(self):
                parts = self.path.split("/")
                # /v2/<repo...>/manifests/<ref> or /v2/<repo...>/blobs/<digest>
                if len(parts) < 5 or parts[1] != "v2":
                    return self._send(404)
                kind, ref = parts[-2], parts[-1]
                root = outer.layout
                if kind == "manifests" and not ref.startswith("sha256:"):
                    with open(os.path.join(root, "index.json")) as f:
                        top = json.load(f)
                    found = [m for m in top["manifests"]
                             if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == ref]
                    if not found:
                        return self._send(404)
                    ref = found[0]["digest"]
                path = os.path.join(root, "blobs", "sha256", ref.split(":", 1)[-1])
                if not os.path.exists(path):
                    return self._send(404)
                with open(path, "rb") as f:
                    body = f.read()
                headers = {"Docker-Content-Digest": ref}
                if kind == "manifests":
                    headers["Content-Type"] = json.loads(body).get("mediaType", "")
                elif outer.mode == "corrupt-blob":
                    body = body[:-1] + bytes([body[-1] ^ 0xFF])
                return self._send(200, body, headers)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that gave up (timeouts are the point of some tests)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self):
        return "127.0.0.1:%d" % self.server.server_address[1]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
