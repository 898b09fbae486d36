/** Options of `ctscope analyze --live`, validated once so that every mode fails the same way. */
import type { Thresholds } from "../diagnose/index.js";
import type { BackendChoice } from "../engine/contract.js";
import type { FilterOptions } from "../engine/filter.js";
import { UsageError } from "../errors.js";

export type LiveSourceName = "netlink" | "proc" | "conntrack";
export type SourceChoice = "auto" | LiveSourceName;
export const SOURCE_CHOICES: readonly SourceChoice[] = ["auto", "netlink", "proc", "conntrack"];

export interface LiveOptions extends FilterOptions {
  /** Seconds between refreshes (default 1). Full scans stretch their own period on big tables. */
  interval?: number;
  /** One snapshot, then exit. */
  once?: boolean;
  /** With once: one JSON document; without: one NDJSON document per interval on stdout. */
  json?: boolean;
  /** Rows per top table (default 10). */
  top?: number;
  /** Where the table comes from (default auto: netlink, else /proc, else conntrack -L). */
  source?: SourceChoice;
  /** This host's CIDRs; default: the addresses of its interfaces. */
  local?: string[];
  /** Worker threads for the text sources (/proc, conntrack) of a --once scan. */
  threads?: number;
  backend?: BackendChoice;
  /** Diagnosis thresholds, as offline (--fill-warning and the others). */
  thresholds?: Partial<Thresholds>;
  /**
   * Hidden, for tests and demos: show these NDJSON documents (as written by --live --json) one per
   * interval instead of reading the kernel. Also taken from CTSCOPE_LIVE_REPLAY.
   */
  replay?: string;
  /** Overrides for tests. */
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
}

export interface ValidLiveOptions extends LiveOptions {
  interval: number;
  top: number;
  source: SourceChoice;
  threads: number;
}

export const DEFAULT_INTERVAL = 1;
export const MIN_INTERVAL = 0.1;
export const MAX_INTERVAL = 3600;

export function validateLiveOptions(opts: LiveOptions): ValidLiveOptions {
  const interval = opts.interval ?? DEFAULT_INTERVAL;
  if (!Number.isFinite(interval) || interval < MIN_INTERVAL || interval > MAX_INTERVAL) {
    throw new UsageError(`--interval must be a number of seconds from ${MIN_INTERVAL} to ${MAX_INTERVAL} (got ${opts.interval})`);
  }
  const top = opts.top ?? 10;
  if (!Number.isInteger(top) || top < 1 || top > 100000) throw new UsageError("--top must be a whole number from 1 to 100000");
  const source = opts.source ?? "auto";
  if (!SOURCE_CHOICES.includes(source)) throw new UsageError(`--source must be one of ${SOURCE_CHOICES.join(", ")} (got "${source}")`);
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new UsageError("--threads must be a whole number from 1 to 256");
  const replay = opts.replay ?? (process.env.CTSCOPE_LIVE_REPLAY || undefined);
  return { ...opts, interval, top, source, threads, replay };
}

/** Parse `--interval S` (seconds, decimals allowed). */
export function parseInterval(v: string): number {
  if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`--interval must be a number of seconds (got "${v}")`);
  const n = Number(v);
  if (n < MIN_INTERVAL || n > MAX_INTERVAL)
    throw new UsageError(`--interval must be from ${MIN_INTERVAL} to ${MAX_INTERVAL} seconds (got ${v})`);
  return n;
}
