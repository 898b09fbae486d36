/**
 * Rates from successive host readings: count growth, drops, early drops and failed inserts per
 * second (deltas of the per-CPU counters), the time until the table is full, and the short history
 * the sparklines draw.
 */
import type { HostReading } from "./host.js";

export interface Rates {
  /** Entries per second over the last GROWTH_WINDOW_MS (negative when the table shrinks). */
  countRate: number | null;
  /** Seconds until count reaches max at that rate; 0 when full; null when not growing or unknown. */
  timeToFull: number | null;
  drop: number | null;
  earlyDrop: number | null;
  insertFailed: number | null;
}

export const GROWTH_WINDOW_MS = 5000;
export const HISTORY = 240;

/** Per-second rate of one counter between two readings; null when unknown or when it went backwards (reset, wrap). */
export function counterRate(prev: HostReading | null, cur: HostReading, name: string): number | null {
  if (!prev?.stats || !cur.stats) return null;
  const a = prev.stats.totals[name];
  const b = cur.stats.totals[name];
  const dt = (cur.at - prev.at) / 1000;
  if (a === undefined || b === undefined || dt <= 0 || b < a) return null;
  return (b - a) / dt;
}

export function timeToFull(count: number | null, max: number | null, rate: number | null): number | null {
  if (count === null || max === null || max <= 0) return null;
  if (count >= max) return 0;
  if (rate === null || rate <= 0) return null;
  return (max - count) / rate;
}

export class Meter {
  private prev: HostReading | null = null;
  private counts: Array<{ at: number; count: number }> = [];
  readonly fillHistory: number[] = [];
  readonly dropHistory: number[] = [];
  last: Rates = { countRate: null, timeToFull: null, drop: null, earlyDrop: null, insertFailed: null };

  update(r: HostReading): Rates {
    if (r.count !== null) {
      this.counts.push({ at: r.at, count: r.count });
      while (this.counts.length > 2 && r.at - this.counts[1]!.at >= GROWTH_WINDOW_MS) this.counts.shift();
    }
    const first = this.counts[0];
    const lastC = this.counts[this.counts.length - 1];
    const countRate = first && lastC && lastC.at > first.at ? ((lastC.count - first.count) * 1000) / (lastC.at - first.at) : null;
    const rates: Rates = {
      countRate,
      timeToFull: timeToFull(r.count, r.max, countRate),
      drop: counterRate(this.prev, r, "drop"),
      earlyDrop: counterRate(this.prev, r, "early_drop"),
      insertFailed: counterRate(this.prev, r, "insert_failed"),
    };
    this.prev = r;
    this.last = rates;
    return rates;
  }

  /** Record one sample for the sparklines. */
  record(fill: number | null, dropRate: number | null): void {
    push(this.fillHistory, fill ?? 0);
    push(this.dropHistory, dropRate ?? 0);
  }
}

function push(a: number[], v: number): void {
  a.push(v);
  if (a.length > HISTORY) a.splice(0, a.length - HISTORY);
}
