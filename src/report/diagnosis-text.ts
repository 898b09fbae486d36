/**
 * The Health, Anomalies and Recommendations sections of the human report. Prose is wrapped to
 * the width; commands are never wrapped or coloured, so they copy and paste exactly.
 */
import { createColors } from "picocolors";
import type { Anomaly, Diagnosis, Health, Severity } from "../diagnose/types.js";
import { fmtCount, fmtInt } from "./text-table.js";

export interface DiagnosisTextOptions {
  color: boolean;
  /** Wrap width for prose (default 100). */
  width?: number;
}

const int = fmtInt;
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

function bytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

function seconds(s: number): string {
  if (s >= 86400 && s % 86400 === 0) return `${int(s)} s = ${s / 86400} d`;
  if (s >= 3600 && s % 3600 === 0) return `${int(s)} s = ${s / 3600} h`;
  return `${int(s)} s`;
}

/** Greedy word wrap; the first line is prefixed by `first`, the rest by `rest`. */
export function wrap(text: string, width: number, first: string, rest = first): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const w of words) {
    if (!empty && line.length + 1 + w.length > width) {
      lines.push(line);
      line = rest + w;
    } else {
      line += (empty ? "" : " ") + w;
    }
    empty = false;
  }
  if (!empty || lines.length === 0) lines.push(line);
  return lines;
}

function healthLines(h: Health): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  if (h.count !== null) {
    const src = h.countSource === "table" ? " (from the analyzed table)" : "";
    if (h.max !== null && h.fill !== null) {
      const eff = h.effectiveFill !== null && h.unreplied ? `; ${pct(h.effectiveFill)} without ${int(h.unreplied)} unreplied` : "";
      rows.push(["Table", `${int(h.count)} of ${int(h.max)} entries (${pct(h.fill)} full${eff})${src}`]);
    } else {
      rows.push(["Table", `${fmtCount(h.count, "entry", "entries")}${src}; nf_conntrack_max unknown (pass --sysctl, or run on the host)`]);
    }
  } else {
    rows.push(["Table", "entry count unknown"]);
  }
  if (h.buckets !== null) {
    const parts = [`${int(h.buckets)} buckets`];
    if (h.avgChain !== null) parts.push(`${h.avgChain.toFixed(2)} entries per bucket`);
    if (h.avgChainAtMax !== null) parts.push(`${h.avgChainAtMax.toFixed(2)} at max`);
    if (h.recommendedHashsize !== null) parts.push(`recommended hashsize ${int(h.recommendedHashsize)}`);
    rows.push(["Hash", parts.join(", ")]);
  }
  const sizing: string[] = [];
  if (h.recommendedMax !== null) {
    sizing.push(h.max !== null && h.recommendedMax === h.max ? `max ${int(h.max)} is enough` : `recommended max ${int(h.recommendedMax)}`);
  }
  if (h.ramRule) sizing.push(`RAM rule ${int(h.ramRule.max)} (${bytes(h.ramRule.memTotalBytes)} RAM, ${h.ramRule.wordBits}-bit)`);
  if (sizing.length) rows.push(["Sizing", sizing.join("; ")]);
  const m = h.memory;
  const mem: string[] = [];
  if (m.nowBytes !== null) mem.push(`~${bytes(m.nowBytes)} now`);
  if (m.atMaxBytes !== null) mem.push(`~${bytes(m.atMaxBytes)} at max`);
  if (m.atRecommendedMaxBytes !== null && h.recommendedMax !== h.max) mem.push(`~${bytes(m.atRecommendedMaxBytes)} at the recommended max`);
  if (mem.length) {
    rows.push([
      "Memory",
      `${mem.join(", ")} (${m.objectBytes} B per entry, ${m.objectSource === "slabinfo" ? "from /proc/slabinfo" : "estimated"})`,
    ]);
  }
  if (h.countersSource !== null) {
    const c = h.counters;
    const parts = (Object.keys(c) as Array<keyof Health["counters"]>).filter((k) => c[k] !== null).map((k) => `${k} ${int(c[k]!)}`);
    const src = h.countersSource === "proc" ? "/proc/net/stat/nf_conntrack" : "conntrack -S";
    rows.push(["Kernel", `${parts.join(", ")} (since boot, ${h.cpus} CPUs, ${src})`]);
  }
  const log = h.kernelLog;
  if (log) {
    if (log.tableFull === 0) rows.push(["Kernel log", `no "table full" messages in ${fmtCount(log.lines, "line")}`]);
    else {
      let s = fmtCount(log.tableFull, '"table full" message');
      if (log.suppressed) s += ` + ${int(log.suppressed)} suppressed ≈ ${fmtCount(log.estimatedDrops, "drop")}`;
      if (log.first && log.last) s += `, ${log.first.text} → ${log.last.text}`;
      if (log.perMinute !== null) s += `, ${log.perMinute.toFixed(1)}/min`;
      if (log.lastAgeSeconds !== null) s += `, last ${int(log.lastAgeSeconds)} s ago`;
      const ns = Object.entries(log.byNetns);
      if (ns.length > 1 || (ns.length === 1 && ns[0]![0] !== "init")) s += `; netns ${ns.map(([k, v]) => `${k}:${v}`).join(" ")}`;
      rows.push(["Kernel log", s]);
    }
  }
  const to: string[] = [];
  const e = h.establishedTimeout;
  if (e.seconds !== null)
    to.push(`established ${e.atLeast ? "≥ " : ""}${seconds(e.seconds)} (${e.source === "sysctl" ? "sysctl" : e.note})`);
  const cw = h.closeWaitTimeout;
  if (cw.seconds !== null) {
    to.push(`close_wait ${cw.atLeast ? "≥ " : ""}${seconds(cw.seconds)} (${cw.source}${cw.kubeProxy ? ", the kube-proxy setting" : ""})`);
  }
  if (to.length) rows.push(["Timeouts", to.join("; ")]);
  for (const n of h.notes) rows.push(["Note", n]);
  return rows;
}

