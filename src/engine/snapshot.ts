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
  packets = new Float64Array(1024);
  bytes = new Float64Array(1024);
  unreplied = new Float64Array(1024);
  size = 0;

  add(id: number, fc: FlowClass): void {
    if (id >= this.count.length) this.grow(id + 1);
    if (id >= this.size) this.size = id + 1;
    this.count[id]! += fc.count;
    this.packets[id]! += fc.packets;
    this.bytes[id]! += fc.bytes;
    if (fc.unreplied) this.unreplied[id]! += fc.count;
  }

  private grow(min: number): void {
    let n = this.count.length;
    while (n < min) n *= 2;
    for (const k of ["count", "packets", "bytes", "unreplied"] as const) {
      const a = new Float64Array(n);
      a.set(this[k]);
      this[k] = a;
    }
  }

  /** Ids of the top n keys: count descending, then by the key text ascending. */
  top(n: number, text: (id: number) => string): number[] {
    const ids: number[] = [];
    for (let i = 0; i < this.size; i++) if (this.count[i]! > 0) ids.push(i);
    const c = this.count;
    // Partial order first (cheap on numbers), then the exact order with ties broken by text.
    ids.sort((a, b) => c[b]! - c[a]!);
    const cutoff = ids.length > n ? c[ids[n - 1]!]! : -1;
    const head = ids.filter((i) => c[i]! >= cutoff);
    head.sort((a, b) => c[b]! - c[a]! || cmp(text(a), text(b)));
    return head.slice(0, n);
  }

  distinct(): number {
    let d = 0;
    for (let i = 0; i < this.size; i++) if (this.count[i]! > 0) d++;
    return d;
  }
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Interns keys (numbers or strings) to dense ids. */
class Interner<K> {
  private readonly map = new Map<K, number>();
  readonly keys: K[] = [];
  id(k: K): number {
    let i = this.map.get(k);
    if (i === undefined) {
      i = this.keys.length;
      this.map.set(k, i);
      this.keys.push(k);
    }
    return i;
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

  // Addresses are interned by their raw bytes: IPv4 by the 32-bit word, IPv6 by 16 latin1 chars.
  const v4 = new Map<number, number>();
  const v6 = new Map<string, number>();
  const addrText: string[] = [];
  const addrFam: number[] = [];
  const addrOff: number[] = []; // byte offset of one occurrence, for prefixes and CIDR checks
  const internAddr = (off: number, fam: number): number => {
    let id: number | undefined;
    if (fam === 4) {
      const w = words[off >> 2]!;
      id = v4.get(w);
      if (id === undefined) {
        id = addrText.length;
        v4.set(w, id);
      } else return id;
    } else {
      const raw = String.fromCharCode.apply(null, keys.subarray(off, off + 16) as unknown as number[]);
      id = v6.get(raw);
      if (id === undefined) {
        id = addrText.length;
        v6.set(raw, id);
      } else return id;
    }
    addrText.push(formatAddress(fam, keys, off));
    addrFam.push(fam);
    addrOff.push(off);
    return id;
  };

  const srcIds = new Int32Array(n);
  const dstIds = new Int32Array(n);
  let freq = new Float64Array(1024);
  const classes: FlowClass[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const k = i * KEY_BYTES;
    const v = i * VALUE_FIELDS;
    const fam = keys[k + K_FAMILY]! as 4 | 6;
    const proto = keys[k + K_PROTO]!;
    const flags = keys[k + K_FLAGS]!;
    const si = internAddr(k + K_SRC, fam);
    const di = internAddr(k + K_DST, fam);
    srcIds[i] = si;
    dstIds[i] = di;
    const count = vals[v + V_COUNT]!;
    if (addrText.length > freq.length) {
      const f = new Float64Array(freq.length * 2 + addrText.length);
      f.set(freq);
      freq = f;
    }
    freq[si]! += count;
    if (di !== si) freq[di]! += count;
    classes[i] = {
      family: fam,
      proto,
      protoName: protoName(proto),
      state: stateName(keys[k + K_STATE]!),
      unreplied: (flags & F_UNREPLIED) !== 0,
      assured: (flags & F_ASSURED) !== 0,
      offload: (flags & (F_OFFLOAD | F_HW_OFFLOAD)) !== 0,
      nat: (flags & F_NAT) !== 0,
      src: addrText[si]!,
      dst: addrText[di]!,
      dport: (flags & F_HAS_PORT) !== 0 ? (keys[k + K_DPORT]! << 8) | keys[k + K_DPORT + 1]! : null,
      remote: "",
      local: "",
      count,
      packets: vals[v + V_PACKETS]!,
      bytes: vals[v + V_BYTES]!,
      maxTimeout: vals[v + V_MAX_TIMEOUT]!,
    };
  }

  // Local/remote: given or host CIDRs decide; otherwise the busier endpoint of each entry is local.
  const isLocal = new Int8Array(addrText.length); // 0 unknown, 1 local, -1 not
  const localOf = (id: number): boolean => {
    if (isLocal[id] === 0) isLocal[id] = inCidrs(local.cidrs, addrFam[id]!, keys, addrOff[id]!) ? 1 : -1;
    return isLocal[id] === 1;
  };
  const remoteIds = new Int32Array(n);
  const localCounts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const fc = classes[i]!;
    const si = srcIds[i]!;
    const di = dstIds[i]!;
    let srcLocal: boolean;
    let dstLocal: boolean;
    if (local.mode === "inferred") {
      srcLocal = freq[si]! > freq[di]!;
      dstLocal = !srcLocal;
    } else {
      srcLocal = localOf(si);
      dstLocal = localOf(di);
    }
    // Outbound: the remote is the destination. Inbound, both local, or transit: see README.
    let ri: number;
    let li: number;
    if (srcLocal && !dstLocal) {
      ri = di;
      li = si;
    } else if (dstLocal) {
      ri = si;
      li = di;
    } else {
      ri = di;
      li = si;
    }
    remoteIds[i] = ri;
    fc.remote = addrText[ri]!;
    fc.local = addrText[li]!;
    if (srcLocal || dstLocal) localCounts.set(li, (localCounts.get(li) ?? 0) + fc.count);
  }

