/**
 * Where the merged flow-class table becomes the report's dimensions: local/remote resolution,
 * top-N tables, state breakdown, histograms. Addresses become canonical text here, once per
 * distinct address.
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
  F_ASSURED,
  F_HAS_PORT,
  F_HW_OFFLOAD,
  F_NAT,
  F_OFFLOAD,
  F_UNREPLIED,
  HIST_BUCKETS,
  HIST_EDGES,
  HIST_TCP_ESTABLISHED,
  K_DPORT,
  K_DST,
  K_FAMILY,
  K_FLAGS,
  K_PROTO,
  K_SRC,
  K_STATE,
  KEY_BYTES,
  protoName,
  stateName,
  V_BYTES,
  V_COUNT,
  V_MAX_TIMEOUT,
  V_PACKETS,
  VALUE_FIELDS,
} from "../parse/layout.js";
import { formatAddress, formatEndpoint, formatPrefix } from "../report/address.js";
import type { BackendName } from "./contract.js";
import { type Cidr, inCidrs } from "./filter.js";
import { allocColumns, classesOf, type FlowColumns } from "./flow-columns.js";
import type { Merger } from "./merge.js";
import { PairInterner } from "./pair-interner.js";
import type { Dimension, FlowClass, HistBucket, LocalInfo, Snapshot, StateRow, TopRow } from "./types.js";

export interface LocalSpec {
  mode: "given" | "host" | "inferred";
  cidrs: Cidr[];
}

export interface SnapshotMeta {
  backend: BackendName;
  sources: string[];
  bytes: number;
  top: number;
  elapsedMs: number;
}

/** Sums per interned key of one dimension; grows as keys are added. */
class Accumulator {
  count = new Float64Array(1024);
  packets: Float64Array;
  bytes: Float64Array;
  unreplied = new Float64Array(1024);
  size = 0;

  /** traffic: sum packets and bytes too (only when the input carried them: fewer random writes). */
  constructor(private readonly traffic: boolean) {
    this.packets = new Float64Array(traffic ? 1024 : 0);
    this.bytes = new Float64Array(traffic ? 1024 : 0);
  }

  add(id: number, count: number, packets: number, bytes: number, unreplied: boolean): void {
    if (id >= this.count.length) this.grow(id + 1);
    if (id >= this.size) this.size = id + 1;
    this.count[id]! += count;
    if (this.traffic) {
      this.packets[id]! += packets;
      this.bytes[id]! += bytes;
    }
    if (unreplied) this.unreplied[id]! += count;
  }

  private grow(min: number): void {
    let n = this.count.length;
    while (n < min) n *= 2;
    for (const k of this.traffic ? (["count", "packets", "bytes", "unreplied"] as const) : (["count", "unreplied"] as const)) {
      const a = new Float64Array(n);
      a.set(this[k]);
      this[k] = a;
    }
  }

