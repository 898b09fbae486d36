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

interface Group {
  count: number;
  packets: number;
  bytes: number;
  unreplied: number;
  row: Omit<TopRow, "key" | "count" | "share" | "unreplied" | "packets" | "bytes">;
}

export function buildSnapshot(m: Merger, local: LocalSpec, meta: SnapshotMeta): Snapshot {
  const t = m.table;
  const n = t.size;
  const keys = t.keys;
  const vals = t.values;
  const c = m.counters;
  const entries = c[C_ENTRIES]!;
  const accounted = c[C_ACCT]! > 0;

  // Canonical text once per distinct address.
  const addrText = new Map<string, string>();
  const addrKey = (off: number, fam: number): string => {
    const raw = String.fromCharCode(...keys.subarray(off, off + (fam === 4 ? 4 : 16)));
    let s = addrText.get(raw);
    if (s === undefined) {
      s = formatAddress(fam, keys, off);
      addrText.set(raw, s);
    }
    return s;
  };

  // Endpoint frequency, for inferring the local side.
  const freq = new Map<string, number>();
  const classes: FlowClass[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const k = i * KEY_BYTES;
    const v = i * VALUE_FIELDS;
    const fam = keys[k + K_FAMILY]! as 4 | 6;
    const proto = keys[k + K_PROTO]!;
    const flags = keys[k + K_FLAGS]!;
    const src = addrKey(k + K_SRC, fam);
    const dst = addrKey(k + K_DST, fam);
    const count = vals[v + V_COUNT]!;
    freq.set(src, (freq.get(src) ?? 0) + count);
    if (dst !== src) freq.set(dst, (freq.get(dst) ?? 0) + count);
    classes[i] = {
      family: fam,
      proto,
      protoName: protoName(proto),
      state: stateName(keys[k + K_STATE]!),
      unreplied: (flags & F_UNREPLIED) !== 0,
      assured: (flags & F_ASSURED) !== 0,
      offload: (flags & (F_OFFLOAD | F_HW_OFFLOAD)) !== 0,
      nat: (flags & F_NAT) !== 0,
      src,
      dst,
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
  const localCounts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const fc = classes[i]!;
    const k = i * KEY_BYTES;
    let srcLocal: boolean;
    let dstLocal: boolean;
    if (local.mode === "inferred") {
      const fs = freq.get(fc.src)!;
      const fd = freq.get(fc.dst)!;
      srcLocal = fs > fd;
      dstLocal = !srcLocal;
    } else {
      srcLocal = inCidrs(local.cidrs, fc.family, keys, k + K_SRC);
      dstLocal = inCidrs(local.cidrs, fc.family, keys, k + K_DST);
    }
    // Inbound (dst local) or transit/both-local: the remote is the other side of the original direction.
    if (srcLocal && !dstLocal) {
      fc.remote = fc.dst;
      fc.local = fc.src;
    } else if (dstLocal && !srcLocal) {
      fc.remote = fc.src;
      fc.local = fc.dst;
    } else if (srcLocal && dstLocal) {
      fc.remote = fc.src;
      fc.local = fc.dst;
    } else {
      fc.remote = fc.dst;
      fc.local = fc.src;
    }
    if (srcLocal || dstLocal) localCounts.set(fc.local, (localCounts.get(fc.local) ?? 0) + fc.count);
  }

  const groups: Record<Dimension, Map<string, Group>> = {
    src: new Map(),
    dst: new Map(),
    remote: new Map(),
    service: new Map(),
    src_prefix: new Map(),
    remote_service_state: new Map(),
  };
  const add = (dim: Dimension, key: string, fc: FlowClass, row: () => Group["row"]): void => {
    const g = groups[dim];
    let e = g.get(key);
    if (!e) {
      e = { count: 0, packets: 0, bytes: 0, unreplied: 0, row: row() };
      g.set(key, e);
    }
    e.count += fc.count;
    e.packets += fc.packets;
    e.bytes += fc.bytes;
    if (fc.unreplied) e.unreplied += fc.count;
  };
  const prefixText = new Map<string, string>();
  const stateRows = new Map<string, StateRow>();
  const famCount = new Map<string, number>();
  const protoCount = new Map<string, number>();
  let unreplied = 0;
  let assured = 0;
  let offloaded = 0;
  let natted = 0;
  for (let i = 0; i < n; i++) {
    const fc = classes[i]!;
    const k = i * KEY_BYTES;
    add("src", fc.src, fc, () => ({ addr: fc.src }));
    add("dst", fc.dst, fc, () => ({ addr: fc.dst }));
    add("remote", fc.remote, fc, () => ({ addr: fc.remote }));
    const service = `${fc.protoName} ${formatEndpoint(fc.dst, fc.dport)}`;
    add("service", service, fc, () => ({ proto: fc.protoName, addr: fc.dst, port: fc.dport }));
    let prefix = prefixText.get(fc.src);
    if (prefix === undefined) {
      prefix = formatPrefix(fc.family, keys, k + K_SRC);
      prefixText.set(fc.src, prefix);
    }
    add("src_prefix", prefix, fc, () => ({ addr: prefix }));
    const rss = `${fc.remote} ${service}${fc.state ? ` ${fc.state}` : ""}`;
    add("remote_service_state", rss, fc, () => ({ remote: fc.remote, proto: fc.protoName, addr: fc.dst, port: fc.dport, state: fc.state }));

    const sk = `${fc.protoName}\0${fc.state ?? ""}`;
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

  const share = (x: number): number => (entries > 0 ? x / entries : 0);
  const top = {} as Record<Dimension, TopRow[]>;
  const distinct = {} as Record<Dimension, number>;
  for (const dim of DIMENSIONS) {
    const g = groups[dim];
    distinct[dim] = g.size;
    top[dim] = [...g.entries()]
      .sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, meta.top)
      .map(([key, e]) => {
        const row: TopRow = { ...e.row, key, count: e.count, share: share(e.count), unreplied: e.unreplied };
        if (accounted) {
          row.packets = e.packets;
          row.bytes = e.bytes;
        }
        return row;
      });
  }

  const byCount = <T extends { count: number }>(a: T, b: T): number => b.count - a.count;
  const hist = (base: number): HistBucket[] => {
    const out: HistBucket[] = [];
    for (let i = 0; i < HIST_BUCKETS - 1; i++) {
      out.push({ from: HIST_EDGES[i]!, to: i + 1 < HIST_EDGES.length ? HIST_EDGES[i + 1]! : null, count: m.hist[base + i]! });
    }
    return out;
  };

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
    local: describeLocal(local, localCounts),
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
