/** Machine-readable renderers: JSON, NDJSON and CSV. Hand-written: the formats are simple. */
import { DIMENSIONS, type Snapshot, type TopRow } from "../engine/types.js";

/** Extra top-level keys (health, anomalies, recommendations) merged into the JSON document. */
export type JsonExtras = Record<string, unknown>;

/** The JSON document: the snapshot without the internal class list, plus extras. */
export function toJsonObject(s: Snapshot, extras: JsonExtras = {}): Record<string, unknown> {
  // `classes` is a non-enumerable getter on snapshots: the spread leaves it out without building it.
  return { ...s, ...extras };
}

export function renderJson(s: Snapshot, extras: JsonExtras = {}): string {
  return `${JSON.stringify(toJsonObject(s, extras), null, 2)}\n`;
}

interface FlatRow {
  dimension: string;
  rank: number;
  row: TopRow;
}

function flatRows(s: Snapshot): FlatRow[] {
  const out: FlatRow[] = [];
  for (const dim of DIMENSIONS) {
    s.top[dim].forEach((row, i) => {
      out.push({ dimension: dim, rank: i + 1, row });
    });
  }
  return out;
}

/** One JSON object per top-table row, with the dimension name. */
export function renderNdjson(s: Snapshot): string {
  return flatRows(s)
    .map(({ dimension, rank, row }) => `${JSON.stringify({ dimension, rank, ...row })}\n`)
    .join("");
}

const CSV_COLUMNS = [
  "dimension",
  "rank",
  "key",
  "count",
  "share",
  "unreplied",
  "packets",
  "bytes",
  "proto",
  "addr",
  "port",
  "state",
  "remote",
] as const;

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return "";
  const s = typeof v === "number" ? String(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The top tables as CSV rows (RFC 4180), one header line. */
export function renderCsv(s: Snapshot): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const { dimension, rank, row } of flatRows(s)) {
    const rec: Record<string, unknown> = { dimension, rank, ...row };
    lines.push(CSV_COLUMNS.map((c) => csvCell(rec[c])).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}
