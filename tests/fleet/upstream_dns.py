# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulated fleet's upstream resolver: a small authoritative DNS server (UDP and TCP port 53) in a container on
the fleet's network, standing where a Pi owner's router is. The cluster's DNS forwards every name outside the
cluster domain here (the fleet's inventories set multiarch_k8s_dns_upstreams to it), so that the tests never ask the
machine's own resolver or anything off this machine.

It answers for one zone, ZONE: an A record of ANSWER for every name in it, no data for other types, and NXDOMAIN
for every other name (it forwards nothing). Every query is printed, one line each (``query NAME TYPE from ADDRESS``):
``docker logs`` shows the tests that a query reached it. Standard library only: it runs on the fleet's amd64 node
image (python3 /srv/upstream_dns.py)."""

from __future__ import annotations

import socket
import socketserver
import struct
import sys
import threading

ZONE = "upstream.test."
ANSWER = "192.0.2.53"  # TEST-NET-1: never routed, it is only an answer
TYPES = {1: "A", 28: "AAAA", 5: "CNAME", 6: "SOA", 12: "PTR", 16: "TXT", 33: "SRV", 255: "ANY"}


def parse_question(msg):
    """(id, flags, name, qtype, end of the question) of a query; ValueError when it is not one."""
    if len(msg) < 12:
        raise ValueError("short header")
    qid, flags, qdcount = struct.unpack("!HHH", msg[:6])
    if qdcount != 1 or flags & 0x8000:
        raise ValueError("not a query with one question")
    labels, pos = [], 12
    while True:
        if pos >= len(msg):
            raise ValueError("truncated name")
        n = msg[pos]
        pos += 1
        if n == 0:
            break
        if n > 63 or pos + n > len(msg):
            raise ValueError("bad label")
        labels.append(msg[pos:pos + n].decode("ascii", "replace").lower())
        pos += n
    if pos + 4 > len(msg):
        raise ValueError("truncated question")
    qtype, _qclass = struct.unpack("!HH", msg[pos:pos + 4])
    return qid, flags, ".".join(labels) + ".", qtype, pos + 4


def answer(msg):
    """The response to query ``msg`` (bytes), or None for something that is not a query."""
    try:
        qid, flags, name, qtype, end = parse_question(msg)
    except ValueError:
        return None
    question = msg[12:end]
    in_zone = name == ZONE or name.endswith("." + ZONE)
    rcode = 0 if in_zone else 3  # NXDOMAIN outside the zone
    records = b""
    if in_zone and qtype in (1, 255):
        records = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(ANSWER)
    # QR, AA, the query's RD; RA off (it recurses for nobody)
    head = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode, 1, 1 if records else 0, 0, 0)
    return head + question + records


def log(name_type, peer):
    print("query %s %s from %s" % (name_type[0], TYPES.get(name_type[1], name_type[1]), peer), flush=True)


def _logged(msg, peer):
    try:
        _qid, _flags, name, qtype, _end = parse_question(msg)
        log((name, qtype), peer)
    except ValueError:
        print("not a query from %s" % peer, flush=True)
    return answer(msg)


class UDP(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        reply = _logged(data, self.client_address[0])
        if reply:
            sock.sendto(reply, self.client_address)


class TCP(socketserver.StreamRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        head = self.rfile.read(2)
        if len(head) != 2:
            return
        data = self.rfile.read(struct.unpack("!H", head)[0])
        reply = _logged(data, self.client_address[0])
        if reply:
            self.wfile.write(struct.pack("!H", len(reply)) + reply)


class _ThreadingUDP(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True


class _ThreadingTCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(port=53):
    udp = _ThreadingUDP(("0.0.0.0", port), UDP)
    tcp = _ThreadingTCP(("0.0.0.0", port), TCP)
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    print("upstream DNS for %s on port %d (UDP and TCP)" % (ZONE, port), flush=True)
    udp.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 53)