  /** Ids of the top n keys: count descending, ties by key text ascending. One pass, no full sort. */
  top(n: number, text: (id: number) => string): number[] {
    const c = this.count;
    // The n-th largest count: everything at or above it is a candidate (ties kept for the text order).
    const best: number[] = [];
    for (let i = 0; i < this.size; i++) {
      const v = c[i]!;
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
    // hundreds of thousands on a flood, all with count 1) the smallest texts fill the remaining places.
    const above: Array<[number, string]> = [];
    const tied = new TiedSelection(n);
    for (let i = 0; i < this.size; i++) {
      const v = c[i]!;
      if (v <= 0 || v < cutoff) continue;
      if (v > cutoff) above.push([i, text(i)]);
      else tied.offer(i, text(i));
    }
    above.sort((x, y) => c[y[0]]! - c[x[0]]! || cmp(x[1], y[1]));
    return [...above, ...tied.sorted()].slice(0, n).map(([i]) => i);
  }

  distinct(): number {
    let d = 0;
    for (let i = 0; i < this.size; i++) if (this.count[i]! > 0) d++;
    return d;
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The k smallest (id, text) pairs by text, offered one at a time. Small k: a sorted array of at most
 * k (one comparison rejects most offers); large k: collect and sort once.
 */
class TiedSelection {
  private readonly items: Array<[number, string]> = [];
  private readonly bounded: boolean;

  constructor(private readonly k: number) {
    this.bounded = k <= 256;
  }

  offer(id: number, text: string): void {
    const a = this.items;
    if (!this.bounded) {
      a.push([id, text]);
      return;
    }
    if (a.length === this.k && text >= a[a.length - 1]![1]) return;
    let j = a.length;
    while (j > 0 && a[j - 1]![1] > text) j--;
    a.splice(j, 0, [id, text]);
    if (a.length > this.k) a.pop();
  }

  sorted(): Array<[number, string]> {
    return this.bounded ? this.items : this.items.sort((x, y) => cmp(x[1], y[1])).slice(0, this.k);
  }
}

export function buildSnapshot(m: Merger, local: LocalSpec, meta: SnapshotMeta): Snapshot {
  const t = m.table;
  const n = t.size;
  const keys = t.keys;
  const words = new Uint32Array(keys.buffer, keys.byteOffset, (n * KEY_BYTES) / 4);
  const vals = t.values;
  const c = m.counters;
  const entries = c[C_ENTRIES]!;
  const accounted = c[C_ACCT]! > 0;

  // Addresses are interned by their raw bytes: IPv4 by the 32-bit word; IPv6 by its two 64-bit
  // halves, each interned as a pair of words, then the pair of half ids (no string per lookup).
  const v4 = new PairInterner();
  const v4Ids: number[] = [];
  const v6hi = new PairInterner();
  const v6lo = new PairInterner();
  const v6 = new PairInterner();
  const v6Ids: number[] = [];
  const addrFam: number[] = [];
  const addrOff: number[] = []; // byte offset of one occurrence, for text, prefixes and CIDR checks
  const internAddr = (off: number, fam: number): number => {
    let id: number | undefined;
    if (fam === 4) {
      const pid = v4.id(words[off >> 2]!, 0);
      if (pid < v4Ids.length) return v4Ids[pid]!;
      id = addrFam.length;
      v4Ids.push(id);
    } else {
      const w = off >> 2;
      const pid = v6.id(v6hi.id(words[w]!, words[w + 1]!), v6lo.id(words[w + 2]!, words[w + 3]!));
      if (pid < v6Ids.length) return v6Ids[pid]!;
      id = addrFam.length;
      v6Ids.push(id);
    }
    addrFam.push(fam);
    addrOff.push(off);
    return id;
  };
  // Canonical text only for addresses that are shown or asked for.
  const addrTextCache: Array<string | undefined> = [];
  const addr = (id: number): string => {
    let s = addrTextCache[id];
    if (s === undefined) {
      s = formatAddress(addrFam[id]!, keys, addrOff[id]!);
      addrTextCache[id] = s;
    }
    return s;
  };

  const cols = allocColumns(n);
  const srcIds = cols.src;
  const dstIds = cols.dst;
  let freq = new Float64Array(1024);
  for (let i = 0; i < n; i++) {
    const k = i * KEY_BYTES;
    const fam = keys[k + K_FAMILY]!;
    const si = internAddr(k + K_SRC, fam);
    const di = internAddr(k + K_DST, fam);
    srcIds[i] = si;
    dstIds[i] = di;
    if (addrFam.length > freq.length) {
      const f = new Float64Array(freq.length * 2 + addrFam.length);
      f.set(freq);
      freq = f;
    }
    const count = vals[i * VALUE_FIELDS + V_COUNT]!;
    freq[si]! += count;
    if (di !== si) freq[di]! += count;
  }
  // Distinct peers per address: a host's own address talks to many peers, a remote server (even a
  // busy one that local clients or containers use) to few.
  const peers = new Float64Array(addrFam.length);
  if (local.mode === "inferred") {
    const pairs = new PairInterner();
    for (let i = 0; i < n; i++) {
      const si = srcIds[i]!;
      const di = dstIds[i]!;
      const a = Math.min(si, di);
      const b = Math.max(si, di);
      const before = pairs.size;
      pairs.id(a, b);
      if (pairs.size > before) {
        peers[a]!++;
        if (b !== a) peers[b]!++;
      }
    }
  }

  // Local/remote: given or host CIDRs decide; otherwise the endpoint with more distinct peers (then more entries) is local.
  const isLocal = new Int8Array(addrFam.length); // 0 unknown, 1 local, -1 not
  const localOf = (id: number): boolean => {
    if (isLocal[id] === 0) isLocal[id] = inCidrs(local.cidrs, addrFam[id]!, keys, addrOff[id]!) ? 1 : -1;
    return isLocal[id] === 1;
  };
  const remoteIds = cols.remote;
  const localIds = cols.local;
  const localCounts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const si = srcIds[i]!;
    const di = dstIds[i]!;
    let srcLocal: boolean;
    let dstLocal: boolean;
    if (local.mode === "inferred") {
      srcLocal = peers[si]! > peers[di]! || (peers[si] === peers[di] && freq[si]! > freq[di]!);
      dstLocal = !srcLocal;
    } else {
      srcLocal = localOf(si);
      dstLocal = localOf(di);
    }
    // Outbound: the remote is the destination; inbound or both local: the source; transit: the destination.
    const outbound = (srcLocal && !dstLocal) || (!srcLocal && !dstLocal);
    remoteIds[i] = outbound ? di : si;
    localIds[i] = outbound ? si : di;
    if (srcLocal || dstLocal) localCounts.set(localIds[i]!, (localCounts.get(localIds[i]!) ?? 0) + vals[i * VALUE_FIELDS + V_COUNT]!);
  }

  // Dimensions keyed by dense ids.
  const bySrc = new Accumulator(accounted);
  const byDst = new Accumulator(accounted);
  const byRemote = new Accumulator(accounted);
  const byService = new Accumulator(accounted);
  const byPrefix = new Accumulator(accounted);
  const byRss = new Accumulator(accounted);
  const services = new PairInterner(); // (dst id, proto and port)
  const serviceClass: number[] = []; // one class index per service, to describe it
  const prefixes4 = new PairInterner();
  const prefixIds4: number[] = [];
  const prefixes6 = new PairInterner(); // the first two words: the /64
  const prefixIds6: number[] = [];
  const prefixAddr: number[] = []; // one address id per prefix
  const rss = new PairInterner(); // (remote id, service id and state)
  const rssClass: number[] = [];
  const stateCounts = new Float64Array(256 * 64 * 4); // (proto, state) → count, unreplied, assured, offload
  const stateSeen: number[] = [];
  const famCounts = [0, 0];
  const protoCounts = new Float64Array(256);
  let unreplied = 0;
  let assured = 0;
  let offloaded = 0;
  let natted = 0;
  for (let i = 0; i < n; i++) {
    const k = i * KEY_BYTES;
    const v = i * VALUE_FIELDS;
    const si = srcIds[i]!;
    const di = dstIds[i]!;
    const fam = keys[k + K_FAMILY]!;
    const proto = keys[k + K_PROTO]!;
    const state = keys[k + K_STATE]!;
    const flags = keys[k + K_FLAGS]!;
    const count = vals[v + V_COUNT]!;
    const packets = vals[v + V_PACKETS]!;
    const bytes = vals[v + V_BYTES]!;
    const unrep = (flags & F_UNREPLIED) !== 0;
    cols.family[i] = fam;
    cols.proto[i] = proto;
    cols.state[i] = state;
    cols.flags[i] = flags;
    cols.count[i] = count;
    cols.packets[i] = packets;
    cols.bytes[i] = bytes;
    cols.maxTimeout[i] = vals[v + V_MAX_TIMEOUT]!;
    bySrc.add(si, count, packets, bytes, unrep);
    byDst.add(di, count, packets, bytes, unrep);
    byRemote.add(remoteIds[i]!, count, packets, bytes, unrep);
    // Portless protocols get their own slot (65536).
    const port = (flags & F_HAS_PORT) !== 0 ? (keys[k + K_DPORT]! << 8) | keys[k + K_DPORT + 1]! : 65536;
    cols.dport[i] = port === 65536 ? -1 : port;
    const svc = services.id(di, proto * 131072 + port);
    if (svc === serviceClass.length) serviceClass.push(i);
    byService.add(svc, count, packets, bytes, unrep);
    let pid: number;
    if (fam === 4) {
      // The /24 is the first three address bytes (a word mask would depend on byte order).
      const p4 = prefixes4.id((keys[k + K_SRC]! << 16) | (keys[k + K_SRC + 1]! << 8) | keys[k + K_SRC + 2]!, 0);
      if (p4 === prefixIds4.length) {
        prefixIds4.push(prefixAddr.length);
        prefixAddr.push(si);
      }
      pid = prefixIds4[p4]!;
    } else {
      const w = (k + K_SRC) >> 2;
      const p6 = prefixes6.id(words[w]!, words[w + 1]!);
      if (p6 === prefixIds6.length) {
        prefixIds6.push(prefixAddr.length);
        prefixAddr.push(si);
      }
      pid = prefixIds6[p6]!;
    }
    cols.srcPrefix[i] = pid;
    byPrefix.add(pid, count, packets, bytes, unrep);
    const rid = rss.id(remoteIds[i]!, svc * 32 + state);
    if (rid === rssClass.length) rssClass.push(i);
    byRss.add(rid, count, packets, bytes, unrep);

    const sk = (proto * 64 + state) * 4;
    if (stateCounts[sk] === 0) stateSeen.push(sk);
    stateCounts[sk]! += count;
    if (unrep) {
      stateCounts[sk + 1]! += count;
      unreplied += count;
    }
    if ((flags & F_ASSURED) !== 0) {
      stateCounts[sk + 2]! += count;
      assured += count;
    }
    if ((flags & (F_OFFLOAD | F_HW_OFFLOAD)) !== 0) {
      stateCounts[sk + 3]! += count;
      offloaded += count;
    }
    if ((flags & F_NAT) !== 0) natted += count;
    famCounts[fam === 4 ? 0 : 1]! += count;
    protoCounts[proto]! += count;
  }

  const classPort = (i: number): number | null => {
    const k = i * KEY_BYTES;
    return (keys[k + K_FLAGS]! & F_HAS_PORT) !== 0 ? (keys[k + K_DPORT]! << 8) | keys[k + K_DPORT + 1]! : null;
  };
  const serviceOf = (i: number) => ({ proto: protoName(keys[i * KEY_BYTES + K_PROTO]!), addr: addr(dstIds[i]!), port: classPort(i) });
  const serviceText = (svc: number): string => {
    const s = serviceOf(serviceClass[svc]!);
    return `${s.proto} ${formatEndpoint(s.addr, s.port)}`;
  };
  const prefixTextCache = new Map<number, string>();
  const prefixText = (pid: number): string => {
    let s = prefixTextCache.get(pid);
    if (s === undefined) {
      const a = prefixAddr[pid]!;
      s = formatPrefix(addrFam[a]!, keys, addrOff[a]!);
      prefixTextCache.set(pid, s);
    }
    return s;
  };
  const rssText = (rid: number): string => {
    const i = rssClass[rid]!;
    const st = stateName(keys[i * KEY_BYTES + K_STATE]!);
    const s = serviceOf(i);
    return `${addr(remoteIds[i]!)} ${s.proto} ${formatEndpoint(s.addr, s.port)}${st ? ` ${st}` : ""}`;
  };

  const share = (x: number): number => (entries > 0 ? x / entries : 0);
  const rows = (acc: Accumulator, text: (id: number) => string, extra: (id: number) => Partial<TopRow>): TopRow[] =>
    acc.top(meta.top, text).map((id) => {
      const row: TopRow = {
        ...extra(id),
        key: text(id),
        count: acc.count[id]!,
        share: share(acc.count[id]!),
        unreplied: acc.unreplied[id]!,
      };
      if (accounted) {
        row.packets = acc.packets[id]!;
        row.bytes = acc.bytes[id]!;
      }
      return row;
    });
  const top: Record<Dimension, TopRow[]> = {
    src: rows(bySrc, addr, (id) => ({ addr: addr(id) })),
    dst: rows(byDst, addr, (id) => ({ addr: addr(id) })),
    remote: rows(byRemote, addr, (id) => ({ addr: addr(id) })),
    service: rows(byService, serviceText, (svc) => serviceOf(serviceClass[svc]!)),
    src_prefix: rows(byPrefix, prefixText, (id) => ({ addr: prefixText(id) })),
    remote_service_state: rows(byRss, rssText, (rid) => {
      const i = rssClass[rid]!;
      return { remote: addr(remoteIds[i]!), ...serviceOf(i), state: stateName(keys[i * KEY_BYTES + K_STATE]!) };
    }),
  };
  const distinct: Record<Dimension, number> = {
    src: bySrc.distinct(),
    dst: byDst.distinct(),
    remote: byRemote.distinct(),
    service: byService.distinct(),
    src_prefix: byPrefix.distinct(),
    remote_service_state: byRss.distinct(),
  };

  const hist = (base: number): HistBucket[] => {
    const out: HistBucket[] = [];
    for (let i = 0; i < HIST_BUCKETS - 1; i++) {
      out.push({ from: HIST_EDGES[i]!, to: i + 1 < HIST_EDGES.length ? HIST_EDGES[i + 1]! : null, count: m.hist[base + i]! });
    }
    return out;
  };
  // Stable orders: count descending, then by name.
  const byState: StateRow[] = stateSeen
    .map((sk) => {
      const proto = sk / 4 / 64;
      const st = (sk / 4) % 64;
      return {
        proto: protoName(Math.floor(proto)),
        state: stateName(st),
        count: stateCounts[sk]!,
        unreplied: stateCounts[sk + 1]!,
        assured: stateCounts[sk + 2]!,
        offload: stateCounts[sk + 3]!,
      };
    })
    .sort((x, y) => y.count - x.count || cmp(x.proto, y.proto) || cmp(x.state ?? "", y.state ?? ""));
  const byProto = [...protoCounts.keys()]
    .filter((p) => protoCounts[p]! > 0)
    .map((p) => ({ proto: protoName(p), count: protoCounts[p]! }))
    .sort((x, y) => y.count - x.count || cmp(x.proto, y.proto));
  const byFamily = (["ipv4", "ipv6"] as const)
    .map((family, i) => ({ family, count: famCounts[i]! }))
    .filter((f) => f.count > 0)
    .sort((x, y) => y.count - x.count);
  const localText = new Map([...localCounts].map(([id, cnt]) => [addr(id), cnt]));

  const flows: FlowColumns = {
    ...cols,
    addresses: addrFam.length,
    prefixes: prefixAddr.length,
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
    unreplied,
    assured,
    offloaded,
    natted,
    timeouts: hist(0),
    established_timeouts: hist(HIST_TCP_ESTABLISHED),
    local: describeLocal(local, localText),
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

function describeLocal(local: LocalSpec, counts: Map<string, number>): LocalInfo {
  // Ties by address text: class order depends on which chunk finished first.
  const busiest = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || cmp(a[0], b[0]))
    .slice(0, 5)
    .map(([a]) => a);
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
