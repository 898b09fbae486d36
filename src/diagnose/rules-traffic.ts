/**
 * Rules about who fills the table, from the flow classes: a dominant remote, SYN floods, scans,
 * UDP floods, and stateless services that need no tracking.
 */
import type { FlowClass } from "../engine/types.js";
import {
  connlimitCommands,
  dropSourceCommands,
  inspectCommand,
  limitSourceCommands,
  notrackCommands,
  safeCidr,
  synproxyCommands,
  sysctlCommands,
} from "./commands.js";
import {
  byCountDesc,
  int,
  isHalfOpen,
  isIncoming,
  isUdpLike,
  pct,
  prefixOf,
  type RuleContext,
  r1,
  serviceText,
  srcPrefix,
} from "./context.js";
import { type Finding, found } from "./rules-table.js";
import type { Recommendation, Severity } from "./types.js";

/** A flood spread over at least this many source prefixes is distributed (or spoofed): blocking sources cannot help. */
export const DISTRIBUTED_PREFIXES = 16;
/** At most this many subjects per rule, so a wide attack does not bury the report. */
export const MAX_SUBJECTS = 5;
/** Connection cap suggested for a dominant remote is never below this. */
export const MIN_CONNLIMIT = 128;

const share = (ctx: RuleContext, n: number): number => (ctx.total > 0 ? n / ctx.total : 0);
const trafficSeverity = (ctx: RuleContext): Severity => (ctx.pressure ? "critical" : "warning");

interface ServiceAgg {
  count: number;
  c: FlowClass;
}

interface RemoteAgg {
  count: number;
  halfOpen: number;
  udpUnreplied: number;
  established: number;
  unreplied: number;
  services: Map<string, ServiceAgg>;
}

/** Median of sorted values with the element at index `skip` left out. */
export function medianWithout(sorted: Float64Array, skip: number): number {
  const n = sorted.length - 1;
  if (n <= 0) return 0;
  const at = (k: number) => sorted[k < skip ? k : k + 1]!;
  return n % 2 ? at(n >> 1) : (at(n / 2 - 1) + at(n / 2)) / 2;
}

