/**
 * Recounts a scanned dump in the shape of GenTruth, from the flow-class keys alone (layout.ts).
 * Tests and the benchmark compare it with plantedTruth() to prove a backend read every entry right.
 */
import type { ChunkAggregate } from "../engine/contract.js";
import {
  C_ACCT,
  C_ENTRIES,
  C_LINES,
  C_MALFORMED,
  F_ASSURED,
  F_NAT,
  F_UNREPLIED,
  K_DPORT,
  K_DST,
  K_FAMILY,
  K_FLAGS,
  K_PROTO,
  K_SRC,
  K_STATE,
  KEY_BYTES,
  P_TCP,
  P_UDP,
  protoName,
  S_ESTABLISHED,
  STATE_NAMES,
  V_COUNT,
  VALUE_FIELDS,
} from "../parse/layout.js";
import { parseAddress } from "../parse/tokenizer.js";
import type { GenTruth } from "./model.js";

/** What can be recounted from an aggregate (GenTruth without the generator's own parameters). */
export type GenTally = Omit<GenTruth, "n" | "seed" | "format" | "acct" | "kinds"> & { malformed: number };

function addrBytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  const b = Uint8Array.from(text, (c) => c.charCodeAt(0));
  if (parseAddress(b, 0, b.length, out, 0) === 0) throw new Error(`bad address ${text}`);
  return out;
}

function sameAddr(key: Uint8Array, off: number, addr: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (key[off + i] !== addr[i]) return false;
  return true;
}

/** Recount `agg` using the planted subjects named in `truth` (addresses, ports, prefix). */
export function tallyAggregate(agg: ChunkAggregate, truth: GenTruth): GenTally {
  const p = truth.planted;
  const dom = addrBytes(p.dominantRemote.remote);
  const domLocal = addrBytes(p.dominantRemote.local);
  const v6r = addrBytes(p.v6Remote.remote);
  const v6Local = addrBytes(p.v6Remote.local);
  const dnsLocal = addrBytes(p.dnsFlood.local);
  const synLocal = addrBytes(p.synFlood.local);
  const [synNet, synBits] = p.synFlood.prefix.split("/") as [string, string];
  const synPrefix = addrBytes(synNet);
  const synBytes = Number(synBits) / 8; // a whole-byte prefix (/24)

  const t: GenTally = {
    entries: agg.counters[C_ENTRIES]!,
    lines: agg.counters[C_LINES]!,
    malformed: agg.counters[C_MALFORMED]!,
    family: { ipv4: 0, ipv6: 0 },
    proto: {},
    state: {},
    unreplied: 0,
    assured: 0,
    nat: 0,
    acctEntries: agg.counters[C_ACCT]!,
    planted: {
      dominantRemote: { ...p.dominantRemote, count: 0 },
      synFlood: { ...p.synFlood, count: 0, byPort: {}, byState: { SYN_RECV: 0, SYN_SENT: 0 } },
      dnsFlood: { ...p.dnsFlood, count: 0 },
      v6Remote: { ...p.v6Remote, count: 0 },
    },
  };
  const keys = agg.keys;
  const classes = keys.length / KEY_BYTES;
  for (let i = 0; i < classes; i++) {
    const o = i * KEY_BYTES;
    const c = agg.values[i * VALUE_FIELDS + V_COUNT]!;
    const fam = keys[o + K_FAMILY]!;
    const proto = keys[o + K_PROTO]!;
    const state = keys[o + K_STATE]!;
    const flags = keys[o + K_FLAGS]!;
    const dport = (keys[o + K_DPORT]! << 8) | keys[o + K_DPORT + 1]!;
    if (fam === 4) t.family.ipv4 += c;
    else t.family.ipv6 += c;
    const pn = protoName(proto);
    t.proto[pn] = (t.proto[pn] ?? 0) + c;
    const sn = state === 0 ? "none" : STATE_NAMES[state]!;
    t.state[sn] = (t.state[sn] ?? 0) + c;
    if (flags & F_UNREPLIED) t.unreplied += c;
    if (flags & F_ASSURED) t.assured += c;
    if (flags & F_NAT) t.nat += c;
    const src = o + K_SRC;
    const dst = o + K_DST;
    const est = proto === P_TCP && state === S_ESTABLISHED;
    if (est && dport === p.dominantRemote.port && sameAddr(keys, src, dom) && sameAddr(keys, dst, domLocal)) {
      t.planted.dominantRemote.count += c;
    }
    if (est && dport === p.v6Remote.port && sameAddr(keys, src, v6r) && sameAddr(keys, dst, v6Local)) t.planted.v6Remote.count += c;
    if (proto === P_UDP && dport === 53 && flags & F_UNREPLIED && sameAddr(keys, dst, dnsLocal)) t.planted.dnsFlood.count += c;
    let inSyn = fam === 4 && proto === P_TCP && (flags & F_UNREPLIED) !== 0 && sameAddr(keys, dst, synLocal);
    for (let b = 0; inSyn && b < synBytes; b++) if (keys[src + b] !== synPrefix[b]) inSyn = false;
    if (inSyn) {
      const s = t.planted.synFlood;
      s.count += c;
      s.byPort[String(dport)] = (s.byPort[String(dport)] ?? 0) + c;
      if (sn === "SYN_RECV" || sn === "SYN_SENT") s.byState[sn] += c;
    }
  }
  return t;
}

/** The part of the truth a tally can be compared with, field for field. */
export function comparableTruth(truth: GenTruth): GenTally {
  const { n: _n, seed: _s, format: _f, acct: _a, kinds: _k, ...rest } = truth;
  return { ...rest, malformed: 0 };
}
