/**
 * This host's interface addresses: the local side of the live table. A module of its own, light
 * enough for the early dump (early-dump.ts) to load before the rest of ctscope.
 */
import { networkInterfaces } from "node:os";
import { CIDR_BYTES } from "../engine/contract.js";

/** This host's interface addresses as exact CIDRs (/32, /128). */
export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.push(`${a.address.split("%")[0]}/${a.family === "IPv4" ? 32 : 128}`);
  }
  return out;
}

/** 16 address bytes of a plain IPv6 text (hex groups, at most one "::"), or null. */
function ipv6Bytes(text: string, out: Uint8Array, at: number): boolean {
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return false;
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill("0"), ...tail];
  for (let i = 0; i < 8; i++) {
    const g = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
    const v = Number.parseInt(g, 16);
    out[at + i * 2] = v >> 8;
    out[at + i * 2 + 1] = v & 255;
  }
  return true;
}

/**
 * Exact host CIDRs ("a.b.c.d/32", "x::y/128") encoded as the addon takes them: the bytes
 * encodeCidrs(parseCidrs(...)) gives (engine/filter.ts), without loading the full parser. Null for
 * anything else (an IPv4-mapped form, a prefix): the scan then builds the dimensions itself.
 */
export function encodeHostCidrs(cidrs: readonly string[]): Uint8Array | null {
  const out = new Uint8Array(cidrs.length * CIDR_BYTES);
  for (let i = 0; i < cidrs.length; i++) {
    const c = cidrs[i]!;
    const at = i * CIDR_BYTES;
    if (c.endsWith("/32") && /^\d{1,3}(\.\d{1,3}){3}\/32$/.test(c)) {
      const parts = c.slice(0, -3).split(".").map(Number);
      if (parts.some((p) => p > 255)) return null;
      out[at] = 4;
      out[at + 1] = 32;
      out.set(parts, at + 2);
    } else if (c.endsWith("/128")) {
      out[at] = 6;
      out[at + 1] = 128;
      if (!ipv6Bytes(c.slice(0, -4), out, at + 2)) return null;
    } else {
      return null;
    }
  }
  return out;
}
