/**
 * The native tokenizer against the TS one (the reference grammar), bit for bit: counters,
 * histograms, flow-class keys in first-seen order, values, malformed samples. Inputs: every
 * fixture file, the shared real-world samples, ≥ 100,000 generated valid lines of every format
 * and protocol, mutated lines, random filters, and scanFile over random chunk splits and mmap
 * window sizes. The seed is printed; replay a failure with CTSCOPE_SEED=<seed>.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type ChunkAggregate, type CompiledFilter, emptyFilter } from "../src/engine/contract.js";
import {
  C_BLANK,
  C_DESTROYED,
  C_ENTRIES,
  C_EVENTS,
  C_FILTERED,
  C_FORM_L3,
  C_FORM_PLAIN,
  C_FORM_XML,
  C_IGNORED,
  C_LINES,
  C_MALFORMED,
  K_PROTO,
  KEY_BYTES,
} from "../src/parse/layout.js";
import { scanBuffer } from "../src/parse/tokenizer.js";
import { aggregateDiff, loadNative } from "./helpers/native-compare.js";
import { LineGen } from "./helpers/random-lines.js";

const addon = loadNative("differential");
const SEED = process.env.CTSCOPE_SEED ? Number(process.env.CTSCOPE_SEED) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
console.log(`differential: seed ${SEED} (replay with CTSCOPE_SEED=${SEED})`);

type ScanFileWithWindow = (path: string, start: number, end: number, filter: CompiledFilter, windowBytes?: number) => ChunkAggregate;

const tmp = mkdtempSync(join(tmpdir(), "ctscope-differential-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The first line of [start, end) whose own scan differs, to make a failure readable. */
function firstDifferingLine(bytes: Uint8Array, start: number, end: number, filter: CompiledFilter): string {
  let p = start;
  let n = 0;
  while (p < end) {
    let nl = bytes.indexOf(10, p);
    if (nl < 0 || nl >= end) nl = end;
    const line = bytes.slice(p, Math.min(nl + 1, end));
    if (aggregateDiff(addon!.scanBuffer(line, 0, line.length, filter), scanBuffer(line, 0, line.length, filter)).length > 0) {
      return `line ${n}: ${JSON.stringify(Buffer.from(line).toString("latin1"))}`;
    }
    p = nl + 1;
    n++;
  }
  return "no single line differs (the difference is in aggregation)";
}

/** Native scanBuffer equals TS scanBuffer on bytes[start, end); returns the TS result. */
function same(label: string, bytes: Uint8Array, start: number, end: number, filter: CompiledFilter = emptyFilter()): ChunkAggregate {
  const expected = scanBuffer(bytes, start, end, filter);
  const diff = aggregateDiff(addon!.scanBuffer(bytes, start, end, filter), expected);
  if (diff.length > 0) diff.push(firstDifferingLine(bytes, start, end, filter));
  expect(diff, `${label} (seed ${SEED})`).toEqual([]);
  return expected;
}

