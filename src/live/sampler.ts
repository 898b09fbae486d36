/**
 * Runs full scans one at a time, in a worker thread (so a large table never freezes the view)
 * or in this thread (one-shot runs), and decides when the next one may start: the period grows
 * with what a scan costs, so that ctscope stays under CPU_BUDGET cores on average during a flood.
 */
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { HostFacts } from "../diagnose/types.js";
import { workerExecArgv } from "../engine/worker-argv.js";
import { BackendError, CtscopeError, InputError, UsageError } from "../errors.js";
import { runScan, type ScanRequest, type ScanResult } from "./scan.js";
import type { ScanMessage, ScanReply } from "./scan-worker.js";

/** Average cores full scans may use (the scan itself may briefly use more). */
export const CPU_BUDGET = 0.5;

/**
 * A scan worker whose heap grew past this is replaced after its scan: the snapshot of a flooded
 * table leaves hundreds of MB that V8 keeps for the next one; a fresh thread (about 0.1 s to start,
 * against seconds per scan) keeps the process's memory flat.
 */
export const RECYCLE_HEAP_BYTES = 160 * 1024 * 1024;

/** The period after a scan that cost `cpuMs` of CPU over `wallMs`: at least the interval. */
export function nextScanPeriodMs(intervalMs: number, wallMs: number, cpuMs: number, budget = CPU_BUDGET): number {
  // Wall time counts too: a source may burn CPU in the kernel or in a subprocess we cannot see.
  const cost = Math.max(cpuMs, wallMs);
  const period = Math.max(intervalMs, cost / budget);
  // Whole intervals, so that scans land on ticks.
  return Math.ceil(period / intervalMs - 1e-9) * intervalMs;
}

/**
 * When the next tick is due, in ms since the start: the next point of the start + k * interval grid,
 * whatever a tick costs. A tick that ran late (a starved host) skips the grid point right after it,
 * so that two ticks never land within half an interval of each other.
 */
export function nextTickMs(intervalMs: number, elapsedMs: number, lastTickMs: number): number {
  const earliest = Math.max(elapsedMs, lastTickMs + intervalMs / 2);
  return (Math.floor(earliest / intervalMs) + 1) * intervalMs;
}

function rethrow(r: Extract<ScanReply, { ok: false }>): never {
  if (r.name === "InputError") throw new InputError(r.message, r.path);
  if (r.name === "UsageError") throw new UsageError(r.message);
  if (r.name === "BackendError") throw new BackendError(r.message);
  if (r.name === "CtscopeError") throw new CtscopeError(r.message);
  const e = new Error(r.message);
  if (r.stack) e.stack = r.stack;
  throw e;
}

export class Sampler {
  private worker: Worker | null = null;
  private nextId = 1;
  private waiting = new Map<number, { resolve: (r: ScanResult) => void; reject: (e: unknown) => void }>();
  busy = false;
  /** Workers replaced because their heap grew too big. */
  recycled = 0;

  constructor(private readonly inThread: boolean) {}

  private start(): Worker {
    if (this.worker) return this.worker;
    const fromSource = import.meta.url.endsWith(".ts");
    const file = fileURLToPath(new URL(fromSource ? "./scan-worker.ts" : "./scan-worker.js", import.meta.url));
    const w = new Worker(file, { execArgv: workerExecArgv(import.meta.url) });
    w.on("message", (r: ScanReply) => {
      const p = this.waiting.get(r.id);
      if (!p) return;
      this.waiting.delete(r.id);
      if (r.ok) p.resolve(r.result);
      else {
        try {
          rethrow(r);
        } catch (e) {
          p.reject(e);
        }
      }
    });
    w.on("error", (err) => {
      if (this.worker === w) this.failAll(err);
    });
    w.on("exit", (code) => {
      if (this.worker !== w) return;
      this.worker = null;
      if (this.waiting.size > 0) this.failAll(new Error(`scan worker exited (${code})`));
    });
    // The view's timers keep the process alive; the worker must not.
    w.unref();
    this.worker = w;
    return w;
  }

  private failAll(err: unknown): void {
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
  }

  async scan(req: ScanRequest, facts: HostFacts | null): Promise<ScanResult> {
    this.busy = true;
    try {
      if (this.inThread) return await runScan(req, facts);
      const w = this.start();
      const id = this.nextId++;
      const msg: ScanMessage = { id, req, facts };
      const result = await new Promise<ScanResult>((resolve, reject) => {
        this.waiting.set(id, { resolve, reject });
        w.postMessage(msg);
      });
      if (result.heapBytes > RECYCLE_HEAP_BYTES) {
        this.recycled++;
        await this.close();
      }
      return result;
    } finally {
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
