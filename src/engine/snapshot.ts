/**
 * Where the merged table's dimensions (src/engine/dimensions.ts, or the addon's) become a
 * snapshot: top-N tables, state breakdown, histograms, the local side, and the flow columns the
 * diagnosis walks. Addresses become canonical text here, only for what is shown or asked for.
 */
import {
  C_ACCT,
  C_BLANK,
  C_DESTROYED,
  C_ENTRIES,
  C_EVENTS,
  C_FILTERED,
  C_FORM_L3,
  C_FORM_PLAIN,
  C_FORM_XML,
  C_IGNORED,
  C_LINES,
  C_MALFORMED,
  HIST_BUCKETS,
  HIST_EDGES,
  HIST_TCP_ESTABLISHED,
  protoName,
  stateName,
} from "../parse/layout.js";
import { formatAddress, formatEndpoint, formatPrefix } from "../report/address.js";
import type { BackendName } from "./contract.js";
import {
  buildDimensions,
  type LocalSpec,
  SC_ASSURED,
  SC_COUNT,
  SC_OFFLOAD,
  SC_UNREPLIED,
  STATE_SLOTS,
  T_ASSURED,
  T_IPV4,
  T_IPV6,
  T_NATTED,
  T_OFFLOADED,
  T_UNREPLIED,
} from "./dimensions.js";
import { classesOf, type FlowColumns } from "./flow-columns.js";
import type { Merger } from "./merge.js";
import {
  DIMENSIONS,
  type Dimension,
  type FlowClass,
  type HistBucket,
  type LocalInfo,
  type Snapshot,
  type StateRow,
  type TopRow,
} from "./types.js";

export type { LocalSpec } from "./dimensions.js";

export interface SnapshotMeta {
  backend: BackendName;
  sources: string[];
  bytes: number;
  top: number;
  elapsedMs: number;
}

/**
 * Ids of the top n keys of a dimension: count descending, ties in key order (`before`), without
 * making text. `rank`, per id, orders the keys roughly and agrees with `before` (a smaller rank is
 * always before): a flood offers hundreds of thousands of tied keys, and most are turned away by
 * one comparison of two numbers. One pass, no full sort.
 */
export function topIds(count: Float64Array, n: number, before: (a: number, b: number) => number, rank: Float64Array): number[] {
  // The n-th largest count: everything at or above it is a candidate (ties kept for the key order).
  const best: number[] = [];
  for (let i = 0; i < count.length; i++) {
    const v = count[i]!;
    if (v <= 0) continue;
    if (best.length < n) {
      best.push(v);
      if (best.length === n) best.sort((x, y) => x - y);
    } else if (v > best[0]!) {
      best[0] = v;
      // Restore ascending order (n is small).
      for (let j = 0; j + 1 < n && best[j]! > best[j + 1]!; j++) {
        const t = best[j]!;
        best[j] = best[j + 1]!;
        best[j + 1] = t;
      }
    }
  }
  const cutoff = best.length < n ? 0 : best[0]!;
  // Keys above the cut-off are fewer than n and all in; among those at the cut-off (possibly
  // hundreds of thousands on a flood, all with count 1) the first in key order fill the remaining places.
  const above: number[] = [];
  const tied = new TiedSelection(n, before, rank);
  // The rank of the last kept tie once the selection is full: the loop turns most offers away
  // itself, so that it stays small and fast even while the code is still cold (one-shot runs).
  let bar = Number.POSITIVE_INFINITY;
  for (let i = 0; i < count.length; i++) {
    const v = count[i]!;
    if (v <= 0 || v < cutoff) continue;
    if (v > cutoff) above.push(i);
    else if (rank[i]! <= bar) bar = tied.offer(i);
  }
  above.sort((x, y) => count[y]! - count[x]! || before(x, y));
  return [...above, ...tied.sorted()].slice(0, n);
}

/**
 * The k first ids in key order, offered one at a time. Small k: a sorted array of at most k (one
 * comparison rejects most offers); large k: collect and sort once.
 */
class TiedSelection {
  private readonly items: number[] = [];
  private readonly bounded: boolean;

  constructor(
    private readonly k: number,
    private readonly before: (a: number, b: number) => number,
    private readonly rank: Float64Array,
  ) {
    this.bounded = k <= 256;
  }

