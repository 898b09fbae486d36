/**
 * Every input format, from hand-written fixtures whose expected numbers were counted by hand:
 * /proc/net/nf_conntrack, /proc/net/ip_conntrack, `conntrack -L` (default, -o extended, -o
 * extended,id,ktimestamp,labels, -o xml), `conntrack -E` (plain, -o timestamp, -o xml), and line
 * layouts (CRLF, blank lines, no final newline). Runs on every available backend.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  analyzeFiles,
  analyzeText,
  counts,
  fixture,
  flagCounts,
  hist,
  PROC_FIXTURE_TOP_STATE,
  protos,
  states,
  top,
} from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";

const f = (name: string) => fixture("formats", name);

/** The five flows shared by every `conntrack -L` fixture (plain, extended, id/ktimestamp, xml). */
const LISTING = {
  states: { "tcp ESTABLISHED": 1, "udp -": 1, "tcp TIME_WAIT": 1, "icmp -": 1, "tcp CLOSE_WAIT": 1 },
  timeouts: { 10: 2, 60: 1, 3600: 1, 345600: 1 },
  established: { 345600: 1 },
  service: { "tcp 10.1.0.1:22": 2, "icmp 10.1.0.1": 1, "tcp [2001:db8::1]:80": 1, "udp 10.1.0.1:53": 1 },
  dst: { "10.1.0.1": 4, "2001:db8::1": 1 },
  src: { "10.1.0.2": 2, "10.1.0.3": 1, "10.1.0.4": 1, "2001:db8::2": 1 },
  src_prefix: { "10.1.0.0/24": 4, "2001:db8::/64": 1 },
  flags: { unreplied: 1, assured: 3, offloaded: 0, natted: 0 },
};

