/**
 * `ctscope bench`: backend throughput (native vs TS, and `wc -l` as the floor of reading a file)
 * and whole-process runs (ctscope analyze vs an awk pipeline vs a naive Node script) on generated
 * dumps with planted anomalies. Every backend's result is checked against the planted truth, so
 * a fast wrong answer never shows as a win.
 */
import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { defaultThreads } from "../engine/analyze.js";
import { backendInfo, getBackend, nativeAddon, PACKAGE_ROOT } from "../engine/backend.js";
import { type Backend, emptyFilter } from "../engine/contract.js";
import { CtscopeError } from "../errors.js";
import { type CachedDump, ensureDump } from "../gen/cache.js";
import type { GenFormat } from "../gen/model.js";
import { comparableTruth, tallyAggregate } from "../gen/tally.js";
import { KEY_BYTES } from "../parse/layout.js";
import { fmtInt as groupDigits } from "../report/text-table.js";
import { VERSION } from "../version.js";

export interface ScanResult {
  dump: string;
  entries: number;
  bytes: number;
  backend: "native" | "ts" | "wc -l";
  api: "scanBuffer" | "scanFile" | "process";
  mbps: number;
  linesPerSec: number;
  p50ms: number;
  meanMs: number;
  rmePct: number;
  samples: number;
  /** Distinct flow classes the scan produced (aggregation work grows with them). */
  classes: number | null;
  /** Recount matches the planted truth (null: not checkable, e.g. wc). */
  verified: boolean | null;
  note?: string;
}

export interface ProcessResult {
  dump: string;
  entries: number;
  bytes: number;
  tool: string;
  runs: number;
  wallMs: number | null;
  mbps: number | null;
  /** Peak resident set of the largest process, MiB; null when it could not be measured. */
  peakRssMiB: number | null;
  ok: boolean;
  detail: string;
}

export interface Ratio {
  label: string;
  value: number | null;
}

export interface BenchReport {
  env: {
    node: string;
    cpu: string;
    cores: number;
    memoryGiB: number;
    kernel: string;
    backend: string;
    addonPath: string | null;
    nativeError: string | null;
    rssMethod: string;
  };
  scans: ScanResult[];
  processes: ProcessResult[];
  ratios: Ratio[];
  notes: string[];
}

interface BenchOptions {
  dir: string;
  format: GenFormat;
  big: boolean;
  quick: boolean;
  runs: number;
  scan: boolean;
  process: boolean;
}

const AWK_PIPELINE = `awk '{for(i=1;i<=NF;i++) if($i ~ /^src=/){print substr($i,5); break}}' "$1" | sort | uniq -c | sort -rn | head`;
const NAIVE_NODE =
  "const t=require('fs').readFileSync(process.argv[1],'latin1');const m=new Map();for(const l of t.split('\\n')){const s=l.indexOf('src=');if(s<0)continue;const k=l.slice(s+4,l.indexOf(' ',s));m.set(k,(m.get(k)||0)+1)}console.log(m.size)";
const BIN = join(PACKAGE_ROOT, "bin", "ctscope.js");
const START_NODE = "node -e 0 (Node's own start)";
const START_CTSCOPE = "ctscope --version (start, command-line modules)";
const ONE_CLASS = "ctscope analyze --json, one flow class (one line of the dump repeated)";
const GNU_TIME = "/usr/bin/time";

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const mib = (kb: number) => kb / 1024;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Which recount fields differ from the truth (empty when it matches). */
function mismatch(dump: CachedDump, agg: Parameters<typeof tallyAggregate>[0]): string[] {
  const got = tallyAggregate(agg, dump.truth) as unknown as Record<string, unknown>;
  const want = comparableTruth(dump.truth) as unknown as Record<string, unknown>;
  return Object.keys(want).filter((k) => !isDeepStrictEqual(got[k], want[k]));
}

