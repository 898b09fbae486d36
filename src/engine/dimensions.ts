/**
 * Where the merged flow classes become dimensions: every address, source prefix, service and
 * remote+service+state gets a dense id (first-seen order over the classes), each class its ids and
 * local/remote sides, and each dimension its sums per id. This is the per-class work of a snapshot;
 * native/dimensions.cc does the same when the addon is loaded, and test/dimensions.test.ts holds
 * the two equal. Nothing here makes text.
 */
import {
  F_ASSURED,
  F_HAS_PORT,
  F_HW_OFFLOAD,
  F_NAT,
  F_OFFLOAD,
  F_UNREPLIED,
  K_DPORT,
  K_DST,
  K_FAMILY,
  K_FLAGS,
  K_PROTO,
  K_SRC,
  K_STATE,
  KEY_BYTES,
  V_BYTES,
  V_COUNT,
  V_MAX_TIMEOUT,
  V_PACKETS,
  VALUE_FIELDS,
} from "../parse/layout.js";
import { type Cidr, inCidrs } from "./filter.js";
import type { MergedTable } from "./merge.js";
import { PairInterner } from "./pair-interner.js";
import { DIMENSIONS, type Dimension } from "./types.js";

/** Sums per id of one dimension. packets and bytes are empty when the input carried no counters. */
export interface Sums {
  count: Float64Array;
  packets: Float64Array;
  bytes: Float64Array;
  /** Entries of the id that are UNREPLIED. */
  unreplied: Float64Array;
}

/** How local addresses are decided: given (--local), this host's interfaces (live), or inferred from the table. */
export interface LocalSpec {
  mode: "given" | "host" | "inferred";
  cidrs: Cidr[];
}

/** Slots per protocol in stateCounts (state enums are below 32). */
export const STATE_SLOTS = 32;
/** stateCounts fields per (protocol, state). */
export const SC_COUNT = 0;
export const SC_UNREPLIED = 1;
export const SC_ASSURED = 2;
export const SC_OFFLOAD = 3;
/** The largest remaining timeout of the slot's classes, -1 when none had one. */
export const SC_MAX_TIMEOUT = 4;
export const STATE_COUNT_FIELDS = 5;
/** totals fields. */
export const T_IPV4 = 0;
export const T_IPV6 = 1;
export const T_UNREPLIED = 2;
export const T_ASSURED = 3;
export const T_OFFLOADED = 4;
export const T_NATTED = 5;
export const TOTAL_FIELDS = 6;

export interface Dimensions {
  // One entry per class.
  family: Uint8Array;
  proto: Uint8Array;
  state: Uint8Array;
  flags: Uint8Array;
  /** Original destination port, -1 for protocols without ports. */
  dport: Int32Array;
  /** Address ids. */
  src: Int32Array;
  dst: Int32Array;
  remote: Int32Array;
  local: Int32Array;
  /** Service id: (protocol, destination address, destination port). */
  service: Int32Array;
  /** Source /24 or /64 id. */
  srcPrefix: Int32Array;
  /** Remote+service+state id. */
  rss: Int32Array;
  count: Float64Array;
  packets: Float64Array;
  bytes: Float64Array;
  maxTimeout: Float64Array;
  // One entry per address id.
  addrFamily: Uint8Array;
  /** 16 bytes per address (IPv4 in the first 4): its text, prefix and order need no table keys. */
  addrBytes: Uint8Array;
  /** Entries where this address is the local side (0 when never). */
  localCount: Float64Array;
  /** Per prefix id: an address id inside it. */
  prefixAddr: Int32Array;
  /** Per service id and per remote+service+state id: the first class that has it. */
  serviceClass: Int32Array;
  rssClass: Int32Array;
  /**
   * Tie ranks for the top tables, per id: a smaller rank always comes first in key order (equal
   * ranks need the full comparison). An address's family and first bytes as one exact number
   * (IPv4 below 2^32, IPv6 from 2^32 on, by its first six bytes); a prefix's the same with the
   * host part cleared; services and remotes+services+states take their first address's.
   */
  addrRank: Float64Array;
  prefixRank: Float64Array;
  serviceRank: Float64Array;
  rssRank: Float64Array;
  sums: Record<Dimension, Sums>;
  /** Ids with entries, per dimension in DIMENSIONS order. */
  distinct: Float64Array;
  /** (protocol * STATE_SLOTS + state) * STATE_COUNT_FIELDS + SC_*: entries, unreplied, assured, offloaded, largest timeout. */
  stateCounts: Float64Array;
  /** Entries per protocol number. */
  protoCounts: Float64Array;
  /** T_* totals. */
  totals: Float64Array;
}

