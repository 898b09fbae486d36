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
  HIST_NONE,
  HIST_TCP_ESTABLISHED,
  protoName,
  stateName,
} from "../parse/layout.js";
import { formatAddress, formatEndpoint, formatPrefix } from "../report/address.js";
import type { BackendName } from "./contract.js";
import {
  type Dimensions,
  type LocalSpec,
  SC_ASSURED,
  SC_COUNT,
  SC_MAX_TIMEOUT,
  SC_OFFLOAD,
  SC_UNREPLIED,
  STATE_COUNT_FIELDS,
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
import { topCandidates, topIds } from "./top.js";
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
  /** Problems with the input that did not stop the analysis (default: none). */
  warnings?: string[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Position of each protocol number when sorted by name: ties list "gre" before "icmp". */
const PROTO_RANK = (() => {
  const rank = new Int32Array(256);
  const byName = [...rank.keys()].sort((a, b) => cmp(protoName(a), protoName(b)) || a - b);
  for (let i = 0; i < byName.length; i++) rank[byName[i]!] = i;
  return rank;
})();

/**
 * prebuilt: the dimensions of m's table for local, with traffic when the entries carried counters,
 * when they are already at hand (the ctnetlink dump builds them while it runs).
 */
export function buildSnapshot(m: Merger, local: LocalSpec, meta: SnapshotMeta, prebuilt?: Dimensions): Snapshot {
  const c = m.counters;
  const entries = c[C_ENTRIES]!;
  const accounted = c[C_ACCT]! > 0;
  // A sanity check only (a size, not the keys): the caller vouches for the table.
  if (prebuilt && (prebuilt.count.length !== m.table.size || local.mode === "inferred")) {
    throw new Error("buildSnapshot: the prebuilt dimensions are not this table's");
  }
  const d = prebuilt ?? m.dimensions(local, accounted);
  const classes = d.count.length;
  const addrBytes = d.addrBytes;

  const { addr, prefix: prefixText } = addressBook(d);

  // Key order for ties: IPv4 before IPv6, addresses by their bytes; prefixes likewise.
  const bytesBefore = (a: number, b: number, len: number): number => {
    const fa = d.addrFamily[a]!;
    const fb = d.addrFamily[b]!;
    if (fa !== fb) return fa - fb;
    const oa = a * 16;
    const ob = b * 16;
    for (let i = 0; i < len; i++) {
      const x = addrBytes[oa + i]! - addrBytes[ob + i]!;
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

  const ranks: Record<Dimension, Float64Array> = {
    src: d.addrRank,
    dst: d.addrRank,
    remote: d.addrRank,
    service: d.serviceRank,
    src_prefix: d.prefixRank,
    remote_service_state: d.rssRank,
  };
  const candidates = m.backend?.topCandidates ?? topCandidates;
  const top = (count: Float64Array, n: number, rank: Float64Array, before: (a: number, b: number) => number): number[] =>
    topIds(count, n, before, candidates(count, rank, n));

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
    return top(sums.count, meta.top, ranks[dim], before).map((id) => {
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
  const tops: Record<Dimension, TopRow[]> = {
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
  const distinct = Object.fromEntries(DIMENSIONS.map((dim, i) => [dim, d.distinct[i]!])) as Record<Dimension, number>;

  const hist = (base: number): HistBucket[] => {
    const out: HistBucket[] = [];
    for (let i = 0; i < HIST_BUCKETS - 1; i++) {
      out.push({ from: HIST_EDGES[i]!, to: i + 1 < HIST_EDGES.length ? HIST_EDGES[i + 1]! : null, count: m.hist[base + i]! });
    }
    return out;
  };
  // Stable orders: count descending, then by name.
  const byState: StateRow[] = [];
  for (let sk = 0; sk < d.stateCounts.length; sk += STATE_COUNT_FIELDS) {
    if (d.stateCounts[sk + SC_COUNT] === 0) continue;
    const slot = sk / STATE_COUNT_FIELDS;
    const maxTimeout = d.stateCounts[sk + SC_MAX_TIMEOUT]!;
    byState.push({
      proto: protoName(Math.floor(slot / STATE_SLOTS)),
      state: stateName(slot % STATE_SLOTS),
      count: d.stateCounts[sk + SC_COUNT]!,
      unreplied: d.stateCounts[sk + SC_UNREPLIED]!,
      assured: d.stateCounts[sk + SC_ASSURED]!,
      offload: d.stateCounts[sk + SC_OFFLOAD]!,
      max_timeout: maxTimeout >= 0 ? maxTimeout : null,
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
    n: classes,
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
    remoteCount: d.sums.remote.count,
    prefixCount: d.sums.src_prefix.count,
    serviceCount: d.sums.service.count,
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
    warnings: meta.warnings ?? [],
    by_family: byFamily,
    by_proto: byProto,
    by_state: byState,
    unreplied: d.totals[T_UNREPLIED]!,
    assured: d.totals[T_ASSURED]!,
    offloaded: d.totals[T_OFFLOADED]!,
    natted: d.totals[T_NATTED]!,
    timeouts: hist(0),
    no_timeout: m.hist[HIST_NONE]!,
    established_timeouts: hist(HIST_TCP_ESTABLISHED),
    local: describeLocal(local, top(d.localCount, 5, d.addrRank, addrBefore).map(addr)),
    distinct,
    top: tops,
    elapsed_ms: meta.elapsedMs,
  } as Omit<Snapshot, "classes" | "flows">;
  return withFlows(snapshot, flows);
}

/**
 * The columns as snapshot.flows and the class objects as snapshot.classes, built on first access.
 * Not enumerable: serialisers never see them. Its own function, so that the getter's closure holds
 * only the columns: a closure inside buildSnapshot would keep all of its variables alive (the merged
 * table and every dimension array, about 0.6 GB at 10M entries).
 */
function withFlows(snapshot: Omit<Snapshot, "classes" | "flows">, flows: FlowColumns): Snapshot {
  Object.defineProperty(snapshot, "flows", { value: flows, enumerable: false });
  let classes: FlowClass[] | undefined;
  Object.defineProperty(snapshot, "classes", { get: () => (classes ??= classesOf(flows)), enumerable: false, configurable: true });
  return snapshot as Snapshot;
}

/** Canonical text of address and prefix ids, only for what is shown or asked for. */
function addressBook(d: Dimensions): { addr: (id: number) => string; prefix: (pid: number) => string } {
  const family = d.addrFamily;
  const prefixAddr = d.prefixAddr;
  const bytes = d.addrBytes;
  const addrCache: Array<string | undefined> = [];
  const prefixCache = new Map<number, string>();
  return {
    addr: (id) => {
      let s = addrCache[id];
      if (s === undefined) {
        s = formatAddress(family[id]!, bytes, id * 16);
        addrCache[id] = s;
      }
      return s;
    },
    prefix: (pid) => {
      let s = prefixCache.get(pid);
      if (s === undefined) {
        const a = prefixAddr[pid]!;
        s = formatPrefix(family[a]!, bytes, a * 16);
        prefixCache.set(pid, s);
      }
      return s;
    },
  };
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
