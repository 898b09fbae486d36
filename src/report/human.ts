/** Where a snapshot becomes the human report (the default output of `ctscope analyze`). */
import { createColors } from "picocolors";
import type { Dimension, HistBucket, Snapshot, TopRow } from "../engine/types.js";
import { escapeControl, formatEndpoint } from "./address.js";
import { fmtBytes, fmtCount, fmtInt, fmtPct, fmtSeconds, renderTable } from "./text-table.js";

export interface HumanOptions {
  color: boolean;
  /** Sections rendered above the top tables (health, anomalies, recommendations). */
  preamble?: string;
}

const TITLES: Record<Dimension, [string, string[]]> = {
  src: ["Top sources", ["SOURCE"]],
  dst: ["Top destinations", ["DESTINATION"]],
  remote: ["Top remotes", ["REMOTE"]],
  service: ["Top services", ["SERVICE"]],
  src_prefix: ["Top source prefixes", ["PREFIX"]],
  remote_service_state: ["Top remote → service → state", ["REMOTE", "SERVICE", "STATE"]],
};

/** The key's cells: one column, or remote, service and state in their own columns. */
function keyCells(dim: Dimension, r: TopRow): string[] {
  if (dim !== "remote_service_state" || r.remote === undefined || r.proto === undefined || r.addr === undefined) return [r.key];
  return [r.remote, `${r.proto} ${formatEndpoint(r.addr, r.port ?? null)}`, r.state ?? "-"];
}

export function renderHuman(s: Snapshot, opts: HumanOptions): string {
  const c = createColors(opts.color);
  const out: string[] = [];
  const h = (t: string) => c.bold(t);
  const src = s.sources.length === 1 ? s.sources[0]! : `${s.sources.length} inputs`;
  out.push(
    `${c.bold("ctscope")} ${fmtCount(s.entries, "entry", "entries")} from ${src} (${fmtBytes(s.bytes)}, ${s.backend} backend, ${(s.elapsed_ms / 1000).toFixed(2)} s)`,
  );
  const parts = [fmtCount(s.lines, "line"), fmtCount(s.entries, "entry", "entries")];
  parts.push(s.malformed > 0 ? c.yellow(`${fmtInt(s.malformed)} malformed`) : "0 malformed");
  if (s.blank) parts.push(`${fmtInt(s.blank)} blank`);
  if (s.ignored) parts.push(`${fmtInt(s.ignored)} ignored (trailers, XML wrapper)`);
  if (s.destroyed) parts.push(`${fmtCount(s.destroyed, "DESTROY event")} (not live)`);
  if (s.events) parts.push(fmtCount(s.events, "NEW/UPDATE event"));
  if (s.filtered) parts.push(`${fmtInt(s.filtered)} filtered out`);
  out.push(`Input: ${parts.join(", ")}`);
  for (const w of s.warnings) out.push(`${c.yellow("Warning:")} ${escapeControl(w)}`);
  const forms = [
    s.forms.l3 ? `${fmtInt(s.forms.l3)} /proc or -o extended` : "",
    s.forms.plain ? `${fmtInt(s.forms.plain)} conntrack -L or ip_conntrack` : "",
    s.forms.xml ? `${fmtInt(s.forms.xml)} XML` : "",
  ].filter(Boolean);
  if (forms.length) out.push(`Formats: ${forms.join(", ")}`);
  out.push(`Local side: ${s.local.explanation}${s.local.addresses.length ? ` (${s.local.addresses.join(", ")})` : ""}`);

  if (s.malformed_samples.length > 0) {
    out.push("", h(`Malformed lines (${fmtInt(s.malformed)}; first ${s.malformed_samples.length})`));
    for (const m of s.malformed_samples) {
      const text = escapeControl(m.text);
      out.push(`  ${m.source}:${m.line}: ${c.dim(text.length > 160 ? `${text.slice(0, 159)}…` : text)}`);
    }
    const hint = malformedHint(s);
    if (hint) out.push(`  ${c.bold("Hint:")} ${hint}`);
  }

  if (opts.preamble) out.push("", opts.preamble.trimEnd());

  if (s.entries === 0) {
    out.push("", "No conntrack entries to summarise.");
    return `${out.join("\n")}\n`;
  }

  out.push("", h("Protocols"));
  const fam = s.by_family.map((f) => `${f.family} ${fmtInt(f.count)} (${fmtPct(f.count / s.entries)})`).join(", ");
  const prot = s.by_proto.map((p) => `${p.proto} ${fmtInt(p.count)} (${fmtPct(p.count / s.entries)})`).join(", ");
  out.push(`  ${fam}`, `  ${prot}`);
  out.push(
    `  UNREPLIED ${fmtInt(s.unreplied)} (${fmtPct(s.unreplied / s.entries)}), ASSURED ${fmtInt(s.assured)}, offloaded ${fmtInt(s.offloaded)}, NAT'd ${fmtInt(s.natted)}`,
  );

  out.push("", h("States"));
  out.push(
    renderTable(
      [
        { title: "PROTO" },
        { title: "STATE" },
        { title: "COUNT", align: "right" },
        { title: "SHARE", align: "right" },
        { title: "UNREPLIED", align: "right" },
        { title: "ASSURED", align: "right" },
        { title: "OFFLOAD", align: "right" },
        { title: "MAX TIMEOUT", align: "right" },
      ],
      s.by_state.map((r) => [
        r.proto,
        r.state ?? "-",
        fmtInt(r.count),
        fmtPct(r.count / s.entries),
        fmtInt(r.unreplied),
        fmtInt(r.assured),
        fmtInt(r.offload),
        r.max_timeout === null ? "-" : `${fmtInt(r.max_timeout)} s`,
      ]),
      { header: c.dim },
    ),
  );

  const traffic = s.accounted > 0;
  for (const dim of ["remote", "service", "src", "dst", "src_prefix", "remote_service_state"] as Dimension[]) {
    const rows = s.top[dim];
    if (rows.length === 0) continue;
    const [title, cols] = TITLES[dim];
    out.push("", h(`${title} (${fmtInt(s.distinct[dim])} distinct)`));
    out.push(topTable(rows, cols, (r) => keyCells(dim, r), traffic, c.dim));
  }

  out.push("", h("Remaining timeouts (all entries)"));
  out.push(histogram(s.timeouts, s.entries, s.no_timeout));
  const est = s.established_timeouts.reduce((a, b) => a + b.count, 0);
  if (est > 0) {
    out.push("", h("Remaining timeouts (TCP ESTABLISHED)"));
    out.push(histogram(s.established_timeouts, est));
  }
  return `${out.join("\n")}\n`;
}

