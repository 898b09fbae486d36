#!/usr/bin/env python3
"""Fill this network namespace's conntrack table to the (global) nf_conntrack_max.

Run with `ip netns exec NS python3 flood.py '<json options>'` as root. The namespace must drop
input from and to the flood prefix (nft), and its UDP timeouts must be long enough to outlive the
test. Prints one JSON line with what happened; exits 2 with {"error": ...} when it cannot reach the
max before the deadline.

Why this works: the count is per namespace but the limit is global, and entries that are not
ASSURED are evicted (early_drop) instead of causing drops. So every flow gets an ASSURED entry:
 1. one UDP datagram per flow, from one socket to many destinations (127.64.0.0/10);
 2. the flow's reply, forged as an IPv4/UDP packet on a raw socket (locally sent packets pass the
    OUTPUT hook, so conntrack sees the reply direction);
 3. after more than 2 s, the original again: a UDP entry with a reply that is still active after
    2 s becomes ASSURED.
Once the table is at the max and every entry is ASSURED, each new flow is dropped ("table full,
dropping packet", the `drop` statistic) and its sendto() fails with EPERM.
"""
import json
import socket
import struct
import sys
import time

opts = json.loads(sys.argv[1])
deadline = time.monotonic() + float(opts.get("deadlineSec", 50))
base = struct.unpack("!I", socket.inet_aton(opts.get("prefix", "127.64.0.0")))[0]
span = 1 << (32 - int(opts.get("prefixLen", 10)))
sport = int(opts.get("sport", 40000))
dport = int(opts.get("dport", 7000))
overflow = int(opts.get("overflow", 2000))  # new flows sent once the table is full
LOCAL = socket.inet_aton("127.0.0.1")


def read_int(path):
    with open(path) as f:
        return int(f.read().strip())


def count():
    return read_int("/proc/sys/net/netfilter/nf_conntrack_count")


def fail(msg, **extra):
    print(json.dumps(dict(error=msg, **extra)), flush=True)
    sys.exit(2)


def check_deadline(i):
    if i & 4095 == 0 and time.monotonic() > deadline:
        fail("deadline before the table reached the max", count=count(), max=ct_max, rounds=rounds)


ct_max = read_int("/proc/sys/net/netfilter/nf_conntrack_max")
if ct_max <= 0:
    fail("nf_conntrack_max is 0 (no limit): the table cannot be filled")
if ct_max + overflow > span:
    fail("flood prefix too small for nf_conntrack_max", max=ct_max, span=span)

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", sport))
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # implies IP_HDRINCL
# Reply: src = the flow's destination, dst = 127.0.0.1:sport. The kernel fills length and checksum.
ip_head = struct.pack("!BBHHHBBH", 0x45, 0, 29, 0, 0, 64, socket.IPPROTO_UDP, 0)
udp_reply = LOCAL + struct.pack("!HHHH", dport, sport, 9, 0) + b"r"

started = time.monotonic()
next_addr = 0  # offset of the next unused destination in the prefix
rounds = 0
created = 0
while True:
    missing = ct_max - count()
    if missing <= 0:
        break
    check_deadline(0)
    rounds += 1
    first = next_addr
    # 1 + 2: original and forged reply, flow by flow, so no entry waits UNREPLIED for long.
    for i in range(first, first + missing):
        check_deadline(i)
        a = socket.inet_ntoa(struct.pack("!I", base + i))
        try:
            u.sendto(b"f", (a, dport))
        except PermissionError:
            continue  # already full (a concurrent entry): the loop re-checks the count
        raw.sendto(ip_head + struct.pack("!I", base + i) + udp_reply, ("127.0.0.1", 0))
    next_addr = first + missing
    created += missing
    # 3: more than 2 s after the last reply, the originals again make the entries ASSURED.
    time.sleep(2.2)
    for i in range(first, next_addr):
        check_deadline(i)
        try:
            u.sendto(b"f", (socket.inet_ntoa(struct.pack("!I", base + i)), dport))
        except PermissionError:
            pass
fill_seconds = time.monotonic() - started

# The table is full of ASSURED entries: new flows are dropped by conntrack.
count_before = count()
eperm = 0
for i in range(next_addr, next_addr + overflow):
    try:
        u.sendto(b"o", (socket.inet_ntoa(struct.pack("!I", base + i)), dport + 1))
    except PermissionError:
        eperm += 1

print(
    json.dumps(
        {
            "count": count(),
            "countBeforeOverflow": count_before,
            "max": ct_max,
            "flows": created,
            "rounds": rounds,
            "overflowSent": overflow,
            "overflowRejected": eperm,
            "fillSeconds": round(fill_seconds, 3),
        }
    ),
    flush=True,
)