async function scanBench(dump: CachedDump, backends: Backend[], opts: BenchOptions): Promise<ScanResult[]> {
  const { Bench } = await loadTinybench();
  const name = dump.path.split("/").pop()!;
  const buf = readFileSync(dump.path); // also warms the page cache for scanFile and wc
  const n = dump.truth.entries;
  const big = dump.bytes > 100e6;
  const bench = new Bench({
    time: opts.quick ? 100 : big ? 3000 : 1500,
    iterations: opts.quick ? 3 : big ? 5 : 10,
    warmup: true,
    warmupIterations: 1,
    warmupTime: 0,
  });
  const verified = new Map<string, { ok: boolean; classes: number; note?: string }>();
  const filter = emptyFilter();
  for (const b of backends) {
    for (const api of ["scanBuffer", "scanFile"] as const) {
      const run =
        api === "scanBuffer" ? () => b.scanBuffer(buf, 0, buf.length, filter) : () => b.scanFile(dump.path, 0, dump.bytes, filter);
      const agg = run();
      const bad = mismatch(dump, agg);
      const classes = agg.keys.length / KEY_BYTES;
      verified.set(
        `${b.name} ${api}`,
        bad.length ? { ok: false, classes, note: `differs from planted truth in: ${bad.join(", ")}` } : { ok: true, classes },
      );
      bench.add(`${b.name} ${api}`, run);
    }
  }
  const haveWc = spawnSync("wc", ["--version"]).status === 0;
  if (haveWc) {
    bench.add("wc -l process", () => {
      const r = spawnSync("wc", ["-l", dump.path], { encoding: "latin1" });
      if (r.status !== 0) throw new Error(`wc failed: ${r.stderr}`);
    });
  }
  log(`scanning ${name} (${(dump.bytes / 1e6).toFixed(0)} MB): ${bench.tasks.map((t) => t.name).join(", ")}`);
  await bench.run();
  const out: ScanResult[] = [];
  for (const t of bench.tasks) {
    const r = t.result;
    if (r.state !== "completed") {
      const err = r.state === "errored" ? r.error.message : r.state;
      out.push(row(dump, name, n, t.name, Number.NaN, Number.NaN, 0, 0, null, null, `not measured: ${err}`));
      continue;
    }
    const v = verified.get(t.name);
    out.push(
      row(
        dump,
        name,
        n,
        t.name,
        r.latency.p50,
        r.latency.mean,
        r.latency.rme,
        r.latency.samplesCount,
        v?.classes ?? null,
        v?.ok ?? null,
        v?.note,
      ),
    );
  }
  return out;
}

function row(
  dump: CachedDump,
  name: string,
  n: number,
  task: string,
  p50: number,
  mean: number,
  rme: number,
  samples: number,
  classes: number | null,
  verified: boolean | null,
  note?: string,
): ScanResult {
  const [backend, api] =
    task === "wc -l process" ? (["wc -l", "process"] as const) : (task.split(" ") as ["native" | "ts", "scanBuffer" | "scanFile"]);
  const sec = mean / 1000;
  const r: ScanResult = {
    dump: name,
    entries: n,
    bytes: dump.bytes,
    backend,
    api,
    mbps: dump.bytes / 1e6 / sec,
    linesPerSec: n / sec,
    p50ms: p50,
    meanMs: mean,
    rmePct: rme,
    samples,
    classes,
    verified,
  };
  if (note) r.note = note;
  return r;
}

async function loadTinybench(): Promise<typeof import("tinybench")> {
  try {
    return await import("tinybench");
  } catch {
    throw new CtscopeError("ctscope bench needs the development dependency tinybench (run `npm install` in a ctscope checkout)");
  }
}

interface Tool {
  name: string;
  argv: string[];
  env?: Record<string, string>;
  /** Checks stdout; returns a short result description or throws. */
  check: (stdout: string, dump: CachedDump) => string;
  /** Does not read the dump (a start-up row): no MB/s. */
  startOnly?: boolean;
}

/**
 * One entry line of the dump repeated once per entry, beside the dump: as many lines and about as
 * many bytes, one flow class. A run on it pays start-up and the scan and next to nothing after:
 * the floor of a run on the dump. Null for formats without one entry per line (XML).
 */