function evidenceText(e: Anomaly["evidence"]): string {
  return Object.entries(e)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

export function renderDiagnosisText(d: Diagnosis, opts: DiagnosisTextOptions): string {
  const c = createColors(opts.color);
  const width = Math.max(40, opts.width ?? 100);
  const out: string[] = [];
  out.push(c.bold("Health"));
  for (const [label, text] of healthLines(d.health)) {
    out.push(...wrap(text, width, `  ${label.padEnd(11)} `, " ".repeat(14)));
  }
  out.push("");
  const sev: Record<Severity, (s: string) => string> = {
    critical: (s) => c.bold(c.red(s)),
    warning: (s) => c.yellow(s),
    info: (s) => c.cyan(s),
  };
  out.push(c.bold(`Anomalies (${d.anomalies.length})`));
  if (d.anomalies.length === 0) out.push("  none found");
  for (const a of d.anomalies) {
    const label = a.severity.toUpperCase().padEnd(8);
    const titleLines = wrap(`${a.title} [${a.id}]`, width, " ".repeat(12));
    out.push(`  ${sev[a.severity](label)}  ${titleLines[0]!.slice(12)}`, ...titleLines.slice(1));
    out.push(...wrap(a.why, width, " ".repeat(12)));
    out.push(...wrap(evidenceText(a.evidence), width, `${" ".repeat(12)}${c.dim("evidence:")} `, " ".repeat(22)));
  }
  out.push("");
  out.push(c.bold(`Recommendations (${d.recommendations.length})`));
  if (d.recommendations.length === 0) out.push("  nothing to change");
  else out.push(...wrap("Review before running: ctscope prints these commands and never runs them.", width, "  ").map((l) => c.dim(l)));
  d.recommendations.forEach((r, i) => {
    const head = wrap(`${i + 1}. ${r.id} (for ${r.anomaly})`, width, "  ", "     ");
    out.push(c.bold(head[0]!), ...head.slice(1));
    out.push(...wrap(r.explanation, width, "     "));
    for (const cmd of r.commands) out.push(`       ${cmd}`);
  });
  return `${out.join("\n")}\n`;
}
