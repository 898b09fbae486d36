import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type BenchReport, oneClassDump, ratios, renderMarkdown, renderText } from "../src/commands/bench.js";
import { dumpName, ensureDump } from "../src/gen/cache.js";
import { plantedTruth } from "../src/gen/model.js";

const dir = mkdtempSync(join(tmpdir(), "ctscope-bench-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bench dump cache", () => {
  it("generates once, reuses, and regenerates a damaged dump", () => {
    const a = ensureDump(dir, 5000, { seed: 4 });
    expect(a.created).toBe(true);
    expect(a.path).toBe(join(dir, "gen-5k-proc-s4.txt"));
    expect(statSync(a.path).size).toBe(a.bytes);
    expect(a.truth).toEqual(plantedTruth(5000, 4));
    const b = ensureDump(dir, 5000, { seed: 4 });
    expect(b.created).toBe(false);
    expect(b.bytes).toBe(a.bytes);
    truncateSync(a.path, 100);
    const c = ensureDump(dir, 5000, { seed: 4 });
    expect(c.created).toBe(true);
    expect(statSync(c.path).size).toBe(a.bytes);
  });

  it("names dumps by size, format, accounting and seed", () => {
    expect(dumpName(1_000_000, "proc", 1, false)).toBe("gen-1m-proc-s1.txt");
    expect(dumpName(100_000, "xml", 7, true)).toBe("gen-100k-xml-acct-s7.txt");
    expect(dumpName(1234, "legacy", 2, false)).toBe("gen-1234-legacy-s2.txt");
  });
});

const report: BenchReport = {
  env: {
    node: "v20.0.0",
    cpu: "Test CPU",
    cores: 2,
    memoryGiB: 24,
    kernel: "linux 6.1",
    backend: "ts (requested auto)",
    addonPath: null,
    nativeError: "build/Release/ctscope.node: not found",
    rssMethod: "GNU time %M",
  },
  scans: [
    {
      dump: "gen-1m-proc-s1.txt",
      entries: 1_000_000,
      bytes: 207_000_000,
      backend: "ts",
      api: "scanBuffer",
      mbps: 103.5,
      linesPerSec: 500_000,
      p50ms: 2000,
      meanMs: 2000,
      rmePct: 1.25,
      samples: 5,
      classes: 466_695,
      verified: true,
    },
  ],
  processes: [
    {
      dump: "gen-1m-proc-s1.txt",
      entries: 1_000_000,
      bytes: 207_000_000,
      tool: "awk | sort | uniq -c | sort -rn | head",
      runs: 3,
      wallMs: 1500,
      mbps: 138,
      peakRssMiB: 9,
      ok: true,
      detail: "top: 1 a",
    },
  ],
  ratios: [{ label: "x: native/TS scanBuffer throughput", value: 2.5 }],
  notes: ["hot cache"],
};

describe("bench rendering", () => {
  it("text shows the native failure reason and aligned rows", () => {
    const t = renderText(report);
    expect(t).toContain("native: unavailable — build/Release/ctscope.node: not found");
    expect(t).toMatch(/gen-1m-proc-s1\.txt\s+1,000,000\s+207\s+ts\s+scanBuffer\s+104\s+500,000\s+2000\.0\s+1\.3 %\s+5\s+466,695\s+yes/);
    expect(t).toContain("x: native/TS scanBuffer throughput  2.50×");
  });

  it("markdown has one table row per result, with pipes escaped", () => {
    const md = renderMarkdown(report);
    expect(md).toContain("| dump | tool | runs | wall s | MB/s | peak RSS MiB | result |");
    expect(md).toContain("| gen-1m-proc-s1.txt | awk \\| sort \\| uniq -c \\| sort -rn \\| head | 3 | 1.50 | 138 | 9 | top: 1 a |");
    expect(md.split("\n").filter((l) => l.startsWith("| gen-")).length).toBe(2);
  });
});

describe("bench ratios", () => {
  const scan = report.scans[0]!;
  const proc = report.processes[0]!;
  const row = (tool: string, wallMs: number) => ({ ...proc, tool, wallMs });
  const nativeScan = { ...scan, backend: "native" as const, api: "scanFile" as const, mbps: 1000 };
  const procs = [
    row("ctscope analyze --json (native)", 600),
    row("awk | sort | uniq -c | sort -rn | head", 1500),
    row("ctscope --version (start, command-line modules)", 150),
  ];

  it("bounds what any run could reach against awk by start plus a parallel native scan", () => {
    const r = ratios([nativeScan], procs, 2);
    expect(r.find((x) => x.label.includes("awk pipeline wall time / ctscope (native)"))?.value).toBe(2.5);
    // 150 ms start + 207 MB at 1000 MB/s on 2 threads (103.5 ms).
    const floor = r.find((x) => x.label.includes("the most any run could reach"));
    expect(floor?.label).toContain("on 2 threads");
    expect(floor?.value).toBeCloseTo(1500 / 253.5, 10);
  });

  it("compares awk with the native run, and the naive script with the TS run, on one flow class", () => {
    const one = (backend: string, wallMs: number) =>
      row(`ctscope analyze --json, one flow class (one line of the dump repeated) (${backend})`, wallMs);
    const r = ratios([nativeScan], [...procs, row("naive node script", 1200), one("native", 300), one("ts", 800)], 2);
    expect(r.find((x) => x.label.endsWith("awk pipeline wall time / ctscope (native) on one flow class"))?.value).toBe(5);
    expect(r.find((x) => x.label.endsWith("naive node script wall time / ctscope (ts) on one flow class"))?.value).toBe(1.5);
    // The real-dump ratio still compares with the real-dump run, not the one-class one.
    expect(r.find((x) => x.label.endsWith("awk pipeline wall time / ctscope (native)"))?.value).toBe(2.5);
    expect(ratios([nativeScan], procs, 2).some((x) => x.label.includes("one flow class"))).toBe(false);
  });

  it("gives no bound without a native scan or a start row", () => {
    expect(ratios([scan], procs, 2).some((x) => x.label.includes("the most any run could reach"))).toBe(false);
    expect(ratios([nativeScan], procs.slice(0, 2), 2).some((x) => x.label.includes("the most any run could reach"))).toBe(false);
  });
});

describe("one-class dump", () => {
  it("repeats one entry line of the dump once per entry, at about the dump's size", () => {
    const d = ensureDump(dir, 5000, { seed: 9 });
    const path = oneClassDump(d)!;
    expect(path).toBe(join(dir, "gen-5k-proc-s9-one-class.txt"));
    const lines = readFileSync(path, "latin1").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.length).toBe(5000);
    expect(new Set(lines).size).toBe(1);
    expect(readFileSync(d.path, "latin1").split("\n")).toContain(lines[0]);
    expect(Math.abs(statSync(path).size / d.bytes - 1)).toBeLessThan(0.1);
    // Made once: a second call finds it.
    const made = statSync(path).mtimeMs;
    expect(oneClassDump(d)).toBe(path);
    expect(statSync(path).mtimeMs).toBe(made);
  });

  it("has none for XML, which is not one entry per line", () => {
    expect(oneClassDump(ensureDump(dir, 500, { seed: 9, format: "xml" }))).toBeNull();
  });
});
