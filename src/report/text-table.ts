/** Aligned plain-text tables and number formatting for the human report. */

export type Align = "left" | "right";

export interface Column {
  title: string;
  align?: Align;
}

/** Visible width (ANSI colour codes excluded). */
export function visibleWidth(s: string): number {
  return s.replace(/\x1b\[[0-9;]*m/g, "").length;
}

function pad(s: string, width: number, align: Align): string {
  const gap = width - visibleWidth(s);
  if (gap <= 0) return s;
  return align === "right" ? " ".repeat(gap) + s : s + " ".repeat(gap);
}

/** Render rows under a header; a cell wider than maxWidth is cut with an ellipsis. */
export function renderTable(
  columns: Column[],
  rows: string[][],
  opts: { indent?: string; header?: (s: string) => string; maxCell?: number } = {},
): string {
  const indent = opts.indent ?? "  ";
  const maxCell = opts.maxCell ?? 60;
  const cut = (s: string) => (visibleWidth(s) > maxCell ? `${s.slice(0, maxCell - 1)}…` : s);
  const cells = rows.map((r) => r.map(cut));
  const widths = columns.map((c, i) => Math.max(visibleWidth(c.title), ...cells.map((r) => visibleWidth(r[i] ?? ""))));
  const line = (r: string[]) =>
    indent +
    r
      .map((s, i) => pad(s, widths[i]!, columns[i]!.align ?? "left"))
      .join("  ")
      .trimEnd();
  const head = line(columns.map((c) => c.title));
  return [opts.header ? opts.header(head) : head, ...cells.map(line)].join("\n");
}

/**
 * An integer with comma thousands separators (en-US style). By hand: the first toLocaleString call
 * loads ICU locale data, which costs a one-shot run tens of milliseconds.
 */
export function fmtInt(n: number): string {
  const r = Math.round(n);
  if (!Number.isFinite(r)) return String(r);
  const digits = String(Math.abs(r));
  if (digits.length <= 3 || digits.includes("e")) return r < 0 ? `-${digits}` : digits;
  let out = digits.slice(0, digits.length % 3 || 3);
  for (let i = out.length; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return r < 0 ? `-${out}` : out;
}

/** A count and its noun: "1 entry", "2 entries" (plural defaults to singular + "s"). */
export function fmtCount(n: number, singular: string, plural = `${singular}s`): string {
  return `${fmtInt(n)} ${n === 1 ? singular : plural}`;
}

export function fmtPct(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)}%`;
}

const UNITS = ["B", "kB", "MB", "GB", "TB"];
export function fmtBytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[i]}`;
}

export function fmtSeconds(s: number): string {
  if (s >= 86400 && s % 86400 === 0) return `${s / 86400}d`;
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}