/** Grows with the ids of one dimension. */
class SumsBuilder {
  count = new Float64Array(1024);
  packets: Float64Array;
  bytes: Float64Array;
  unreplied = new Float64Array(1024);

  /** traffic: sum packets and bytes too (only when the input carried them: fewer random writes). */
  constructor(private readonly traffic: boolean) {
    this.packets = new Float64Array(traffic ? 1024 : 0);
    this.bytes = new Float64Array(traffic ? 1024 : 0);
  }

  add(id: number, count: number, packets: number, bytes: number, unreplied: boolean): void {
    if (id >= this.count.length) this.grow(id + 1);
    this.count[id]! += count;
    if (this.traffic) {
      this.packets[id]! += packets;
      this.bytes[id]! += bytes;
    }
    if (unreplied) this.unreplied[id]! += count;
  }

  private grow(min: number): void {
    let n = this.count.length;
    if (n >= min) return;
    while (n < min) n *= 2;
    for (const k of this.traffic ? (["count", "packets", "bytes", "unreplied"] as const) : (["count", "unreplied"] as const)) {
      const a = new Float64Array(n);
      a.set(this[k]);
      this[k] = a;
    }
  }

  /** The sums of ids 0..size-1 (ids never added are 0). */
  done(size: number): Sums {
    this.grow(size);
    const t = this.traffic ? size : 0;
    return {
      count: this.count.subarray(0, size),
      packets: this.packets.subarray(0, t),
      bytes: this.bytes.subarray(0, t),
      unreplied: this.unreplied.subarray(0, size),
    };
  }
}

/** An Int32Array or Float64Array that grows as values are pushed. */
class Column<T extends Int32Array | Float64Array | Uint8Array> {
  size = 0;
  constructor(
    private data: T,
    private readonly make: (n: number) => T,
  ) {}

  push(v: number): void {
    if (this.size === this.data.length) {
      const d = this.make(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.size++] = v;
  }

  get(i: number): number {
    return this.data[i]!;
  }

  add(i: number, v: number): void {
    this.data[i]! += v;
  }

  done(): T {
    return this.data.subarray(0, this.size) as T;
  }
}

const i32 = (n: number) => new Int32Array(n);
const f64 = (n: number) => new Float64Array(n);

/** The TS implementation of the dimensions of a merged table. traffic: the input carried packets/bytes. */
export function buildDimensions(t: MergedTable, local: LocalSpec, traffic: boolean): Dimensions {
  const n = t.size;
  const keys = t.keys;
  const words = new Uint32Array(keys.buffer, keys.byteOffset, (n * KEY_BYTES) / 4);
  const vals = t.values;

  // Addresses are interned by their raw bytes: IPv4 by the 32-bit word; IPv6 by its two 64-bit
  // halves, each interned as a pair of words, then the pair of half ids (no string per lookup).
  const v4 = new PairInterner();
  const v4Ids: number[] = [];
  const v6hi = new PairInterner();
  const v6lo = new PairInterner();
  const v6 = new PairInterner();
  const v6Ids: number[] = [];
  const addrFam = new Column(new Uint8Array(1024), (m) => new Uint8Array(m));
  const addrOff = new Column(f64(1024), f64);
  const freq = new Column(f64(1024), f64);
  const internAddr = (off: number, fam: number): number => {
    let id: number;
    if (fam === 4) {
      const pid = v4.id(words[off >> 2]!, 0);
      if (pid < v4Ids.length) return v4Ids[pid]!;
      id = addrFam.size;
      v4Ids.push(id);
    } else {
      const w = off >> 2;
      const pid = v6.id(v6hi.id(words[w]!, words[w + 1]!), v6lo.id(words[w + 2]!, words[w + 3]!));
      if (pid < v6Ids.length) return v6Ids[pid]!;
      id = addrFam.size;
      v6Ids.push(id);
    }
    addrFam.push(fam);
    addrOff.push(off);
    freq.push(0);
    return id;
  };

  const src = new Int32Array(n);
  const dst = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i * KEY_BYTES;
    const fam = keys[k + K_FAMILY]!;
    const si = internAddr(k + K_SRC, fam);
    const di = internAddr(k + K_DST, fam);
    src[i] = si;
    dst[i] = di;
    const count = vals[i * VALUE_FIELDS + V_COUNT]!;
    freq.add(si, count);
    if (di !== si) freq.add(di, count);
  }
  const addresses = addrFam.size;
  const addrFamily = addrFam.done();
  const addrOffset = addrOff.done();