  /** Offers id; returns the rank above which later offers cannot be kept (Infinity until full). */
  offer(id: number): number {
    const a = this.items;
    if (!this.bounded) {
      a.push(id);
      return Number.POSITIVE_INFINITY;
    }
    if (a.length === this.k) {
      const last = a[a.length - 1]!;
      if (this.rank[id]! > this.rank[last]! || this.before(id, last) >= 0) return this.rank[last]!;
    }
    let j = a.length;
    while (j > 0 && this.before(a[j - 1]!, id) > 0) j--;
    a.splice(j, 0, id);
    if (a.length > this.k) a.pop();
    return a.length === this.k ? this.rank[a[a.length - 1]!]! : Number.POSITIVE_INFINITY;
  }

  sorted(): number[] {
    return this.bounded ? this.items : this.items.sort(this.before).slice(0, this.k);
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Position of each protocol number when sorted by name: ties list "gre" before "icmp". */
const PROTO_RANK = (() => {
  const rank = new Int32Array(256);
  const byName = [...rank.keys()].sort((a, b) => cmp(protoName(a), protoName(b)) || a - b);
  for (let i = 0; i < byName.length; i++) rank[byName[i]!] = i;
  return rank;
})();

export function buildSnapshot(m: Merger, local: LocalSpec, meta: SnapshotMeta): Snapshot {
  const t = m.table;
  const keys = t.keys;
  const c = m.counters;
  const entries = c[C_ENTRIES]!;
  const accounted = c[C_ACCT]! > 0;
  const d = (m.backend?.buildDimensions ?? buildDimensions)(t, local, accounted);

  // Canonical text only for what is shown or asked for.
  const addrTextCache: Array<string | undefined> = [];
  const addr = (id: number): string => {
    let s = addrTextCache[id];
    if (s === undefined) {
      s = formatAddress(d.addrFamily[id]!, keys, d.addrOffset[id]!);
      addrTextCache[id] = s;
    }
    return s;
  };
  const prefixTextCache = new Map<number, string>();
  const prefixText = (pid: number): string => {
    let s = prefixTextCache.get(pid);
    if (s === undefined) {
      const a = d.prefixAddr[pid]!;
      s = formatPrefix(d.addrFamily[a]!, keys, d.addrOffset[a]!);
      prefixTextCache.set(pid, s);
    }
    return s;
  };

  // Key order for ties: IPv4 before IPv6, addresses by their bytes; prefixes likewise.
  const bytesBefore = (a: number, b: number, len: number): number => {
    const fa = d.addrFamily[a]!;
    const fb = d.addrFamily[b]!;
    if (fa !== fb) return fa - fb;
    const oa = d.addrOffset[a]!;
    const ob = d.addrOffset[b]!;
    for (let i = 0; i < len; i++) {
      const x = keys[oa + i]! - keys[ob + i]!;
      if (x !== 0) return x;
    }
    return 0;
  };
  const addrBefore = (a: number, b: number): number => bytesBefore(a, b, 16);
  const prefixBefore = (a: number, b: number): number => {
    const fa = d.addrFamily[d.prefixAddr[a]!]!;
    return bytesBefore(d.prefixAddr[a]!, d.prefixAddr[b]!, fa === 4 ? 3 : 8);
  };
  // Services: address, then protocol name, then port; remote+service+state: remote, service, state.
  const classServiceBefore = (i: number, j: number): number =>
    addrBefore(d.dst[i]!, d.dst[j]!) || PROTO_RANK[d.proto[i]!]! - PROTO_RANK[d.proto[j]!]! || d.dport[i]! - d.dport[j]!;
  const serviceBefore = (a: number, b: number): number => classServiceBefore(d.serviceClass[a]!, d.serviceClass[b]!);
  const rssBefore = (a: number, b: number): number => {
    const i = d.rssClass[a]!;
    const j = d.rssClass[b]!;
    return addrBefore(d.remote[i]!, d.remote[j]!) || classServiceBefore(i, j) || d.state[i]! - d.state[j]!;
  };

  // Ranks for topIds: an address's family and first bytes as one exact number (IPv4 below 2^32,
  // IPv6 from 2^32 on, by its first six bytes); prefixes, services and remotes+services+states by
  // the address they start with.
  const addrRank = new Float64Array(d.addrFamily.length);
  for (let id = 0; id < addrRank.length; id++) {
    const o = d.addrOffset[id]!;
    addrRank[id] =
      d.addrFamily[id] === 4
        ? keys[o]! * 2 ** 24 + keys[o + 1]! * 2 ** 16 + keys[o + 2]! * 2 ** 8 + keys[o + 3]!
        : 2 ** 32 +
          keys[o]! * 2 ** 40 +
          keys[o + 1]! * 2 ** 32 +
          keys[o + 2]! * 2 ** 24 +
          keys[o + 3]! * 2 ** 16 +
          keys[o + 4]! * 2 ** 8 +
          keys[o + 5]!;
  }
  // Plain loops: in a one-shot run this code is cold, and closures per id cost it several times over.
  const prefixRank = new Float64Array(d.prefixAddr.length);
  for (let p = 0; p < prefixRank.length; p++) {
    // A prefix's rank is its address's with the host part cleared (the /24; IPv6 ranks stop before the /64 does).
    const r = addrRank[d.prefixAddr[p]!]!;
    prefixRank[p] = r < 2 ** 32 ? r - (r % 256) : r;
  }
  const serviceRank = new Float64Array(d.serviceClass.length);
  for (let sid = 0; sid < serviceRank.length; sid++) serviceRank[sid] = addrRank[d.dst[d.serviceClass[sid]!]!]!;
  const rssRank = new Float64Array(d.rssClass.length);
  for (let rid = 0; rid < rssRank.length; rid++) rssRank[rid] = addrRank[d.remote[d.rssClass[rid]!]!]!;
  const ranks: Record<Dimension, Float64Array> = {
    src: addrRank,
    dst: addrRank,
    remote: addrRank,
    service: serviceRank,
    src_prefix: prefixRank,
    remote_service_state: rssRank,
  };

  const classPort = (i: number): number | null => (d.dport[i]! < 0 ? null : d.dport[i]!);
  const serviceOf = (i: number) => ({ proto: protoName(d.proto[i]!), addr: addr(d.dst[i]!), port: classPort(i) });
  const serviceText = (svc: number): string => {
    const s = serviceOf(d.serviceClass[svc]!);
    return `${s.proto} ${formatEndpoint(s.addr, s.port)}`;
  };
  const rssText = (rid: number): string => {
    const i = d.rssClass[rid]!;
    const st = stateName(d.state[i]!);
    const s = serviceOf(i);
    return `${addr(d.remote[i]!)} ${s.proto} ${formatEndpoint(s.addr, s.port)}${st ? ` ${st}` : ""}`;
  };

  const share = (x: number): number => (entries > 0 ? x / entries : 0);
  const rows = (
    dim: Dimension,
    before: (a: number, b: number) => number,
    text: (id: number) => string,
    extra: (id: number) => Partial<TopRow>,
  ): TopRow[] => {
    const sums = d.sums[dim];
    return topIds(sums.count, meta.top, before, ranks[dim]).map((id) => {
      const row: TopRow = {
        ...extra(id),
        key: text(id),
        count: sums.count[id]!,
        share: share(sums.count[id]!),
        unreplied: sums.unreplied[id]!,
      };
      if (accounted) {
        row.packets = sums.packets[id]!;
        row.bytes = sums.bytes[id]!;
      }
      return row;
    });
  };
  const top: Record<Dimension, TopRow[]> = {
    src: rows("src", addrBefore, addr, (id) => ({ addr: addr(id) })),
    dst: rows("dst", addrBefore, addr, (id) => ({ addr: addr(id) })),
    remote: rows("remote", addrBefore, addr, (id) => ({ addr: addr(id) })),
    service: rows("service", serviceBefore, serviceText, (svc) => serviceOf(d.serviceClass[svc]!)),
    src_prefix: rows("src_prefix", prefixBefore, prefixText, (id) => ({ addr: prefixText(id) })),
    remote_service_state: rows("remote_service_state", rssBefore, rssText, (rid) => {
      const i = d.rssClass[rid]!;
      return { remote: addr(d.remote[i]!), ...serviceOf(i), state: stateName(d.state[i]!) };
    }),
  };
  const distinctOf = (count: Float64Array): number => {
    let k = 0;
    for (let i = 0; i < count.length; i++) if (count[i]! > 0) k++;
    return k;
  };
  const distinct = Object.fromEntries(DIMENSIONS.map((dim) => [dim, distinctOf(d.sums[dim].count)])) as Record<Dimension, number>;

  const hist = (base: number): HistBucket[] => {
    const out: HistBucket[] = [];
    for (let i = 0; i < HIST_BUCKETS - 1; i++) {
      out.push({ from: HIST_EDGES[i]!, to: i + 1 < HIST_EDGES.length ? HIST_EDGES[i + 1]! : null, count: m.hist[base + i]! });
    }
    return out;
  };
  // Stable orders: count descending, then by name.
  const byState: StateRow[] = [];
  for (let sk = 0; sk < d.stateCounts.length; sk += 4) {
    if (d.stateCounts[sk + SC_COUNT] === 0) continue;
    const slot = sk / 4;
    byState.push({
      proto: protoName(Math.floor(slot / STATE_SLOTS)),
      state: stateName(slot % STATE_SLOTS),
      count: d.stateCounts[sk + SC_COUNT]!,
      unreplied: d.stateCounts[sk + SC_UNREPLIED]!,
      assured: d.stateCounts[sk + SC_ASSURED]!,
      offload: d.stateCounts[sk + SC_OFFLOAD]!,
    });
  }
  byState.sort((x, y) => y.count - x.count || cmp(x.proto, y.proto) || cmp(x.state ?? "", y.state ?? ""));
  const byProto = [...d.protoCounts.keys()]
    .filter((p) => d.protoCounts[p]! > 0)
    .map((p) => ({ proto: protoName(p), count: d.protoCounts[p]! }))
    .sort((x, y) => y.count - x.count || cmp(x.proto, y.proto));
  const byFamily = (["ipv4", "ipv6"] as const)
    .map((family, i) => ({ family, count: d.totals[i === 0 ? T_IPV4 : T_IPV6]! }))
    .filter((f) => f.count > 0)
    .sort((x, y) => y.count - x.count);

  const flows: FlowColumns = {
    n: t.size,
    family: d.family,
    proto: d.proto,
    state: d.state,
    flags: d.flags,
    dport: d.dport,
    src: d.src,
    dst: d.dst,
    remote: d.remote,
    local: d.local,
    srcPrefix: d.srcPrefix,
    service: d.service,
    count: d.count,
    packets: d.packets,
    bytes: d.bytes,
    maxTimeout: d.maxTimeout,
    addresses: d.addrFamily.length,
    prefixes: d.prefixAddr.length,
    services: d.serviceClass.length,
    addr,
    prefix: prefixText,
  };

  const snapshot = {
    schema_version: 1,
    backend: meta.backend,
    sources: meta.sources,
    bytes: meta.bytes,
    lines: c[C_LINES]!,
    entries,
    malformed: c[C_MALFORMED]!,
    blank: c[C_BLANK]!,
    ignored: c[C_IGNORED]!,
    destroyed: c[C_DESTROYED]!,
    filtered: c[C_FILTERED]!,
    events: c[C_EVENTS]!,
    accounted: c[C_ACCT]!,
    forms: { l3: c[C_FORM_L3]!, plain: c[C_FORM_PLAIN]!, xml: c[C_FORM_XML]! },
    malformed_samples: m.malformedSamples(meta.sources),
    by_family: byFamily,
    by_proto: byProto,
    by_state: byState,
    unreplied: d.totals[T_UNREPLIED]!,
    assured: d.totals[T_ASSURED]!,
    offloaded: d.totals[T_OFFLOADED]!,
    natted: d.totals[T_NATTED]!,
    timeouts: hist(0),
    established_timeouts: hist(HIST_TCP_ESTABLISHED),
    local: describeLocal(local, topIds(d.localCount, 5, addrBefore, addrRank).map(addr)),
    distinct,
    top,
    elapsed_ms: meta.elapsedMs,
  } as Omit<Snapshot, "classes" | "flows">;
  // Not enumerable: serialisers never see them; class objects are built only when asked for.
  Object.defineProperty(snapshot, "flows", { value: flows, enumerable: false });
  let classes: FlowClass[] | undefined;
  Object.defineProperty(snapshot, "classes", { get: () => (classes ??= classesOf(flows)), enumerable: false, configurable: true });
  return snapshot as Snapshot;
}

/** busiest: the addresses that are most often the local side, busiest first. */
function describeLocal(local: LocalSpec, busiest: string[]): LocalInfo {
  if (local.mode === "given") {
    return { mode: "given", addresses: local.cidrs.map((c) => c.text), explanation: "local addresses given with --local" };
  }
  if (local.mode === "host") {
    return { mode: "host", addresses: local.cidrs.map((c) => c.text), explanation: "local addresses read from this host's interfaces" };
  }
  return {
    mode: "inferred",
    addresses: busiest,
    explanation: "inferred: in each entry the endpoint with more distinct peers is taken as local; pass --local CIDR to set it",
  };
}
