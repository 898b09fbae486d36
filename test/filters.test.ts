/**
 * --proto, --state, --port, --src, --dst: applied by the backend before aggregation; excluded
 * valid entries are counted as filtered (DESTROY events and malformed lines never are). Options
 * combine with AND, repeated values and comma lists with OR. Bad values are usage errors.
 */
import { describe, expect, it } from "vitest";
import type { FilterOptions } from "../src/engine/filter.js";
import { UsageError } from "../src/errors.js";
import { analyzeFiles, analyzeText, counts, fixture, hist, states, top } from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";

const PROC = fixture("formats", "proc-nf_conntrack.txt"); // 12 entries, see formats.test.ts
const EVENTS = fixture("formats", "conntrack-E.txt");

describe.each(BACKENDS)("filters (%s backend)", (backend) => {
  const kept: Array<[string, FilterOptions, number]> = [
    ["--proto tcp", { proto: ["tcp"] }, 7],
    ["--proto 17", { proto: ["17"] }, 2],
    ["--proto tcp,icmp --proto gre", { proto: ["tcp,icmp", "gre"] }, 9],
    ["--proto ICMPv6 (any case)", { proto: ["ICMPv6"] }, 1],
    ["--proto 132 (none present)", { proto: ["132"] }, 0],
    ["--state established (any case)", { state: ["established"] }, 4],
    ["--state SYN_SENT,TIME_WAIT", { state: ["SYN_SENT,TIME_WAIT"] }, 2],
    ["--port 443 (destination)", { port: ["443"] }, 4],
    ["--port 40000 (source port counts too)", { port: ["40000"] }, 1],
    ["--port 22 --port 53", { port: ["22", "53"] }, 3],
    ["--port 0 (portless protocols never match)", { port: ["0"] }, 0],
    ["--src 10.0.0.0/24", { src: ["10.0.0.0/24"] }, 7],
    ["--src 10.0.0.4/31 (not byte-aligned)", { src: ["10.0.0.4/31"] }, 3],
    ["--src 10.0.0.2 (a host)", { src: ["10.0.0.2"] }, 2],
    ["--src 10.0.0.77/24 (host bits ignored)", { src: ["10.0.0.77/24"] }, 7],
    ["--src 192.168.0.0/16 --src 2001:db8::/32", { src: ["192.168.0.0/16", "2001:db8::/32"] }, 4],
    ["--dst 2001:db8::/64", { dst: ["2001:db8::/64"] }, 2],
    ["--dst 2001:db8::/65 (not byte-aligned)", { dst: ["2001:db8::/65"] }, 2],
    ["--dst ff00::/8", { dst: ["ff00::/8"] }, 1],
    ["--dst 0.0.0.0/0 (every IPv4, no IPv6)", { dst: ["0.0.0.0/0"] }, 9],
    ["--dst ::/0 (every IPv6, no IPv4)", { dst: ["::/0"] }, 3],
    [
      "--proto tcp --state ESTABLISHED --dst 10.0.0.0/24 --port 22",
      { proto: ["tcp"], state: ["ESTABLISHED"], dst: ["10.0.0.0/24"], port: ["22"] },
      2,
    ],
    ["--proto udp --port 443 (nothing)", { proto: ["udp"], port: ["443"] }, 0],
  ];
  it.each(kept)("%s keeps %i of 12", async (_name, filter, n) => {
    const s = await analyzeFiles([PROC], backend, filter);
    expect(counts(s)).toEqual({
      lines: 12,
      entries: n,
      malformed: 0,
      blank: 0,
      ignored: 0,
      destroyed: 0,
      filtered: 12 - n,
      events: 0,
      accounted: s.accounted,
    });
    // Every table and histogram describes only what was kept.
    expect(s.by_state.reduce((a, r) => a + r.count, 0)).toBe(n);
    expect(s.top.service.reduce((a, r) => a + r.count, 0)).toBe(n);
    expect(s.timeouts.reduce((a, b) => a + b.count, 0)).toBe(n - s.offloaded);
  });

  it("kept entries are the right ones", async () => {
    const udp = await analyzeFiles([PROC], backend, { proto: ["udp"] });
    expect(top(udp, "service")).toEqual({ "udp 10.0.0.1:53": 1, "udp 192.168.1.10:4500": 1 });
    expect(udp.offloaded).toBe(1);
    expect(udp.accounted).toBe(0);
    const est = await analyzeFiles([PROC], backend, { state: ["ESTABLISHED"] });
    expect(states(est)).toEqual({ "tcp ESTABLISHED": 4 });
    expect(hist(est.timeouts)).toEqual({ 300: 1, 43200: 1, 345600: 2 });
    expect(est.accounted).toBe(1);
    const v6 = await analyzeFiles([PROC], backend, { src: ["2001:db8::/32"] });
    expect(top(v6, "src")).toEqual({ "2001:db8::2": 1, "2001:db8::3": 1 });
    expect(v6.by_family).toEqual([{ family: "ipv6", count: 2 }]);
    expect(v6.natted).toBe(0);
    const nat = await analyzeFiles([PROC], backend, { dst: ["93.184.216.34"] });
    expect(nat.natted).toBe(1);
  });

  it("events: DESTROY lines are counted as destroyed, never as filtered", async () => {
    const s = await analyzeFiles([EVENTS], backend, { proto: ["udp"] });
    expect(counts(s)).toEqual({
      lines: 8,
      entries: 1,
      malformed: 0,
      blank: 0,
      ignored: 0,
      destroyed: 2,
      filtered: 5,
      events: 1,
      accounted: 0,
    });
  });

  it("malformed lines are counted as malformed whatever the filter", async () => {
    const s = await analyzeText(
      "garbage\ntcp      6 100 ESTABLISHED src=10.0.0.2 dst=10.0.0.1 sport=1 dport=2 src=10.0.0.1 dst=10.0.0.2 sport=2 dport=1 mark=0 use=1\n",
      backend,
      { proto: ["udp"] },
    );
    expect(counts(s)).toMatchObject({ lines: 2, entries: 0, malformed: 1, filtered: 1 });
  });

  const bad: Array<[string, FilterOptions, RegExp]> = [
    ["--proto foo", { proto: ["foo"] }, /^--proto: unknown protocol "foo"/],
    ["--proto 256", { proto: ["256"] }, /^--proto: unknown protocol "256"/],
    ["--state FOO", { state: ["FOO"] }, /^--state: unknown state "FOO"/],
    ["--port 70000", { port: ["70000"] }, /^--port: "70000" is not a port number/],
    ["--port http", { port: ["http"] }, /^--port: "http" is not a port number/],
    ["--port -1", { port: ["-1"] }, /^--port: "-1" is not a port number/],
    ["--src 10.0.0.0/33", { src: ["10.0.0.0/33"] }, /^--src: "10.0.0.0\/33" has an invalid prefix length/],
    ["--src 10.0.0.256", { src: ["10.0.0.256"] }, /^--src: "10.0.0.256" is not an IPv4 or IPv6 address/],
    ["--dst 2001:db8::/200", { dst: ["2001:db8::/200"] }, /^--dst: "2001:db8::\/200" has an invalid prefix length/],
    ["--dst example.com", { dst: ["example.com"] }, /^--dst: "example.com" is not an IPv4 or IPv6 address/],
  ];
  it.each(bad)("%s is a usage error naming the option", async (_name, filter, message) => {
    const p = analyzeFiles([PROC], backend, filter);
    await expect(p).rejects.toBeInstanceOf(UsageError);
    await expect(analyzeFiles([PROC], backend, filter)).rejects.toThrow(message);
  });
});
