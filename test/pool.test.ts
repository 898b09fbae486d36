/**
 * The Piscina path must give exactly the inline result: same counters, tables, histograms and the
 * same malformed samples with the same line numbers, however the input is cut into ranges and
 * however many threads run. The planner is wrapped so tests can force tiny ranges.
 */
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { describe, expect, it, vi } from "vitest";
import type { Range } from "../src/engine/planner.js";
import { analyzeFiles, comparable, counts, writeTemp } from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";

// Worker threads and child processes are slow on a busy 2-core machine.
vi.setConfig({ testTimeout: 60_000 });

/** When set, every file is cut into ranges of about this many bytes (newline-aligned). */
let tinyRangeBytes: number | null = null;
const plannedRanges: Range[][] = [];

vi.mock("../src/engine/planner.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../src/engine/planner.js")>();
  return {
    ...real,
    planRanges(path: string, size: number, threads: number): Range[] {
      if (tinyRangeBytes === null) {
        const r = real.planRanges(path, size, threads);
        plannedRanges.push(r);
        return r;
      }
      const bytes = readFileSync(path);
      const out: Range[] = [];
      let start = 0;
      while (start < size) {
        let end = Math.min(size, start + tinyRangeBytes);
        if (end < size) {
          const nl = bytes.indexOf(10, end - 1);
          end = nl < 0 ? size : nl + 1;
        }
        out.push({ start, end });
        start = end;
      }
      plannedRanges.push(out);
      return out;
    },
  };
});

/** A deterministic mix of every form, malformed lines spread through the file, no final newline. */
function mixedInput(lines: number, seed = 1): string {
  let x = seed;
  const rnd = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const a = `10.${rnd(3)}.${rnd(4)}.${rnd(200) + 1}`;
    const b = `192.0.2.${rnd(5) + 1}`;
    const sp = 1024 + rnd(60000);
    const dp = [22, 53, 80, 443, 5228][rnd(5)]!;
    const t = rnd(500000);
    const kind = rnd(20);
    switch (kind) {
      case 0:
        out.push(`garbage line ${i} \x01`);
        break;
      case 1:
        out.push("");
        break;
      case 2:
        out.push(
          `udp      17 ${t % 180} src=${a} dst=${b} sport=${sp} dport=53 [UNREPLIED] src=${b} dst=${a} sport=53 dport=${sp} mark=0 use=1`,
        );
        break;
      case 3:
        out.push(
          `ipv6     10 tcp      6 ${t} ESTABLISHED src=2001:0db8:0000:0000:0000:0000:0000:00${10 + rnd(80)} dst=2001:0db8:0000:0000:0000:0000:0000:0001 sport=${sp} dport=${dp} src=2001:0db8:0000:0000:0000:0000:0000:0001 dst=2001:0db8:0000:0000:0000:0000:0000:00${10 + rnd(80)} sport=${dp} dport=${sp} [ASSURED] mark=0 zone=0 use=2`,
        );
        break;
      case 4:
        out.push(
          `[DESTROY] tcp      6 src=${a} dst=${b} sport=${sp} dport=${dp} packets=3 bytes=180 src=${b} dst=${a} sport=${dp} dport=${sp} packets=2 bytes=120 [ASSURED]`,
        );
        break;
      case 5:
        out.push(
          `    [NEW] tcp      6 120 SYN_SENT src=${a} dst=${b} sport=${sp} dport=${dp} [UNREPLIED] src=${b} dst=${a} sport=${dp} dport=${sp}`,
        );
        break;
      case 6:
        out.push("conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.");
        break;
      case 7:
        out.push(
          `tcp      6 ${t} ESTABLISHED src=${a} dst=${b} sport=${sp} dport=70000 src=${b} dst=${a} sport=1 dport=${sp} mark=0 use=1`,
        );
        break;
      case 8:
        out.push(
          `<flow><meta direction="original"><layer3 protonum="2" protoname="ipv4"><src>${a}</src><dst>${b}</dst></layer3><layer4 protonum="6" protoname="tcp"><sport>${sp}</sport><dport>${dp}</dport></layer4><counters><packets>3</packets><bytes>166</bytes></counters></meta><meta direction="reply"><layer3 protonum="2" protoname="ipv4"><src>${b}</src><dst>${a}</dst></layer3><layer4 protonum="6" protoname="tcp"><sport>${dp}</sport><dport>${sp}</dport></layer4></meta><meta direction="independent"><state>TIME_WAIT</state><timeout>${t % 120}</timeout><assured/></meta></flow>`,
        );
        break;
      default:
        out.push(
          `ipv4     2 tcp      6 ${t} ${["ESTABLISHED", "SYN_RECV", "TIME_WAIT", "CLOSE_WAIT"][rnd(4)]} src=${a} dst=${b} sport=${sp} dport=${dp} packets=${rnd(100)} bytes=${rnd(100000)} src=${b} dst=${kind === 9 ? "203.0.113.1" : a} sport=${dp} dport=${sp} packets=1 bytes=60 [ASSURED] mark=0 zone=0 use=2${i % 7 === 0 ? "\r" : ""}`,
        );
    }
  }
  return out.join("\n");
}