export function oneClassDump(dump: CachedDump): string | null {
  const path = dump.path.replace(/\.txt$/, "-one-class.txt");
  if (path === dump.path) return null;
  if (existsSync(path) && statSync(path).mtimeMs >= statSync(dump.path).mtimeMs) return path;
  const head = Buffer.alloc(64 * 1024);
  const fd = openSync(dump.path, "r");
  const n = readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  // Of the first lines, the entry closest to the dump's mean line length: about as many bytes.
  const mean = dump.bytes / dump.truth.entries;
  const line = head
    .subarray(0, n)
    .toString("latin1")
    .split("\n")
    .slice(0, -1)
    .filter((l) => l.includes("src=") && !l.startsWith("<"))
    .sort((a, b) => Math.abs(a.length + 1 - mean) - Math.abs(b.length + 1 - mean))[0];
  if (!line) return null;
  const block = Buffer.from(`${line}\n`.repeat(4096), "latin1");
  // Written aside and renamed: a bench stopped mid-write leaves no short copy to be reused.
  const part = `${path}.part`;
  const out = openSync(part, "w");
  try {
    for (let left = dump.truth.entries; left > 0; left -= 4096) writeSync(out, block, 0, (Math.min(left, 4096) * block.length) / 4096);
  } finally {
    closeSync(out);
  }
  renameSync(part, path);
  return path;
}

function tools(nativeOk: boolean): Tool[] {
  const ctscope = (backend: "native" | "ts", oneClass = false): Tool => ({
    name: oneClass ? `${ONE_CLASS} (${backend})` : `ctscope analyze --json (${backend})`,
    argv: [process.execPath, BIN, "analyze", oneClass ? "__ONE_CLASS__" : "__FILE__", "--json"],
    env: { CTSCOPE_BACKEND: backend },
    check(stdout, dump) {
      const j = JSON.parse(stdout) as { entries?: number; malformed?: number; backend?: string };
      if (j.entries !== dump.truth.entries || j.malformed !== 0) {
        throw new Error(`entries=${j.entries} malformed=${j.malformed}, expected ${dump.truth.entries} and 0`);
      }
      return `${j.entries} entries, backend ${j.backend ?? "?"}`;
    },
  });
  const list: Tool[] = [];
  if (nativeOk) list.push(ctscope("native"));
  list.push(ctscope("ts"));
  if (nativeOk) list.push(ctscope("native", true));
  list.push(ctscope("ts", true));
  list.push({
    name: "awk | sort | uniq -c | sort -rn | head",
    argv: ["sh", "-c", AWK_PIPELINE, "sh", "__FILE__"],
    check(stdout) {
      const first = stdout.trim().split("\n")[0]?.trim() ?? "";
      if (!/^\d+ \S+$/.test(first)) throw new Error(`unexpected output: ${first.slice(0, 80)}`);
      return `top: ${first}`;
    },
  });
  // What every run pays before it reads a byte: the whole-process targets cannot go below these.
  list.push({
    name: START_NODE,
    argv: [process.execPath, "-e", "0"],
    startOnly: true,
    check(stdout) {
      if (stdout.trim() !== "") throw new Error(`unexpected output: ${stdout.slice(0, 80)}`);
      return "start only";
    },
  });
  list.push({
    name: START_CTSCOPE,
    argv: [process.execPath, BIN, "--version"],
    startOnly: true,
    check(stdout) {
      if (stdout.trim() !== VERSION) throw new Error(`unexpected output: ${stdout.slice(0, 80)}`);
      return "start and command-line modules";
    },
  });
  list.push({
    name: "naive node script",
    argv: [process.execPath, "-e", NAIVE_NODE, "__FILE__"],
    check(stdout) {
      const v = stdout.trim();
      if (!/^\d+$/.test(v)) throw new Error(`unexpected output: ${v.slice(0, 80)}`);
      return `${v} distinct sources`;
    },
  });
  return list;
}

/** Peak RSS via GNU time when present, else a preload that reports Node's own maxRSS. */
function rssMethod(dir: string): { name: string; wrap: (argv: string[], out: string) => { argv: string[]; env: Record<string, string> } } {
  if (existsSync(GNU_TIME) && spawnSync(GNU_TIME, ["-f", "%M", "true"]).status === 0) {
    return {
      name: "GNU time %M (largest process of the pipeline)",
      wrap: (argv, out) => ({ argv: [GNU_TIME, "-f", "%M", "-o", out, ...argv], env: {} }),
    };
  }
  const preload = resolve(dir, "rss-preload.cjs");
  writeFileSync(
    preload,
    "const { isMainThread } = require('node:worker_threads');\nif (isMainThread && process.env.CTSCOPE_BENCH_RSS) process.on('exit', () => require('node:fs').writeFileSync(process.env.CTSCOPE_BENCH_RSS, String(process.resourceUsage().maxRSS)));\n",
  );
  return {
    name: "process.resourceUsage().maxRSS preload (Node processes only; install GNU time for the awk pipeline)",
    wrap: (argv, out) => ({ argv, env: { NODE_OPTIONS: `--require ${preload}`, CTSCOPE_BENCH_RSS: out } }),
  };
}