  // Dimensions keyed by dense ids.
  const bySrc = new Accumulator();
  const byDst = new Accumulator();
  const byRemote = new Accumulator();
  const byService = new Accumulator();
  const byPrefix = new Accumulator();
  const byRss = new Accumulator();
  const services = new Interner<number>(); // (dst id, proto, port) packed
  const serviceClass: number[] = []; // one class index per service, to describe it
  const prefixes = new Interner<number | string>();
  const prefixAddr: number[] = []; // one address id per prefix
  const rss = new Interner<number | string>();
  const rssClass: number[] = [];
  const stateRows = new Map<number, StateRow>();
  const famCount = new Map<string, number>();
  const protoCount = new Map<string, number>();
  let unreplied = 0;
  let assured = 0;
  let offloaded = 0;
  let natted = 0;
  for (let i = 0; i < n; i++) {
    const fc = classes[i]!;
    const si = srcIds[i]!;
    const di = dstIds[i]!;
    const k = i * KEY_BYTES;
    bySrc.add(si, fc);
    byDst.add(di, fc);
    byRemote.add(remoteIds[i]!, fc);
    const port = fc.dport ?? 65536; // portless protocols get their own slot
    const svc = services.id(di * 33554432 + fc.proto * 131072 + port);
    if (svc === serviceClass.length) serviceClass.push(i);
    byService.add(svc, fc);
    const pk =
      fc.family === 4
        ? words[(k + K_SRC) >> 2]! & 0xffffff00
        : String.fromCharCode.apply(null, keys.subarray(k + K_SRC, k + K_SRC + 8) as unknown as number[]);
    const pid = prefixes.id(pk);
    if (pid === prefixAddr.length) prefixAddr.push(si);
    byPrefix.add(pid, fc);
    const state = keys[k + K_STATE]!;
    const ri = remoteIds[i]!;
    const rk = ri < 16777216 && svc < 4194304 ? (ri * 4194304 + svc) * 32 + state : `${ri}/${svc}/${state}`;
    const rid = rss.id(rk);
    if (rid === rssClass.length) rssClass.push(i);
    byRss.add(rid, fc);

    const sk = fc.proto * 64 + state;
    let sr = stateRows.get(sk);
    if (!sr) {
      sr = { proto: fc.protoName, state: fc.state, count: 0, unreplied: 0, assured: 0, offload: 0 };
      stateRows.set(sk, sr);
    }
    sr.count += fc.count;
    if (fc.unreplied) {
      sr.unreplied += fc.count;
      unreplied += fc.count;
    }
    if (fc.assured) {
      sr.assured += fc.count;
      assured += fc.count;
    }
    if (fc.offload) {
      sr.offload += fc.count;
      offloaded += fc.count;
    }
    if (fc.nat) natted += fc.count;
    const fam = fc.family === 4 ? "ipv4" : "ipv6";
    famCount.set(fam, (famCount.get(fam) ?? 0) + fc.count);
    protoCount.set(fc.protoName, (protoCount.get(fc.protoName) ?? 0) + fc.count);
  }