/** Index of the last element equal to v in ascending values. */
function lastIndexSorted(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * Remotes that may hold more than 1/(k+1) of all entries: weighted Misra–Gries over the classes,
 * one pass with k counters. Every remote above that share is among them (plus a few that are not).
 */
export function heavyRemotes(classes: readonly FlowClass[], k: number): string[] {
  const keys: string[] = [];
  const vals: number[] = [];
  for (const c of classes) {
    const j = keys.indexOf(c.remote);
    if (j >= 0) {
      vals[j]! += c.count;
      continue;
    }
    if (keys.length < k) {
      keys.push(c.remote);
      vals.push(c.count);
      continue;
    }
    let m = c.count;
    for (const v of vals) if (v < m) m = v;
    for (let i = vals.length - 1; i >= 0; i--) {
      vals[i]! -= m;
      if (vals[i] === 0) {
        vals.splice(i, 1);
        keys.splice(i, 1);
      }
    }
    if (c.count > m) {
      keys.push(c.remote);
      vals.push(c.count - m);
    }
  }
  return keys;
}

/** Entries per remote (a full pass; only run when some remote is a candidate). */
function remoteCounts(classes: readonly FlowClass[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of classes) m.set(c.remote, (m.get(c.remote) ?? 0) + c.count);
  return m;
}

export function dominantRemoteRule(ctx: RuleContext): Finding[] {
  const t = ctx.t;
  const minCount = Math.max(t.minEntries, (t.dominantSharePct / 100) * ctx.total);
  if (ctx.total < minCount) return [];
  // Candidates without a map of every remote (a spoofed flood has a million): heavy hitters, then exact
  // counts; a map of every remote only once some remote qualifies (for the median), or for tiny shares.
  const k = Math.ceil(100 / Math.max(t.dominantSharePct, 1e-9)) + 1;
  let counts: Map<string, number> | null = null;
  let exact: Map<string, number>;
  if (k <= 128) {
    exact = new Map(heavyRemotes(ctx.classes, k).map((r) => [r, 0]));
    for (const c of ctx.classes) {
      const n = exact.get(c.remote);
      if (n !== undefined) exact.set(c.remote, n + c.count);
    }
  } else {
    counts = remoteCounts(ctx.classes);
    exact = counts;
  }
  const candidates: Array<[string, number]> = [];
  for (const e of exact) if (e[1] >= minCount) candidates.push(e);
  if (candidates.length === 0) return [];
  candidates.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  candidates.length = Math.min(candidates.length, 3);
  counts ??= remoteCounts(ctx.classes);
  const nRemotes = counts.size;
  const sortedCounts = Float64Array.from(counts.values()).sort();
  // Details of the candidates only.
  const details = new Map<string, RemoteAgg>(
    candidates.map(([r, n]) => [r, { count: n, halfOpen: 0, udpUnreplied: 0, established: 0, unreplied: 0, services: new Map() }]),
  );
  for (const c of ctx.classes) {
    const r = details.get(c.remote);
    if (!r) continue;
    if (isHalfOpen(c)) r.halfOpen += c.count;
    if (isUdpLike(c) && c.unreplied) r.udpUnreplied += c.count;
    if (c.state === "ESTABLISHED") r.established += c.count;
    if (c.unreplied) r.unreplied += c.count;
    const key = `${serviceText(c)} ${isIncoming(c) ? "in" : "out"}`;
    const s = r.services.get(key);
    if (s) s.count += c.count;
    else r.services.set(key, { count: c.count, c });
  }
  const out: Finding[] = [];
  for (const [remote] of candidates) {
    const r = details.get(remote)!;
    const sh = share(ctx, r.count);
    // Half-open or unreplied floods are the flood rules' subject.
    if ((r.halfOpen + r.udpUnreplied) * 2 >= r.count) continue;
    const others = nRemotes - 1;
    const med = medianWithout(sortedCounts, lastIndexSorted(sortedCounts, r.count));
    const ratio = others > 0 ? r.count / Math.max(med, 1) : Number.POSITIVE_INFINITY;
    if (ratio < t.dominantRatio) continue;
    const [, top] = byCountDesc(r.services)[0]!;
    const svc = serviceText(top.c);
    const bySvc = top.count >= 0.8 * r.count;
    const subject = bySvc ? `${remote} ${svc}` : remote;
    const dir = isIncoming(top.c) ? "incoming" : "outgoing";
    const evidence: Record<string, number | string> = {
      entries: r.count,
      share_pct: r1(sh * 100),
      ratio_to_median: Number.isFinite(ratio) ? r1(ratio) : "only remote",
      median_remote_entries: med,
      distinct_remotes: nRemotes,
      direction: dir,
      top_service: svc,
      top_service_entries: top.count,
      established: r.established,
      unreplied: r.unreplied,
    };
    const limit = Math.max(MIN_CONNLIMIT, Math.ceil(Math.max(med, 1) * t.dominantRatio));
    const recs: Array<Omit<Recommendation, "anomaly"> | null> = [];
    const inspect = inspectCommand(remote, bySvc ? top.c.protoName : null, bySvc ? top.c.dport : null, dir);
    const cap = top.c.dport !== null ? connlimitCommands(remote, top.c.protoName, top.c.dport, dir, limit) : null;
    if (inspect) {
      recs.push({
        id: `inspect-remote:${subject.replace(/\s+/g, "_")}`,
        commands: [inspect, ...(cap ?? [])],
        explanation: `Look at the entries first: many ESTABLISHED entries that are idle mean a leak (the application opens connections without closing them, or the peer vanishes without a RST); see the timeout findings. The ${cap ? `cap rules refuse connections ${dir === "outgoing" ? "to" : "from"} ${remote} on ${svc} beyond ${int(limit)} (${t.dominantRatio}× the median remote, at least ${MIN_CONNLIMIT})` : "entries show which service it is"}; the fix is in the application or the peer.`,
      });
    }
    out.push(
      found(
        {
          rule: "dominant-remote",
          severity: trafficSeverity(ctx),
          title: `Dominant remote ${subject}: ${int(r.count)} entries (${pct(sh)} of the table${Number.isFinite(ratio) ? `, ${int(ratio)}× the median remote` : ""})`,
          subject,
          evidence,
          why: `One remote holding far more entries than any other is the classic leak (in the field: 52k ESTABLISHED to one host on port 5228). ${int(r.established)} of its entries are ESTABLISHED; with a ${ctx.health.establishedTimeout.seconds !== null ? `${int(ctx.health.establishedTimeout.seconds)} s` : "long"} established timeout, lost RSTs leave them behind.`,
        },
        true,
        recs,
      ),
    );
  }
  return out;
}

interface SourceGroups {
  byPrefix: Map<string, { count: number; unreplied: number }>;
  byService: Map<string, ServiceGroup>;
  /** prefixOf(classes[i].src) for the kept classes. */
  prefixes: string[];
  /** The byService entry of each kept class. */
  serviceOf: Array<ServiceGroup | undefined>;
}

type ServiceGroup = { count: number; unreplied: number; prefixes: Set<string>; c: FlowClass; families: Set<4 | 6> };

function groupSources(ctx: RuleContext, keep: (c: FlowClass) => boolean): SourceGroups {
  const classes = ctx.classes;
  const g: SourceGroups = {
    byPrefix: new Map(),
    byService: new Map(),
    prefixes: new Array(classes.length),
    serviceOf: new Array(classes.length),
  };
  const services = new Map<string, Map<number, ServiceGroup>>();
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i]!;
    if (!keep(c)) continue;
    const prefix = srcPrefix(ctx, i);
    g.prefixes[i] = prefix;
    let p = g.byPrefix.get(prefix);
    if (!p) {
      p = { count: 0, unreplied: 0 };
      g.byPrefix.set(prefix, p);
    }
    p.count += c.count;
    if (c.unreplied) p.unreplied += c.count;
    // Keyed by destination, then port and protocol as one number: no string built per class.
    let byPort = services.get(c.dst);
    if (!byPort) {
      byPort = new Map();
      services.set(c.dst, byPort);
    }
    const pkey = (c.dport ?? 65536) * 256 + c.proto;
    let s = byPort.get(pkey);
    if (!s) {
      s = { count: 0, unreplied: 0, prefixes: new Set(), c, families: new Set() };
      byPort.set(pkey, s);
      g.byService.set(`${c.protoName} ${c.dst} ${c.dport}`, s);
    }
    g.serviceOf[i] = s;
    s.count += c.count;
    if (c.unreplied) s.unreplied += c.count;
    if (s.prefixes.size < DISTRIBUTED_PREFIXES) s.prefixes.add(prefix);
    s.families.add(c.family);
  }
  return g;
}