  // Distinct peers per address: a host's own address talks to many peers, a remote server (even a
  // busy one that local clients or containers use) to few.
  const peers = new Float64Array(addresses);
  if (local.mode === "inferred") {
    const pairs = new PairInterner();
    for (let i = 0; i < n; i++) {
      const a = Math.min(src[i]!, dst[i]!);
      const b = Math.max(src[i]!, dst[i]!);
      const before = pairs.size;
      pairs.id(a, b);
      if (pairs.size > before) {
        peers[a]!++;
        if (b !== a) peers[b]!++;
      }
    }
  }

  // Local/remote: given CIDRs decide; otherwise the endpoint with more distinct peers (then more entries) is local.
  const isLocal = new Int8Array(addresses); // 0 unknown, 1 local, -1 not
  const localOf = (id: number): boolean => {
    if (isLocal[id] === 0) isLocal[id] = inCidrs(local.cidrs, addrFamily[id]!, keys, addrOffset[id]!) ? 1 : -1;
    return isLocal[id] === 1;
  };
  const remote = new Int32Array(n);
  const localIds = new Int32Array(n);
  const localCount = new Float64Array(addresses);
  for (let i = 0; i < n; i++) {
    const si = src[i]!;
    const di = dst[i]!;
    let srcLocal: boolean;
    let dstLocal: boolean;
    if (local.mode === "inferred") {
      srcLocal = peers[si]! > peers[di]! || (peers[si] === peers[di] && freq.get(si) > freq.get(di));
      dstLocal = !srcLocal;
    } else {
      srcLocal = localOf(si);
      dstLocal = localOf(di);
    }
    // Outbound: the remote is the destination; inbound or both local: the source; transit: the destination.
    const outbound = (srcLocal && !dstLocal) || (!srcLocal && !dstLocal);
    remote[i] = outbound ? di : si;
    localIds[i] = outbound ? si : di;
    if (srcLocal || dstLocal) localCount[localIds[i]!]! += vals[i * VALUE_FIELDS + V_COUNT]!;
  }

