/**
 * Builds a Snapshot from a list of flow-class rows, for diagnosis tests that need no dump.
 * Totals, state rows, histograms and top tables are derived from the rows the way the engine
 * derives them from flow classes (each class's entries are put at its maxTimeout in the histograms).
 */
import { isIP } from "node:net";
import { columnsFromClasses } from "../../src/engine/flow-columns.js";
import type { Dimension, FlowClass, HistBucket, Snapshot, StateRow, TopRow } from "../../src/engine/types.js";
import { HIST_EDGES } from "../../src/parse/layout.js";

const PROTOS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, dccp: 33, gre: 47, icmpv6: 58, sctp: 132, udplite: 136 };

export interface Row {
  src: string;
  dst: string;
  /** Default tcp. */
  proto?: string;
  /** Default 80 for port protocols, null otherwise. */
  dport?: number | null;
  /** Default ESTABLISHED for tcp, null otherwise. */
  state?: string | null;
  unreplied?: boolean;
  /** Default: !unreplied. */
  assured?: boolean;
  nat?: boolean;
  offload?: boolean;
  /** Entries in the class. Default 1. */
  count?: number;
  packets?: number;
  bytes?: number;
  /** Largest remaining timeout, -1 for none. Default 3600 (or 431999 for tcp ESTABLISHED). */
  maxTimeout?: number;
  /** Which endpoint is remote. Default "src" (the remote opened the connection). */
  remote?: "src" | "dst";
}

export interface BuildOptions {
  /** Mark every entry as carrying packets=/bytes=. */
  accounted?: boolean;
  top?: number;
  sources?: string[];
}

function hist(classes: FlowClass[], pick: (c: FlowClass) => boolean): HistBucket[] {
  const out: HistBucket[] = HIST_EDGES.map((from, i) => ({ from, to: i + 1 < HIST_EDGES.length ? HIST_EDGES[i + 1]! : null, count: 0 }));
  for (const c of classes) {
    if (!pick(c) || c.maxTimeout < 0) continue;
    let i = out.length - 1;
    while (i > 0 && c.maxTimeout < out[i]!.from) i--;
    out[i]!.count += c.count;
  }
  return out;
}

export function toClass(r: Row): FlowClass {
  const protoName = r.proto ?? "tcp";
  const proto = PROTOS[protoName];
  if (proto === undefined) throw new Error(`unknown proto ${protoName}`);
  const fam = isIP(r.src);
  if (fam !== 4 && fam !== 6) throw new Error(`bad address ${r.src}`);
  const hasPort = proto === 6 || proto === 17 || proto === 136 || proto === 132 || proto === 33;
  const state = r.state !== undefined ? r.state : proto === 6 ? "ESTABLISHED" : null;
  const remoteIsSrc = (r.remote ?? "src") === "src";
  const unreplied = r.unreplied ?? false;
  return {
    family: fam,
    proto,
    protoName,
    state,
    unreplied,
    assured: r.assured ?? !unreplied,
    offload: r.offload ?? false,
    nat: r.nat ?? false,
    src: r.src,
    dst: r.dst,
    dport: r.dport !== undefined ? r.dport : hasPort ? 80 : null,
    remote: remoteIsSrc ? r.src : r.dst,
    local: remoteIsSrc ? r.dst : r.src,
    count: r.count ?? 1,
    packets: r.packets ?? 0,
    bytes: r.bytes ?? 0,
    maxTimeout: r.maxTimeout ?? (proto === 6 && state === "ESTABLISHED" ? 431999 : 3600),
  };
}

