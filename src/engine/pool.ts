/** The Piscina pool that runs backend scans. Workers load compiled JS; under tsx, the TS source. */
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import type { ScanTask } from "./contract.js";
import type { WorkerResult } from "./worker.js";
import { workerExecArgv } from "./worker-argv.js";

export interface ScanPool {
  run(task: ScanTask, transfer?: ArrayBuffer[]): Promise<WorkerResult>;
  destroy(): Promise<void>;
}

export function createScanPool(threads: number): ScanPool {
  const fromSource = import.meta.url.endsWith(".ts");
  // Compiled: a CommonJS entry that imports the ES module worker (see worker-entry.cts).
  const filename = fileURLToPath(new URL(fromSource ? "./worker.ts" : "./worker-entry.cjs", import.meta.url));
  const pool = new Piscina({
    filename,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 1000,
    execArgv: workerExecArgv(import.meta.url),
  });
  return {
    run: (task, transfer) => pool.run(task, transfer ? { transferList: transfer } : {}) as Promise<WorkerResult>,
    destroy: () => pool.destroy(),
  };
}