describe.each(BACKENDS)("pool path (%s backend)", (backend) => {
  const text = mixedInput(3000);
  const path = writeTemp(text, "mixed.txt");

  it("the test input is what it claims: every outcome, many malformed lines", async () => {
    tinyRangeBytes = null;
    const s = await analyzeFiles([path], backend);
    expect(s.lines).toBe(3000);
    expect(s.malformed).toBeGreaterThan(100);
    expect(s.blank).toBeGreaterThan(50);
    expect(s.ignored).toBeGreaterThan(50);
    expect(s.destroyed).toBeGreaterThan(50);
    expect(s.events).toBeGreaterThan(50);
    expect(s.forms.xml).toBeGreaterThan(50);
    expect(s.natted).toBeGreaterThan(50);
    expect(s.entries + s.malformed + s.blank + s.ignored + s.destroyed).toBe(3000);
  });

  const cases: Array<[number, number]> = [
    [2, 1], // one line per range
    [2, 997],
    [3, 4096],
    [4, 65536],
  ];
  it.each(cases)("%i threads, ranges of ~%i bytes: identical to inline", async (threads, rangeBytes) => {
    tinyRangeBytes = null;
    const inline = await analyzeFiles([path], backend, { threads: 1 });
    tinyRangeBytes = rangeBytes;
    plannedRanges.length = 0;
    const pooled = await analyzeFiles([path], backend, { threads, inlineBelowBytes: 0 });
    tinyRangeBytes = null;
    expect(plannedRanges.length).toBe(1);
    expect(plannedRanges[0]!.length).toBeGreaterThan(rangeBytes < 100000 ? 1 : 0);
    expect(pooled.backend).toBe(backend);
    expect(counts(pooled)).toEqual(counts(inline));
    expect(pooled.malformed_samples).toEqual(inline.malformed_samples);
    expect(comparable(pooled)).toEqual(comparable(inline));
  });

  it("line numbers of malformed samples count across ranges and sources", async () => {
    const lines = Array.from({ length: 40 }, (_, i) =>
      i % 4 === 3
        ? `bad ${i + 1}`
        : `tcp      6 100 ESTABLISHED src=10.0.0.${i} dst=10.0.0.1 sport=4000 dport=22 src=10.0.0.1 dst=10.0.0.${i} sport=22 dport=4000 mark=0 use=1`,
    );
    const a = writeTemp(`${lines.join("\n")}\n`, "a.txt");
    const b = writeTemp(`bad b1\n${lines.slice(0, 5).join("\n")}\nbad b7\n`, "b.txt");
    tinyRangeBytes = 150; // about one line per range
    const pooled = await analyzeFiles([b, a], backend, { threads: 3, inlineBelowBytes: 0 });
    tinyRangeBytes = null;
    const inline = await analyzeFiles([b, a], backend, { threads: 1 });
    expect(pooled.malformed_samples).toEqual(inline.malformed_samples);
    const want = [
      { source: b, line: 1, text: "bad b1" },
      { source: b, line: 5, text: "bad 4" },
      { source: b, line: 7, text: "bad b7" },
      ...[4, 8, 12, 16, 20, 24, 28, 32, 36, 40].map((n) => ({ source: a, line: n, text: `bad ${n}` })),
    ];
    expect(pooled.malformed_samples).toEqual(want.slice(0, pooled.malformed_samples.length));
    expect(pooled.malformed).toBe(13);
  });

  it("the real planner on a multi-megabyte file: several ranges, identical to inline", async () => {
    const big = writeTemp(mixedInput(24000, 7), "big.txt");
    tinyRangeBytes = null;
    const inline = await analyzeFiles([big], backend, { threads: 1 });
    plannedRanges.length = 0;
    const pooled = await analyzeFiles([big], backend, { threads: 2, inlineBelowBytes: 0 });
    expect(plannedRanges[0]!.length).toBeGreaterThan(1);
    expect(comparable(pooled)).toEqual(comparable(inline));
  });

  it("a stream larger than one block (8 MiB): line numbers continue across blocks", async () => {
    const bigText = mixedInput(60000, 3);
    expect(bigText.length).toBeGreaterThan(9 * 1024 * 1024);
    const plain = writeTemp(bigText, "big-stream.txt");
    const gz = writeTemp(gzipSync(Buffer.from(bigText, "latin1")), "big-stream.txt.gz");
    const inline = await analyzeFiles([plain], backend, { threads: 1 });
    const pooled = await analyzeFiles([gz], backend, { threads: 2, inlineBelowBytes: 0 });
    const want = comparable(inline);
    expect(comparable(pooled)).toEqual({
      ...want,
      sources: [gz],
      malformed_samples: want.malformed_samples.map((m) => ({ ...m, source: gz })),
    });
  });

  it("a malformed line after the first 8 MiB block carries its line number in the whole stream", async () => {
    const valid =
      "ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.2 dst=10.0.0.1 sport=51000 dport=22 src=10.0.0.1 dst=10.0.0.2 sport=22 dport=51000 [ASSURED] mark=0 zone=0 use=2\n";
    const n = Math.ceil((9 * 1024 * 1024) / valid.length);
    const body = `${valid.repeat(n)}late bad line\n${valid}`;
    const gz = writeTemp(gzipSync(Buffer.from(body, "latin1")), "late.gz");
    for (const threads of [1, 2]) {
      const s = await analyzeFiles([gz], backend, { threads, inlineBelowBytes: 0 });
      expect(counts(s)).toMatchObject({ lines: n + 2, entries: n + 1, malformed: 1 });
      expect(s.malformed_samples).toEqual([{ source: gz, line: n + 1, text: "late bad line" }]);
    }
  });

  it("stream inputs (gzip) through the pool equal the inline scan", async () => {
    const gz = writeTemp(gzipSync(Buffer.from(text, "latin1")), "mixed.txt.gz");
    const inline = await analyzeFiles([path], backend, { threads: 1 });
    const pooled = await analyzeFiles([gz], backend, { threads: 2, inlineBelowBytes: 0 });
    const want = comparable(inline);
    expect(comparable(pooled)).toEqual({
      ...want,
      sources: [gz],
      malformed_samples: want.malformed_samples.map((m) => ({ ...m, source: gz })),
    });
    // Bytes read are the decompressed bytes.
    expect(pooled.bytes).toBe(text.length);
  });
});