/** Native scanFile of path[start, end) equals the given expected aggregate. */
function sameFile(
  label: string,
  path: string,
  start: number,
  end: number,
  filter: CompiledFilter,
  expected: ChunkAggregate,
  window?: number,
) {
  const scanFile = addon!.scanFile as ScanFileWithWindow;
  const actual = window === undefined ? scanFile(path, start, end, filter) : scanFile(path, start, end, filter, window);
  expect(aggregateDiff(actual, expected), `${label} [${start}, ${end}) window ${window ?? "default"} (seed ${SEED})`).toEqual([]);
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

const SAMPLES = join(import.meta.dirname, "..", "..", "shared", "samples");

describe.skipIf(!addon)("native tokenizer equals the TS tokenizer", () => {
  it("on every fixture file, whole and through scanFile, with and without filters", () => {
    const files = filesUnder(join(import.meta.dirname, "fixtures"));
    if (existsSync(SAMPLES)) {
      files.push(
        ...readdirSync(SAMPLES)
          .filter((n) => n.endsWith(".txt"))
          .sort()
          .map((n) => join(SAMPLES, n)),
      );
    } else {
      console.log(`differential: ${SAMPLES} not found, shared samples not compared`);
    }
    expect(files.length).toBeGreaterThan(0);
    const gen = new LineGen(SEED);
    let lines = 0;
    for (const path of files) {
      const bytes = readFileSync(path);
      const expected = same(path, bytes, 0, bytes.length);
      sameFile(path, path, 0, bytes.length, emptyFilter(), expected);
      lines += expected.counters[C_LINES]!;
      const filter = gen.filter();
      sameFile(`${path} filtered`, path, 0, bytes.length, filter, same(`${path} filtered`, bytes, 0, bytes.length, filter));
    }
    expect(lines).toBeGreaterThan(0);
  });

  it("on ≥ 100,000 generated valid lines of every format and protocol", { timeout: 120_000 }, () => {
    const gen = new LineGen(SEED);
    const lines: string[] = [];
    for (let i = 0; i < 120_000; i++) lines.push(gen.valid());
    const bytes = gen.join(lines);
    const r = same("valid lines", bytes, 0, bytes.length);
    // The generator only writes valid lines, and every form appears.
    expect(r.counters[C_MALFORMED]).toBe(0);
    expect(r.counters[C_LINES]).toBe(120_000);
    expect(r.counters[C_ENTRIES]! + r.counters[C_DESTROYED]!).toBe(120_000);
    for (const c of [C_FORM_L3, C_FORM_PLAIN, C_FORM_XML, C_EVENTS, C_DESTROYED]) expect(r.counters[c]).toBeGreaterThan(1000);
    const protos = new Set<number>();
    for (let i = 0; i < r.keys.length; i += KEY_BYTES) protos.add(r.keys[i + K_PROTO]!);
    expect([...protos].sort((a, b) => a - b)).toEqual([1, 2, 6, 17, 33, 47, 58, 112, 132, 136]);
  });

  it("on mutated lines: truncated, bytes flipped, fields dropped or swapped, huge numbers, NUL, CR", { timeout: 120_000 }, () => {
    const gen = new LineGen(SEED ^ 0x5bd1e995);
    const bytes = gen.join(gen.lines(80_000, 0.9), 0.2);
    const r = same("mutated lines", bytes, 0, bytes.length);
    expect(r.counters[C_MALFORMED]).toBeGreaterThan(20_000);
    expect(r.counters[C_ENTRIES]).toBeGreaterThan(5_000);
    expect(r.counters[C_BLANK]! + r.counters[C_IGNORED]!).toBeGreaterThan(0);
    expect(r.malformedLines.length).toBe(8);
  });

  it("on repeated headers and line ends met again after other protocols, fields and flags", { timeout: 120_000 }, () => {
    const gen = new LineGen(SEED ^ 0x27d4eb2f, { hosts: 6, ports: 4 });
    const bytes = gen.join(gen.splicedLines(60_000), 0.05);
    const r = same("spliced lines", bytes, 0, bytes.length);
    expect(r.counters[C_ENTRIES]).toBeGreaterThan(20_000);
    expect(r.counters[C_MALFORMED]).toBeGreaterThan(5_000);
  });

  it("with random filters (protocol, state, port, source and destination CIDR lists)", { timeout: 120_000 }, () => {
    const gen = new LineGen(SEED ^ 0x9e3779b9, { hosts: 12 });
    const bytes = gen.join(gen.lines(40_000, 0.1));
    let filtered = 0;
    let kept = 0;
    for (let i = 0; i < 12; i++) {
      const filter = gen.filter();
      const r = same(`filter ${i}`, bytes, 0, bytes.length, filter);
      filtered += r.counters[C_FILTERED]!;
      kept += r.counters[C_ENTRIES]!;
    }
    expect(filtered).toBeGreaterThan(0);
    expect(kept).toBeGreaterThan(0);
  });

  it("through scanFile over random newline-aligned chunks and mmap windows", { timeout: 120_000 }, () => {
    const gen = new LineGen(SEED ^ 0x85ebca6b);
    const bytes = gen.join(gen.lines(30_000, 0.3), 0.1);
    const path = join(tmp, "chunks.txt");
    writeFileSync(path, bytes);
    for (let round = 0; round < 6; round++) {
      const cuts = gen.newlineSplits(bytes, 8);
      const filter = round % 2 === 0 ? emptyFilter() : gen.filter();
      const window = gen.pick([undefined, 8192, 12288, 65536, 1 << 20]);
      for (let i = 0; i + 1 < cuts.length; i++) {
        const [s, e] = [cuts[i]!, cuts[i + 1]!];
        sameFile(`chunk ${i} round ${round}`, path, s, e, filter, same(`chunk ${i} round ${round}`, bytes, s, e, filter), window);
      }
    }
    // Ranges that do not start or end at a newline are scanned as they are, by both.
    for (let i = 0; i < 10; i++) {
      const s = gen.int(bytes.length);
      const e = s + gen.int(bytes.length - s + 1);
      sameFile(`unaligned ${i}`, path, s, e, emptyFilter(), same(`unaligned ${i}`, bytes, s, e), 8192);
    }
  });

  it("when each scan starts from the memory the previous one kept (as pool workers do)", { timeout: 120_000 }, () => {
    const gen = new LineGen(SEED ^ 0x165667b1);
    // Tables of very different sizes one after another: each starts at the size of the last.
    const big = gen.join(gen.lines(60_000, 0.05));
    const small = gen.join(gen.lines(300, 0.2));
    const path = join(tmp, "kept.txt");
    writeFileSync(path, big);
    addon!.keepScanMemory(true);
    try {
      for (let round = 0; round < 3; round++) {
        const filter = round === 1 ? gen.filter() : emptyFilter();
        sameFile(
          `kept, whole, round ${round}`,
          path,
          0,
          big.length,
          filter,
          same(`kept, whole, round ${round}`, big, 0, big.length, filter),
        );
        same(`kept, small, round ${round}`, small, 0, small.length, filter);
        // What an idle worker does: frees what it kept; the next scan starts afresh.
        if (round === 1) addon!.dropScanMemory();
        const cuts = gen.newlineSplits(big, 5);
        for (let i = 0; i + 1 < cuts.length; i++) {
          const [s, e] = [cuts[i]!, cuts[i + 1]!];
          sameFile(`kept, chunk ${i} round ${round}`, path, s, e, filter, same(`kept, chunk ${i} round ${round}`, big, s, e, filter));
        }
      }
    } finally {
      addon!.keepScanMemory(false);
    }
    // The scan after keepScanMemory(false) still uses what was kept, then frees it.
    same("after keeping", big, 0, big.length);
    same("after freeing", small, 0, small.length);
  });

  it("on a line longer than the mmap window and a file without any newline", () => {
    const gen = new LineGen(SEED);
    const long = `${gen.valid("plain")} labels=${"x".repeat(70_000)}`;
    const text = `${gen.valid("proc")}\n${long}\n${gen.valid("proc")}\n${long}`;
    const bytes = Buffer.from(text, "latin1");
    const path = join(tmp, "long.txt");
    writeFileSync(path, bytes);
    const expected = same("long lines", bytes, 0, bytes.length);
    expect(expected.counters[C_ENTRIES]).toBe(4);
    for (const window of [8192, 20480, 1 << 20, undefined]) sameFile("long lines", path, 0, bytes.length, emptyFilter(), expected, window);
    const flat = Buffer.from("x".repeat(50_000), "latin1");
    const flatPath = join(tmp, "flat.txt");
    writeFileSync(flatPath, flat);
    sameFile("no newline", flatPath, 0, flat.length, emptyFilter(), same("no newline", flat, 0, flat.length), 8192);
  });

  it("on line-layout edge cases", () => {
    const gen = new LineGen(SEED);
    const v = () => gen.valid("proc");
    const cases = [
      "",
      "\n",
      "\n\n\n",
      "\r\n",
      "\r",
      " \t \r\n",
      `${v()}\r\n${v()}\r\n`,
      `${v()}\r\r\n`,
      `${v()} \t\r\n`,
      `${v()}`,
      `\0${v()}`,
      `${v()}\0`,
      `${v().replace("mark=0", "mark=\0")}`,
      `${v().replace(/packets=\d+/, "packets=99999999999999999999")}`,
      `${v().replace(/packets=\d+/, "packets=100000000000000000000")}`,
      `tcp      6 4294967295 ESTABLISHED src=1.2.3.4 dst=5.6.7.8 sport=1 dport=2 src=5.6.7.8 dst=1.2.3.4 sport=2 dport=1`,
      `tcp      6 4294967296 ESTABLISHED src=1.2.3.4 dst=5.6.7.8 sport=1 dport=2 src=5.6.7.8 dst=1.2.3.4 sport=2 dport=1`,
      `tcp      6 1 ESTABLISHED src=::ffff:1.2.3.4 dst=::1 sport=1 dport=2 src=::1 dst=0:0:0:0:0:ffff:102:304 sport=2 dport=1`,
      '<flow type="new"><meta direction="original"><layer3 protonum="2"><src>1.2.3.4</src><dst>5.6.7.8</dst></layer3><layer4 protonum="6"><sport>1</sport><dport>2</dport></layer4></meta><meta direction="reply"><layer3 protonum="2"><src>5.6.7.8</src><dst>1.2.3.4</dst></layer3><layer4 protonum="6"><sport>2</sport><dport>1</dport></layer4></meta><meta direction="independent"><state>SYN_SENT</state><timeout>120</timeout><unreplied/></meta></flow>',
      "<",
      "<flow",
      "</",
      "[1.2] [NEW] udp 17 30 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1",
      `${"y".repeat(300)}`,
      Array.from({ length: 30 }, () => `bad line ${gen.int(1000)}`).join("\n"),
    ];
    for (const [i, text] of cases.entries()) {
      const bytes = Buffer.from(text, "latin1");
      same(`case ${i}`, bytes, 0, bytes.length);
      // The same bytes in the middle of a bigger buffer: nothing outside [start, end) matters.
      const padded = Buffer.concat([Buffer.from("<x\n"), bytes, Buffer.from("/>\n")]);
      same(`case ${i} padded`, padded, 3, 3 + bytes.length);
    }
  });
});
