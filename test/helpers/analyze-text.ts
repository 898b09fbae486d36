/**
 * Small helpers for engine tests: analyze a fixture or an inline text on one backend, and reduce a
 * Snapshot to plain objects that can be compared with toEqual.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { type AnalyzeOptions, analyze } from "../../src/engine/analyze.js";
import { DIMENSIONS, type Dimension, type HistBucket, type Snapshot } from "../../src/engine/types.js";
import type { TestBackend } from "./backends.js";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");

export function fixture(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

/** The busiest state row of fixtures/formats/proc-nf_conntrack.txt, as every output carries it. */
export const PROC_FIXTURE_TOP_STATE = {
  proto: "tcp",
  state: "ESTABLISHED",
  count: 4,
  unreplied: 0,
  assured: 4,
  offload: 0,
  max_timeout: 431999,
};

export type ExtraOptions = Omit<AnalyzeOptions, "inputs" | "backend">;

/** Analyze files on one backend; large top tables so tests see every key. */
export function analyzeFiles(inputs: string[], backend: TestBackend, opts: ExtraOptions = {}): Promise<Snapshot> {
  return analyze({ top: 1000, threads: 1, ...opts, inputs, backend });
}

let scratch: string | undefined;
let serial = 0;

// Registered when this module is imported, i.e. on the test file's root suite: the directory
// outlives every describe block and is removed after the whole file.
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
});

/** A per-file temporary directory, removed after the test file. */
export function tempDir(): string {
  scratch ??= mkdtempSync(join(tmpdir(), "ctscope-test-"));
  return scratch;
}

/** Write text (or bytes) to a fresh temporary file and return its path. */
export function writeTemp(content: string | Uint8Array, name = "input.txt"): string {
  const path = join(tempDir(), `${serial++}-${name}`);
  writeFileSync(path, typeof content === "string" ? Buffer.from(content, "latin1") : content);
  return path;
}

/** Analyze inline text (latin1: one char per byte) on one backend. */
export function analyzeText(text: string | Uint8Array, backend: TestBackend, opts: ExtraOptions = {}): Promise<Snapshot> {
  return analyzeFiles([writeTemp(text)], backend, opts);
}

/** Line counters of a snapshot. */
export function counts(s: Snapshot) {
  return {
    lines: s.lines,
    entries: s.entries,
    malformed: s.malformed,
    blank: s.blank,
    ignored: s.ignored,
    destroyed: s.destroyed,
    filtered: s.filtered,
    events: s.events,
    accounted: s.accounted,
  };
}

export function flagCounts(s: Snapshot) {
  return { unreplied: s.unreplied, assured: s.assured, offloaded: s.offloaded, natted: s.natted };
}

/** by_state as {"proto STATE": count} ("-" when the protocol has no state); rows with the same label add up. */
export function states(s: Snapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of s.by_state) {
    const k = `${r.proto} ${r.state ?? "-"}`;
    out[k] = (out[k] ?? 0) + r.count;
  }
  return out;
}

/** by_proto as {proto: count}; rows with the same name add up. */
export function protos(s: Snapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of s.by_proto) out[r.proto] = (out[r.proto] ?? 0) + r.count;
  return out;
}

/** Non-empty histogram buckets as {from: count}. */
export function hist(buckets: HistBucket[]): Record<number, number> {
  return Object.fromEntries(buckets.filter((b) => b.count > 0).map((b) => [b.from, b.count]));
}

/** A top table as {key: count}. */
export function top(s: Snapshot, dim: Dimension): Record<string, number> {
  return Object.fromEntries(s.top[dim].map((r) => [r.key, r.count]));
}

/** Every top table, in order, as [key, count] pairs. */
export function allTops(s: Snapshot): Record<Dimension, Array<[string, number]>> {
  return Object.fromEntries(DIMENSIONS.map((d) => [d, s.top[d].map((r) => [r.key, r.count] as [string, number])])) as Record<
    Dimension,
    Array<[string, number]>
  >;
}

/** Everything a backend or a code path must reproduce exactly (timing and backend name excluded). */
export function comparable(s: Snapshot): Omit<Snapshot, "elapsed_ms" | "backend" | "classes"> & { classes: string[] } {
  const { elapsed_ms: _e, backend: _b, classes, ...rest } = s;
  return { ...rest, classes: classes.map((c) => JSON.stringify(c)).sort() };
}