  const serviceText = (svc: number): string => {
    const fc = classes[serviceClass[svc]!]!;
    return `${fc.protoName} ${formatEndpoint(fc.dst, fc.dport)}`;
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
    const fc = classes[rssClass[rid]!]!;
    return `${fc.remote} ${fc.protoName} ${formatEndpoint(fc.dst, fc.dport)}${fc.state ? ` ${fc.state}` : ""}`;
  };
  const addr = (id: number): string => addrText[id]!;

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
  const svcExtra = (svc: number): Partial<TopRow> => {
    const fc = classes[serviceClass[svc]!]!;
    return { proto: fc.protoName, addr: fc.dst, port: fc.dport };
  };
  const top: Record<Dimension, TopRow[]> = {
    src: rows(bySrc, addr, (id) => ({ addr: addr(id) })),
    dst: rows(byDst, addr, (id) => ({ addr: addr(id) })),
    remote: rows(byRemote, addr, (id) => ({ addr: addr(id) })),
    service: rows(byService, serviceText, svcExtra),
    src_prefix: rows(byPrefix, prefixText, (id) => ({ addr: prefixText(id) })),
    remote_service_state: rows(byRss, rssText, (rid) => {
      const fc = classes[rssClass[rid]!]!;
      return { remote: fc.remote, proto: fc.protoName, addr: fc.dst, port: fc.dport, state: fc.state };
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

  const byCount = <T extends { count: number }>(a: T, b: T): number => b.count - a.count;
  const hist = (base: number): HistBucket[] => {
    const out: HistBucket[] = [];
    for (let i = 0; i < HIST_BUCKETS - 1; i++) {
      out.push({ from: HIST_EDGES[i]!, to: i + 1 < HIST_EDGES.length ? HIST_EDGES[i + 1]! : null, count: m.hist[base + i]! });
    }
    return out;
  };
  const localText = new Map([...localCounts].map(([id, cnt]) => [addrText[id]!, cnt]));

  return {
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
    by_family: [...famCount].map(([family, count]) => ({ family: family as "ipv4" | "ipv6", count })).sort(byCount),
    by_proto: [...protoCount].map(([proto, count]) => ({ proto, count })).sort(byCount),
    by_state: [...stateRows.values()].sort(byCount),
    unreplied,
    assured,
    offloaded,
    natted,
    timeouts: hist(0),
    established_timeouts: hist(HIST_TCP_ESTABLISHED),
    local: describeLocal(local, localText),
    distinct,
    top,
    classes,
    elapsed_ms: meta.elapsedMs,
  };
}

function describeLocal(local: LocalSpec, counts: Map<string, number>): LocalInfo {
  const busiest = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
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
    explanation: "inferred: in each entry the endpoint seen in more entries is taken as local; pass --local CIDR to set it",
  };
}
