/**
 * The merged flow classes as columns: one typed array per field, addresses and source prefixes as
 * dense ids. The diagnosis walks these; a table of half a million classes then costs a few typed
 * arrays instead of half a million objects and their strings. Text is made only for what is shown.
 */
import {
  F_ASSURED,
  F_HAS_PORT,
  F_HW_OFFLOAD,
  F_NAT,
  F_OFFLOAD,
  F_UNREPLIED,
  hasPorts,
  PROTO_NAMES,
  protoName,
  STATE_NAMES,
  type StateName,
  stateName,
} from "../parse/layout.js";
import { formatPrefix } from "../report/address.js";
import ipaddr from "../report/ipaddr.js";
import type { FlowClass } from "./types.js";

export interface FlowColumns {
  /** Number of classes. */
  readonly n: number;
  readonly family: Uint8Array;
  readonly proto: Uint8Array;
  /** State enum (index into STATE_NAMES, 0 = none). */
  readonly state: Uint8Array;
  /** F_* bits. */
  readonly flags: Uint8Array;
  /** Original destination port, -1 for protocols without ports. */
  readonly dport: Int32Array;
  /** Address ids (0 .. addresses-1). */
  readonly src: Int32Array;
  readonly dst: Int32Array;
  readonly remote: Int32Array;
  readonly local: Int32Array;
  /** Id of the source's /24 or /64 (0 .. prefixes-1). */
  readonly srcPrefix: Int32Array;
  /** Id of the service: protocol, destination address and port (0 .. services-1). */
  readonly service: Int32Array;
  readonly count: Float64Array;
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  /** Largest remaining timeout, -1 when no entry had one. */
  readonly maxTimeout: Float64Array;
  readonly addresses: number;
  readonly prefixes: number;
  readonly services: number;
  /** Entries per address id as the remote side (the remote dimension's sums). */
  readonly remoteCount: Float64Array;
  /** Entries per source prefix id (the src_prefix dimension's sums). */
  readonly prefixCount: Float64Array;
  /** Entries per service id (the service dimension's sums). */
  readonly serviceCount: Float64Array;
  /** Canonical text of an address id (cached). */
  addr(id: number): string;
  /** "a.b.c.0/24" or "x:y::/64" of a prefix id (cached). */
  prefix(id: number): string;
}

/** Mutable columns for n classes; the builder fills them. */
export function allocColumns(n: number) {
  return {
    n,
    family: new Uint8Array(n),
    proto: new Uint8Array(n),
    state: new Uint8Array(n),
    flags: new Uint8Array(n),
    dport: new Int32Array(n),
    src: new Int32Array(n),
    dst: new Int32Array(n),
    remote: new Int32Array(n),
    local: new Int32Array(n),
    srcPrefix: new Int32Array(n),
    service: new Int32Array(n),
    count: new Float64Array(n),
    packets: new Float64Array(n),
    bytes: new Float64Array(n),
    maxTimeout: new Float64Array(n),
  };
}

/** Protocol name of class i. */
export function protoOf(f: FlowColumns, i: number): string {
  return protoName(f.proto[i]!);
}

/** Destination port of class i, null when its protocol has none. */
export function portOf(f: FlowColumns, i: number): number | null {
  const p = f.dport[i]!;
  return p < 0 ? null : p;
}

/** One class as an object (tests, library users; the diagnosis never builds these). */
export function classAt(f: FlowColumns, i: number): FlowClass {
  const flags = f.flags[i]!;
  return {
    family: f.family[i]! as 4 | 6,
    proto: f.proto[i]!,
    protoName: protoName(f.proto[i]!),
    state: stateName(f.state[i]!),
    unreplied: (flags & F_UNREPLIED) !== 0,
    assured: (flags & F_ASSURED) !== 0,
    offload: (flags & (F_OFFLOAD | F_HW_OFFLOAD)) !== 0,
    nat: (flags & F_NAT) !== 0,
    src: f.addr(f.src[i]!),
    dst: f.addr(f.dst[i]!),
    dport: portOf(f, i),
    remote: f.addr(f.remote[i]!),
    local: f.addr(f.local[i]!),
    count: f.count[i]!,
    packets: f.packets[i]!,
    bytes: f.bytes[i]!,
    maxTimeout: f.maxTimeout[i]!,
  };
}

