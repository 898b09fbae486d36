/** Worker thread for full scans: a big table's snapshot and diagnosis never block the view. */
import { parentPort } from "node:worker_threads";
import type { HostFacts } from "../diagnose/types.js";
import { CtscopeError } from "../errors.js";
import { runScan, type ScanRequest, type ScanResult } from "./scan.js";

export interface ScanMessage {
  id: number;
  req: ScanRequest;
  facts: HostFacts | null;
}

export type ScanReply =
  | { id: number; ok: true; result: ScanResult }
  | { id: number; ok: false; name: string; message: string; path?: string; stack?: string };

parentPort?.on("message", async (m: ScanMessage) => {
  let reply: ScanReply;
  try {
    reply = { id: m.id, ok: true, result: await runScan(m.req, m.facts) };
  } catch (err) {
    const e = err as Error & { path?: string };
    reply = {
      id: m.id,
      ok: false,
      name: err instanceof CtscopeError ? e.name : "Error",
      message: e?.message ?? String(err),
      path: e?.path,
      stack: e?.stack,
    };
  }
  parentPort?.postMessage(reply);
});
