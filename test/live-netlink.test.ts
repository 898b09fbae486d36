/**
 * The ctnetlink parser (native/netlink.cc) against the text tokenizer: recorded kernel dumps and
 * the /proc/net/nf_conntrack text read at the same moment must give the same ChunkAggregate,
 * byte for byte, with and without filters; synthetic messages cover what the test kernel cannot
 * produce (SCTP, DCCP, GRE, offload, IPv6 ICMP) and broken input.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type ChunkAggregate, type CompiledFilter, emptyFilter } from "../src/engine/contract.js";
import { compileFilter, type FilterOptions } from "../src/engine/filter.js";
import { netlinkAddon } from "../src/live/netlink.js";
import { C_ACCT, C_ENTRIES, C_FILTERED, C_FORM_L3, C_LINES, C_MALFORMED, F_NAT, K_FLAGS, KEY_BYTES } from "../src/parse/layout.js";
import { scanBuffer } from "../src/parse/tokenizer.js";
import { BOTH, cat, done, type EntrySpec, entry, IPS, inv, type TupleSpec } from "./helpers/netlink-messages.js";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "live");
const addon = netlinkAddon();
if (!addon) {
  if (process.env.CTSCOPE_REQUIRE_NATIVE === "1")
    throw new Error("CTSCOPE_REQUIRE_NATIVE=1 but the addon with ctnetlink support did not load");
  console.log("live-netlink: skipped: the native addon with ctnetlink support is not loaded (npm run build:native)");
}

function plain(a: ChunkAggregate) {
  return {
    counters: [...a.counters],
    hist: [...a.hist],
    keys: Buffer.from(a.keys).toString("hex"),
    values: [...a.values],
    malformedLines: a.malformedLines,
    malformedText: a.malformedText,
  };
}

function textAggregate(text: string | Buffer, filter: CompiledFilter = emptyFilter()): ChunkAggregate {
  const b = typeof text === "string" ? Buffer.from(text, "latin1") : text;
  return scanBuffer(b, 0, b.length, filter);
}

const FILTERS: Array<[string, FilterOptions]> = [
  ["none", {}],
  ["proto udp", { proto: ["udp"] }],
  ["state ESTABLISHED,SYN_SENT", { state: ["ESTABLISHED,SYN_SENT"] }],
  ["port 8080", { port: ["8080"] }],
  ["src 127.0.0.0/8", { src: ["127.0.0.0/8"] }],
  ["dst ::1", { dst: ["::1"] }],
  ["dst 127.0.0.5 port 8090", { dst: ["127.0.0.5/32"], port: ["8090"] }],
];

describe.skipIf(!addon)("recorded ctnetlink dumps", () => {
  for (const [name, entries, classes, natted, accounted] of [
    ["flows", 27, 6, 0, 27],
    ["nat", 30, 7, 3, 0],
  ] as const) {
    const raw = readFileSync(join(FIXTURES, `${name}.nlbin`));
    const proc = readFileSync(join(FIXTURES, `${name}.proc.txt`));

    it(`${name}: aggregates exactly like its /proc text`, () => {
      const nl = addon!.netlinkParse(raw, emptyFilter());
      expect(plain(nl)).toEqual(plain(textAggregate(proc)));
      expect(nl.counters[C_ENTRIES]).toBe(entries);
      expect(nl.counters[C_LINES]).toBe(entries);
      expect(nl.counters[C_FORM_L3]).toBe(entries);
      expect(nl.counters[C_ACCT]).toBe(accounted);
      expect(nl.counters[C_MALFORMED]).toBe(0);
      expect(nl.keys.length / KEY_BYTES).toBe(classes);
      let nat = 0;
      for (let i = 0; i < nl.keys.length / KEY_BYTES; i++) {
        if ((nl.keys[i * KEY_BYTES + K_FLAGS]! & F_NAT) !== 0) nat += nl.values[i * 4]!;
      }
      expect(nat).toBe(natted);
    });

    for (const [label, f] of FILTERS) {
      it(`${name}: filter ${label} as the tokenizer applies it`, () => {
        const filter = compileFilter(f);
        const nl = addon!.netlinkParse(raw, filter);
        const tx = textAggregate(proc, filter);
        expect(plain(nl)).toEqual(plain(tx));
        expect(nl.counters[C_ENTRIES]! + nl.counters[C_FILTERED]!).toBe(entries);
      });
    }

    it(`${name}: a dump cut anywhere parses the whole messages before the cut`, () => {
      for (const cut of [0, 3, 16, 17, 100, Math.floor(raw.length / 2), raw.length - 1]) {
        const a = addon!.netlinkParse(raw.subarray(0, cut), emptyFilter());
        expect(a.counters[C_ENTRIES]).toBeLessThanOrEqual(entries);
        expect(a.counters[C_MALFORMED]).toBe(0);
      }
    });
  }
});

// ---- Synthetic ctnetlink messages (kernel UAPI numbering) ----

/** Each synthetic entry and the /proc line the kernel prints for it. */
const CASES: Array<[string, EntrySpec, string]> = (() => {
  const sctp: TupleSpec = { src: "10.0.0.1", dst: "10.0.0.2", proto: 132, sport: 5000, dport: 36412 };
  const dccp: TupleSpec = { src: "10.0.0.1", dst: "10.0.0.3", proto: 33, sport: 4000, dport: 5004 };
  const gre: TupleSpec = { src: "192.0.2.1", dst: "192.0.2.9", proto: 47, sport: 0, dport: 0 };
  const off: TupleSpec = { src: "10.1.0.1", dst: "10.2.0.1", proto: 6, sport: 40000, dport: 443 };
  const v6: TupleSpec = { src: "2001:db8::1", dst: "2001:db8::2", proto: 58, icmp: [128, 0, 77] };
  const v6r: TupleSpec = { src: "2001:db8::2", dst: "2001:db8::1", proto: 58, icmp: [129, 0, 77] };
  const syn2: TupleSpec = { src: "10.0.0.7", dst: "10.0.0.8", proto: 6, sport: 1111, dport: 2222 };
  const natTcp: TupleSpec = { src: "10.0.0.9", dst: "203.0.113.5", proto: 6, sport: 50000, dport: 80 };
  return [
    [
      "sctp ESTABLISHED",
      { orig: sctp, reply: inv(sctp), status: BOTH, timeout: 431999, state: [3, 4] },
      "ipv4     2 sctp     132 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=5000 dport=36412 src=10.0.0.2 dst=10.0.0.1 sport=36412 dport=5000 [ASSURED] mark=0 use=2",
    ],
    [
      "sctp HEARTBEAT_SENT",
      { orig: sctp, reply: inv(sctp), status: BOTH, timeout: 29, state: [3, 8] },
      "ipv4     2 sctp     132 29 HEARTBEAT_SENT src=10.0.0.1 dst=10.0.0.2 sport=5000 dport=36412 src=10.0.0.2 dst=10.0.0.1 sport=36412 dport=5000 [ASSURED] mark=0 use=2",
    ],
    [
      "dccp OPEN",
      { orig: dccp, reply: inv(dccp), status: BOTH, timeout: 43199, state: [2, 4] },
      "ipv4     2 dccp     33 43199 OPEN src=10.0.0.1 dst=10.0.0.3 sport=4000 dport=5004 src=10.0.0.3 dst=10.0.0.1 sport=5004 dport=4000 [ASSURED] mark=0 use=2",
    ],
    [
      "gre",
      { orig: gre, reply: inv(gre), status: BOTH, timeout: 599 },
      "ipv4     2 gre      47 599 src=192.0.2.1 dst=192.0.2.9 srckey=0x0 dstkey=0x0 src=192.0.2.9 dst=192.0.2.1 srckey=0x0 dstkey=0x0 [ASSURED] mark=0 use=2",
    ],
    [
      "tcp offloaded (no timeout, no state)",
      { orig: off, reply: inv(off), status: BOTH | IPS.OFFLOAD },
      "ipv4     2 tcp      6 src=10.1.0.1 dst=10.2.0.1 sport=40000 dport=443 src=10.2.0.1 dst=10.1.0.1 sport=443 dport=40000 [OFFLOAD] mark=0 use=3",
    ],
    [
      "tcp hardware offloaded",
      { orig: off, reply: inv(off), status: BOTH | IPS.OFFLOAD | IPS.HW_OFFLOAD },
      "ipv4     2 tcp      6 src=10.1.0.1 dst=10.2.0.1 sport=40000 dport=443 src=10.2.0.1 dst=10.1.0.1 sport=443 dport=40000 [HW_OFFLOAD] mark=0 use=3",
    ],
    [
      "icmpv6 echo",
      { orig: v6, reply: v6r, status: IPS.SEEN_REPLY | IPS.CONFIRMED, timeout: 29 },
      "ipv6     10 icmpv6   58 29 src=2001:0db8:0000:0000:0000:0000:0000:0001 dst=2001:0db8:0000:0000:0000:0000:0000:0002 type=128 code=0 id=77 src=2001:0db8:0000:0000:0000:0000:0000:0002 dst=2001:0db8:0000:0000:0000:0000:0000:0001 type=129 code=0 id=77 mark=0 zone=0 use=2",
    ],
    [
      "tcp SYN_SENT2 unreplied",
      { orig: syn2, reply: inv(syn2), status: IPS.CONFIRMED, timeout: 119, state: [1, 9] },
      "ipv4     2 tcp      6 119 SYN_SENT2 src=10.0.0.7 dst=10.0.0.8 sport=1111 dport=2222 [UNREPLIED] src=10.0.0.8 dst=10.0.0.7 sport=2222 dport=1111 mark=0 use=2",
    ],
    [
      "tcp SNAT with counters",
      {
        orig: natTcp,
        reply: { src: "203.0.113.5", dst: "198.51.100.1", proto: 6, sport: 80, dport: 61000 },
        status: BOTH,
        timeout: 86399,
        state: [1, 3],
        counters: [10, 800, 12, 9000],
      },
      "ipv4     2 tcp      6 86399 ESTABLISHED src=10.0.0.9 dst=203.0.113.5 sport=50000 dport=80 packets=10 bytes=800 src=203.0.113.5 dst=198.51.100.1 sport=80 dport=61000 packets=12 bytes=9000 [ASSURED] mark=0 use=2",
    ],
  ];
})();

