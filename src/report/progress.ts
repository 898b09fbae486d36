/** Progress bar on stderr: only on a TTY, only for large inputs, erased when done. */
import type { Progress } from "../engine/analyze.js";
import { fmtBytes, fmtInt } from "./text-table.js";

/** Below this, the scan is over before a bar would help. */
const MIN_BYTES = 64 * 1024 * 1024;
const MIN_INTERVAL_MS = 100;

export async function createProgress(stream: NodeJS.WriteStream): Promise<{ update: (p: Progress) => void; done: () => void }> {
  if (!stream.isTTY) return { update: () => {}, done: () => {} };
  // Loaded only for a terminal: it is a good part of the start-up time otherwise.
  const { createLogUpdate } = await import("log-update");
  const log = createLogUpdate(stream);
  let last = 0;
  let shown = false;
  return {
    update(p) {
      if (p.bytesTotal !== null && p.bytesTotal < MIN_BYTES) return;
      const now = performance.now();
      if (now - last < MIN_INTERVAL_MS) return;
      last = now;
      shown = true;
      const secs = p.elapsedMs / 1000;
      const rate = secs > 0 ? p.entries / secs : 0;
      let bar = "";
      let eta = "";
      if (p.bytesTotal) {
        const f = Math.min(1, p.bytesDone / p.bytesTotal);
        const w = 30;
        bar = `[${"#".repeat(Math.round(f * w))}${"-".repeat(w - Math.round(f * w))}] ${(f * 100).toFixed(0)}% `;
        const left = f > 0 ? secs / f - secs : 0;
        eta = f > 0 && f < 1 ? `, ETA ${left.toFixed(0)} s` : "";
      }
      const total = p.bytesTotal ? ` / ${fmtBytes(p.bytesTotal)}` : "";
      log(`${bar}${fmtBytes(p.bytesDone)}${total}, ${fmtInt(rate)} entries/s${eta}`);
    },
    done() {
      if (shown) log.clear();
      log.done();
    },
  };
}