/** Map entries with count >= min, busiest first (ties by key), at most `limit`: sorts only what passes. */
export function topAtLeast<V extends { count: number }>(m: Map<string, V>, min: number, limit: number): Array<[string, V]> {
  const out: Array<[string, V]> = [];
  for (const e of m) if (e[1].count >= min) out.push(e);
  out.sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out.slice(0, limit);
}

/** Sources (or /24, /64 prefixes when no single source dominates theirs) holding at least `min` entries. */
function floodSources(
  classes: readonly FlowClass[],
  g: SourceGroups,
  min: number,
): Array<{ subject: string; count: number; unreplied: number; sources: number }> {
  const candidates = topAtLeast(g.byPrefix, min, MAX_SUBJECTS);
  if (candidates.length === 0) return [];
  // Second pass, only over the reported prefixes: per-source counts.
  const srcs = new Map<string, Map<string, { count: number; unreplied: number }>>(candidates.map(([p]) => [p, new Map()]));
  for (let i = 0; i < classes.length; i++) {
    const m = srcs.get(g.prefixes[i]!);
    if (!m) continue;
    const c = classes[i]!;
    let e = m.get(c.src);
    if (!e) {
      e = { count: 0, unreplied: 0 };
      m.set(c.src, e);
    }
    e.count += c.count;
    if (c.unreplied) e.unreplied += c.count;
  }
  return candidates.map(([prefix, p]) => {
    const m = srcs.get(prefix)!;
    let topSrc = "";
    let top = { count: 0, unreplied: 0 };
    for (const [s, n] of m) if (n.count > top.count || (n.count === top.count && s < topSrc)) [topSrc, top] = [s, n];
    if (top.count >= 0.5 * p.count && top.count >= min) return { subject: topSrc, count: top.count, unreplied: top.unreplied, sources: 1 };
    return { subject: prefix, count: p.count, unreplied: p.unreplied, sources: m.size };
  });
}