  const family = new Uint8Array(n);
  const proto = new Uint8Array(n);
  const state = new Uint8Array(n);
  const flagsCol = new Uint8Array(n);
  const dport = new Int32Array(n);
  const service = new Int32Array(n);
  const srcPrefix = new Int32Array(n);
  const rss = new Int32Array(n);
  const countCol = new Float64Array(n);
  const packetsCol = new Float64Array(n);
  const bytesCol = new Float64Array(n);
  const maxTimeout = new Float64Array(n);
  const bySrc = new SumsBuilder(traffic);
  const byDst = new SumsBuilder(traffic);
  const byRemote = new SumsBuilder(traffic);
  const byService = new SumsBuilder(traffic);
  const byPrefix = new SumsBuilder(traffic);
  const byRss = new SumsBuilder(traffic);
  const services = new PairInterner(); // (dst id, proto and port)
  const serviceClass = new Column(i32(1024), i32);
  const prefixes4 = new PairInterner();
  const prefixIds4: number[] = [];
  const prefixes6 = new PairInterner(); // the first two words: the /64
  const prefixIds6: number[] = [];
  const prefixAddr = new Column(i32(1024), i32);
  const rssIds = new PairInterner(); // (remote id, service id and state)
  const rssClass = new Column(i32(1024), i32);
  const stateCounts = new Float64Array(256 * STATE_SLOTS * STATE_COUNT_FIELDS);
  for (let i = SC_MAX_TIMEOUT; i < stateCounts.length; i += STATE_COUNT_FIELDS) stateCounts[i] = -1;
  const protoCounts = new Float64Array(256);
  const totals = new Float64Array(TOTAL_FIELDS);
  for (let i = 0; i < n; i++) {
    const k = i * KEY_BYTES;
    const v = i * VALUE_FIELDS;
    const si = src[i]!;
    const di = dst[i]!;
    const fam = keys[k + K_FAMILY]!;
    const p = keys[k + K_PROTO]!;
    const st = keys[k + K_STATE]!;
    const flags = keys[k + K_FLAGS]!;
    const count = vals[v + V_COUNT]!;
    const packets = vals[v + V_PACKETS]!;
    const bytes = vals[v + V_BYTES]!;
    const unrep = (flags & F_UNREPLIED) !== 0;
    family[i] = fam;
    proto[i] = p;
    state[i] = st;
    flagsCol[i] = flags;
    countCol[i] = count;
    packetsCol[i] = packets;
    bytesCol[i] = bytes;
    maxTimeout[i] = vals[v + V_MAX_TIMEOUT]!;
    bySrc.add(si, count, packets, bytes, unrep);
    byDst.add(di, count, packets, bytes, unrep);
    byRemote.add(remote[i]!, count, packets, bytes, unrep);
    // Portless protocols get their own slot (65536).
    const port = (flags & F_HAS_PORT) !== 0 ? (keys[k + K_DPORT]! << 8) | keys[k + K_DPORT + 1]! : 65536;
    dport[i] = port === 65536 ? -1 : port;
    const svc = services.id(di, p * 131072 + port);
    if (svc === serviceClass.size) serviceClass.push(i);
    service[i] = svc;
    byService.add(svc, count, packets, bytes, unrep);
    let pid: number;
    if (fam === 4) {
      // The /24 is the first three address bytes (a word mask would depend on byte order).
      const p4 = prefixes4.id((keys[k + K_SRC]! << 16) | (keys[k + K_SRC + 1]! << 8) | keys[k + K_SRC + 2]!, 0);
      if (p4 === prefixIds4.length) {
        prefixIds4.push(prefixAddr.size);
        prefixAddr.push(si);
      }
      pid = prefixIds4[p4]!;
    } else {
      const w = (k + K_SRC) >> 2;
      const p6 = prefixes6.id(words[w]!, words[w + 1]!);
      if (p6 === prefixIds6.length) {
        prefixIds6.push(prefixAddr.size);
        prefixAddr.push(si);
      }
      pid = prefixIds6[p6]!;
    }
    srcPrefix[i] = pid;
    byPrefix.add(pid, count, packets, bytes, unrep);
    const rid = rssIds.id(remote[i]!, svc * STATE_SLOTS + st);
    if (rid === rssClass.size) rssClass.push(i);
    rss[i] = rid;
    byRss.add(rid, count, packets, bytes, unrep);

    const sk = (p * STATE_SLOTS + st) * STATE_COUNT_FIELDS;
    stateCounts[sk + SC_COUNT]! += count;
    if (unrep) {
      stateCounts[sk + SC_UNREPLIED]! += count;
      totals[T_UNREPLIED]! += count;
    }
    if ((flags & F_ASSURED) !== 0) {
      stateCounts[sk + SC_ASSURED]! += count;
      totals[T_ASSURED]! += count;
    }
    if ((flags & (F_OFFLOAD | F_HW_OFFLOAD)) !== 0) {
      stateCounts[sk + SC_OFFLOAD]! += count;
      totals[T_OFFLOADED]! += count;
    }
    if (maxTimeout[i]! > stateCounts[sk + SC_MAX_TIMEOUT]!) stateCounts[sk + SC_MAX_TIMEOUT] = maxTimeout[i]!;
    if ((flags & F_NAT) !== 0) totals[T_NATTED]! += count;
    totals[fam === 4 ? T_IPV4 : T_IPV6]! += count;
    protoCounts[p]! += count;
  }

