/** What every rule sees, plus the small helpers the rules share. */

import { allocColumns, type FlowColumns, portOf, protoOf } from "../engine/flow-columns.js";
import type { Snapshot } from "../engine/types.js";
import { F_UNREPLIED, P_TCP, P_UDP, P_UDPLITE, S_ESTABLISHED, S_SYN_RECV, S_SYN_SENT, S_SYN_SENT2 } from "../parse/layout.js";
import { fmtInt } from "../report/text-table.js";
import type { Thresholds } from "./thresholds.js";
import type { Anomaly, Health, HostFacts, KernelLogFacts, Severity } from "./types.js";

export interface RuleContext {
  snapshot: Snapshot | null;
  /** The flow classes as columns (empty without a snapshot). */
  flows: FlowColumns;
  /** Entries in the analyzed table (denominator of every share). */
  total: number;
  facts: HostFacts | null;
  health: Health;
  t: Thresholds;
  /**
   * The table is under pressure: fill at or above the warning threshold, or table-full messages
   * that are recent (or of unknown age in an offline log). Traffic anomalies are critical only then.
   */
  pressure: boolean;
}

export const NO_FLOWS: FlowColumns = {
  ...allocColumns(0),
  addresses: 0,
  prefixes: 0,
  services: 0,
  remoteCount: new Float64Array(0),
  prefixCount: new Float64Array(0),
  serviceCount: new Float64Array(0),
  addr: () => "",
  prefix: () => "",
};

/**
 * Table-full messages about the analyzed namespace and about others. Without a known namespace
 * (offline logs) every message counts as ours; messages without "in netns N" are the initial
 * namespace's, so they are ours unless we know we are elsewhere.
 */
export function logShares(log: KernelLogFacts | null, facts: HostFacts | null): { own: number; others: number } {
  if (!log) return { own: 0, others: 0 };
  if (!facts || facts.netns === null) return { own: log.tableFull, others: 0 };
  const own = (log.byNetns[facts.netns] ?? 0) + (facts.netnsIsInit !== false ? (log.byNetns.init ?? 0) : 0);
  return { own, others: log.tableFull - own };
}

export function underPressure(h: Health, t: Thresholds, facts: HostFacts | null = null): boolean {
  if (h.fill !== null && h.fill * 100 >= t.fillWarningPct) return true;
  const log = h.kernelLog;
  if (log && logShares(log, facts).own > 0) return log.lastAgeSeconds === null || log.lastAgeSeconds <= t.recentLogSeconds;
  return false;
}

export function anomalyId(rule: string, subject?: string): string {
  return subject === undefined ? rule : `${rule}:${subject.replace(/\s+/g, "_")}`;
}

export function severityRank(s: Severity): number {
  return s === "critical" ? 2 : s === "warning" ? 1 : 0;
}

/** Integer with thousands separators. */
export function int(n: number): string {
  return fmtInt(n);
}

/** Percent with one decimal, from a 0..1 share. */
export function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** Percent rounded down to one decimal, from a 0..1 share: never shows a threshold not reached. */
export function pctFloor(share: number): string {
  return `${(Math.floor(share * 1000) / 10).toFixed(1)}%`;
}

/** Round to one decimal for evidence values. */
export function r1(n: number): number {
  return Math.round(n * 10) / 10;
}

export function median(sorted: readonly number[]): number {
  if (sorted.length === 0) return 0;
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/** Class i was opened by the remote side (the original direction comes from it). */
export function isIncoming(f: FlowColumns, i: number): boolean {
  const r = f.remote[i]!;
  return r === f.src[i] && r !== f.dst[i];
}

/** "tcp/5228", or just the protocol name when it has no ports. */
export function serviceText(c: { protoName: string; dport: number | null }): string {
  return c.dport === null ? c.protoName : `${c.protoName}/${c.dport}`;
}

/** serviceText of class i. */
export function serviceOf(f: FlowColumns, i: number): string {
  return serviceText({ protoName: protoOf(f, i), dport: portOf(f, i) });
}

export function isHalfOpen(f: FlowColumns, i: number): boolean {
  const s = f.state[i]!;
  return f.proto[i] === P_TCP && (s === S_SYN_SENT || s === S_SYN_RECV || s === S_SYN_SENT2);
}

export function isUdpLike(f: FlowColumns, i: number): boolean {
  const p = f.proto[i]!;
  return p === P_UDP || p === P_UDPLITE;
}

export function isUnreplied(f: FlowColumns, i: number): boolean {
  return (f.flags[i]! & F_UNREPLIED) !== 0;
}

export function isEstablished(f: FlowColumns, i: number): boolean {
  return f.proto[i] === P_TCP && f.state[i] === S_ESTABLISHED;
}

/**
 * Entries (or unreplied entries) in the snapshot's state rows of these protocols, and of these
 * states when given. An exact total: a rule whose subject cannot reach its threshold skips its
 * pass over the classes.
 */
export function stateEntries(
  snapshot: Snapshot | null,
  protos: readonly string[],
  states: readonly string[] | null,
  field: "count" | "unreplied" = "count",
): number {
  let n = 0;
  for (const row of snapshot?.by_state ?? []) {
    if (protos.includes(row.proto) && (states === null || (row.state !== null && states.includes(row.state)))) n += row[field];
  }
  return n;
}

/** Text order for tie-breaks: a < b. */
export function textBefore(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sort a map's entries by count, descending, with the key as the tie-break (stable output). */
export function byCountDesc<V extends { count: number }>(m: Map<string, V>): Array<[string, V]> {
  return [...m.entries()].sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export type AnomalyDraft = Omit<Anomaly, "id"> & { rule: string };

export function finish(d: AnomalyDraft, withSubject: boolean): Anomaly {
  const { rule, ...rest } = d;
  return { id: anomalyId(rule, withSubject ? d.subject : undefined), ...rest };
}