describe.each(BACKENDS)("formats (%s backend)", (backend) => {
  it("/proc/net/nf_conntrack: zones, secctx, delta-time, accounting, offload, vendor GRE, IPv6", async () => {
    const s = await analyzeFiles([f("proc-nf_conntrack.txt")], backend);
    expect(counts(s)).toEqual({
      lines: 12,
      entries: 12,
      malformed: 0,
      blank: 0,
      ignored: 0,
      destroyed: 0,
      filtered: 0,
      events: 0,
      accounted: 1,
    });
    expect(s.forms).toEqual({ l3: 12, plain: 0, xml: 0 });
    expect(flagCounts(s)).toEqual({ unreplied: 1, assured: 6, offloaded: 2, natted: 2 });
    expect(states(s)).toEqual({
      "tcp ESTABLISHED": 4,
      "udp -": 2,
      "tcp SYN_SENT": 1,
      "tcp -": 1,
      "gre -": 1,
      "icmp -": 1,
      "icmpv6 -": 1,
      "tcp TIME_WAIT": 1,
    });
    expect(s.by_state[0]).toEqual(PROC_FIXTURE_TOP_STATE);
    // The largest remaining timeout per state row: none at all for the offloaded TCP entry.
    const maxTimeouts = Object.fromEntries(s.by_state.map((r) => [`${r.proto} ${r.state ?? "-"}`, r.max_timeout]));
    expect(maxTimeouts).toEqual({
      "tcp ESTABLISHED": 431999,
      "udp -": 25,
      "gre -": 17999,
      "icmp -": 29,
      "icmpv6 -": 29,
      "tcp -": null,
      "tcp SYN_SENT": 117,
      "tcp TIME_WAIT": 0,
    });
    const offloadRows = s.by_state.filter((r) => r.offload > 0).map((r) => `${r.proto} ${r.state ?? "-"} ${r.offload}`);
    expect(offloadRows.sort()).toEqual(["tcp - 1", "udp - 1"]);
    expect(s.by_family).toEqual([
      { family: "ipv4", count: 9 },
      { family: "ipv6", count: 3 },
    ]);
    expect(protos(s)).toEqual({ tcp: 7, udp: 2, gre: 1, icmp: 1, icmpv6: 1 });
    // Offloaded entries carry no timeout: 12 entries, 10 in the histogram.
    expect(hist(s.timeouts)).toEqual({ 0: 1, 10: 3, 60: 1, 300: 1, 7200: 1, 43200: 1, 345600: 2 });
    expect(s.no_timeout).toBe(2);
    expect(hist(s.established_timeouts)).toEqual({ 300: 1, 43200: 1, 345600: 2 });
    expect(top(s, "service")).toEqual({
      "tcp 10.0.0.1:22": 2,
      "tcp [2001:db8::1]:443": 2,
      "gre 192.168.13.152": 1,
      "icmp 10.0.0.1": 1,
      "icmpv6 ff02::1": 1,
      "tcp 10.0.0.1:80": 1,
      "tcp 192.168.1.10:443": 1,
      "tcp 93.184.216.34:443": 1,
      "udp 10.0.0.1:53": 1,
      "udp 192.168.1.10:4500": 1,
    });
    // Sorted by count, then address (IPv4 first), protocol name, port.
    expect(s.top.service.map((r) => r.key).slice(0, 6)).toEqual([
      "tcp 10.0.0.1:22",
      "tcp [2001:db8::1]:443",
      "icmp 10.0.0.1",
      "tcp 10.0.0.1:80",
      "udp 10.0.0.1:53",
      "tcp 93.184.216.34:443",
    ]);
    expect(top(s, "dst")).toEqual({
      "10.0.0.1": 5,
      "192.168.1.10": 2,
      "2001:db8::1": 2,
      "192.168.13.152": 1,
      "93.184.216.34": 1,
      "ff02::1": 1,
    });
    expect(top(s, "src")).toEqual({
      "10.0.0.2": 2,
      "10.0.0.5": 2,
      "10.0.0.3": 1,
      "10.0.0.4": 1,
      "10.0.0.6": 1,
      "192.168.1.50": 1,
      "192.168.188.114": 1,
      "2001:db8::2": 1,
      "2001:db8::3": 1,
      "fe80::1": 1,
    });
    // Accounting is on in this input: rows carry packets and bytes (both directions summed).
    const ssh = s.top.service.find((r) => r.key === "tcp 10.0.0.1:22")!;
    expect(ssh).toMatchObject({ count: 2, packets: 22, bytes: 6144, unreplied: 0, proto: "tcp", addr: "10.0.0.1", port: 22 });
    const gre = s.top.service.find((r) => r.key === "gre 192.168.13.152")!;
    expect(gre).toMatchObject({ proto: "gre", port: null, packets: 0, bytes: 0 });
    expect(top(s, "remote_service_state")).toMatchObject({
      "10.0.0.2 tcp 10.0.0.1:22 ESTABLISHED": 2,
      "10.0.0.3 tcp 10.0.0.1:80 SYN_SENT": 1,
      "192.168.188.114 gre 192.168.13.152": 1,
    });
    expect(s.distinct).toMatchObject({ src: 10, dst: 6, remote: 10, service: 10, remote_service_state: 11 });
  });

  it("source prefixes group every source of the same /24 (IPv4) or /64 (IPv6)", async () => {
    const s = await analyzeFiles([f("proc-nf_conntrack.txt")], backend);
    expect(top(s, "src_prefix")).toEqual({
      "10.0.0.0/24": 7,
      "2001:db8::/64": 2,
      "192.168.1.0/24": 1,
      "192.168.188.0/24": 1,
      "fe80::/64": 1,
    });
    expect(s.distinct.src_prefix).toBe(5);
    const l = await analyzeFiles([f("conntrack-L.txt")], backend);
    expect(top(l, "src_prefix")).toEqual(LISTING.src_prefix);
    expect(l.top.src_prefix[0]).toMatchObject({ key: "10.1.0.0/24", addr: "10.1.0.0/24", count: 4, unreplied: 1, packets: 9 });
  });

  it("/proc/net/ip_conntrack (legacy, no l3 columns)", async () => {
    const s = await analyzeFiles([f("proc-ip_conntrack.txt")], backend);
    expect(counts(s)).toEqual({
      lines: 5,
      entries: 5,
      malformed: 0,
      blank: 0,
      ignored: 0,
      destroyed: 0,
      filtered: 0,
      events: 0,
      accounted: 0,
    });
    expect(s.forms).toEqual({ l3: 0, plain: 5, xml: 0 });
    expect(flagCounts(s)).toEqual({ unreplied: 2, assured: 2, offloaded: 0, natted: 0 });
    expect(states(s)).toEqual({ "tcp ESTABLISHED": 2, "udp -": 1, "tcp SYN_RECV": 1, "icmp -": 1 });
    expect(hist(s.timeouts)).toEqual({ 10: 3, 345600: 2 });
    expect(top(s, "service")).toEqual({
      "tcp 64.26.60.229:993": 2,
      "icmp 192.168.1.1": 1,
      "tcp 192.168.1.14:22": 1,
      "udp 192.168.1.14:514": 1,
    });
    // No packets= anywhere: rows carry no traffic columns.
    expect(s.top.service[0]).not.toHaveProperty("packets");
  });

  const listings: Array<[string, { l3: number; plain: number; xml: number }, number, number]> = [
    ["conntrack-L.txt", { l3: 0, plain: 5, xml: 0 }, 1, 1],
    ["conntrack-L-extended.txt", { l3: 5, plain: 0, xml: 0 }, 1, 1],
    ["conntrack-L-extended-id-ktimestamp-labels.txt", { l3: 5, plain: 0, xml: 0 }, 1, 1],
    ["conntrack-xml.txt", { l3: 0, plain: 0, xml: 5 }, 3, 2],
  ];
  it.each(listings)("conntrack listing %s", async (name, forms, ignored, accounted) => {
    const s = await analyzeFiles([f(name)], backend);
    expect(counts(s)).toEqual({
      lines: 5 + ignored,
      entries: 5,
      malformed: 0,
      blank: 0,
      ignored,
      destroyed: 0,
      filtered: 0,
      events: 0,
      accounted,
    });
    expect(s.forms).toEqual(forms);
    expect(flagCounts(s)).toEqual(LISTING.flags);
    expect(states(s)).toEqual(LISTING.states);
    expect(hist(s.timeouts)).toEqual(LISTING.timeouts);
    expect(hist(s.established_timeouts)).toEqual(LISTING.established);
    expect(top(s, "service")).toEqual(LISTING.service);
    expect(top(s, "dst")).toEqual(LISTING.dst);
    expect(top(s, "src")).toEqual(LISTING.src);
    const ssh = s.top.service.find((r) => r.key === "tcp 10.1.0.1:22")!;
    expect(ssh.packets).toBe(9);
    expect(ssh.bytes).toBe(1500);
    const dns = s.top.service.find((r) => r.key === "udp 10.1.0.1:53")!;
    expect(dns).toMatchObject({ unreplied: 1, packets: name.endsWith("xml.txt") ? 3 : 0, bytes: name.endsWith("xml.txt") ? 166 : 0 });
  });

  it("conntrack -E events: NEW/UPDATE are entries, DESTROY (no timeout) is counted apart", async () => {
    const s = await analyzeFiles([f("conntrack-E.txt")], backend);
    expect(counts(s)).toEqual({
      lines: 8,
      entries: 6,
      malformed: 0,
      blank: 0,
      ignored: 0,
      destroyed: 2,
      filtered: 0,
      events: 6,
      accounted: 0,
    });
    expect(s.forms).toEqual({ l3: 0, plain: 8, xml: 0 });
    expect(flagCounts(s)).toEqual({ unreplied: 3, assured: 2, offloaded: 0, natted: 0 });
    expect(states(s)).toEqual({
      "tcp SYN_SENT": 1,
      "tcp SYN_RECV": 1,
      "tcp ESTABLISHED": 1,
      "tcp FIN_WAIT": 1,
      "udp -": 1,
      "unknown(2) -": 1,
    });
    expect(hist(s.timeouts)).toEqual({ 10: 1, 60: 3, 600: 1, 345600: 1 });
    expect(hist(s.established_timeouts)).toEqual({ 345600: 1 });
    expect(top(s, "service")).toEqual({ "tcp 10.2.0.1:443": 4, "udp 10.2.0.1:53": 1, "unknown(2) 224.0.0.22": 1 });
    expect(s.top.service.find((r) => r.key === "unknown(2) 224.0.0.22")).toMatchObject({ proto: "unknown(2)", port: null, unreplied: 1 });
  });

  it("conntrack -E -o timestamp: [sec.usec]<TAB> prefix, mixed plain and extended lines", async () => {
    const s = await analyzeFiles([f("conntrack-E-timestamp.txt")], backend);
    expect(counts(s)).toEqual({
      lines: 5,
      entries: 4,
      malformed: 0,
      blank: 0,
      ignored: 0,
      destroyed: 1,
      filtered: 0,
      events: 4,
      accounted: 0,
    });
    expect(s.forms).toEqual({ l3: 1, plain: 4, xml: 0 });
    expect(flagCounts(s)).toEqual({ unreplied: 2, assured: 1, offloaded: 0, natted: 0 });
    expect(states(s)).toEqual({ "tcp SYN_SENT": 1, "tcp SYN_RECV": 1, "tcp ESTABLISHED": 1, "udp -": 1 });
    expect(hist(s.timeouts)).toEqual({ 10: 1, 60: 2, 345600: 1 });
    expect(top(s, "service")).toEqual({ "tcp 10.2.0.1:443": 3, "udp [2001:db8::1]:53": 1 });
  });

  it("conntrack -E -o xml: <flow type=...>, destroy counted apart, <when> ignored", async () => {
    const s = await analyzeFiles([f("conntrack-E-xml.txt")], backend);
    expect(counts(s)).toEqual({
      lines: 8,
      entries: 3,
      malformed: 0,
      blank: 0,
      ignored: 3,
      destroyed: 2,
      filtered: 0,
      events: 3,
      accounted: 0,
    });
    expect(s.forms).toEqual({ l3: 0, plain: 0, xml: 5 });
    expect(flagCounts(s)).toEqual({ unreplied: 2, assured: 1, offloaded: 0, natted: 0 });
    expect(states(s)).toEqual({ "tcp SYN_SENT": 1, "tcp ESTABLISHED": 1, "icmpv6 -": 1 });
    expect(hist(s.timeouts)).toEqual({ 10: 1, 60: 1, 345600: 1 });
    expect(top(s, "service")).toEqual({ "tcp 10.2.0.1:443": 2, "icmpv6 ff02::1": 1 });
  });

  const layouts: Array<[string, number, number, number]> = [
    // name, lines, blank, ignored
    ["crlf.txt", 5, 1, 1],
    ["blank-lines.txt", 10, 7, 0],
    ["no-final-newline.txt", 3, 0, 0],
  ];
  it.each(layouts)("line layout %s", async (name, lines, blank, ignored) => {
    const s = await analyzeFiles([f(name)], backend);
    expect(counts(s)).toEqual({ lines, entries: 3, malformed: 0, blank, ignored, destroyed: 0, filtered: 0, events: 0, accounted: 0 });
    expect(s.forms).toEqual({ l3: 1, plain: 2, xml: 0 });
    expect(states(s)).toEqual({ "tcp ESTABLISHED": 1, "udp -": 1, "tcp TIME_WAIT": 1 });
    expect(flagCounts(s)).toEqual({ unreplied: 1, assured: 2, offloaded: 0, natted: 0 });
    expect(hist(s.timeouts)).toEqual({ 10: 1, 60: 1, 345600: 1 });
    expect(top(s, "service")).toEqual({ "tcp 10.1.0.1:22": 1, "tcp [2001:db8::1]:80": 1, "udp 10.1.0.1:53": 1 });
  });

  it("entries without a remaining timeout are counted apart from the histogram", async () => {
    const text = [
      "tcp      6 ESTABLISHED src=10.1.0.2 dst=10.1.0.1 sport=40000 dport=22 src=10.1.0.1 dst=10.1.0.2 sport=22 dport=40000 [ASSURED] mark=0 use=1",
      " [UPDATE] udp      17 src=10.1.0.3 dst=10.1.0.1 sport=5353 dport=53 src=10.1.0.1 dst=10.1.0.3 sport=53 dport=5353",
      "tcp      6 300 ESTABLISHED src=10.1.0.4 dst=10.1.0.1 sport=40001 dport=22 src=10.1.0.1 dst=10.1.0.4 sport=22 dport=40001 [ASSURED] mark=0 use=1",
      "",
    ].join("\n");
    const s = await analyzeText(text, backend);
    expect(counts(s)).toMatchObject({ lines: 3, entries: 3, malformed: 0, events: 1 });
    expect(hist(s.timeouts)).toEqual({ 300: 1 });
    expect(s.no_timeout).toBe(2);
    expect(hist(s.established_timeouts)).toEqual({ 300: 1 });
  });

  it("CRLF without a final newline", async () => {
    const s = await analyzeFiles([f("crlf-no-final-newline.txt")], backend);
    expect(counts(s)).toMatchObject({ lines: 2, entries: 2, malformed: 0, blank: 0 });
    expect(top(s, "service")).toEqual({ "tcp 10.1.0.1:22": 1, "udp 10.1.0.1:53": 1 });
  });

  it("all fixtures at once: counters add up across formats", async () => {
    const names = [
      "proc-nf_conntrack.txt",
      "proc-ip_conntrack.txt",
      "conntrack-L.txt",
      "conntrack-L-extended.txt",
      "conntrack-L-extended-id-ktimestamp-labels.txt",
      "conntrack-xml.txt",
      "conntrack-E.txt",
      "conntrack-E-timestamp.txt",
      "conntrack-E-xml.txt",
      "crlf.txt",
      "blank-lines.txt",
      "no-final-newline.txt",
    ];
    const s = await analyzeFiles(names.map(f), backend);
    // The same bytes as one file: formats are detected line by line.
    const one = await analyzeText(Buffer.concat(names.map((n) => readFileSync(f(n)))), backend);
    expect(counts(one)).toEqual(counts(s));
    expect(one.forms).toEqual(s.forms);
    expect(one.top).toEqual(s.top);
    expect(counts(s)).toEqual({
      lines: 12 + 5 + 6 + 6 + 6 + 8 + 8 + 5 + 8 + 5 + 10 + 3,
      entries: 12 + 5 + 5 * 4 + 6 + 4 + 3 + 3 * 3,
      malformed: 0,
      blank: 1 + 7,
      ignored: 1 + 1 + 1 + 3 + 3 + 1,
      destroyed: 2 + 1 + 2,
      filtered: 0,
      events: 6 + 4 + 3,
      accounted: 1 + 1 + 1 + 1 + 2,
    });
    expect(s.forms).toEqual({ l3: 12 + 5 + 5 + 1 + 3, plain: 5 + 5 + 8 + 4 + 6, xml: 5 + 5 });
    // The two offloaded /proc entries carry no timeout; the histogram holds all the others.
    expect(s.no_timeout).toBe(2);
    expect(s.timeouts.reduce((a, b) => a + b.count, 0) + s.no_timeout).toBe(s.entries);
    expect(s.sources).toEqual(names.map(f));
  });
});
