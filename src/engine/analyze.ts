/**
 * Orchestrates one analysis: resolve inputs, plan ranges, run the backend in Piscina workers,
 * merge, and build the snapshot.
 */
import { availableParallelism } from "node:os";
import { BackendError, CtscopeError, describeErrno, InputError, UsageError } from "../errors.js";
import { C_ENTRIES } from "../parse/layout.js";
import { backendInfo, getBackend } from "./backend.js";
import type { BackendChoice, ChunkAggregate, CompiledFilter } from "./contract.js";
import { compileFilter, type FilterOptions, parseCidrs } from "./filter.js";
import { Merger } from "./merge.js";
import { planRanges } from "./planner.js";
import type { ScanPool } from "./pool.js";
import { buildSnapshot, type LocalSpec } from "./snapshot.js";
import { blocks, resolveSource, type Source, StreamBroke } from "./sources.js";
import { ownedBuffer } from "./transfer.js";
import type { Snapshot } from "./types.js";
import type { WorkerResult } from "./worker.js";

export interface Progress {
  bytesDone: number;
  /** null when some input has no known size (stdin). */
  bytesTotal: number | null;
  entries: number;
  elapsedMs: number;
}

export interface AnalyzeOptions extends FilterOptions {
  /** Paths; "-" is stdin; .gz files are decompressed. */
  inputs: string[];
  threads?: number;
  backend?: BackendChoice;
  /** Rows per top table (default 10). */
  top?: number;
  /** CIDRs of this host; when absent the local side is inferred. */
  local?: string[];
  /** Local CIDRs found on the live host's interfaces (used when `local` is absent). */
  hostLocal?: string[];
  onProgress?: (p: Progress) => void;
  /** Inputs smaller than this are scanned on the main thread (no worker start-up). */
  inlineBelowBytes?: number;
  /** Overrides stdin, for tests. */
  stdin?: () => NodeJS.ReadableStream;
  /**
   * Called when a stream input (stdin, a pipe, gzip) starts being read, with its name. The signal
   * it returns stops the reading, and what the stream gave so far is analysed (with a warning);
   * release() is called when the stream is done. For an endless stdin (`conntrack -E | ctscope
   * analyze -`) ended with Ctrl-C: the CLI listens for it only while stdin is read.
   */
  stopReading?: (name: string) => { signal: AbortSignal; release: () => void } | null;
}

const STREAM_BLOCK_BYTES = 8 * 1024 * 1024;
const DEFAULT_INLINE_BELOW = 4 * 1024 * 1024;

export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

function validate(opts: AnalyzeOptions): { filter: CompiledFilter; local: LocalSpec; threads: number; top: number } {
  if (opts.inputs.length === 0) throw new UsageError("no input given");
  if (opts.inputs.filter((i) => i === "-").length > 1) throw new UsageError("stdin (-) can be given only once");
  const threads = opts.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new UsageError("--threads must be a whole number from 1 to 256");
  const top = opts.top ?? 10;
  if (!Number.isInteger(top) || top < 1 || top > 100000) throw new UsageError("--top must be a whole number from 1 to 100000");
  const filter = compileFilter(opts);
  let local: LocalSpec;
  if (opts.local && opts.local.length > 0) local = { mode: "given", cidrs: parseCidrs(opts.local, "--local") };
  else if (opts.hostLocal && opts.hostLocal.length > 0) local = { mode: "host", cidrs: parseCidrs(opts.hostLocal, "host address") };
  else local = { mode: "inferred", cidrs: [] };
  return { filter, local, threads, top };
}

function unwrap(r: WorkerResult): ChunkAggregate {
  if (r.ok) return r.result;
  if (r.name === "InputError") throw new InputError(r.message, r.path);
  if (r.name === "BackendError") throw new BackendError(r.message);
  if (r.name === "UsageError") throw new UsageError(r.message);
  throw new CtscopeError(r.message);
}

/** Why a stream ended early: the caller's stopReading signal. */
class ReadingStopped extends Error {}

/** Analyze the inputs and return the merged snapshot. Throws CtscopeError subclasses for user errors. */
export async function analyze(opts: AnalyzeOptions): Promise<Snapshot> {
  const started = performance.now();
  const { filter, local, threads, top } = validate(opts);
  const info = backendInfo(opts.backend);
  // Fail before any work when native is required but missing.
  const mainBackend = getBackend(opts.backend);
  const backend = info.requested === "auto" ? "auto" : info.requested;
  const stdin = (opts.stdin ?? (() => process.stdin)) as () => import("node:stream").Readable;
  const sources: Source[] = opts.inputs.map((i) => resolveSource(i, stdin));
  // Chunk tables are freed as soon as they are summed: they are this function's alone.
  const merger = new Merger(mainBackend, true);
  const warnings: string[] = [];
  const knownTotal = sources.every((s) => s.kind === "file" || s.size !== null);
  const bytesTotal = knownTotal ? sources.reduce((a, s) => a + (s.size ?? 0), 0) : null;
  let bytesDone = 0;
  let bytesRead = 0;
  const report = () =>
    opts.onProgress?.({ bytesDone, bytesTotal, entries: merger.counters[C_ENTRIES]!, elapsedMs: performance.now() - started });

  const inlineBelow = opts.inlineBelowBytes ?? DEFAULT_INLINE_BELOW;
  const smallFilesOnly = sources.every((s) => s.kind === "file") && (bytesTotal ?? 0) < inlineBelow;
  if (smallFilesOnly || threads === 1) {
    // Small inputs: starting threads costs more than the scan.
    const b = getBackend(opts.backend);
    for (const [si, s] of sources.entries()) {
      if (s.kind === "file") {
        merger.add(si, 0, b.scanFile(s.path, 0, s.size, filter));
        bytesDone += s.size;
        bytesRead += s.size;
      } else {
        let order = 0;
        for await (const block of readBlocks(s, warnings, opts.stopReading)) {
          merger.add(si, order++, b.scanBuffer(block, 0, block.length, filter));
          bytesRead += block.length;
        }
        bytesDone += s.size ?? 0;
      }
      report();
    }
  } else {
    // Loaded only when threads are used: small inputs and single-threaded runs skip its start-up cost.
    const { createScanPool } = await import("./pool.js");
    const pool = createScanPool(threads);
    try {
      await runPooled(pool, sources, filter, backend, threads, merger, warnings, opts.stopReading, (done, read) => {
        bytesDone += done;
        bytesRead += read;
        report();
      });
    } finally {
      await pool.destroy();
    }
  }
  const snapshot = buildSnapshot(merger, local, {
    backend: info.active,
    sources: sources.map((s) => s.name),
    bytes: bytesRead,
    top,
    elapsedMs: 0,
    warnings,
  });
  snapshot.elapsed_ms = performance.now() - started;
  return snapshot;
}

