/**
 * Every l4 protocol the kernel prints (tcp, udp, udplite, sctp, dccp, icmp, icmpv6, gre, unknown),
 * in IPv4 and IPv6, as /proc/net/nf_conntrack, `conntrack -L` and `conntrack -o xml`: per-protocol
 * states, ports only where the protocol has them, and identical results across forms.
 */
import { describe, expect, it } from "vitest";
import { DIMENSIONS } from "../src/engine/types.js";
import { analyzeFiles, analyzeText, counts, fixture, flagCounts, hist, protos, states, top } from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";

const f = (name: string) => fixture("formats", name);

/** The 15 flows of protocols-ipv{4,6}-proc.txt, by state row. */
const STATES = {
  "tcp ESTABLISHED": 1,
  "tcp SYN_SENT2": 1,
  "tcp LISTEN": 1,
  "tcp NONE": 1,
  "udp -": 1,
  "udplite -": 1,
  "sctp ESTABLISHED": 1,
  "sctp COOKIE_WAIT": 1,
  "sctp HEARTBEAT_SENT": 1,
  "dccp OPEN": 1,
  "dccp REQUEST": 1,
  "gre -": 1,
  "unknown(50) -": 1,
};
const PROTOS = { tcp: 4, sctp: 3, dccp: 2, udp: 1, udplite: 1, gre: 1, "unknown(50)": 1 };
const TIMEOUTS = { 0: 1, 10: 5, 60: 5, 300: 2, 21600: 1, 345600: 1 };

function services(dst: string, icmp: string, multicast: string): Record<string, number> {
  const ep = (port: number) => (dst.includes(":") ? `[${dst}]:${port}` : `${dst}:${port}`);
  return {
    [`tcp ${ep(80)}`]: 4,
    [`sctp ${ep(3868)}`]: 3,
    [`dccp ${ep(5001)}`]: 2,
    [`udp ${ep(53)}`]: 1,
    [`udplite ${ep(5004)}`]: 1,
    [`${icmp} ${dst}`]: 1,
    [`gre ${dst}`]: 1,
    [`unknown(${icmp === "icmp" ? 2 : 89}) ${multicast}`]: 1,
    [`unknown(50) ${dst}`]: 1,
  };
}