/** Reads a file once, so that the page cache holds it. */
function readThrough(path: string): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, "r");
  try {
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

function processBench(dump: CachedDump, list: Tool[], runs: number, dir: string): ProcessResult[] {
  const name = dump.path.split("/").pop()!;
  const rss = rssMethod(dir);
  const rssFile = resolve(dir, `rss-${process.pid}.txt`);
  const out: ProcessResult[] = [];
  for (const tool of list) {
    let input = dump.path;
    if (tool.argv.includes("__ONE_CLASS__")) {
      // Not beside a 2 GB dump: the floor is the same story at 1M entries.
      const one = dump.bytes < 1e9 ? oneClassDump(dump) : null;
      if (!one) continue;
      input = one;
    }
    const inputBytes = input === dump.path ? dump.bytes : statSync(input).size;
    log(`running ${tool.name} on ${name} (${runs}x)`);
    // The rows compare tools on a hot page cache: the kernel may have evicted the file since.
    if (!tool.startOnly) readThrough(input);
    const walls: number[] = [];
    const peaks: number[] = [];
    let detail = "";
    let ok = true;
    for (let i = 0; i < runs && ok; i++) {
      rmSync(rssFile, { force: true });
      const { argv, env } = rss.wrap(
        tool.argv.map((a) => (a === "__FILE__" || a === "__ONE_CLASS__" ? input : a)),
        rssFile,
      );
      const t0 = process.hrtime.bigint();
      const r = spawnSync(argv[0]!, argv.slice(1), {
        env: { ...process.env, ...tool.env, ...env },
        encoding: "latin1",
        maxBuffer: 256 << 20,
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.error || r.status !== 0) {
        ok = false;
        const errLines = r.stderr
          .split("\n")
          .map((l) => l.trim())
          .filter(Boolean);
        // Node prints its version last; the error line is the useful one.
        const err = r.error ? r.error.message : (errLines.filter((l) => /error/i.test(l)).pop() ?? errLines.pop() ?? `exit ${r.status}`);
        detail = `failed (exit ${r.status ?? r.signal}): ${err.slice(0, 200)}`;
        break;
      }
      try {
        detail = tool.check(r.stdout, dump);
      } catch (err) {
        ok = false;
        detail = `wrong result: ${(err as Error).message}`;
        break;
      }
      walls.push(ms);
      if (existsSync(rssFile)) {
        const kb = Number(readFileSync(rssFile, "utf8").trim().split("\n").pop());
        if (Number.isFinite(kb) && kb > 0) peaks.push(kb);
      }
    }
    rmSync(rssFile, { force: true });
    const wall = walls.length ? median(walls) : null;
    out.push({
      dump: name,
      entries: dump.truth.entries,
      bytes: inputBytes,
      tool: tool.name,
      runs: walls.length,
      wallMs: wall,
      mbps: wall && !tool.startOnly ? inputBytes / 1e6 / (wall / 1000) : null,
      peakRssMiB: peaks.length ? mib(median(peaks)) : null,
      ok,
      detail,
    });
  }
  return out;
}

/**
 * cores: worker threads of a default run. Besides the measured ratios, the best one a ctscope run
 * could reach against awk if it did nothing but start and scan (every scan thread at the measured
 * single-thread native scanFile speed, no merge, dimensions or diagnosis): a whole-process target
 * above it cannot be met on this machine.
 */
export function ratios(scans: ScanResult[], procs: ProcessResult[], cores: number): Ratio[] {
  const out: Ratio[] = [];
  const dumps = [...new Set(scans.map((s) => s.dump))];
  const find = (d: string, b: string, a: string) =>
    scans.find((s) => s.dump === d && s.backend === b && s.api === a && Number.isFinite(s.mbps));
  for (const d of dumps) {
    for (const api of ["scanBuffer", "scanFile"]) {
      const nat = find(d, "native", api);
      const ts = find(d, "ts", api);
      if (nat && ts) out.push({ label: `${d}: native/TS ${api} throughput`, value: nat.mbps / ts.mbps });
    }
    const wc = find(d, "wc -l", "process");
    const natFile = find(d, "native", "scanFile");
    const tsFile = find(d, "ts", "scanFile");
    if (wc && natFile) out.push({ label: `${d}: native scanFile / wc -l throughput`, value: natFile.mbps / wc.mbps });
    if (wc && tsFile) out.push({ label: `${d}: TS scanFile / wc -l throughput`, value: tsFile.mbps / wc.mbps });
  }
  const pd = [...new Set(procs.map((p) => p.dump))];
  for (const d of pd) {
    const get = (prefix: string) => procs.find((p) => p.dump === d && p.tool.startsWith(prefix) && p.ok && p.wallMs);
    const best = get("ctscope analyze --json (native)") ?? get("ctscope analyze --json (ts)");
    if (!best) continue;
    const which = best.tool.includes("native") ? "native" : "ts";
    for (const [prefix, label] of [
      ["awk", "awk pipeline"],
      ["naive", "naive node script"],
      ["ctscope analyze --json (ts)", "ctscope (ts)"],
    ] as const) {
      const other = get(prefix);
      if (other && other !== best)
        out.push({ label: `${d}: ${label} wall time / ctscope (${which})`, value: other.wallMs! / best.wallMs! });
    }
    const awk = get("awk");
    const start = get(START_CTSCOPE);
    const scan = find(d, "native", "scanFile");
    if (awk && start && scan) {
      const floorMs = start.wallMs! + (best.bytes / 1e6 / (scan.mbps * Math.max(1, cores))) * 1000;
      out.push({
        label: `${d}: awk pipeline wall time / (ctscope start + native scan on ${cores} threads), the most any run could reach`,
        value: awk.wallMs! / floorMs,
      });
    }
    // The same bound, measured: a run on a dump of as many lines with one flow class.
    const oneNative = get(`${ONE_CLASS} (native)`);
    const oneTs = get(`${ONE_CLASS} (ts)`);
    const naive = get("naive");
    if (awk && oneNative)
      out.push({ label: `${d}: awk pipeline wall time / ctscope (native) on one flow class`, value: awk.wallMs! / oneNative.wallMs! });
    if (naive && oneTs)
      out.push({ label: `${d}: naive node script wall time / ctscope (ts) on one flow class`, value: naive.wallMs! / oneTs.wallMs! });
  }
  return out;
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const info = backendInfo();
  const addon = nativeAddon();
  const notes: string[] = [];
  const backends: Backend[] = [];
  if (addon) backends.push(getBackend("native"));
  else notes.push(`native backend unavailable: ${info.loadError ?? "not loaded"}`);
  backends.push(getBackend("ts"));
  mkdirSync(opts.dir, { recursive: true });
  const cpu = cpus();
  const report: BenchReport = {
    env: {
      node: process.version,
      cpu: cpu[0]?.model ?? "unknown",
      cores: cpu.length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      kernel: `${process.platform} ${release()}`,
      backend: `${info.active} (requested ${info.requested})`,
      addonPath: info.addonPath,
      nativeError: addon ? null : info.loadError,
      rssMethod: "",
    },
    scans: [],
    processes: [],
    ratios: [],
    notes,
  };
  const sizes = opts.quick ? [100_000] : [100_000, 1_000_000];
  const dumps = new Map<number, CachedDump>();
  const dump = (n: number) => {
    let d = dumps.get(n);
    if (!d) {
      log(`preparing ${n}-entry dump in ${opts.dir}`);
      const t0 = performance.now();
      d = ensureDump(opts.dir, n, { format: opts.format });
      if (d.created) log(`generated ${d.path} (${(d.bytes / 1e6).toFixed(0)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      dumps.set(n, d);
    }
    return d;
  };
  if (opts.scan) for (const n of sizes) report.scans.push(...(await scanBench(dump(n), backends, opts)));
  if (opts.process) {
    const procSizes = [opts.quick ? 100_000 : 1_000_000];
    if (opts.big) procSizes.push(10_000_000);
    const list = tools(addon !== null);
    report.env.rssMethod = rssMethod(opts.dir).name;
    for (const n of procSizes) report.processes.push(...processBench(dump(n), list, n >= 10_000_000 ? 1 : opts.runs, opts.dir));
  }
  report.ratios = ratios(report.scans, report.processes, defaultThreads());
  notes.push("Files are read from a hot page cache.");
  if (opts.scan) {
    notes.push(
      "Scan rows: one thread, one whole file per iteration, MB/s and lines/s from the mean time; wc -l rows time the whole wc process, spawn included.",
    );
  }
  if (opts.process) notes.push("Whole-process rows: wall-clock median of the runs; ctscope uses its default worker threads.");
  return report;
}

const fmt = (v: number | null, digits = 1): string => (v === null || !Number.isFinite(v) ? "—" : v.toFixed(digits));
const fmtInt = (v: number): string => (Number.isFinite(v) ? groupDigits(v) : "—");
const verdict = (v: boolean | null): string => (v === null ? "n/a" : v ? "yes" : "NO");

function tables(r: BenchReport): { title: string; head: string[]; rows: string[][] }[] {
  const out: { title: string; head: string[]; rows: string[][] }[] = [];
  if (r.scans.length) {
    out.push({
      title: "Backend throughput (single thread)",
      head: ["dump", "entries", "MB", "backend", "api", "MB/s", "lines/s", "p50 ms", "± rme", "samples", "classes", "matches truth"],
      rows: r.scans.map((s) => [
        s.dump,
        fmtInt(s.entries),
        fmt(s.bytes / 1e6, 0),
        s.backend,
        s.api,
        fmt(s.mbps, 0),
        fmtInt(s.linesPerSec),
        fmt(s.p50ms, 1),
        `${fmt(s.rmePct, 1)} %`,
        String(s.samples),
        s.classes === null ? "—" : fmtInt(s.classes),
        verdict(s.verified) + (s.note ? ` (${s.note})` : ""),
      ]),
    });
  }
  if (r.processes.length) {
    out.push({
      title: "Whole process",
      head: ["dump", "tool", "runs", "wall s", "MB/s", "peak RSS MiB", "result"],
      rows: r.processes.map((p) => [
        p.dump,
        p.tool,
        String(p.runs),
        fmt(p.wallMs === null ? null : p.wallMs / 1000, 2),
        fmt(p.mbps, 0),
        fmt(p.peakRssMiB, 0),
        p.detail,
      ]),
    });
  }
  if (r.ratios.length) {
    out.push({ title: "Ratios", head: ["comparison", "ratio"], rows: r.ratios.map((x) => [x.label, `${fmt(x.value, 2)}×`]) });
  }
  return out;
}

function envLines(r: BenchReport): string[] {
  const e = r.env;
  return [
    `backend: ${e.backend}${e.addonPath ? ` (${e.addonPath})` : ""}`,
    ...(e.nativeError ? [`native: unavailable — ${e.nativeError}`] : []),
    `cpu: ${e.cpu} × ${e.cores}, ${e.memoryGiB} GiB`,
    `node: ${e.node}, ${e.kernel}`,
    ...(e.rssMethod ? [`peak RSS: ${e.rssMethod}`] : []),
  ];
}

export function renderText(r: BenchReport): string {
  const lines = envLines(r);
  for (const t of tables(r)) {
    lines.push("", t.title);
    const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((row) => row[i]!.length)));
    const numeric = (i: number) => t.rows.every((row) => /^[\d,.—×% ±]+$/.test(row[i]!));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd();
    lines.push(line(t.head), widths.map((w) => "-".repeat(w)).join("  "));
    for (const row of t.rows) lines.push(line(row));
  }
  if (r.notes.length) lines.push("", ...r.notes.map((n) => `note: ${n}`));
  return `${lines.join("\n")}\n`;
}

export function renderMarkdown(r: BenchReport): string {
  const lines = envLines(r).map((l) => `- ${l}`);
  for (const t of tables(r)) {
    lines.push("", `**${t.title}**`, "", `| ${t.head.join(" | ")} |`, `|${t.head.map(() => " --- ").join("|")}|`);
    for (const row of t.rows) lines.push(`| ${row.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`);
  }
  if (r.notes.length) lines.push("", ...r.notes.map((n) => `_${n}_`));
  return `${lines.join("\n")}\n`;
}