/** When no line was an entry, what the operator most likely has and what ctscope reads instead. */
export function malformedHint(s: Pick<Snapshot, "forms" | "malformed" | "malformed_samples">): string | null {
  // forms counts every line read as an entry, also those filtered out and DESTROY events.
  if (s.forms.l3 + s.forms.plain + s.forms.xml > 0 || s.malformed === 0) return null;
  const tags = s.malformed_samples.filter((m) => /^\s*<\/?[A-Za-z]/.test(m.text));
  const xmlPieces =
    tags.length === s.malformed_samples.length &&
    tags.some((m) => /^\s*<\/?(flow|meta|layer[34]|src|dst|sport|dport|state|timeout)\b/.test(m.text)) &&
    !tags.some((m) => /<flow\b.*<\/flow>/.test(m.text));
  if (xmlPieces) {
    return "these are pieces of XML flows split over several lines; ctscope reads XML as conntrack prints it, one <flow> per line (`conntrack -L -o xml`).";
  }
  return "no line was a conntrack entry; ctscope reads /proc/net/nf_conntrack, `conntrack -L` (plain, -o extended, -o xml) and `conntrack -E` output (README: Input formats).";
}

function topTable(rows: TopRow[], cols: string[], key: (r: TopRow) => string[], traffic: boolean, dim: (s: string) => string): string {
  const columns = [
    { title: "#", align: "right" as const },
    ...cols.map((title) => ({ title })),
    { title: "COUNT", align: "right" as const },
    { title: "SHARE", align: "right" as const },
    { title: "UNREPLIED", align: "right" as const },
  ];
  if (traffic) columns.push({ title: "PACKETS", align: "right" }, { title: "BYTES", align: "right" });
  return renderTable(
    columns,
    rows.map((r, i) => {
      const cells = [String(i + 1), ...key(r), fmtInt(r.count), fmtPct(r.share), fmtInt(r.unreplied)];
      if (traffic) cells.push(fmtInt(r.packets ?? 0), fmtBytes(r.bytes ?? 0));
      return cells;
    }),
    { header: dim, maxCell: 70 },
  );
}

/** Bucket edges 86401 and 432001 mean "above one day" and "above five days". */
function edge(x: number): string {
  return fmtSeconds(x % 10 === 1 ? x - 1 : x);
}

function histogram(buckets: HistBucket[], total: number, none = 0): string {
  const max = Math.max(1, none, ...buckets.map((b) => b.count));
  const bar = (n: number) => "█".repeat(Math.max(1, Math.round((n / max) * 30)));
  const rows = buckets
    .filter((b) => b.count > 0)
    .map((b) => {
      const label =
        b.to === null ? `> ${edge(b.from)}` : `${b.from === 86401 || b.from === 432001 ? "> " : ""}${edge(b.from)} – ${edge(b.to)}`;
      return [label, fmtInt(b.count), fmtPct(b.count / Math.max(1, total)), bar(b.count)];
    });
  if (none > 0) rows.push(["no timeout", fmtInt(none), fmtPct(none / Math.max(1, total)), bar(none)]);
  if (rows.length === 0) return "  (no timeouts in the input)";
  return renderTable([{ title: "REMAINING" }, { title: "COUNT", align: "right" }, { title: "SHARE", align: "right" }, { title: "" }], rows);
}
