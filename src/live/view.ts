/**
 * The live screen as lines: a pure function of the latest document, the previous scan's counts,
 * the history and the key state, cut to the terminal's columns and rows. Colours are applied to
 * segments after cutting, so a cut never splits an escape sequence.
 */
import { createColors } from "picocolors";
import type { StateRow, TopRow } from "../engine/types.js";
import { escapeControl } from "../report/address.js";
import { fmtCount, fmtInt, fmtPct } from "../report/text-table.js";
import type { ViewDoc } from "./document.js";

export type SortKey = "count" | "change" | "unreplied";
export const SORT_KEYS: readonly SortKey[] = ["count", "change", "unreplied"];

/** The tables of the view: top remotes, services, source prefixes, and the state breakdown. */
export const VIEW_TABLES = [
  { id: "remote", title: "Top remotes", column: "REMOTE" },
  { id: "service", title: "Top services", column: "SERVICE" },
  { id: "src_prefix", title: "Top source prefixes", column: "PREFIX" },
  { id: "state", title: "States", column: "STATE" },
] as const;
export type ViewTableId = (typeof VIEW_TABLES)[number]["id"];

/** Row counts of one full scan, per table, to show the change at the next one. */
export type ScanCounts = Map<ViewTableId, Map<string, number>>;

export interface ViewState {
  doc: ViewDoc | null;
  /** Counts of the scan before the document's scan; null until there are two scans. */
  previous: ScanCounts | null;
  fillHistory: readonly number[];
  dropHistory: readonly number[];
  sort: SortKey;
  paused: boolean;
  /** A line shown instead of the scan line (waiting for the first scan, a failure). */
  status?: string;
}

export interface RenderOptions {
  cols: number;
  rows: number;
  color: boolean;
  /** Show the key help (the interactive view). */
  keys: boolean;
  /** Show the anomalies and the first recommendation (default true; --once text prints the full diagnosis below). */
  diagnosis?: boolean;
}

type Style = (s: string) => string;
interface Seg {
  text: string;
  style?: Style;
}
type Line = Seg[];

const SPARK = "▁▂▃▄▅▆▇█";

/** Segments cut to `cols` visible characters, then styled. */
export function fitLine(line: Line, cols: number): string {
  let left = cols;
  let out = "";
  for (const s of line) {
    if (left <= 0) break;
    let t = s.text;
    if (t.length > left) t = left > 1 ? `${t.slice(0, left - 1)}…` : t.slice(0, left);
    left -= t.length;
    out += s.style ? s.style(t) : t;
  }
  return out;
}

export function sparkline(values: readonly number[], width: number, max?: number): string {
  if (width <= 0) return "";
  const v = values.slice(-width);
  const top = max ?? Math.max(0, ...v);
  let s = "";
  for (const x of v) {
    const i = top > 0 ? Math.min(SPARK.length - 1, Math.max(0, Math.round((x / top) * (SPARK.length - 1)))) : 0;
    s += SPARK[i];
  }
  return s;
}