export function buildSnapshot(rows: Row[], opts: BuildOptions = {}): Snapshot {
  const classes = rows.map(toClass);
  const entries = classes.reduce((s, c) => s + c.count, 0);
  const sum = (f: (c: FlowClass) => boolean) => classes.reduce((s, c) => s + (f(c) ? c.count : 0), 0);
  const states = new Map<string, StateRow>();
  const protos = new Map<string, number>();
  const fams = new Map<"ipv4" | "ipv6", number>();
  for (const c of classes) {
    const k = `${c.protoName}\0${c.state ?? ""}`;
    let s = states.get(k);
    if (!s) {
      s = { proto: c.protoName, state: c.state, count: 0, unreplied: 0, assured: 0, offload: 0, max_timeout: null };
      states.set(k, s);
    }
    if (c.maxTimeout >= 0 && (s.max_timeout === null || c.maxTimeout > s.max_timeout)) s.max_timeout = c.maxTimeout;
    s.count += c.count;
    if (c.unreplied) s.unreplied += c.count;
    if (c.assured) s.assured += c.count;
    if (c.offload) s.offload += c.count;
    protos.set(c.protoName, (protos.get(c.protoName) ?? 0) + c.count);
    const f = c.family === 4 ? "ipv4" : "ipv6";
    fams.set(f, (fams.get(f) ?? 0) + c.count);
  }
  const keyOf: Record<Dimension, (c: FlowClass) => string> = {
    src: (c) => c.src,
    dst: (c) => c.dst,
    remote: (c) => c.remote,
    service: (c) => `${c.protoName} ${c.dst}:${c.dport}`,
    src_prefix: (c) => c.src,
    remote_service_state: (c) => `${c.remote} ${c.protoName} ${c.dst}:${c.dport} ${c.state ?? ""}`,
  };
  const top = {} as Record<Dimension, TopRow[]>;
  const distinct = {} as Record<Dimension, number>;
  for (const dim of Object.keys(keyOf) as Dimension[]) {
    const g = new Map<string, { count: number; unreplied: number }>();
    for (const c of classes) {
      const k = keyOf[dim](c);
      const e = g.get(k) ?? { count: 0, unreplied: 0 };
      e.count += c.count;
      if (c.unreplied) e.unreplied += c.count;
      g.set(k, e);
    }
    distinct[dim] = g.size;
    top[dim] = [...g]
      .sort((a, b) => b[1].count - a[1].count)
      .slice(0, opts.top ?? 10)
      .map(([key, e]) => ({ key, count: e.count, share: entries ? e.count / entries : 0, unreplied: e.unreplied }));
  }
  const byCount = <T extends { count: number }>(a: T, b: T) => b.count - a.count;
  return {
    schema_version: 1,
    backend: "ts",
    sources: opts.sources ?? ["builder"],
    bytes: 0,
    lines: entries,
    entries,
    malformed: 0,
    blank: 0,
    ignored: 0,
    destroyed: 0,
    filtered: 0,
    events: 0,
    accounted: opts.accounted ? entries : 0,
    forms: { l3: entries, plain: 0, xml: 0 },
    malformed_samples: [],
    warnings: [],
    by_family: [...fams].map(([family, count]) => ({ family, count })).sort(byCount),
    by_proto: [...protos].map(([proto, count]) => ({ proto, count })).sort(byCount),
    by_state: [...states.values()].sort(byCount),
    unreplied: sum((c) => c.unreplied),
    assured: sum((c) => c.assured),
    offloaded: sum((c) => c.offload),
    natted: sum((c) => c.nat),
    timeouts: hist(classes, () => true),
    no_timeout: classes.reduce((n, c) => n + (c.maxTimeout < 0 ? c.count : 0), 0),
    established_timeouts: hist(classes, (c) => c.proto === 6 && c.state === "ESTABLISHED"),
    local: { mode: "given", addresses: [], explanation: "test builder" },
    distinct,
    top,
    flows: columnsFromClasses(classes),
    classes,
    elapsed_ms: 0,
  };
}

/** n rows from a generator, for large synthetic tables. */
export function rows(n: number, make: (i: number) => Row): Row[] {
  return Array.from({ length: n }, (_, i) => make(i));
}

/** The i-th address of 10.0.0.0/8 style ranges: ipv4(10, i) = 10.x.y.z. */
export function ipv4(first: number, i: number): string {
  return `${first}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}
