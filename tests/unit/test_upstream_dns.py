# -*- coding: utf-8 -*-
# Copyright: multiarch.k8s contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet's upstream resolver (tests/fleet/upstream_dns.py), asked over real UDP and TCP sockets on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import os
import socket
import struct
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("mk8s_upstream_dns", os.path.join(ROOT, "tests", "fleet", "upstream_dns.py"))
U = importlib.util.module_from_spec(spec)
spec.loader.exec_module(U)


def query(name, qtype=1, qid=0x1234):
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", qtype, 1)


def rcode_and_answers(reply):
    _qid, flags, _qd, an, _ns, _ar = struct.unpack("!HHHHHH", reply[:12])
    return flags & 0xF, an, reply[-4:]


@pytest.fixture(scope="module")
def server():
    udp = U._ThreadingUDP(("127.0.0.1", 0), U.UDP)
    tcp = U._ThreadingTCP(("127.0.0.1", 0), U.TCP)
    for s in (udp, tcp):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    yield udp.server_address[1], tcp.server_address[1]
    udp.shutdown()
    tcp.shutdown()


def test_a_name_in_the_zone_gets_its_a_record_over_udp_and_tcp(server, capsys):
    udp_port, tcp_port = server
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(query("www.upstream.test"), ("127.0.0.1", udp_port))
        reply = s.recv(512)
    assert reply[:2] == b"\x12\x34"
    assert rcode_and_answers(reply) == (0, 1, socket.inet_aton(U.ANSWER))
    with socket.create_connection(("127.0.0.1", tcp_port), timeout=5) as s:
        q = query("Other.Upstream.Test.", qid=7)
        s.sendall(struct.pack("!H", len(q)) + q)
        size = struct.unpack("!H", s.recv(2))[0]
        reply = b""
        while len(reply) < size:
            reply += s.recv(size - len(reply))
    assert rcode_and_answers(reply) == (0, 1, socket.inet_aton(U.ANSWER))
    out = capsys.readouterr().out
    assert "query www.upstream.test. A from 127.0.0.1" in out and "query other.upstream.test. A from 127.0.0.1" in out


def test_other_names_are_nxdomain_and_other_types_have_no_data():
    rcode, answers, _tail = rcode_and_answers(U.answer(query("kubernetes.io")))
    assert (rcode, answers) == (3, 0)
    rcode, answers, _tail = rcode_and_answers(U.answer(query("www.upstream.test", qtype=28)))
    assert (rcode, answers) == (0, 0)


@pytest.mark.parametrize("msg", [b"", b"\0" * 11, query("a.upstream.test")[:-3], b"\x12\x34\x81\x00" + b"\0" * 8])
def test_what_is_not_a_query_gets_no_answer(msg):
    assert U.answer(msg) is None