/**
 * Services still flooded from many prefixes once the reported sources are left out: a flood from
 * one /24 is that prefix's finding, not a distributed one, even if a few other clients half-open too.
 * Busy services always have some half-open or unreplied entries, so the rest must also be at least
 * half of all the service's entries, or ten times the threshold.
 */
function distributedTargets(
  ctx: RuleContext,
  g: SourceGroups,
  reported: ReadonlyArray<{ subject: string }>,
  min: number,
): Array<{ c: FlowClass; count: number; unreplied: number; prefixes: number; families: Set<4 | 6> }> {
  const candidates = new Set<ServiceGroup>();
  for (const [, s] of topAtLeast(g.byService, min, Number.POSITIVE_INFINITY)) {
    if (s.prefixes.size >= DISTRIBUTED_PREFIXES && s.c.dport !== null) candidates.add(s);
  }
  if (candidates.size === 0) return [];
  const srcs = new Set(reported.filter((r) => !r.subject.includes("/")).map((r) => r.subject));
  const prefixes = new Set(reported.filter((r) => r.subject.includes("/")).map((r) => r.subject));
  const rest = new Map<ServiceGroup, { count: number; unreplied: number; prefixes: Set<string> }>();
  const classes = ctx.classes;
  for (let i = 0; i < classes.length; i++) {
    const s = g.serviceOf[i];
    if (s === undefined || !candidates.has(s)) continue;
    const c = classes[i]!;
    const prefix = g.prefixes[i]!;
    if (srcs.has(c.src) || prefixes.has(prefix)) continue;
    let r = rest.get(s);
    if (!r) {
      r = { count: 0, unreplied: 0, prefixes: new Set() };
      rest.set(s, r);
    }
    r.count += c.count;
    if (c.unreplied) r.unreplied += c.count;
    if (r.prefixes.size < DISTRIBUTED_PREFIXES) r.prefixes.add(prefix);
  }
  // All entries (any state) of the candidate services: destination, then port and protocol.
  const totals = new Map<string, Map<number, number>>();
  for (const s of rest.keys()) {
    let m = totals.get(s.c.dst);
    if (!m) {
      m = new Map();
      totals.set(s.c.dst, m);
    }
    m.set((s.c.dport ?? 65536) * 256 + s.c.proto, 0);
  }
  for (const c of classes) {
    const m = totals.get(c.dst);
    if (!m) continue;
    const k = (c.dport ?? 65536) * 256 + c.proto;
    const n = m.get(k);
    if (n !== undefined) m.set(k, n + c.count);
  }
  const out: Array<{ c: FlowClass; count: number; unreplied: number; prefixes: number; families: Set<4 | 6> }> = [];
  for (const [s, r] of rest) {
    const all = totals.get(s.c.dst)!.get((s.c.dport ?? 65536) * 256 + s.c.proto)!;
    if (r.count < min || r.prefixes.size < DISTRIBUTED_PREFIXES) continue;
    if (r.count * 2 < all && r.count < 10 * min) continue;
    out.push({ c: s.c, count: r.count, unreplied: r.unreplied, prefixes: r.prefixes.size, families: s.families });
  }
  return out.sort((a, b) => b.count - a.count).slice(0, MAX_SUBJECTS);
}