  const ranks = tieRanks(keys, addrFamily, addrOffset, prefixAddr.done(), dst, serviceClass.done(), remote, rssClass.done());
  const sums: Record<Dimension, Sums> = {
    src: bySrc.done(addresses),
    dst: byDst.done(addresses),
    remote: byRemote.done(addresses),
    service: byService.done(serviceClass.size),
    src_prefix: byPrefix.done(prefixAddr.size),
    remote_service_state: byRss.done(rssClass.size),
  };
  return {
    family,
    proto,
    state,
    flags: flagsCol,
    dport,
    src,
    dst,
    remote,
    local: localIds,
    service,
    srcPrefix,
    rss,
    count: countCol,
    packets: packetsCol,
    bytes: bytesCol,
    maxTimeout,
    addrFamily,
    addrBytes: addressBytes(keys, addrOffset),
    localCount,
    prefixAddr: prefixAddr.done(),
    serviceClass: serviceClass.done(),
    rssClass: rssClass.done(),
    ...ranks,
    sums,
    distinct: distinctIds(sums),
    stateCounts,
    protoCounts,
    totals,
  };
}

/** Ids with entries, per dimension in DIMENSIONS order. */
function distinctIds(sums: Record<Dimension, Sums>): Float64Array {
  return Float64Array.from(DIMENSIONS, (dim) => {
    const count = sums[dim].count;
    let k = 0;
    for (let i = 0; i < count.length; i++) if (count[i]! > 0) k++;
    return k;
  });
}

/** The 16 bytes of each address, copied out of the keys. */
function addressBytes(keys: Uint8Array, offsets: Float64Array): Uint8Array {
  const out = new Uint8Array(offsets.length * 16);
  for (let a = 0; a < offsets.length; a++) {
    const o = offsets[a]!;
    for (let j = 0; j < 16; j++) out[a * 16 + j] = keys[o + j]!;
  }
  return out;
}

/** The tie ranks of Dimensions (native/dimensions.cc computes the same numbers). */
function tieRanks(
  keys: Uint8Array,
  addrFamily: Uint8Array,
  addrOffset: Float64Array,
  prefixAddr: Int32Array,
  dst: Int32Array,
  serviceClass: Int32Array,
  remote: Int32Array,
  rssClass: Int32Array,
): Pick<Dimensions, "addrRank" | "prefixRank" | "serviceRank" | "rssRank"> {
  const addrRank = new Float64Array(addrFamily.length);
  for (let id = 0; id < addrRank.length; id++) {
    const o = addrOffset[id]!;
    addrRank[id] =
      addrFamily[id] === 4
        ? keys[o]! * 2 ** 24 + keys[o + 1]! * 2 ** 16 + keys[o + 2]! * 2 ** 8 + keys[o + 3]!
        : 2 ** 32 +
          keys[o]! * 2 ** 40 +
          keys[o + 1]! * 2 ** 32 +
          keys[o + 2]! * 2 ** 24 +
          keys[o + 3]! * 2 ** 16 +
          keys[o + 4]! * 2 ** 8 +
          keys[o + 5]!;
  }
  const prefixRank = new Float64Array(prefixAddr.length);
  for (let p = 0; p < prefixRank.length; p++) {
    // IPv6 ranks stop before the /64 does, so they need no clearing.
    const r = addrRank[prefixAddr[p]!]!;
    prefixRank[p] = r < 2 ** 32 ? r - (r % 256) : r;
  }
  const serviceRank = new Float64Array(serviceClass.length);
  for (let sid = 0; sid < serviceRank.length; sid++) serviceRank[sid] = addrRank[dst[serviceClass[sid]!]!]!;
  const rssRank = new Float64Array(rssClass.length);
  for (let rid = 0; rid < rssRank.length; rid++) rssRank[rid] = addrRank[remote[rssClass[rid]!]!]!;
  return { addrRank, prefixRank, serviceRank, rssRank };
}