export function classesOf(f: FlowColumns): FlowClass[] {
  const out = new Array<FlowClass>(f.n);
  for (let i = 0; i < f.n; i++) out[i] = classAt(f, i);
  return out;
}

const PROTO_NUMBERS = new Map(Object.entries(PROTO_NAMES).map(([n, name]) => [name, Number(n)]));

/** The /24 or /64 of an address text, formatted as the snapshot formats it (the text itself if it is no address). */
function prefixOfText(addr: string): string {
  try {
    const b = Uint8Array.from(ipaddr.parse(addr).toByteArray());
    return formatPrefix(b.length === 4 ? 4 : 6, b);
  } catch {
    return addr;
  }
}

/** Columns from class objects whose addresses are canonical text (the test builder's input). */
export function columnsFromClasses(classes: readonly FlowClass[]): FlowColumns {
  const cols = allocColumns(classes.length);
  const addrIds = new Map<string, number>();
  const addrText: string[] = [];
  const prefixIds = new Map<string, number>();
  const prefixText: string[] = [];
  const serviceIds = new Map<string, number>();
  const addrId = (a: string): number => {
    let id = addrIds.get(a);
    if (id === undefined) {
      id = addrText.length;
      addrIds.set(a, id);
      addrText.push(a);
    }
    return id;
  };
  classes.forEach((c, i) => {
    const proto = PROTO_NUMBERS.get(c.protoName) ?? c.proto;
    cols.family[i] = c.family;
    cols.proto[i] = proto;
    cols.state[i] = c.state === null ? 0 : STATE_NAMES.indexOf(c.state as StateName);
    cols.flags[i] =
      (c.unreplied ? F_UNREPLIED : 0) |
      (c.assured ? F_ASSURED : 0) |
      (c.offload ? F_OFFLOAD : 0) |
      (c.nat ? F_NAT : 0) |
      (hasPorts(proto) ? F_HAS_PORT : 0);
    cols.dport[i] = c.dport ?? -1;
    cols.src[i] = addrId(c.src);
    cols.dst[i] = addrId(c.dst);
    cols.remote[i] = addrId(c.remote);
    cols.local[i] = addrId(c.local);
    const p = prefixOfText(c.src);
    let pid = prefixIds.get(p);
    if (pid === undefined) {
      pid = prefixText.length;
      prefixIds.set(p, pid);
      prefixText.push(p);
    }
    cols.srcPrefix[i] = pid;
    const svc = `${proto} ${c.dst} ${c.dport}`;
    if (!serviceIds.has(svc)) serviceIds.set(svc, serviceIds.size);
    cols.service[i] = serviceIds.get(svc)!;
    cols.count[i] = c.count;
    cols.packets[i] = c.packets;
    cols.bytes[i] = c.bytes;
    cols.maxTimeout[i] = c.maxTimeout;
  });
  const remoteCount = new Float64Array(addrText.length);
  const prefixCount = new Float64Array(prefixText.length);
  const serviceCount = new Float64Array(serviceIds.size);
  for (let i = 0; i < cols.n; i++) {
    remoteCount[cols.remote[i]!]! += cols.count[i]!;
    prefixCount[cols.srcPrefix[i]!]! += cols.count[i]!;
    serviceCount[cols.service[i]!]! += cols.count[i]!;
  }
  return {
    ...cols,
    remoteCount,
    prefixCount,
    serviceCount,
    addresses: addrText.length,
    prefixes: prefixText.length,
    services: serviceIds.size,
    addr: (id) => addrText[id]!,
    prefix: (id) => prefixText[id]!,
  };
}
