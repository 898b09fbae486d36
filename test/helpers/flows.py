#!/usr/bin/env python3
"""Open a known set of flows inside a network namespace and hold them until stdin closes.

Run with `ip netns exec NS python3 flows.py '<json counts>'`. Prints one line
`READY <json>` once every flow exists in conntrack, then waits for a line (or EOF) on stdin,
so the caller can capture the table while every connection is still open (no TIME_WAIT).
The namespace's nft ruleset drops input to 127.0.0.3:9999/tcp and 127.0.0.2:9998/udp, so those
flows stay UNREPLIED.
"""
import json
import socket
import struct
import sys
import time

counts = json.loads(sys.argv[1])
held = []  # every socket stays referenced (and open) until exit


def tcp_established(family, host, port, n):
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(64)
    held.append(srv)
    for _ in range(n):
        c = socket.socket(family, socket.SOCK_STREAM)
        c.bind((host, 0))
        c.connect((host, port))
        a, _ = srv.accept()
        # One byte each way: the handshake's final ACK already made the entry ASSURED.
        c.sendall(b"x")
        a.recv(1)
        a.sendall(b"y")
        c.recv(1)
        held.extend([c, a])


def tcp_unreplied(host, port, n):
    for _ in range(n):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.bind(("127.0.0.1", 0))
        c.setblocking(False)
        try:
            c.connect((host, port))
        except BlockingIOError:
            pass
        held.append(c)


def udp_unreplied(host, port, n):
    for _ in range(n):
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.bind(("127.0.0.1", 0))
        c.sendto(b"q", (host, port))
        held.append(c)


def udp_replied(host, port, n):
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind((host, port))
    held.append(srv)
    for _ in range(n):
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.bind(("127.0.0.1", 0))
        c.settimeout(5)
        c.sendto(b"q", (host, port))
        data, peer = srv.recvfrom(64)
        srv.sendto(b"r" + data, peer)
        c.recvfrom(64)
        held.append(c)


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def icmp_echo(host, n, first_id):
    # A raw socket (we are root) lets each echo carry its own id: one conntrack entry per id.
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    held.append(s)
    for i in range(n):
        ident = first_id + i
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"ctscope"
        pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr), ident, 1) + b"ctscope"
        s.sendto(pkt, (host, 0))
    # Wait for every echo reply (the raw socket also sees the requests on loopback).
    replies = 0
    deadline = time.time() + 5
    while replies < n and time.time() < deadline:
        data, _ = s.recvfrom(256)
        ihl = (data[0] & 15) * 4
        if data[ihl] == 0:
            replies += 1
    if replies < n:
        raise SystemExit("icmp: only %d of %d echo replies" % (replies, n))


tcp_established(socket.AF_INET, "127.0.0.1", 8080, counts["tcp_established"])
tcp_unreplied("127.0.0.3", 9999, counts["tcp_unreplied"])
udp_unreplied("127.0.0.2", 9998, counts["udp_unreplied"])
udp_replied("127.0.0.1", 5353, counts["udp_replied"])
icmp_echo("127.0.0.4", counts["icmp"], 4242)
tcp_established(socket.AF_INET6, "::1", 8081, counts["tcp6_established"])

time.sleep(0.2)  # let the last ACKs and replies pass conntrack
print("READY " + json.dumps({"sockets": len(held)}), flush=True)
sys.stdin.readline()
