/**
 * Generated lines have the exact shape of real ones: same tokens in the same order, numbers and
 * addresses aside. Real samples come from ../shared/samples when present.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateBuffer } from "../src/gen/generate.js";

const SAMPLES = join(import.meta.dirname, "..", "..", "shared", "samples");
const haveSamples = existsSync(SAMPLES);
if (!haveSamples) console.log(`gen-fidelity: ${SAMPLES} not found, real-sample shape checks are skipped`);

/** Replace values by placeholders: the "shape" of a line. */
function shape(line: string): string {
  return line
    .replace(/\b(src|dst)=[0-9a-f.:]+/g, "$1=A")
    .replace(/\b(sport|dport|packets|bytes|type|code|id)=\d+/g, "$1=N")
    .replace(/^((?:ipv[46]\s+\d+\s+)?\w+\s+\d+\s+)\d+/, "$1T");
}

function lines(format: "proc" | "legacy" | "conntrack" | "extended" | "xml", acct = false): string[] {
  return generateBuffer({ n: 4000, seed: 3, format, acct }).toString("latin1").split("\n").filter(Boolean);
}

function sampleLines(file: string): string[] {
  return readFileSync(join(SAMPLES, file), "latin1").split("\n").filter(Boolean);
}

describe("gen output looks like the real thing", () => {
  it.skipIf(!haveSamples)("/proc/net/nf_conntrack lines have the shapes of a real kernel dump", () => {
    const real = new Set(sampleLines("cnamejj-PyProc_nf_conntrack.txt").map(shape));
    const gen = new Set(
      lines("proc")
        .filter((l) => l.startsWith("ipv4") && (l.includes("ESTABLISHED") || l.includes(" udp ")))
        .map(shape),
    );
    // Every shape the real dump shows for these kinds is produced, and the TCP ESTABLISHED one exactly.
    const est = "ipv4     2 tcp      6 T ESTABLISHED src=A dst=A sport=N dport=N src=A dst=A sport=N dport=N [ASSURED] mark=0 zone=0 use=2";
    expect(real.has(est)).toBe(true);
    expect(gen.has(est)).toBe(true);
    const udpUnreplied = "ipv4     2 udp      17 T src=A dst=A sport=N dport=N [UNREPLIED] src=A dst=A sport=N dport=N mark=0 zone=0 use=2";
    expect(real.has(udpUnreplied)).toBe(true);
    expect(gen.has(udpUnreplied)).toBe(true);
  });

  it.skipIf(!haveSamples)("/proc/net/ip_conntrack lines have the legacy shape", () => {
    const real = new Set(sampleLines("cnamejj-PyProc_ip_conntrack.txt").map(shape));
    const est = "tcp      6 T ESTABLISHED src=A dst=A sport=N dport=N src=A dst=A sport=N dport=N [ASSURED] mark=0 use=2";
    expect(real.has(est)).toBe(true);
    expect(new Set(lines("legacy").map(shape)).has(est)).toBe(true);
  });

  it.skipIf(!haveSamples)("IPv6 in /proc is fully expanded like the kernel prints it", () => {
    const real = sampleLines("netfilter-devel-archive_fw-2025-04-16_proc-nf_conntrack-ipv6.txt")[0]!;
    const gen = lines("proc").find((l) => l.startsWith("ipv6") && l.includes("ESTABLISHED"))!;
    // The sample's kernel held one more reference (use=3); everything else must match.
    expect(shape(gen).replace(/ use=\d$/, "")).toBe(shape(real).replace(/ use=\d$/, ""));
  });

  it("/proc IPv6 addresses are 8 groups of 4 hex digits; conntrack ones are inet_ntop-compressed", () => {
    const procAddrs = lines("proc")
      .filter((l) => l.startsWith("ipv6"))
      .flatMap((l) => [...l.matchAll(/(?:src|dst)=(\S+)/g)].map((m) => m[1]!));
    expect(procAddrs.length).toBeGreaterThan(1000);
    for (const a of procAddrs) expect(a).toMatch(/^[0-9a-f]{4}(:[0-9a-f]{4}){7}$/);
    const ctAddrs = lines("conntrack")
      .flatMap((l) => [...l.matchAll(/(?:src|dst)=(\S+)/g)].map((m) => m[1]!))
      .filter((a) => a.includes(":"));
    expect(ctAddrs.length).toBeGreaterThan(1000);
    expect(ctAddrs.some((a) => a.includes("::"))).toBe(true);
    // WHATWG URL serialises IPv6 with the same rule as glibc inet_ntop (longest run of >= 2 zero groups).
    for (const a of ctAddrs) expect(new URL(`http://[${a}]/`).hostname).toBe(`[${a}]`);
  });

  it("conntrack -L tails are `mark=0 use=1` and counters follow each tuple", () => {
    const ls = lines("conntrack", true);
    for (const l of ls) expect(l.endsWith(" mark=0 use=1")).toBe(true);
    const icmp = ls.find((l) => l.startsWith("icmp "))!;
    // Same shape as the real `conntrack -L` ICMP entry with accounting (conntrack-tools 1.4.8).
    expect(shape(icmp)).toBe(
      "icmp     1 T src=A dst=A type=N code=N id=N packets=N bytes=N src=A dst=A type=N code=N id=N packets=N bytes=N mark=0 use=1",
    );
    expect(lines("extended").every((l) => /^ipv[46] {5}(2|10) /.test(l))).toBe(true);
  });

  it("XML matches `conntrack -L -o xml`: declaration, wrapper, one flow per line, empty ICMP layer4", () => {
    const ls = lines("xml");
    expect(ls[0]).toBe('<?xml version="1.0" encoding="utf-8"?>');
    expect(ls[1]).toBe("<conntrack>");
    expect(ls.at(-1)).toBe("</conntrack>");
    const flows = ls.slice(2, -1);
    expect(flows.length).toBe(4000);
    for (const f of flows) expect(f).toMatch(/^<flow><meta direction="original">.*<\/meta><\/flow>$/);
    const icmp = flows.find((f) => f.includes('protoname="icmp"'))!;
    expect(icmp).toContain('<layer4 protonum="1" protoname="icmp"></layer4>');
    const unreplied = flows.find((f) => f.includes("<unreplied/>") && f.includes("<state>"))!;
    expect(unreplied).toMatch(
      /<state>SYN_(RECV|SENT)<\/state><timeout>\d+<\/timeout><mark>0<\/mark><use>1<\/use><id>\d+<\/id><unreplied\/><\/meta><\/flow>$/,
    );
  });

  it("timeouts are consistent with states", () => {
    const max: Record<string, number> = {
      ESTABLISHED: 432000,
      TIME_WAIT: 120,
      SYN_SENT: 120,
      SYN_RECV: 60,
      CLOSE_WAIT: 60,
      FIN_WAIT: 120,
      LAST_ACK: 30,
      CLOSE: 10,
    };
    let nearDefault = 0;
    let est = 0;
    for (const l of lines("conntrack")) {
      const m = /^\w+\s+\d+ (\d+) (?:([A-Z_]+) )?/.exec(l)!;
      const t = Number(m[1]);
      const st = m[2];
      if (st) expect(t).toBeLessThanOrEqual(max[st]!);
      else expect(t).toBeLessThanOrEqual(120);
      if (st === "ESTABLISHED") {
        est++;
        if (t > 431000) nearDefault++;
      }
    }
    // Most ESTABLISHED entries are recently active (near the 5-day default), some are idle.
    expect(nearDefault / est).toBeGreaterThan(0.6);
    expect(nearDefault / est).toBeLessThan(0.95);
  });
});