export function duration(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return "-";
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, "0")}h`;
}

function rate(x: number | null | undefined): string {
  if (x === null || x === undefined) return "-";
  if (Math.abs(x) >= 100) return fmtInt(x);
  return x === Math.round(x) ? String(x) : x.toFixed(1);
}

function signed(n: number): string {
  return n > 0 ? `+${fmtInt(n)}` : n < 0 ? `-${fmtInt(-n)}` : "0";
}

interface ViewRow {
  key: string;
  count: number;
  unreplied: number;
  /** null: no previous scan; "new": not among the previous scan's rows. */
  delta: number | "new" | null;
}

export function stateKey(r: Pick<StateRow, "proto" | "state">): string {
  return `${r.proto} ${r.state ?? "-"}`;
}

/** The rows of one table in a document, as key → count. */
export function tableRows(doc: ViewDoc, id: ViewTableId): Array<{ key: string; count: number; unreplied: number }> {
  if (id === "state") return (doc.by_state ?? []).map((r) => ({ key: stateKey(r), count: r.count, unreplied: r.unreplied ?? 0 }));
  return ((doc.top?.[id] ?? []) as TopRow[]).map((r) => ({ key: r.key, count: r.count, unreplied: r.unreplied ?? 0 }));
}

export function scanCounts(doc: ViewDoc): ScanCounts {
  const m: ScanCounts = new Map();
  for (const t of VIEW_TABLES) m.set(t.id, new Map(tableRows(doc, t.id).map((r) => [r.key, r.count])));
  return m;
}

function sortedRows(doc: ViewDoc, id: ViewTableId, previous: ScanCounts | null, sort: SortKey): ViewRow[] {
  const prev = previous?.get(id) ?? null;
  const rows: ViewRow[] = tableRows(doc, id).map((r) => {
    const before = prev?.get(r.key);
    return { ...r, delta: prev === null ? null : before === undefined ? "new" : r.count - before };
  });
  const change = (r: ViewRow): number => (r.delta === "new" ? r.count : (r.delta ?? 0));
  if (sort === "change") rows.sort((a, b) => change(b) - change(a) || b.count - a.count);
  else if (sort === "unreplied") rows.sort((a, b) => b.unreplied - a.unreplied || b.count - a.count);
  else rows.sort((a, b) => b.count - a.count);
  return rows;
}

const pad = (s: string, w: number, right = false): string => {
  if (s.length > w) return w > 1 ? `${s.slice(0, w - 1)}…` : s.slice(0, w);
  return right ? s.padStart(w) : s.padEnd(w);
};

function tableLines(
  title: string,
  column: string,
  rows: ViewRow[],
  distinct: number | undefined,
  width: number,
  height: number,
  c: ReturnType<typeof createColors>,
): Line[] {
  if (height <= 0) return [];
  const wCount = 9;
  const wDelta = 8;
  const wUnr = width >= 52 ? 9 : 0;
  const wKey = Math.max(8, width - wCount - wDelta - wUnr - 3);
  const out: Line[] = [];
  const more = distinct !== undefined && distinct > rows.length ? ` (${fmtInt(distinct)})` : "";
  out.push([{ text: pad(`${title}${more}`, width), style: c.bold }]);
  if (height === 1) return out;
  const head = `${pad(column, wKey)} ${pad("COUNT", wCount, true)} ${pad("CHANGE", wDelta, true)}${wUnr ? ` ${pad("UNREPLIED", wUnr, true)}` : ""}`;
  out.push([{ text: pad(head, width), style: c.dim }]);
  if (rows.length === 0) {
    if (height > 2) out.push([{ text: pad("  (none)", width), style: c.dim }]);
    return out;
  }
  for (const r of rows.slice(0, height - 2)) {
    const d = r.delta === null ? "" : r.delta === "new" ? "new" : r.delta === 0 ? "=" : signed(r.delta);
    const dStyle = r.delta === "new" ? c.yellow : typeof r.delta === "number" && r.delta > 0 ? c.red : r.delta ? c.green : undefined;
    const line: Line = [
      { text: `${pad(escapeControl(r.key), wKey)} ` },
      { text: pad(fmtInt(r.count), wCount, true) },
      { text: ` ${pad(d, wDelta, true)}`, style: dStyle },
    ];
    if (wUnr) line.push({ text: ` ${pad(r.unreplied > 0 ? fmtInt(r.unreplied) : "", wUnr, true)}` });
    out.push(line);
  }
  return out;
}

function gaugeBar(fill: number, width: number): string {
  const f = Math.max(0, Math.min(1, fill));
  const n = Math.round(f * width);
  return "█".repeat(n) + "░".repeat(width - n);
}

const SEVERITY: Record<string, string> = { critical: "CRIT", warning: "WARN", info: "INFO" };

/** Render the whole screen: at most opts.rows lines of at most opts.cols visible characters. */
export function renderView(state: ViewState, opts: RenderOptions): string[] {
  const c = createColors(opts.color);
  const cols = Math.max(20, opts.cols);
  const rows = Math.max(1, opts.rows);
  const doc = state.doc;
  const live = doc?.live;
  const lines: Line[] = [];

  // Header.
  const head: Line = [{ text: " ctscope live ", style: (s) => c.inverse(c.bold(s)) }];
  if (live?.source_label) head.push({ text: ` ${live.source_label}` });
  if (live?.interval_s !== undefined) head.push({ text: ` · every ${live.interval_s}s` });
  if (live?.time) head.push({ text: ` · ${live.time.slice(11, 19)}`, style: c.dim });
  head.push({ text: ` · sort: ${state.sort}` });
  if (state.paused) head.push({ text: " PAUSED ", style: (s) => c.inverse(c.yellow(s)) });
  if (opts.keys) head.push({ text: "  q quit · p pause · s sort", style: c.dim });
  lines.push(head);

  // Gauge.
  const count = live?.count ?? null;
  const max = live?.max ?? null;
  const fill = live?.fill ?? null;
  if (fill !== null && count !== null && max !== null) {
    const barW = Math.max(10, Math.min(40, cols - 70));
    const full = count >= max;
    const barStyle = fill >= 0.9 ? c.red : fill >= 0.75 ? c.yellow : c.green;
    const gauge: Line = [
      { text: "Table    " },
      { text: `[${gaugeBar(fill, barW)}]`, style: barStyle },
      { text: ` ${fmtPct(fill)}`, style: c.bold },
      { text: `  ${fmtInt(count)} / ${fmtInt(max)}` },
    ];
    if (live?.effective_fill !== null && live?.effective_fill !== undefined) {
      gauge.push({ text: `  effective ${fmtPct(live.effective_fill)} (without UNREPLIED)` });
    }
    if (full) gauge.push({ text: "  FULL", style: (s) => c.bold(c.red(s)) });
    lines.push(gauge);
  } else {
    lines.push([{ text: "Table    count or max unknown", style: c.dim }]);
  }

  // Rates.
  const growth = live?.count_rate ?? null;
  const ttf = live?.time_to_full_s ?? null;
  const drops = live?.drop_rate ?? null;
  const rateLine: Line = [
    { text: "Growth   " },
    {
      text: growth === null ? "-" : `${growth > 0 ? "+" : ""}${rate(growth)}/s`,
      style: growth !== null && growth > 0 ? c.yellow : undefined,
    },
    { text: `   full in ${ttf === 0 ? "now" : duration(ttf)}`, style: ttf !== null && ttf < 300 ? c.red : undefined },
    { text: "   drops " },
    { text: `${rate(drops)}/s`, style: drops !== null && drops > 0 ? (s) => c.bold(c.red(s)) : undefined },
    { text: `   early_drop ${rate(live?.early_drop_rate)}/s   insert_failed ${rate(live?.insert_failed_rate)}/s` },
  ];
  const kmsg = live?.kernel_table_full;
  if (kmsg !== null && kmsg !== undefined) {
    rateLine.push({ text: `   table-full msgs +${fmtInt(kmsg)}`, style: kmsg > 0 ? c.red : undefined });
  }
  lines.push(rateLine);

  // History (none yet in a one-shot run).
  const half = Math.max(8, Math.floor((cols - 24) / 2));
  if (state.fillHistory.length > 0 || state.dropHistory.length > 0) {
    lines.push([
      { text: "Fill     " },
      { text: sparkline(state.fillHistory, half, 1).padEnd(half), style: c.cyan },
      { text: "  Drops/s " },
      { text: sparkline(state.dropHistory, half), style: c.red },
    ]);
  }

  // Scan.
  const scan = live?.scan ?? null;
  if (state.status) lines.push([{ text: `Scan     ${state.status}`, style: c.yellow }]);
  else if (scan) {
    const filtered = live?.filtered ? " matching the filters" : "";
    lines.push([
      {
        text: `Scan     #${scan.seq}: ${fmtCount(scan.entries, "entry", "entries")}${filtered} in ${(scan.elapsed_ms / 1000).toFixed(2)} s, every ${duration(scan.period_s)}${scan.time ? ` (at ${scan.time.slice(11, 19)})` : ""}`,
        style: c.dim,
      },
    ]);
  } else lines.push([{ text: "Scan     waiting for the first full scan…", style: c.dim }]);

  // Anomalies and the one recommendation.
  if (doc && opts.diagnosis !== false) {
    lines.push([]);
    const anomalies = doc.anomalies ?? [];
    if (doc.diagnosis_error) lines.push([{ text: `Diagnosis unavailable: ${doc.diagnosis_error}`, style: c.yellow }]);
    else if (scan || doc.entries !== undefined) {
      if (anomalies.length === 0) lines.push([{ text: "No anomalies", style: c.green }]);
      else {
        lines.push([{ text: `Anomalies (${anomalies.length})`, style: c.bold }]);
        for (const a of anomalies.slice(0, 3)) {
          const sev = SEVERITY[a.severity ?? ""] ?? "    ";
          const st = a.severity === "critical" ? c.red : a.severity === "warning" ? c.yellow : c.dim;
          lines.push([{ text: `  ${sev} `, style: (s) => c.bold(st(s)) }, { text: a.title ?? a.id ?? "" }]);
        }
        if (anomalies.length > 3) lines.push([{ text: `  … and ${anomalies.length - 3} more (--once for the full report)`, style: c.dim }]);
      }
      const rec = (doc.recommendations ?? [])[0];
      if (rec) {
        lines.push([{ text: "Do       ", style: c.bold }, { text: rec.explanation ?? "" }]);
        for (const cmd of (rec.commands ?? []).slice(0, 2)) lines.push([{ text: `  $ ${cmd}`, style: c.cyan }]);
      }
    }
  }

  // Tables fill what is left: as many as fit with at least one row each, in the order of VIEW_TABLES.
  const avail = rows - lines.length - 1;
  if (doc && avail >= 3 && (doc.top || doc.by_state)) {
    lines.push([]);
    const two = cols >= 110;
    const colW = two ? Math.floor((cols - 3) / 2) : cols;
    const blocks = VIEW_TABLES.map((t) => ({
      t,
      rows: sortedRows(doc, t.id, state.previous, state.sort),
      distinct: t.id === "state" ? undefined : doc.distinct?.[t.id],
    }));
    const block = (i: number, h: number) => {
      const b = blocks[i]!;
      return tableLines(b.t.title, b.t.column, b.rows, b.distinct, colW, h, c);
    };
    if (two) {
      // Remotes | services above, prefixes | states below (the lower pair only when both get a row).
      const both = avail >= 7;
      const hTop = both ? Math.ceil((avail - 1) / 2) : avail;
      const pairs: Array<[number, number, number]> = [[0, 1, hTop]];
      if (both) pairs.push([2, 3, avail - hTop - 1]);
      pairs.forEach(([a, b, h], i) => {
        if (i > 0) lines.push([]);
        const la = block(a, h);
        const lb = block(b, h);
        for (let k = 0; k < Math.max(la.length, lb.length); k++) {
          const l = la[k] ?? [{ text: "" }];
          const width = l.reduce((w, seg) => w + seg.text.length, 0);
          lines.push([...l, { text: " ".repeat(Math.max(0, colW - width)) }, { text: " │ ", style: c.dim }, ...(lb[k] ?? [])]);
        }
      });
    } else {
      let k = blocks.length;
      while (k > 1 && Math.floor((avail - (k - 1)) / k) < 3) k--;
      const h = Math.floor((avail - (k - 1)) / k);
      for (let i = 0; i < k; i++) {
        if (i > 0) lines.push([]);
        lines.push(...block(i, h));
      }
    }
  }
  return lines.slice(0, rows).map((l) => fitLine(l, cols));
}
