/**
 * Rules about who fills the table, from the flow classes: a dominant remote, SYN floods, scans,
 * UDP floods, and stateless services that need no tracking.
 */
import { type FlowColumns, portOf, protoOf } from "../engine/flow-columns.js";
import { PairInterner } from "../engine/pair-interner.js";
import { F_NAT, S_ESTABLISHED } from "../parse/layout.js";
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
  isUnreplied,
  pct,
  type RuleContext,
  r1,
  serviceOf,
  stateEntries,
  textBefore,
} from "./context.js";
import { CountOrder, medianWithout } from "./count-order.js";
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
  /** A class of the service, to describe it. */
  i: number;
}

interface RemoteAgg {
  count: number;
  halfOpen: number;
  udpUnreplied: number;
  established: number;
  unreplied: number;
  services: Map<string, ServiceAgg>;
}

export function dominantRemoteRule(ctx: RuleContext): Finding[] {
  const t = ctx.t;
  const f = ctx.flows;
  const minCount = Math.max(t.minEntries, (t.dominantSharePct / 100) * ctx.total);
  if (ctx.total < minCount) return [];
  // Entries per remote come with the snapshot's dimensions: one pass over the remotes, none over the classes.
  const counts = f.remoteCount;
  const candidates: Array<[number, number]> = [];
  let nRemotes = 0;
  for (let r = 0; r < counts.length; r++) {
    const n = counts[r]!;
    if (n > 0) nRemotes++;
    if (n >= minCount) candidates.push([r, n]);
  }
  if (candidates.length === 0) return [];
  candidates.sort((a, b) => b[1] - a[1] || textBefore(f.addr(a[0]), f.addr(b[0])));
  candidates.length = Math.min(candidates.length, 3);
  const order = new CountOrder(counts);
  // Details of the candidates only: a class is looked up by its remote id in a typed array.
  const details: RemoteAgg[] = candidates.map(([, n]) => ({
    count: n,
    halfOpen: 0,
    udpUnreplied: 0,
    established: 0,
    unreplied: 0,
    services: new Map(),
  }));
  const slot = new Int8Array(counts.length).fill(-1);
  candidates.forEach(([r], k) => {
    slot[r] = k;
  });
  for (let i = 0; i < f.n; i++) {
    const k = slot[f.remote[i]!]!;
    if (k < 0) continue;
    const r = details[k]!;
    const count = f.count[i]!;
    const unrep = isUnreplied(f, i);
    if (isHalfOpen(f, i)) r.halfOpen += count;
    if (isUdpLike(f, i) && unrep) r.udpUnreplied += count;
    if (f.state[i] === S_ESTABLISHED) r.established += count;
    if (unrep) r.unreplied += count;
    const key = `${serviceOf(f, i)} ${isIncoming(f, i) ? "in" : "out"}`;
    const s = r.services.get(key);
    if (s) s.count += count;
    else r.services.set(key, { count, i });
  }
  const out: Finding[] = [];
  for (const [k, [remoteId]] of candidates.entries()) {
    const r = details[k]!;
    const remote = f.addr(remoteId);
    const sh = share(ctx, r.count);
    // Half-open or unreplied floods are the flood rules' subject.
    if ((r.halfOpen + r.udpUnreplied) * 2 >= r.count) continue;
    const others = nRemotes - 1;
    const med = medianWithout(order, order.lastIndexOf(r.count));
    const ratio = others > 0 ? r.count / Math.max(med, 1) : Number.POSITIVE_INFINITY;
    if (ratio < t.dominantRatio) continue;
    const [, top] = byCountDesc(r.services)[0]!;
    const svc = serviceOf(f, top.i);
    const topProto = protoOf(f, top.i);
    const topPort = portOf(f, top.i);
    const bySvc = top.count >= 0.8 * r.count;
    const subject = bySvc ? `${remote} ${svc}` : remote;
    const dir = isIncoming(f, top.i) ? "incoming" : "outgoing";
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
    const inspect = inspectCommand(remote, bySvc ? topProto : null, bySvc ? topPort : null, dir);
    const cap = topPort !== null ? connlimitCommands(remote, topProto, topPort, dir, limit) : null;
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

type Sums = { count: number; unreplied: number };

/**
 * The kept classes (half-open or unreplied incoming ones) by source prefix and by service, as
 * typed arrays over the snapshot's prefix and service ids: a spoofed flood brings millions of both.
 */
interface SourceGroups {
  /** The prefixes holding at least `min` entries in all (kept or not): only these can be flood sources. */
  bigPrefixes: Int32Array;
  /** Per bigPrefixes[k]: kept entries at 2k, kept unreplied entries at 2k + 1. */
  prefixSums: Float64Array;
  /** Per service id: entries, unreplied entries, a kept class (-1: none kept), distinct prefixes
   * (counted up to DISTRIBUTED_PREFIXES), families (bit 1 IPv4, bit 2 IPv6). */
  serviceCount: Float64Array;
  serviceUnreplied: Float64Array;
  serviceClass: Int32Array;
  servicePrefixes: Uint8Array;
  serviceFamilies: Uint8Array;
  /** Per class: kept or not. */
  kept: Uint8Array;
}

/**
 * groupSources over the classes kept (1 in kept, which becomes the groups' own); min: the entries
 * a flood source needs. A spoofed flood spreads its classes over millions of prefixes, nearly all
 * of them far below min: their sums are skipped after a test that reads a byte per prefix, which
 * stays in cache where a sum per prefix would not.
 */
function groupSources(ctx: RuleContext, kept: Uint8Array, min: number): SourceGroups {
  const f = ctx.flows;
  const slotOf = new Int32Array(f.prefixes);
  const big = new Uint8Array(f.prefixes);
  const bigList: number[] = [];
  for (let p = 0; p < f.prefixes; p++) {
    if (f.prefixCount[p]! < min) continue;
    big[p] = 1;
    slotOf[p] = bigList.length;
    bigList.push(p);
  }
  const g: SourceGroups = {
    bigPrefixes: Int32Array.from(bigList),
    prefixSums: new Float64Array(bigList.length * 2),
    serviceCount: new Float64Array(f.services),
    serviceUnreplied: new Float64Array(f.services),
    serviceClass: new Int32Array(f.services).fill(-1),
    servicePrefixes: new Uint8Array(f.services),
    serviceFamilies: new Uint8Array(f.services),
    kept,
  };
  // Most services see one prefix: further ones go to a pair table (service, prefix).
  const firstPrefix = new Int32Array(f.services).fill(-1);
  const morePrefixes = new PairInterner();
  for (let i = 0; i < f.n; i++) {
    if (kept[i] === 0) continue;
    const count = f.count[i]!;
    const unrep = isUnreplied(f, i);
    const prefix = f.srcPrefix[i]!;
    if (big[prefix] === 1) {
      const k = slotOf[prefix]!;
      g.prefixSums[k * 2]! += count;
      if (unrep) g.prefixSums[k * 2 + 1]! += count;
    }
    const sid = f.service[i]!;
    if (g.serviceClass[sid] === -1) g.serviceClass[sid] = i;
    g.serviceCount[sid]! += count;
    if (unrep) g.serviceUnreplied[sid]! += count;
    g.serviceFamilies[sid]! |= f.family[i] === 4 ? 1 : 2;
    if (firstPrefix[sid] === -1) {
      firstPrefix[sid] = prefix;
      g.servicePrefixes[sid] = 1;
    } else if (prefix !== firstPrefix[sid] && g.servicePrefixes[sid]! < DISTRIBUTED_PREFIXES) {
      const before = morePrefixes.size;
      morePrefixes.id(sid, prefix);
      if (morePrefixes.size > before) g.servicePrefixes[sid]!++;
    }
  }
  return g;
}

/** Families of a serviceFamilies bit set. */
function familiesOf(bits: number): Set<4 | 6> {
  const out = new Set<4 | 6>();
  if (bits & 1) out.add(4);
  if (bits & 2) out.add(6);
  return out;
}

/** Entries with count >= min, busiest first (ties by their text), at most `limit`: sorts only what passes. */
export function topAtLeast<K, V extends { count: number }>(
  entries: Iterable<[K, V]>,
  min: number,
  limit: number,
  text: (k: K) => string,
): Array<[K, V]> {
  const out: Array<[K, V, string]> = [];
  for (const [k, v] of entries) if (v.count >= min) out.push([k, v, text(k)]);
  out.sort((a, b) => b[1].count - a[1].count || textBefore(a[2], b[2]));
  return out.slice(0, limit).map(([k, v]) => [k, v]);
}

/** A flood source: one address or a /24, /64 prefix. */
interface FloodSource {
  subject: string;
  /** Address id, or -1 for a prefix. */
  addr: number;
  /** Prefix id (the source's prefix, or the prefix itself). */
  prefix: number;
  count: number;
  unreplied: number;
  sources: number;
}

/** Sources (or /24, /64 prefixes when no single source dominates theirs) holding at least `min` entries. */
function floodSources(f: FlowColumns, g: SourceGroups, min: number): FloodSource[] {
  const passing: Array<[number, Sums]> = [];
  for (let k = 0; k < g.bigPrefixes.length; k++) {
    const count = g.prefixSums[k * 2]!;
    if (count >= min) passing.push([g.bigPrefixes[k]!, { count, unreplied: g.prefixSums[k * 2 + 1]! }]);
  }
  const candidates = topAtLeast(passing, min, MAX_SUBJECTS, (p) => f.prefix(p));
  if (candidates.length === 0) return [];
  // Second pass, only over the reported prefixes: per-source counts. The prefix test is a byte
  // per prefix id: a flood keeps a million classes, few of them in a reported prefix.
  const srcs = new Map<number, Map<number, Sums>>(candidates.map(([p]) => [p, new Map()]));
  const reported = new Uint8Array(f.prefixes);
  for (const [p] of candidates) reported[p] = 1;
  for (let i = 0; i < f.n; i++) {
    if (g.kept[i] === 0 || reported[f.srcPrefix[i]!] === 0) continue;
    const m = srcs.get(f.srcPrefix[i]!)!;
    const src = f.src[i]!;
    let e = m.get(src);
    if (!e) {
      e = { count: 0, unreplied: 0 };
      m.set(src, e);
    }
    e.count += f.count[i]!;
    if (isUnreplied(f, i)) e.unreplied += f.count[i]!;
  }
  return candidates.map(([prefix, p]) => {
    const m = srcs.get(prefix)!;
    let topSrc = -1;
    let top: Sums = { count: 0, unreplied: 0 };
    for (const [s, n] of m) {
      if (topSrc < 0 || n.count > top.count || (n.count === top.count && f.addr(s) < f.addr(topSrc))) [topSrc, top] = [s, n];
    }
    if (top.count >= 0.5 * p.count && top.count >= min)
      return { subject: f.addr(topSrc), addr: topSrc, prefix, count: top.count, unreplied: top.unreplied, sources: 1 };
    return { subject: f.prefix(prefix), addr: -1, prefix, count: p.count, unreplied: p.unreplied, sources: m.size };
  });
}

interface Target {
  /** A class of the service, to describe it. */
  i: number;
  count: number;
  unreplied: number;
  prefixes: number;
  families: Set<4 | 6>;
}

/**
 * Services still flooded from many prefixes once the reported sources are left out: a flood from
 * one /24 is that prefix's finding, not a distributed one, even if a few other clients half-open too.
 * Busy services always have some half-open or unreplied entries, so the rest must also be at least
 * half of all the service's entries, or ten times the threshold.
 */
function distributedTargets(ctx: RuleContext, g: SourceGroups, reported: readonly FloodSource[], min: number): Target[] {
  const f = ctx.flows;
  const candidates = new Set<number>();
  for (let sid = 0; sid < g.serviceCount.length; sid++) {
    if (g.serviceCount[sid]! >= min && g.servicePrefixes[sid]! >= DISTRIBUTED_PREFIXES && f.dport[g.serviceClass[sid]!]! >= 0) {
      candidates.add(sid);
    }
  }
  if (candidates.size === 0) return [];
  // Byte masks per id rather than Sets: this pass tests every kept class of a flood.
  const isCandidate = new Uint8Array(f.services);
  for (const sid of candidates) isCandidate[sid] = 1;
  const reportedSrc = new Uint8Array(f.addresses);
  const reportedPrefix = new Uint8Array(f.prefixes);
  for (const r of reported) {
    if (r.addr >= 0) reportedSrc[r.addr] = 1;
    else reportedPrefix[r.prefix] = 1;
  }
  const rest = new Map<number, Sums & { prefixes: Set<number> }>();
  for (let i = 0; i < f.n; i++) {
    if (g.kept[i] === 0) continue;
    const sid = f.service[i]!;
    if (isCandidate[sid] === 0) continue;
    const prefix = f.srcPrefix[i]!;
    if (reportedSrc[f.src[i]!] === 1 || reportedPrefix[prefix] === 1) continue;
    let r = rest.get(sid);
    if (!r) {
      r = { count: 0, unreplied: 0, prefixes: new Set() };
      rest.set(sid, r);
    }
    r.count += f.count[i]!;
    if (isUnreplied(f, i)) r.unreplied += f.count[i]!;
    if (r.prefixes.size < DISTRIBUTED_PREFIXES) r.prefixes.add(prefix);
  }
  const out: Target[] = [];
  for (const [sid, r] of rest) {
    const i = g.serviceClass[sid]!;
    // All entries (any state) of the service.
    const all = f.serviceCount[sid]!;
    if (r.count < min || r.prefixes.size < DISTRIBUTED_PREFIXES) continue;
    if (r.count * 2 < all && r.count < 10 * min) continue;
    out.push({ i, count: r.count, unreplied: r.unreplied, prefixes: r.prefixes.size, families: familiesOf(g.serviceFamilies[sid]!) });
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
  const f = ctx.flows;
  if (stateEntries(ctx.snapshot, ["tcp"], ["SYN_SENT", "SYN_RECV", "SYN_SENT2"]) < t.synFloodEntries) return [];
  const kept = new Uint8Array(f.n);
  let totalHalf = 0;
  for (let i = 0; i < f.n; i++) {
    if (isHalfOpen(f, i) && isIncoming(f, i)) {
      kept[i] = 1;
      totalHalf += f.count[i]!;
    }
  }
  if (totalHalf < t.synFloodEntries) return [];
  const g = groupSources(ctx, kept, t.synFloodEntries);
  const out: Finding[] = [];
  const sev = trafficSeverity(ctx);
  const sources = floodSources(f, g, t.synFloodEntries);
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
    const port = portOf(f, s.i);
    if (port === null) continue;
    const subject = `tcp/${port} on ${f.addr(f.dst[s.i]!)}`;
    const recs: Array<Omit<Recommendation, "anomaly"> | null> = [];
    const sp = synproxyCommands(port, [...s.families]);
    const cur = ctx.facts?.timeouts.tcp_timeout_syn_recv ?? 60;
    const lower = sysctlCommands("nf_conntrack_tcp_timeout_syn_recv", Math.max(10, Math.floor(cur / 2)));
    if (sp) {
      recs.push({
        id: `synproxy:tcp/${port}`,
        commands: [...sp, ...(lower ?? [])],
        explanation: `SYNPROXY answers the handshake itself and creates an entry only for clients that complete it, so spoofed SYNs to port ${port} stop taking slots. The raw rule untracks the SYNs, the INVALID drop catches the rest; insert them above any rule that accepts the port. The shorter SYN_RECV timeout (${Math.max(10, Math.floor(cur / 2))} s instead of ${cur} s) frees half-open slots sooner.`,
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
  const f = ctx.flows;
  // Pass 1: entries and distinct ports per /24 or /64; a scanner's prefix has at least as many ports
  // as it does. Typed arrays by prefix id: a spoofed flood brings hundreds of thousands of prefixes.
  const prefixCount = new Float64Array(f.prefixes);
  const prefixPorts = new Int32Array(f.prefixes);
  const firstPort = new Int32Array(f.prefixes).fill(-1);
  const morePorts = new PairInterner();
  // A prefix with fewer entries than scanPorts cannot show that many ports (every class holds at
  // least one entry): its classes are skipped.
  // As bytes: read at random once per class, a table an eighth the size stays in cache.
  const enough = new Uint8Array(f.prefixes);
  for (let p = 0; p < f.prefixes; p++) enough[p] = f.prefixCount[p]! >= t.scanPorts ? 1 : 0;
  for (let i = 0; i < f.n; i++) {
    const port = f.dport[i]!;
    const prefix = f.srcPrefix[i]!;
    if (port < 0 || enough[prefix] === 0 || !isIncoming(f, i)) continue;
    prefixCount[prefix]! += f.count[i]!;
    // Most prefixes show one port: the pair table holds only the further ones.
    if (firstPort[prefix] === -1) {
      firstPort[prefix] = port;
      prefixPorts[prefix] = 1;
    } else if (port !== firstPort[prefix]) {
      const before = morePorts.size;
      morePorts.id(prefix, port);
      if (morePorts.size > before) prefixPorts[prefix]!++;
    }
  }
  const hot = new Set<number>();
  for (let p = 0; p < f.prefixes; p++) if (prefixPorts[p]! >= t.scanPorts) hot.add(p);
  if (hot.size === 0) return [];
  // Pass 2: sources inside the hot prefixes only.
  const bySrc = new Map<number, { count: number; ports: Distinct<number>; prefix: number }>();
  const srcsOf = new Map<number, Set<number>>([...hot].map((p) => [p, new Set()]));
  const isHot = new Uint8Array(f.prefixes);
  for (const p of hot) isHot[p] = 1;
  for (let i = 0; i < f.n; i++) {
    const prefix = f.srcPrefix[i]!;
    if (isHot[prefix] === 0 || f.dport[i]! < 0 || !isIncoming(f, i)) continue;
    const srcs = srcsOf.get(prefix)!;
    const src = f.src[i]!;
    srcs.add(src);
    let s = bySrc.get(src);
    if (!s) {
      s = { count: 0, ports: new Distinct(), prefix };
      bySrc.set(src, s);
    }
    s.count += f.count[i]!;
    s.ports.add(f.dport[i]!);
  }
  const found_: Array<{ subject: string; count: number; ports: number; sources: number }> = [];
  const flaggedPrefixes = new Set<number>();
  const scanners = [...bySrc]
    .filter(([, s]) => s.ports.size >= t.scanPorts)
    .map(([src, s]) => ({ text: f.addr(src), ...s }))
    .sort((a, b) => b.ports.size - a.ports.size || textBefore(a.text, b.text));
  for (const s of scanners.slice(0, MAX_SUBJECTS)) found_.push({ subject: s.text, count: s.count, ports: s.ports.size, sources: 1 });
  for (const s of scanners) flaggedPrefixes.add(s.prefix);
  const wide = [...hot]
    .filter((prefix) => srcsOf.get(prefix)!.size > 1 && !flaggedPrefixes.has(prefix))
    .map((prefix) => ({
      subject: f.prefix(prefix),
      count: prefixCount[prefix]!,
      ports: prefixPorts[prefix]!,
      sources: srcsOf.get(prefix)!.size,
    }))
    .sort((a, b) => b.ports - a.ports || textBefore(a.subject, b.subject));
  found_.push(...wide.slice(0, MAX_SUBJECTS));
  return found_.map((s) =>
    found(
      {
        rule: "port-scan",
        severity: ctx.pressure || s.count >= t.synFloodEntries ? "warning" : "info",
        title: `Port scan from ${s.subject}: ${int(s.ports)} distinct ports, ${int(s.count)} entries`,
        subject: s.subject,
        evidence: { distinct_ports: s.ports, entries: s.count, share_pct: r1(share(ctx, s.count) * 100), sources: s.sources },
        why: "One source touching many ports is probing; each probe costs an entry until its timeout, and a fast scan can fill a small table.",
      },
      true,
      [dropRec(s.subject, "the scan")],
    ),
  );
}

export function udpFloodRule(ctx: RuleContext): Finding[] {
  const t = ctx.t;
  const f = ctx.flows;
  if (stateEntries(ctx.snapshot, ["udp", "udplite"], null, "unreplied") < t.udpFloodEntries) return [];
  const kept = new Uint8Array(f.n);
  let total = 0;
  for (let i = 0; i < f.n; i++) {
    if (isUdpLike(f, i) && isUnreplied(f, i) && isIncoming(f, i)) {
      kept[i] = 1;
      total += f.count[i]!;
    }
  }
  if (total < t.udpFloodEntries) return [];
  const g = groupSources(ctx, kept, t.udpFloodEntries);
  const out: Finding[] = [];
  const sev = trafficSeverity(ctx);
  const sources = floodSources(f, g, t.udpFloodEntries);
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
    const port = portOf(f, s.i);
    if (port === null) continue;
    const subject = `${protoOf(f, s.i)}/${port} on ${f.addr(f.dst[s.i]!)}`;
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

/** Index into STATELESS of a protocol and destination port, -1 for none. */
function statelessIndex(proto: number, port: number): number {
  for (let s = 0; s < STATELESS.length; s++) if (STATELESS[s]!.proto === proto && STATELESS[s]!.port === port) return s;
  return -1;
}

export function statelessRule(ctx: RuleContext): Finding[] {
  const t = ctx.t;
  const f = ctx.flows;
  // Two slots (server, client) per service, summed in typed arrays: a busy service has millions of classes.
  const count = new Float64Array(STATELESS.length * 2);
  const nat = new Float64Array(STATELESS.length * 2);
  const familyBits = new Uint8Array(STATELESS.length * 2);
  const firstSeen: number[] = [];
  for (let i = 0; i < f.n; i++) {
    const port = f.dport[i]!;
    if (port !== 53 && port !== 123 && port !== 80 && port !== 443) continue;
    const si = statelessIndex(f.proto[i]!, port);
    if (si < 0) continue;
    // The port is on the original destination: a local destination means this host serves it.
    const slot = si * 2 + (isIncoming(f, i) ? 0 : 1);
    if (familyBits[slot] === 0) firstSeen.push(slot);
    const c = f.count[i]!;
    count[slot]! += c;
    if ((f.flags[i]! & F_NAT) !== 0) nat[slot]! += c;
    familyBits[slot]! |= f.family[i] === 4 ? 1 : 2;
  }
  const aggs = new Map<
    string,
    { count: number; nat: number; families: Set<4 | 6>; role: "server" | "client"; svc: (typeof STATELESS)[number] }
  >();
  for (const slot of firstSeen) {
    const svc = STATELESS[slot >> 1]!;
    const role = slot % 2 === 0 ? "server" : "client";
    aggs.set(`${svc.name}/${svc.port} ${role}`, {
      count: count[slot]!,
      nat: nat[slot]!,
      families: familiesOf(familyBits[slot]!),
      role,
      svc,
    });
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