function dropRec(subject: string, what: string): Omit<Recommendation, "anomaly"> | null {
  const c = safeCidr(subject);
  const cmds = c ? dropSourceCommands(c.cidr) : null;
  if (!c || !cmds) return null;
  return {
    id: `drop-source:${c.text}`,
    commands: cmds,
    explanation: `Drops ${c.text} in the raw table, before conntrack creates an entry, so ${what} stops taking slots. Check the source is not a legitimate client (a NAT gateway, a load balancer) first; remove the rule when the attack stops.`,
  };
}

/** Part of the observed rate a limited source keeps: its footprint in the table shrinks as much. */
export const LIMIT_DIVISOR = 10;

/**
 * The gentler alternative to dropping: limit the source's new connections. Its rate is estimated
 * from the data as entries / the timeout that holds them, and the limit keeps a tenth of it.
 */
function limitRec(subject: string, entries: number, timeout: number, what: string): Omit<Recommendation, "anomaly"> | null {
  const c = safeCidr(subject);
  const observed = entries / Math.max(1, timeout);
  const rate = Math.max(1, Math.floor(observed / LIMIT_DIVISOR));
  const cmds = c ? limitSourceCommands(c.cidr, rate) : null;
  if (!c || !cmds) return null;
  return {
    id: `limit-source:${c.text}`,
    commands: cmds,
    explanation: `Instead of dropping: ${int(entries)} entries that live ${int(timeout)} s mean about ${r1(observed)} new ${what} per second from ${c.text}; the limit lets ${rate} per second through (burst ${rate * 2}), so it holds about ${LIMIT_DIVISOR}× fewer slots while a legitimate client behind it keeps working.`,
  };
}

export function synFloodRule(ctx: RuleContext): Finding[] {
  const t = ctx.t;
  const keep = (c: FlowClass) => isHalfOpen(c) && isIncoming(c);
  let totalHalf = 0;
  for (const c of ctx.classes) if (keep(c)) totalHalf += c.count;
  if (totalHalf < t.synFloodEntries) return [];
  const g = groupSources(ctx, keep);
  const out: Finding[] = [];
  const sev = trafficSeverity(ctx);
  const sources = floodSources(ctx.classes, g, t.synFloodEntries);
  for (const f of sources) {
    out.push(
      found(
        {
          rule: "syn-flood",
          severity: sev,
          title: `SYN flood from ${f.subject}: ${int(f.count)} half-open TCP entries (${pct(share(ctx, f.count))} of the table)`,
          subject: f.subject,
          evidence: { half_open: f.count, unreplied: f.unreplied, share_pct: r1(share(ctx, f.count) * 100), sources: f.sources },
          why: "Half-open entries (SYN_SENT/SYN_RECV) hold a slot for up to 2 minutes each; a sender that never completes handshakes, often with spoofed addresses, fills the table with them.",
        },
        true,
        [dropRec(f.subject, "its flood"), limitRec(f.subject, f.count, ctx.facts?.timeouts.tcp_timeout_syn_recv ?? 60, "connections")],
      ),
    );
  }
  for (const s of distributedTargets(ctx, g, sources, t.synFloodEntries)) {
    if (s.c.dport === null) continue;
    const subject = `tcp/${s.c.dport} on ${s.c.dst}`;
    const recs: Array<Omit<Recommendation, "anomaly"> | null> = [];
    const sp = synproxyCommands(s.c.dport, [...s.families]);
    const cur = ctx.facts?.timeouts.tcp_timeout_syn_recv ?? 60;
    const lower = sysctlCommands("nf_conntrack_tcp_timeout_syn_recv", Math.max(10, Math.floor(cur / 2)));
    if (sp) {
      recs.push({
        id: `synproxy:tcp/${s.c.dport}`,
        commands: [...sp, ...(lower ?? [])],
        explanation: `SYNPROXY answers the handshake itself and creates an entry only for clients that complete it, so spoofed SYNs to port ${s.c.dport} stop taking slots. The raw rule untracks the SYNs, the INVALID drop catches the rest; insert them above any rule that accepts the port. The shorter SYN_RECV timeout (${Math.max(10, Math.floor(cur / 2))} s instead of ${cur} s) frees half-open slots sooner.`,
      });
    }
    out.push(
      found(
        {
          rule: "syn-flood",
          severity: sev,
          title: `Distributed SYN flood to ${subject}: ${int(s.count)} half-open entries from ${DISTRIBUTED_PREFIXES}+ prefixes`,
          subject,
          evidence: {
            half_open: s.count,
            unreplied: s.unreplied,
            share_pct: r1(share(ctx, s.count) * 100),
            prefixes: `${DISTRIBUTED_PREFIXES}+`,
          },
          why: "Half-open entries from many unrelated prefixes are the signature of a spoofed SYN flood: blocking sources cannot keep up, only not tracking incomplete handshakes can.",
        },
        true,
        recs,
      ),
    );
  }
  return out;
}

