/**
 * ctnetlink messages built by hand (the layout of the kernel's nfnetlink_conntrack.h): for what the
 * test kernel cannot produce, broken input, and random tables.
 */
import { parseAddress } from "../../src/parse/tokenizer.js";

export const CTA = { TUPLE_ORIG: 1, TUPLE_REPLY: 2, STATUS: 3, PROTOINFO: 4, TIMEOUT: 7, COUNTERS_ORIG: 9, COUNTERS_REPLY: 10 };
export const IPS = { SEEN_REPLY: 2, ASSURED: 4, CONFIRMED: 8, OFFLOAD: 1 << 14, HW_OFFLOAD: 1 << 15 };
const NESTED = 0x8000;

export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function attr(type: number, payload: Uint8Array, nested = false): Uint8Array {
  const len = 4 + payload.length;
  const out = new Uint8Array((len + 3) & ~3);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, len, true);
  dv.setUint16(2, type | (nested ? NESTED : 0), true);
  out.set(payload, 4);
  return out;
}

export const u8 = (n: number) => Uint8Array.of(n);
export const be16 = (n: number) => Uint8Array.of(n >> 8, n & 255);
export const be32 = (n: number) => Uint8Array.of((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
export const be64 = (n: number) => cat(be32(Math.floor(n / 2 ** 32)), be32(n >>> 0));

export function addr(text: string): { fam: 4 | 6; bytes: Uint8Array } {
  const out = new Uint8Array(16);
  const b = Buffer.from(text, "latin1");
  const fam = parseAddress(b, 0, b.length, out, 0) as 4 | 6;
  return { fam, bytes: fam === 4 ? out.subarray(0, 4) : out };
}

export interface TupleSpec {
  src: string;
  dst: string;
  proto: number;
  sport?: number;
  dport?: number;
  icmp?: [number, number, number]; // type, code, id
}

export function tuple(type: number, t: TupleSpec): Uint8Array {
  const s = addr(t.src);
  const d = addr(t.dst);
  const ip = s.fam === 4 ? cat(attr(1, s.bytes), attr(2, d.bytes)) : cat(attr(3, s.bytes), attr(4, d.bytes));
  const proto: Uint8Array[] = [attr(1, u8(t.proto))];
  if (t.sport !== undefined) proto.push(attr(2, be16(t.sport)));
  if (t.dport !== undefined) proto.push(attr(3, be16(t.dport)));
  if (t.icmp) {
    const base = t.proto === 58 ? 7 : 4;
    proto.push(attr(base, be16(t.icmp[2])), attr(base + 1, u8(t.icmp[0])), attr(base + 2, u8(t.icmp[1])));
  }
  return attr(type, cat(attr(1, ip, true), attr(2, cat(...proto), true)), true);
}

export interface EntrySpec {
  orig?: TupleSpec;
  reply?: TupleSpec;
  status?: number;
  timeout?: number;
  /** [protoinfo nest type, state] */
  state?: [number, number];
  counters?: [number, number, number, number];
}

export function entry(e: EntrySpec, msgType = (1 << 8) | 0): Uint8Array {
  const fam = e.orig ? addr(e.orig.src).fam : 4;
  const attrs: Uint8Array[] = [];
  if (e.orig) attrs.push(tuple(CTA.TUPLE_ORIG, e.orig));
  if (e.reply) attrs.push(tuple(CTA.TUPLE_REPLY, e.reply));
  if (e.status !== undefined) attrs.push(attr(CTA.STATUS, be32(e.status)));
  if (e.timeout !== undefined) attrs.push(attr(CTA.TIMEOUT, be32(e.timeout)));
  if (e.state) attrs.push(attr(CTA.PROTOINFO, attr(e.state[0], attr(1, u8(e.state[1])), true), true));
  if (e.counters) {
    const [p1, b1, p2, b2] = e.counters;
    attrs.push(attr(CTA.COUNTERS_ORIG, cat(attr(1, be64(p1)), attr(2, be64(b1))), true));
    attrs.push(attr(CTA.COUNTERS_REPLY, cat(attr(1, be64(p2)), attr(2, be64(b2))), true));
  }
  const body = cat(Uint8Array.of(fam === 4 ? 2 : 10, 0, 0, 0), ...attrs);
  const msg = new Uint8Array(16 + body.length);
  const dv = new DataView(msg.buffer);
  dv.setUint32(0, msg.length, true);
  dv.setUint16(4, msgType, true);
  dv.setUint16(6, 2, true); // NLM_F_MULTI
  msg.set(body, 16);
  return msg;
}

export function done(): Uint8Array {
  const m = new Uint8Array(20);
  const dv = new DataView(m.buffer);
  dv.setUint32(0, 20, true);
  dv.setUint16(4, 3, true); // NLMSG_DONE
  return m;
}

export const inv = (t: TupleSpec): TupleSpec => ({ ...t, src: t.dst, dst: t.src, sport: t.dport, dport: t.sport });
export const BOTH = IPS.SEEN_REPLY | IPS.ASSURED | IPS.CONFIRMED;
