/** Piscina worker: runs the chosen backend on one range or block and returns its aggregate. */
import { CtscopeError } from "../errors.js";
import { getBackend } from "./backend.js";
import type { ChunkAggregate, ScanTask } from "./contract.js";

/** Errors cross the thread boundary as data so the main thread can rethrow the right class. */
export type WorkerResult = { ok: true; result: ChunkAggregate } | { ok: false; name: string; message: string; path?: string };

export default function scan(task: ScanTask): WorkerResult {
  try {
    const backend = getBackend(task.backend);
    const result =
      task.kind === "range"
        ? backend.scanFile(task.path, task.start, task.end, task.filter)
        : backend.scanBuffer(task.bytes, 0, task.bytes.length, task.filter);
    return { ok: true, result };
  } catch (err) {
    if (err instanceof CtscopeError) {
      return { ok: false, name: err.name, message: err.message, path: (err as { path?: string }).path };
    }
    throw err;
  }
}