describe.skipIf(!addon)("synthetic ctnetlink messages", () => {
  for (const [label, spec, line] of CASES) {
    it(`${label} aggregates like the kernel's /proc line`, () => {
      const nl = addon!.netlinkParse(cat(entry(spec), done()), emptyFilter());
      expect(plain(nl)).toEqual(plain(textAggregate(`${line}\n`)));
      expect(nl.counters[C_ENTRIES]).toBe(1);
    });
  }

  it("all of them in one buffer, dump replies typed GET or NEW", () => {
    const buf = cat(...CASES.map(([, spec], i) => entry(spec, (1 << 8) | (i % 2))), done());
    const text = CASES.map(([, , line]) => `${line}\n`).join("");
    expect(plain(addon!.netlinkParse(buf, emptyFilter()))).toEqual(plain(textAggregate(text)));
  });

  it("broken entries are counted as malformed with a reason, the rest still count", () => {
    const good = CASES[0]![1];
    const buf = cat(
      entry({ ...good, reply: undefined }),
      entry({ ...good, orig: undefined }),
      entry({ ...good, state: [3, 42] }),
      entry({ ...good, orig: { ...good.orig!, sport: undefined } }),
      entry(good),
      done(),
    );
    const a = addon!.netlinkParse(buf, emptyFilter());
    expect(a.counters[C_LINES]).toBe(5);
    expect(a.counters[C_MALFORMED]).toBe(4);
    expect(a.counters[C_ENTRIES]).toBe(1);
    expect(a.malformedLines).toEqual([0, 1, 2, 3]);
    expect(a.malformedText).toEqual([
      "ctnetlink entry: no CTA_TUPLE_REPLY",
      "ctnetlink entry: no CTA_TUPLE_ORIG",
      "ctnetlink entry: unknown protocol state",
      "ctnetlink entry: port protocol without ports",
    ]);
  });

  it("error, done and foreign messages add nothing", () => {
    const err = new Uint8Array(36);
    const dv = new DataView(err.buffer);
    dv.setUint32(0, 36, true);
    dv.setUint16(4, 2, true); // NLMSG_ERROR
    dv.setInt32(16, -1, true); // -EPERM
    const foreign = entry(CASES[0]![1], (2 << 8) | 0); // another nfnetlink subsystem
    const a = addon!.netlinkParse(cat(err, foreign, done()), emptyFilter());
    expect(a.counters[C_LINES]).toBe(0);
    expect(a.keys.length).toBe(0);
  });

  it("a message whose length overruns the buffer stops the walk", () => {
    const m = entry(CASES[0]![1]);
    new DataView(m.buffer).setUint32(0, m.length + 64, true);
    expect(addon!.netlinkParse(m, emptyFilter()).counters[C_LINES]).toBe(0);
  });
});
