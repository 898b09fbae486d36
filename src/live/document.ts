/**
 * The live document: the offline JSON document of the latest full scan (snapshot, health,
 * anomalies, recommendations) plus a `live` object with this tick's readings. --once --json
 * prints one; --json prints one per interval (NDJSON); --replay reads them back into the view.
 */
import type { StateRow, TopRow } from "../engine/types.js";
import type { StatsSource } from "./host.js";
import type { Rates } from "./meter.js";
import type { LiveSourceName } from "./options.js";

export interface LiveScanInfo {
  /** Full scans so far; the view compares documents of different scans. */
  seq: number;
  time: string;
  elapsed_ms: number;
  cpu_ms: number;
  /** Seconds until the next full scan may start (stretched on big tables). */
  period_s: number;
  entries: number;
}

export interface LiveInfo {
  /** Tick number, from 1. */
  seq: number;
  time: string;
  /** Seconds since the session started. */
  uptime_s: number;
  source: LiveSourceName;
  source_label: string;
  interval_s: number;
  /** nf_conntrack_count (this network namespace) and nf_conntrack_max (global). */
  count: number | null;
  max: number | null;
  fill: number | null;
  /** Fill without the UNREPLIED entries (the share seen in the last scan applied to count). */
  effective_fill: number | null;
  count_rate: number | null;
  time_to_full_s: number | null;
  drop_rate: number | null;
  early_drop_rate: number | null;
  insert_failed_rate: number | null;
  /** Counters since boot (per-CPU sums). */
  drop_total: number | null;
  early_drop_total: number | null;
  insert_failed_total: number | null;
  stats_source: StatsSource | null;
  /** "table full" kernel messages since the session started: any namespace, and this one. */
  kernel_table_full: number | null;
  kernel_table_full_here: number | null;
  /** Filters were given: the tables cover only matching entries, the gauge the whole table. */
  filtered: boolean;
  scan: LiveScanInfo | null;
  notes: string[];
}

/** What the view reads from a document; every field may be missing in a hand-made replay file. */
export interface ViewDoc {
  entries?: number;
  unreplied?: number;
  top?: Partial<Record<string, TopRow[]>>;
  distinct?: Partial<Record<string, number>>;
  by_state?: StateRow[];
  anomalies?: Array<{ id?: string; severity?: string; title?: string; subject?: string }>;
  recommendations?: Array<{ id?: string; anomaly?: string; commands?: string[]; explanation?: string }>;
  diagnosis_error?: string;
  live?: Partial<LiveInfo>;
}

export type LiveDocument = Record<string, unknown> & { live: LiveInfo };

export function effectiveFill(count: number | null, max: number | null, entries: number, unreplied: number): number | null {
  if (count === null || max === null || max <= 0) return null;
  const share = entries > 0 ? unreplied / entries : 0;
  return (count * (1 - share)) / max;
}

export interface TickInput {
  seq: number;
  startedAt: number;
  source: LiveSourceName;
  sourceLabel: string;
  intervalS: number;
  count: number | null;
  max: number | null;
  totals: Record<string, number> | null;
  statsSource: StatsSource | null;
  rates: Rates;
  kernel: { all: number; here: number } | null;
  filtered: boolean;
  scan: { info: LiveScanInfo; entries: number; unreplied: number } | null;
  notes: string[];
}

export function liveInfo(t: TickInput): LiveInfo {
  const fill = t.count !== null && t.max !== null && t.max > 0 ? t.count / t.max : null;
  return {
    seq: t.seq,
    time: new Date().toISOString(),
    uptime_s: Math.round((performance.now() - t.startedAt) / 100) / 10,
    source: t.source,
    source_label: t.sourceLabel,
    interval_s: t.intervalS,
    count: t.count,
    max: t.max,
    fill,
    effective_fill: t.scan ? effectiveFill(t.count, t.max, t.scan.entries, t.scan.unreplied) : null,
    count_rate: t.rates.countRate,
    time_to_full_s: t.rates.timeToFull,
    drop_rate: t.rates.drop,
    early_drop_rate: t.rates.earlyDrop,
    insert_failed_rate: t.rates.insertFailed,
    drop_total: t.totals?.drop ?? null,
    early_drop_total: t.totals?.early_drop ?? null,
    insert_failed_total: t.totals?.insert_failed ?? null,
    stats_source: t.statsSource,
    kernel_table_full: t.kernel ? t.kernel.all : null,
    kernel_table_full_here: t.kernel ? t.kernel.here : null,
    filtered: t.filtered,
    scan: t.scan?.info ?? null,
    notes: t.notes,
  };
}

/** The scan's document with `top` cut to n rows per table, plus the live object. */
export function liveDocument(scanDoc: Record<string, unknown> | null, live: LiveInfo, top?: number): LiveDocument {
  const base: Record<string, unknown> = scanDoc ? { ...scanDoc } : {};
  if (top !== undefined && base.top && typeof base.top === "object") {
    const cut: Record<string, unknown> = {};
    for (const [k, rows] of Object.entries(base.top as Record<string, unknown>)) cut[k] = Array.isArray(rows) ? rows.slice(0, top) : rows;
    base.top = cut;
  }
  return { ...base, live };
}
