import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseKernelLog, parseLogStamp } from "../src/diagnose/kernel-log.js";

const fx = (name: string) => readFileSync(new URL(`fixtures/diagnose/${name}`, import.meta.url), "latin1");

describe("parseKernelLog", () => {
  it("dmesg: uptime stamps, conntrack's 'callbacks suppressed' added, rate per minute", () => {
    const k = parseKernelLog(fx("dmesg.txt"));
    expect(k).toMatchObject({ lines: 7, tableFull: 4, suppressed: 211, estimatedDrops: 215, byNetns: { init: 4 }, lastAgeSeconds: null });
    expect(k.first).toEqual({ text: "[5012.118030]", seconds: 5012.11803, clock: "uptime", yearKnown: true });
    expect(k.last?.seconds).toBe(5072.11803);
    expect(k.perMinute).toBeCloseTo(215, 6);
  });

  it("kern.log: year-less syslog dates across New Year, net_ratelimit lines next to table-full lines", () => {
    const k = parseKernelLog(fx("kern.log"));
    expect(k).toMatchObject({ tableFull: 2, suppressed: 1039, estimatedDrops: 1041 });
    expect(k.first?.text).toBe("Dec 31 23:59:30");
    expect(k.last?.text).toBe("Jan  1 00:00:30");
    expect(k.last!.seconds - k.first!.seconds).toBe(60);
    expect(k.perMinute).toBeCloseTo(1041, 6);
  });

  it("journalctl -k: table full in netns N counted per namespace, function-named suppression line", () => {
    const k = parseKernelLog(fx("journalctl-k.txt"));
    expect(k).toMatchObject({ tableFull: 4, suppressed: 18, estimatedDrops: 22, byNetns: { "4026532246": 3, "4026532310": 1 } });
    expect(k.lastByNetns["4026532246"]?.text).toBe("Mar 04 09:02:00");
    expect(k.lastByNetns["4026532310"]?.text).toBe("Mar 04 09:00:05");
    expect(k.perMinute).toBeCloseTo(11, 6);
  });

  it("journalctl -o short-iso: zoned stamps with and without fractions", () => {
    const k = parseKernelLog(fx("journalctl-k-iso.txt"));
    expect(k.tableFull).toBe(3);
    expect(k.first).toEqual({
      text: "2024-03-04T09:00:00+0000",
      seconds: Date.UTC(2024, 2, 4, 9) / 1000,
      clock: "wallclock",
      yearKnown: true,
    });
    expect(k.perMinute).toBeCloseTo(3, 6);
  });

  it("2.6 ip_conntrack: printk suppression lines adjacent to table-full lines, no stamps", () => {
    const k = parseKernelLog(fx("ip_conntrack-2.6.log"));
    expect(k).toMatchObject({ tableFull: 2, suppressed: 515, estimatedDrops: 517, first: null, last: null, perMinute: null });
  });

  it("ignores generic suppression lines far from table-full lines, and conntrack ones without any", () => {
    const k = parseKernelLog("[1.0] printk: 5 messages suppressed.\n[2.0] eth0: up\n[3.0] nf_conntrack: 7 callbacks suppressed\n");
    expect(k).toMatchObject({ tableFull: 0, suppressed: 0, estimatedDrops: 0, perMinute: null, byNetns: {} });
  });

  it("one message: no rate; expectation-table messages are not table-full", () => {
    const k = parseKernelLog("[ 10.5] nf_conntrack: table full, dropping packet\n[ 11.0] nf_conntrack: expectation table full\n");
    expect(k).toMatchObject({ tableFull: 1, perMinute: null });
  });
});

describe("parseLogStamp", () => {
  it("reads dmesg -T and dmesg -x prefixes", () => {
    expect(parseLogStamp("[Tue Mar  5 10:00:01 2024] ")).toEqual({
      text: "Tue Mar  5 10:00:01 2024",
      seconds: Date.UTC(2024, 2, 5, 10, 0, 1) / 1000,
      clock: "wallclock",
      yearKnown: true,
    });
    expect(parseLogStamp("kern  :warn  : [  123.456000] ")).toEqual({
      text: "[123.456000]",
      seconds: 123.456,
      clock: "uptime",
      yearKnown: true,
    });
    expect(parseLogStamp("no stamp here ")).toBeNull();
  });
});