/** Distinct values, without allocating a Set until a second value shows up. */
class Distinct<T> {
  private first: T | undefined;
  private set: Set<T> | null = null;
  add(v: T): void {
    if (this.set) this.set.add(v);
    else if (this.first === undefined) this.first = v;
    else if (this.first !== v) this.set = new Set([this.first, v]);
  }
  get size(): number {
    return this.set ? this.set.size : this.first === undefined ? 0 : 1;
  }
}

export function scanRule(ctx: RuleContext): Finding[] {
  const t = ctx.t;
  // Pass 1: ports per /24 or /64; a scanner's prefix has at least as many ports as it does.
  const byPrefix = new Map<string, { count: number; ports: Distinct<number>; firstSrc: string; multi: boolean }>();
  const classes = ctx.classes;
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i]!;
    if (c.dport === null || !isIncoming(c)) continue;
    const prefix = srcPrefix(ctx, i);
    let p = byPrefix.get(prefix);
    if (!p) {
      p = { count: 0, ports: new Distinct(), firstSrc: c.src, multi: false };
      byPrefix.set(prefix, p);
    }
    p.count += c.count;
    p.ports.add(c.dport);
    if (!p.multi && p.firstSrc !== c.src) p.multi = true;
  }
  const hot = new Set<string>();
  for (const [prefix, p] of byPrefix) if (p.ports.size >= t.scanPorts) hot.add(prefix);
  if (hot.size === 0) return [];
  // Pass 2: sources inside the hot prefixes only.
  const bySrc = new Map<string, { count: number; ports: Distinct<number> }>();
  const srcsOf = new Map<string, Set<string>>([...hot].map((p) => [p, new Set()]));
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i]!;
    if (c.dport === null || !isIncoming(c)) continue;
    const prefix = srcPrefix(ctx, i);
    const srcs = srcsOf.get(prefix);
    if (!srcs) continue;
    srcs.add(c.src);
    let s = bySrc.get(c.src);
    if (!s) {
      s = { count: 0, ports: new Distinct() };
      bySrc.set(c.src, s);
    }
    s.count += c.count;
    s.ports.add(c.dport);
  }
  const found_: Array<{ subject: string; count: number; ports: number; sources: number }> = [];
  const flaggedPrefixes = new Set<string>();
  const scanners = [...bySrc]
    .filter(([, s]) => s.ports.size >= t.scanPorts)
    .sort((a, b) => b[1].ports.size - a[1].ports.size || (a[0] < b[0] ? -1 : 1));
  for (const [src, s] of scanners.slice(0, MAX_SUBJECTS)) {
    found_.push({ subject: src, count: s.count, ports: s.ports.size, sources: 1 });
    flaggedPrefixes.add(prefixOf(src));
  }
  for (const [src] of scanners) flaggedPrefixes.add(prefixOf(src));
  const wide = [...hot]
    .map((prefix): [string, { count: number; ports: number; sources: number }] => {
      const p = byPrefix.get(prefix)!;
      return [prefix, { count: p.count, ports: p.ports.size, sources: srcsOf.get(prefix)!.size }];
    })
    .filter(([prefix, p]) => p.sources > 1 && !flaggedPrefixes.has(prefix))
    .sort((a, b) => b[1].ports - a[1].ports || (a[0] < b[0] ? -1 : 1));
  for (const [prefix, p] of wide.slice(0, MAX_SUBJECTS))
    found_.push({ subject: prefix, count: p.count, ports: p.ports, sources: p.sources });
  return found_.map((f) =>
    found(
      {
        rule: "port-scan",
        severity: ctx.pressure || f.count >= t.synFloodEntries ? "warning" : "info",
        title: `Port scan from ${f.subject}: ${int(f.ports)} distinct ports, ${int(f.count)} entries`,
        subject: f.subject,
        evidence: { distinct_ports: f.ports, entries: f.count, share_pct: r1(share(ctx, f.count) * 100), sources: f.sources },
        why: "One source touching many ports is probing; each probe costs an entry until its timeout, and a fast scan can fill a small table.",
      },
      true,
      [dropRec(f.subject, "the scan")],
    ),
  );
}