/**
 * The blocks of a stream. Compressed data that breaks off after some of it decompressed (a copy
 * cut short, a full disk) is a warning, not a failure: what was read is analysed.
 */
async function* readBlocks(
  s: Extract<Source, { kind: "stream" }>,
  warnings: string[],
  stopReading: AnalyzeOptions["stopReading"],
): AsyncGenerator<Buffer> {
  let read = 0;
  const stream = s.open();
  const stop = stopReading?.(s.name) ?? null;
  const onStop = () => stream.destroy(new ReadingStopped());
  if (stop?.signal.aborted) onStop();
  stop?.signal.addEventListener("abort", onStop, { once: true });
  try {
    for await (const b of blocks(stream, STREAM_BLOCK_BYTES)) {
      read += b.length;
      yield b;
    }
  } catch (e) {
    const err = e instanceof StreamBroke ? e.reason : e;
    if (err instanceof ReadingStopped && e instanceof StreamBroke) {
      const cut = e.partialLineBytes > 0 ? `, and left out the line it was in (${e.partialLineBytes} bytes)` : "";
      warnings.push(
        `${s.name}: reading stopped at an interrupt; analysed the ${read.toLocaleString("en-US")} bytes of whole lines read before it${cut}`,
      );
      return;
    }
    if (err instanceof CtscopeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (read > 0 && e instanceof StreamBroke && (code === "Z_BUF_ERROR" || code === "Z_DATA_ERROR")) {
      const cut = e.partialLineBytes > 0 ? `, and left out the line it cut off (${e.partialLineBytes} bytes)` : "";
      const what = `analysed the ${read.toLocaleString("en-US")} bytes of whole lines before that point${cut}`;
      // Damage can be detected long after it happened (the checksum is at the end): say so.
      warnings.push(
        code === "Z_BUF_ERROR"
          ? `${s.name}: the compressed data ends early; ${what}`
          : `${s.name}: the compressed data is damaged (${(err as Error).message}); ${what}, which may hold damaged lines too`,
      );
      return;
    }
    throw new InputError(`${s.name}: ${describeErrno(err)}`, s.name);
  } finally {
    stop?.signal.removeEventListener("abort", onStop);
    stop?.release();
  }
}

async function runPooled(
  pool: ScanPool,
  sources: Source[],
  filter: CompiledFilter,
  backend: BackendChoice,
  threads: number,
  merger: Merger,
  warnings: string[],
  stop: AnalyzeOptions["stopReading"],
  progress: (bytesDone: number, bytesRead: number) => void,
): Promise<void> {
  const inflight = new Set<Promise<void>>();
  let failure: unknown = null;
  const submit = async (p: Promise<WorkerResult>, si: number, order: number, size: number, isFile: boolean) => {
    const r = await p;
    merger.add(si, order, unwrap(r));
    progress(isFile ? size : 0, size);
  };
  const track = (p: Promise<void>) => {
    const q = p.catch((e) => {
      failure ??= e;
    });
    inflight.add(q);
    q.finally(() => inflight.delete(q));
  };
  // Files are planned first: the merge sizes its table for the number of ranges.
  const plans = sources.map((s) => (s.kind === "file" ? planRanges(s.path, s.size, threads) : null));
  if (plans.every((p) => p !== null)) merger.planChunks(plans.reduce((a, p) => a + p!.length, 0));
  for (const [si, s] of sources.entries()) {
    if (failure) break;
    if (s.kind === "file") {
      const ranges = plans[si]!;
      const moreSources = si < sources.length - 1;
      ranges.forEach((r, order) => {
        // The last ranges free their worker's memory: nothing follows that could reuse it.
        const keepMemory = moreSources || order < ranges.length - threads;
        const task = { kind: "range", path: s.path, start: r.start, end: r.end, filter, backend, keepMemory } as const;
        track(submit(pool.run(task), si, order, r.end - r.start, true));
      });
    } else {
      let order = 0;
      for await (const block of readBlocks(s, warnings, stop)) {
        if (failure) break;
        // Bounded in-flight blocks keep memory flat on endless streams.
        while (inflight.size >= threads * 2) await Promise.race(inflight);
        // Read the size first: transferring the buffer detaches it (block.length becomes 0).
        const size = block.length;
        const own = ownedBuffer(block);
        const task = { kind: "bytes", bytes: block, filter, backend, keepMemory: true } as const;
        track(submit(pool.run(task, own ? [own] : []), si, order++, size, false));
      }
    }
  }
  while (inflight.size > 0) await Promise.race(inflight);
  if (failure) throw failure;
}
