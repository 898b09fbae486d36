/**
 * The addon in worker threads: each thread gets its own addon instance (error classes included),
 * scans run concurrently in two workers, and every result equals the main thread's.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { afterAll, describe, expect, it } from "vitest";
import type { ChunkAggregate, CompiledFilter } from "../src/engine/contract.js";
import { InputError } from "../src/errors.js";
import { C_ENTRIES, C_LINES } from "../src/parse/layout.js";
import { aggregateDiff, loadNative, nativePath } from "./helpers/native-compare.js";
import { LineGen } from "./helpers/random-lines.js";

const addon = loadNative("native-threads");

const tmp = mkdtempSync(join(tmpdir(), "ctscope-native-threads-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface WorkerReport {
  results: ChunkAggregate[];
  error: string;
  start: number;
  end: number;
}

// CommonJS, evaluated in the worker: loads the addon itself, with its own error class.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const addon = require(workerData.addonPath);
class WorkerInputError extends Error {
  constructor(message, path) { super(message); this.name = "WorkerInputError"; this.path = path; }
}
addon.setErrorClasses({ InputError: WorkerInputError });
const { bytes, path, filter, rounds, barrier } = workerData;
// Wait until every worker has loaded the addon, so that their scans really overlap.
const count = new Int32Array(barrier);
Atomics.add(count, 0, 1);
for (let n; (n = Atomics.load(count, 0)) < count[1]; ) Atomics.wait(count, 0, n, 50);
Atomics.notify(count, 0);
const results = [];
const start = performance.timeOrigin + performance.now();
for (let i = 0; i < rounds; i++) {
  results.push(addon.scanBuffer(bytes, 0, bytes.length, filter));
  results.push(addon.scanFile(path, 0, bytes.length, filter));
}
const end = performance.timeOrigin + performance.now();
let error = "no error";
try {
  addon.scanFile(workerData.missing, 0, 10, filter);
} catch (e) {
  error = (e instanceof WorkerInputError ? "WorkerInputError: " : "other: ") + e.message + " | path=" + e.path;
}
parentPort.postMessage({ results, error, start, end });
`;

interface WorkerTask {
  bytes: Uint8Array;
  path: string;
  filter: CompiledFilter;
  rounds: number;
  missing: string;
  /** Int32Array([arrived, expected]) shared by the workers that must scan together. */
  barrier: SharedArrayBuffer;
}

function barrier(workers: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(8);
  new Int32Array(sab)[1] = workers;
  return sab;
}

function runWorker(data: WorkerTask): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: { ...data, addonPath: nativePath() } });
    let report: WorkerReport | undefined;
    w.once("message", (m: WorkerReport) => {
      report = m;
    });
    w.once("error", reject);
    w.once("exit", (code) => (report && code === 0 ? resolve(report) : reject(new Error(`worker exited with ${code}`))));
  });
}

describe.skipIf(!addon)("native addon in worker threads", () => {
  const gen = new LineGen(20260101);
  const bytes = gen.join(gen.lines(40_000, 0.2));
  const path = join(tmp, "dump.txt");
  writeFileSync(path, bytes);
  const missing = join(tmp, "missing.txt");
  const filter = gen.filter();

  it("gives the main thread's result in one worker, with the worker's own error class", async () => {
    const expected = addon!.scanBuffer(bytes, 0, bytes.length, filter);
    expect(expected.counters[C_LINES]).toBe(40_000);
    expect(expected.counters[C_ENTRIES]).toBeGreaterThan(0);
    const r = await runWorker({ bytes, path, filter, rounds: 1, missing, barrier: barrier(1) });
    expect(r.results.length).toBe(2);
    for (const got of r.results) expect(aggregateDiff(got, expected)).toEqual([]);
    expect(r.error).toBe(`WorkerInputError: ${missing}: no such file or directory | path=${missing}`);
  });

  it("gives the same result in two workers scanning at the same time, and the main thread keeps its error class", async () => {
    const expected = addon!.scanFile(path, 0, bytes.length, filter);
    const together = barrier(2);
    const [a, b] = await Promise.all([
      runWorker({ bytes, path, filter, rounds: 6, missing, barrier: together }),
      runWorker({ bytes, path, filter, rounds: 6, missing, barrier: together }),
    ]);
    // The two scanning loops overlapped in time (they ran concurrently, not one after the other).
    expect(Math.max(a.start, b.start)).toBeLessThan(Math.min(a.end, b.end));
    for (const r of [a, b]) {
      expect(r.results.length).toBe(12);
      for (const got of r.results) expect(aggregateDiff(got, expected)).toEqual([]);
      expect(r.error.startsWith("WorkerInputError: ")).toBe(true);
    }
    // The workers' setErrorClasses did not replace the main thread's class.
    let thrown: unknown;
    try {
      addon!.scanFile(missing, 0, 10, filter);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(InputError);
    expect((thrown as InputError).message).toBe(`${missing}: no such file or directory`);
    // And the main thread still scans normally after the workers' addon instances are gone.
    expect(aggregateDiff(addon!.scanBuffer(bytes, 0, bytes.length, filter), expected)).toEqual([]);
  });
});
