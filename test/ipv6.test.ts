/**
 * IPv6: /proc prints addresses fully expanded, `conntrack -L` compressed. The same flows in both
 * forms must land on the same keys, printed compressed (RFC 5952), with /64 source prefixes.
 */
import { describe, expect, it } from "vitest";
import { DIMENSIONS } from "../src/engine/types.js";
import { analyzeFiles, analyzeText, counts, fixture, flagCounts, hist, states, top } from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";

const PROC = fixture("formats", "ipv6-proc.txt");
const PLAIN = fixture("formats", "ipv6-conntrack-L.txt");

function tcpLine(src: string, dst: string, replySrc = dst, replyDst = src): string {
  return `tcp      6 100 ESTABLISHED src=${src} dst=${dst} sport=40000 dport=443 src=${replySrc} dst=${replyDst} sport=443 dport=40000 [ASSURED] mark=0 use=1`;
}

describe.each(BACKENDS)("ipv6 (%s backend)", (backend) => {
  it("expanded (/proc) and compressed (conntrack -L) forms give identical tables", async () => {
    const proc = await analyzeFiles([PROC], backend);
    const plain = await analyzeFiles([PLAIN], backend);
    expect(counts(proc)).toEqual({
      lines: 9,
      entries: 9,
      malformed: 0,
      blank: 0,
      ignored: 0,
      destroyed: 0,
      filtered: 0,
      events: 0,
      accounted: 0,
    });
    expect(counts(plain)).toEqual({ ...counts(proc), lines: 10, ignored: 1 });
    for (const dim of DIMENSIONS) expect(plain.top[dim], dim).toEqual(proc.top[dim]);
    expect(plain.distinct).toEqual(proc.distinct);
    expect(plain.by_state).toEqual(proc.by_state);
    expect(plain.timeouts).toEqual(proc.timeouts);
    expect(plain.local).toEqual(proc.local);
    expect(flagCounts(proc)).toEqual({ unreplied: 1, assured: 6, offloaded: 0, natted: 1 });
    expect(flagCounts(plain)).toEqual(flagCounts(proc));
    expect(proc.by_family).toEqual([{ family: "ipv6", count: 9 }]);
    expect(states(proc)).toEqual({ "tcp ESTABLISHED": 5, "tcp SYN_SENT": 1, "tcp TIME_WAIT": 1, "udp -": 1, "icmpv6 -": 1 });
    expect(hist(proc.timeouts)).toEqual({ 10: 2, 60: 2, 300: 1, 43200: 1, 345600: 3 });
  });

  it("keys are printed compressed per RFC 5952", async () => {
    const s = await analyzeFiles([PROC], backend);
    expect(top(s, "src")).toEqual({
      "2001:db8:1:2::5": 2,
      "2001:db8:1:2::6": 1,
      "2001:db8:1:2::7": 1,
      // Two equal runs of zeros: the first one is compressed.
      "2001:db8::1:0:0:1": 1,
      // A single zero group is never compressed.
      "2001:db8:0:1:1:1:1:1": 1,
      "fe80::1ff:fe23:4567:890a": 1,
      "::1": 1,
      "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff": 1,
    });
    expect(top(s, "dst")).toEqual({ "2001:db8::1": 6, "ff02::1:ff00:1": 1, "::1": 1, "2001:db8:ffff::10": 1 });
    expect(top(s, "service")).toEqual({
      "tcp [2001:db8::1]:443": 4,
      "tcp [2001:db8::1]:80": 1,
      "udp [2001:db8::1]:53": 1,
      "icmpv6 ff02::1:ff00:1": 1,
      "tcp [::1]:8080": 1,
      "tcp [2001:db8:ffff::10]:443": 1,
    });
    expect(s.top.service.find((r) => r.key === "tcp [2001:db8::1]:443")).toMatchObject({ addr: "2001:db8::1", port: 443, unreplied: 1 });
    for (const c of s.classes) {
      expect(c.src).toMatch(/^[0-9a-f:]+$/);
      expect(c.src).not.toMatch(/(^|:)0[0-9a-f]/);
    }
  });

  it("source prefixes are /64 and printed compressed", async () => {
    const s = await analyzeFiles([PROC], backend);
    expect(top(s, "src_prefix")).toEqual({
      "2001:db8:1:2::/64": 4,
      "2001:db8::/64": 1,
      "2001:db8:0:1::/64": 1,
      "fe80::/64": 1,
      "::/64": 1,
      "2001:db8:aaaa:bbbb::/64": 1,
    });
  });

  it("both forms in one input land on the same keys", async () => {
    const s = await analyzeFiles([PROC, PLAIN], backend);
    expect(s.entries).toBe(18);
    expect(top(s, "dst")).toEqual({ "2001:db8::1": 12, "ff02::1:ff00:1": 2, "::1": 2, "2001:db8:ffff::10": 2 });
    expect(s.distinct.src).toBe(8);
    expect(s.classes.length).toBe(9);
    expect(s.classes.every((c) => c.count === 2)).toBe(true);
  });

  it("uppercase hex, leading zeros and a dotted IPv4 tail are the same address", async () => {
    const s = await analyzeText(
      [
        tcpLine("2001:DB8::A", "2001:db8::1"),
        tcpLine("2001:0db8:0000:0000:0000:0000:0000:000a", "2001:db8::1"),
        tcpLine("2001:db8::a", "2001:0DB8::0001"),
        tcpLine("::ffff:192.0.2.1", "2001:db8::1"),
        tcpLine("0000:0000:0000:0000:0000:ffff:c000:0201", "2001:db8::1"),
        tcpLine("::", "2001:db8::1"),
        "",
      ].join("\n"),
      backend,
    );
    expect(counts(s)).toMatchObject({ entries: 6, malformed: 0 });
    const src = top(s, "src");
    expect(src["2001:db8::a"]).toBe(3);
    expect(src["::"]).toBe(1);
    // The mapped address: one key whatever its text (RFC 5952 recommends ::ffff:192.0.2.1).
    const mapped = Object.keys(src).filter((k) => k !== "2001:db8::a" && k !== "::");
    expect(mapped).toHaveLength(1);
    expect(src[mapped[0]!]).toBe(2);
    expect(["::ffff:192.0.2.1", "::ffff:c000:201"]).toContain(mapped[0]);
    expect(top(s, "dst")).toEqual({ "2001:db8::1": 6 });
  });

  const bad: Array<[string, string]> = [
    ["triple colon", "2001:db8:::1"],
    ["two gaps", "2001:db8::1::2"],
    ["five hex digits", "12345::1"],
    ["nine groups", "2001:db8:1:2:3:4:5:6:7"],
    ["seven groups without a gap", "2001:db8:1:2:3:4:5"],
    ["leading single colon", ":2001:db8::1"],
    ["trailing single colon", "2001:db8::1:"],
    ["not hex", "2001:db8::g"],
    ["bad dotted tail", "::ffff:192.0.2.256"],
    ["dotted tail not last", "::192.0.2.1:1"],
    ["zone id", "fe80::1%eth0"],
    ["gap plus eight groups", "1:2:3:4::5:6:7:8"],
  ];
  it.each(bad)("an invalid address (%s) makes the line malformed", async (_name, addr) => {
    const s = await analyzeText(`${tcpLine("2001:db8::2", "2001:db8::1")}\n${tcpLine(addr, "2001:db8::1")}\n`, backend);
    expect(counts(s)).toMatchObject({ lines: 2, entries: 1, malformed: 1 });
    expect(s.malformed_samples).toEqual([{ source: s.sources[0], line: 2, text: tcpLine(addr, "2001:db8::1") }]);
  });

  it("an address family that disagrees with the l3 column or the other tuple is malformed", async () => {
    const v6 = "2001:0db8:0000:0000:0000:0000:0000:0001";
    const lines = [
      `ipv4     2 tcp      6 100 ESTABLISHED src=${v6} dst=${v6} sport=1 dport=2 src=${v6} dst=${v6} sport=2 dport=1 mark=0 zone=0 use=2`,
      "ipv6     10 tcp      6 100 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 mark=0 zone=0 use=2",
      tcpLine("2001:db8::2", "10.0.0.1", "10.0.0.1", "2001:db8::2"),
      tcpLine("2001:db8::2", "2001:db8::1", "10.0.0.1", "10.0.0.2"),
      `ipv6     2 tcp      6 100 ESTABLISHED src=${v6} dst=${v6} sport=1 dport=2 src=${v6} dst=${v6} sport=2 dport=1 mark=0 zone=0 use=2`,
      `ipv4     10 tcp      6 100 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 use=2`,
    ];
    const s = await analyzeText(`${lines.join("\n")}\n`, backend);
    expect(counts(s)).toMatchObject({ lines: 6, entries: 0, malformed: 6 });
  });
});