export function udpFloodRule(ctx: RuleContext): Finding[] {
  const t = ctx.t;
  const keep = (c: FlowClass) => isUdpLike(c) && c.unreplied && isIncoming(c);
  let total = 0;
  for (const c of ctx.classes) if (keep(c)) total += c.count;
  if (total < t.udpFloodEntries) return [];
  const g = groupSources(ctx, keep);
  const out: Finding[] = [];
  const sev = trafficSeverity(ctx);
  const sources = floodSources(ctx.classes, g, t.udpFloodEntries);
  for (const f of sources) {
    out.push(
      found(
        {
          rule: "udp-flood",
          severity: sev,
          title: `UDP flood from ${f.subject}: ${int(f.count)} unreplied UDP entries (${pct(share(ctx, f.count))} of the table)`,
          subject: f.subject,
          evidence: { unreplied_udp: f.count, share_pct: r1(share(ctx, f.count) * 100), sources: f.sources },
          why: "Every UDP datagram to a new port pair creates an entry that lives for the UDP timeout (30 s by default) even if nothing answers.",
        },
        true,
        [dropRec(f.subject, "its flood"), limitRec(f.subject, f.count, ctx.facts?.timeouts.udp_timeout ?? 30, "flows")],
      ),
    );
  }
  const cur = ctx.facts?.timeouts.udp_timeout ?? 30;
  const newTimeout = Math.max(5, Math.floor(cur / 3));
  for (const s of distributedTargets(ctx, g, sources, t.udpFloodEntries)) {
    if (s.c.dport === null) continue;
    const subject = `${s.c.protoName}/${s.c.dport} on ${s.c.dst}`;
    const lower = newTimeout < cur ? sysctlCommands("nf_conntrack_udp_timeout", newTimeout) : null;
    out.push(
      found(
        {
          rule: "udp-flood",
          severity: sev,
          title: `Distributed UDP flood to ${subject}: ${int(s.count)} unreplied entries`,
          subject,
          evidence: {
            unreplied_udp: s.count,
            share_pct: r1(share(ctx, s.count) * 100),
            prefixes: `${DISTRIBUTED_PREFIXES}+`,
          },
          why: "Unreplied UDP from many prefixes to one port is a spoofed or distributed flood; each datagram holds an entry for the whole UDP timeout.",
        },
        true,
        [
          lower
            ? {
                id: "udp-timeout",
                commands: lower,
                explanation: `Unreplied UDP entries then expire after ${newTimeout} s instead of ${cur} s, freeing the table ${r1(cur / newTimeout)}× faster. If the service is stateless (DNS, NTP), NOTRACK it instead (see the stateless-service finding).`,
              }
            : null,
        ],
      ),
    );
  }
  return out;
}

