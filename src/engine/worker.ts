/** Piscina worker: runs the chosen backend on one range or block and returns its aggregate. */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { CtscopeError } from "../errors.js";
import { getBackend, nativeAddon } from "./backend.js";
import type { ChunkAggregate, ScanTask } from "./contract.js";
import { ownedBuffer } from "./transfer.js";

/** Errors cross the thread boundary as data so the main thread can rethrow the right class. */
export type WorkerResult = { ok: true; result: ChunkAggregate } | { ok: false; name: string; message: string; path?: string };

/** Piscina's names for a result's transfer list and its value (registered symbols). */
const TRANSFERABLE = Symbol.for("Piscina.transferable");
const VALUE = Symbol.for("Piscina.valueOf");

/**
 * Piscina.move without loading Piscina's pool here: the worker runtime Piscina started this
 * thread with already loaded the module that marks movable results, and the pool's own modules
 * add a third to a worker's start-up. Falls back to the whole package if that module moved.
 */
function movableMarker(): (value: object) => object {
  const require = createRequire(import.meta.url);
  try {
    const common = require(join(dirname(require.resolve("piscina")), "common.js")) as { markMovable?: (v: object) => void };
    const mark = common.markMovable;
    if (typeof mark === "function")
      return (value: object) => {
        mark(value);
        return value;
      };
  } catch {
    // The package's layout changed: use its public API.
  }
  const { Piscina } = require("piscina") as typeof import("piscina");
  return (value: object) => Piscina.move(value as never) as object;
}
const markMovable = movableMarker();

/**
 * A result whose large arrays move to the main thread instead of being copied: a copy would
 * stay in this worker until its next garbage collection, on top of the main thread's.
 */
class MovedResult {
  constructor(private readonly r: WorkerResult & { ok: true }) {}
  get [TRANSFERABLE](): ArrayBuffer[] {
    const { keys, values } = this.r.result;
    return [ownedBuffer(keys), ownedBuffer(values)].filter((b) => b !== null);
  }
  get [VALUE](): WorkerResult {
    return this.r;
  }
}

/**
 * A worker that kept a scan's memory and gets no new task this soon frees it: which worker runs
 * which range is up to the pool, so the last range of a worker cannot always be told in advance.
 */
const IDLE_DROP_MS = 100;
let idleDrop: ReturnType<typeof setTimeout> | null = null;

export default function scan(task: ScanTask): WorkerResult {
  if (idleDrop !== null) {
    clearTimeout(idleDrop);
    idleDrop = null;
  }
  try {
    const backend = getBackend(task.backend);
    const addon = backend.name === "native" ? nativeAddon() : null;
    // When more tasks follow, the next scan here starts from the memory this one's table leaves.
    addon?.keepScanMemory(task.keepMemory === true);
    const result =
      task.kind === "range"
        ? backend.scanFile(task.path, task.start, task.end, task.filter)
        : backend.scanBuffer(task.bytes, 0, task.bytes.length, task.filter);
    // Counted from the end of the scan: the pool hands a waiting range over as soon as this returns.
    if (addon && task.keepMemory) idleDrop = setTimeout(() => addon.dropScanMemory(), IDLE_DROP_MS);
    // The main thread receives the WorkerResult itself (valueSymbol).
    return markMovable(new MovedResult({ ok: true, result })) as unknown as WorkerResult;
  } catch (err) {
    if (err instanceof CtscopeError) {
      return { ok: false, name: err.name, message: err.message, path: (err as { path?: string }).path };
    }
    throw err;
  }
}