describe.each(BACKENDS)("protocols (%s backend)", (backend) => {
  const families: Array<[string, string, string, string, string]> = [
    ["ipv4", "protocols-ipv4-proc.txt", "10.3.0.1", "icmp", "224.0.0.22"],
    ["ipv6", "protocols-ipv6-proc.txt", "2001:db8:3::1", "icmpv6", "ff02::5"],
  ];
  it.each(families)("every protocol over %s in /proc form", async (family, name, dst, icmp, multicast) => {
    const s = await analyzeFiles([f(name)], backend);
    expect(counts(s)).toEqual({
      lines: 15,
      entries: 15,
      malformed: 0,
      blank: 0,
      ignored: 0,
      destroyed: 0,
      filtered: 0,
      events: 0,
      accounted: 0,
    });
    expect(s.by_family).toEqual([{ family, count: 15 }]);
    // The other unknown protocol is 2 (IGMP) over IPv4 and 89 (OSPF) over IPv6.
    const other = `unknown(${family === "ipv4" ? 2 : 89})`;
    expect(states(s)).toEqual({ ...STATES, [`${icmp} -`]: 1, [`${other} -`]: 1 });
    expect(protos(s)).toEqual({ ...PROTOS, [icmp]: 1, [other]: 1 });
    expect(flagCounts(s)).toEqual({ unreplied: 5, assured: 6, offloaded: 0, natted: 0 });
    expect(hist(s.timeouts)).toEqual(TIMEOUTS);
    // Only TCP ESTABLISHED enters the established histogram (not SCTP ESTABLISHED).
    expect(hist(s.established_timeouts)).toEqual({ 345600: 1 });
    expect(top(s, "service")).toEqual(services(dst, icmp, multicast));
    // Ports only for protocols that have them.
    const ports = Object.fromEntries(s.top.service.map((r) => [r.key.startsWith("unknown") ? r.key : r.proto, r.port]));
    expect(ports).toMatchObject({ tcp: 80, udp: 53, udplite: 5004, sctp: 3868, dccp: 5001, gre: null, [icmp]: null });
    expect(ports[`unknown(${family === "ipv4" ? 2 : 89}) ${multicast}`]).toBeNull();
    const classes = s.classes.map((c) => `${c.protoName}/${c.proto}`).sort();
    expect(new Set(classes)).toEqual(
      new Set([
        "tcp/6",
        "udp/17",
        "udplite/136",
        "sctp/132",
        "dccp/33",
        `${icmp}/${icmp === "icmp" ? 1 : 58}`,
        "gre/47",
        `unknown(${family === "ipv4" ? 2 : 89})/${family === "ipv4" ? 2 : 89}`,
        "unknown(50)/50",
      ]),
    );
  });

  it("conntrack -L (compressed IPv6) gives what both /proc files give together", async () => {
    const plain = await analyzeFiles([f("protocols-conntrack-L.txt")], backend);
    const proc = await analyzeFiles([f("protocols-ipv4-proc.txt"), f("protocols-ipv6-proc.txt")], backend);
    expect(counts(plain)).toEqual({ ...counts(proc), lines: 31, ignored: 1 });
    expect(plain.forms).toEqual({ l3: 0, plain: 30, xml: 0 });
    expect(proc.forms).toEqual({ l3: 30, plain: 0, xml: 0 });
    expect(plain.by_state).toEqual(proc.by_state);
    expect(plain.by_proto).toEqual(proc.by_proto);
    expect(plain.timeouts).toEqual(proc.timeouts);
    for (const dim of DIMENSIONS) expect(plain.top[dim]).toEqual(proc.top[dim]);
  });

  it("conntrack -o xml: protocols from layer4 protonum, states from <state>", async () => {
    const s = await analyzeFiles([f("protocols-xml.txt")], backend);
    expect(counts(s)).toEqual({
      lines: 14,
      entries: 11,
      malformed: 0,
      blank: 0,
      ignored: 3,
      destroyed: 0,
      filtered: 0,
      events: 0,
      accounted: 0,
    });
    expect(states(s)).toEqual({
      "tcp ESTABLISHED": 1,
      "tcp SYN_SENT": 1,
      "udp -": 1,
      "udplite -": 1,
      "sctp ESTABLISHED": 1,
      "sctp COOKIE_WAIT": 1,
      "dccp OPEN": 1,
      "icmp -": 1,
      "icmpv6 -": 1,
      "gre -": 1,
      "unknown(2) -": 1,
    });
    expect(flagCounts(s)).toEqual({ unreplied: 4, assured: 5, offloaded: 0, natted: 0 });
    expect(hist(s.timeouts)).toEqual({ 0: 1, 10: 4, 60: 3, 300: 1, 21600: 1, 345600: 1 });
    expect(top(s, "service")).toEqual({
      "dccp 10.3.0.1:5001": 1,
      "gre 10.3.0.1": 1,
      "icmp 10.3.0.1": 1,
      "icmpv6 2001:db8:3::1": 1,
      "sctp 10.3.0.1:3868": 1,
      "sctp [2001:db8:3::1]:3868": 1,
      "tcp 10.3.0.1:80": 1,
      "tcp [2001:db8:3::1]:80": 1,
      "udp 10.3.0.1:53": 1,
      "udplite 10.3.0.1:5004": 1,
      "unknown(2) 224.0.0.22": 1,
    });
  });

  it("states valid for one protocol only are accepted there (SYN_SENT2, LISTEN, HEARTBEAT_SENT, REQUEST...)", async () => {
    const lines = [
      "sctp     132 5 SHUTDOWN_SENT src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "sctp     132 5 SHUTDOWN_RECD src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "sctp     132 5 SHUTDOWN_ACK_SENT src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "sctp     132 5 HEARTBEAT_ACKED src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "sctp     132 5 CLOSED src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "sctp     132 5 COOKIE_ECHOED src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "dccp     33 5 RESPOND src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "dccp     33 5 PARTOPEN src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "dccp     33 5 CLOSEREQ src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "dccp     33 5 CLOSING src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "dccp     33 5 TIMEWAIT src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "dccp     33 5 IGNORE src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "dccp     33 5 INVALID src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "tcp      6 5 FIN_WAIT src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "tcp      6 5 LAST_ACK src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "tcp      6 5 CLOSE src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      // Cross-protocol states are malformed: OPEN is DCCP, SYN_SENT is TCP, COOKIE_WAIT is SCTP.
      "tcp      6 5 OPEN src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "sctp     132 5 SYN_SENT src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "dccp     33 5 COOKIE_WAIT src=10.3.0.2 dst=10.3.0.1 sport=1 dport=2 src=10.3.0.1 dst=10.3.0.2 sport=2 dport=1 mark=0 use=1",
      "gre      47 5 ESTABLISHED src=10.3.0.2 dst=10.3.0.1 srckey=0x0 dstkey=0x0 src=10.3.0.1 dst=10.3.0.2 srckey=0x0 dstkey=0x0 use=1",
    ];
    const s = await analyzeText(`${lines.join("\n")}\n`, backend);
    expect(counts(s)).toMatchObject({ lines: 20, entries: 16, malformed: 4 });
    expect(s.malformed_samples.map((m) => m.line)).toEqual([17, 18, 19, 20]);
    expect(Object.keys(states(s)).sort()).toEqual([
      "dccp CLOSEREQ",
      "dccp CLOSING",
      "dccp IGNORE",
      "dccp INVALID",
      "dccp PARTOPEN",
      "dccp RESPOND",
      "dccp TIMEWAIT",
      "sctp CLOSED",
      "sctp COOKIE_ECHOED",
      "sctp HEARTBEAT_ACKED",
      "sctp SHUTDOWN_ACK_SENT",
      "sctp SHUTDOWN_RECD",
      "sctp SHUTDOWN_SENT",
      "tcp CLOSE",
      "tcp FIN_WAIT",
      "tcp LAST_ACK",
    ]);
  });

  it("ICMP and GRE tuples need their fields; ports are not read for portless protocols", async () => {
    const s = await analyzeText(
      [
        // ICMP without type/code/id: malformed.
        "icmp     1 29 src=10.3.0.2 dst=10.3.0.1 src=10.3.0.1 dst=10.3.0.2 mark=0 use=1",
        // GRE without keys: malformed.
        "gre      47 29 src=10.3.0.2 dst=10.3.0.1 src=10.3.0.1 dst=10.3.0.2 mark=0 use=1",
        // GRE key that is not hex: malformed.
        "gre      47 29 src=10.3.0.2 dst=10.3.0.1 srckey=0xZZ dstkey=0x0 src=10.3.0.1 dst=10.3.0.2 srckey=0x0 dstkey=0x0 use=1",
        // TCP without ports: malformed.
        "tcp      6 29 ESTABLISHED src=10.3.0.2 dst=10.3.0.1 src=10.3.0.1 dst=10.3.0.2 mark=0 use=1",
        // A valid GRE entry with 32-bit keys.
        "gre      47 29 src=10.3.0.2 dst=10.3.0.1 srckey=0xffffffff dstkey=0x0 src=10.3.0.1 dst=10.3.0.2 srckey=0x0 dstkey=0xFFFFFFFF use=1",
        // A valid unknown-protocol entry: no l4 fields at all.
        "unknown  115 29 src=10.3.0.2 dst=10.3.0.1 src=10.3.0.1 dst=10.3.0.2 mark=0 use=1",
        "",
      ].join("\n"),
      backend,
    );
    expect(counts(s)).toMatchObject({ lines: 6, entries: 2, malformed: 4 });
    expect(s.malformed_samples.map((m) => m.line)).toEqual([1, 2, 3, 4]);
    expect(top(s, "service")).toEqual({ "gre 10.3.0.1": 1, "unknown(115) 10.3.0.1": 1 });
  });

  // Unlisted protocol numbers are labelled "unknown(N)", so two of them never share a label.
  it("two unknown protocol numbers: classes stay apart, no table shows the same label twice", async () => {
    const s = await analyzeText(
      [
        "unknown  2 599 src=10.3.0.2 dst=10.3.0.1 src=10.3.0.1 dst=10.3.0.2 mark=0 use=1",
        "unknown  2 599 src=10.3.0.3 dst=10.3.0.1 src=10.3.0.1 dst=10.3.0.3 mark=0 use=1",
        "unknown  50 599 src=10.3.0.2 dst=10.3.0.1 src=10.3.0.1 dst=10.3.0.2 mark=0 use=1",
        "",
      ].join("\n"),
      backend,
    );
    expect(counts(s)).toMatchObject({ entries: 3, malformed: 0 });
    expect(s.classes.map((c) => c.proto).sort((a, b) => a - b)).toEqual([2, 2, 50]);
    // Whether unknown protocols are merged or labelled apart, no two rows of a table may carry the
    // same label: a reader could not tell them apart.
    const protoRows = s.by_proto.map((r) => r.proto);
    expect(new Set(protoRows).size, `by_proto ${JSON.stringify(s.by_proto)}`).toBe(protoRows.length);
    expect(s.by_proto.reduce((a, r) => a + r.count, 0)).toBe(3);
    const stateRows = s.by_state.map((r) => `${r.proto} ${r.state ?? "-"}`);
    expect(new Set(stateRows).size, `by_state ${JSON.stringify(s.by_state)}`).toBe(stateRows.length);
    expect(s.by_state.reduce((a, r) => a + r.count, 0)).toBe(3);
    for (const dim of DIMENSIONS) {
      const keys = s.top[dim].map((r) => r.key);
      expect(new Set(keys).size, `${dim} ${JSON.stringify(keys)}`).toBe(keys.length);
    }
  });
});