const STATELESS: Array<{ proto: number; name: string; port: number; label: string; web: boolean }> = [
  { proto: 17, name: "udp", port: 53, label: "DNS", web: false },
  { proto: 17, name: "udp", port: 123, label: "NTP", web: false },
  { proto: 6, name: "tcp", port: 80, label: "HTTP", web: true },
  { proto: 6, name: "tcp", port: 443, label: "HTTPS", web: true },
];

export function statelessRule(ctx: RuleContext): Finding[] {
  const t = ctx.t;
  const aggs = new Map<
    string,
    { count: number; nat: number; families: Set<4 | 6>; role: "server" | "client"; svc: (typeof STATELESS)[number] }
  >();
  // Two slots (server, client) per service, keyed once per service rather than per class.
  const slots: Array<
    { count: number; nat: number; families: Set<4 | 6>; role: "server" | "client"; svc: (typeof STATELESS)[number] } | undefined
  > = [];
  for (const c of ctx.classes) {
    const port = c.dport;
    if (port !== 53 && port !== 123 && port !== 80 && port !== 443) continue;
    const si = STATELESS.findIndex((s) => s.proto === c.proto && s.port === port);
    if (si < 0) continue;
    // The port is on the original destination: a local destination means this host serves it.
    const server = isIncoming(c);
    const slot = si * 2 + (server ? 0 : 1);
    let a = slots[slot];
    if (!a) {
      const svc = STATELESS[si]!;
      const role = server ? "server" : "client";
      a = { count: 0, nat: 0, families: new Set(), role, svc };
      slots[slot] = a;
      aggs.set(`${svc.name}/${svc.port} ${role}`, a);
    }
    a.count += c.count;
    if (c.nat) a.nat += c.count;
    a.families.add(c.family);
  }
  const out: Finding[] = [];
  const natted = ctx.snapshot?.natted ?? 0;
  for (const [key, a] of byCountDesc(aggs)) {
    const { svc, role } = a;
    if (a.count < (svc.web ? t.webNotrackEntries : t.statelessEntries)) continue;
    // NOTRACK breaks NAT: never for NATed flows, and web ports only on hosts without any NAT.
    if (a.nat > 0.01 * a.count) continue;
    if (svc.web && (role !== "server" || natted > 0)) continue;
    const sh = share(ctx, a.count);
    const cmds = notrackCommands(svc.name, svc.port, role, [...a.families]);
    const subject = key;
    out.push(
      found(
        {
          rule: "stateless-service",
          severity: ctx.pressure ? "warning" : "info",
          title: `${svc.label} ${role} on ${svc.name}/${svc.port} is tracked: ${int(a.count)} entries (${pct(sh)} of the table)`,
          subject,
          evidence: { entries: a.count, share_pct: r1(sh * 100), role, natted: a.nat, families: [...a.families].sort().join(",") },
          why: svc.web
            ? `A busy web port on a host without NAT gains nothing from conntrack but pays an entry per connection; it is a NOTRACK candidate if no rule relies on connection state for it.`
            : `${svc.label} is request/response over UDP: tracking it buys nothing but costs an entry per query for the UDP timeout, and when the table fills, dropped queries are retried, amplifying the load.`,
        },
        true,
        [
          cmds
            ? {
                id: `notrack:${subject.replace(/\s+/g, "_")}`,
                commands: cmds,
                explanation: `Untracks ${svc.label} in both directions (raw PREROUTING and OUTPUT${a.families.has(6) ? ", IPv4 and IPv6" : ""}). Filter rules must then accept UNTRACKED packets for it (the -m conntrack --ctstate UNTRACKED rules, or "ct state untracked accept" in your nft input/output chains); rules matching ESTABLISHED,RELATED no longer see them.`,
              }
            : null,
        ],
      ),
    );
  }
  return out;
}
