/**
 * Command-line filters and CIDRs, validated here (so both backends fail identically) and compiled
 * into the masks of CompiledFilter.
 */
import { UsageError } from "../errors.js";
import { PROTO_NAMES, STATE_COUNT, STATE_NAMES } from "../parse/layout.js";
import { parseAddress } from "../parse/tokenizer.js";
import { CIDR_BYTES, type CompiledFilter, emptyFilter } from "./contract.js";

export interface Cidr {
  family: 4 | 6;
  prefix: number;
  bytes: Uint8Array; // 16
  text: string;
}

export interface FilterOptions {
  proto?: string[];
  state?: string[];
  src?: string[];
  dst?: string[];
  port?: string[];
}

/** Split repeatable, comma-separated option values. */
function items(values: string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

export function parseCidr(text: string, option: string): Cidr {
  const slash = text.indexOf("/");
  const addr = slash < 0 ? text : text.slice(0, slash);
  const buf = Buffer.from(addr, "latin1");
  const bytes = new Uint8Array(16);
  const family = parseAddress(buf, 0, buf.length, bytes, 0);
  if (family === 0) throw new UsageError(`${option}: "${text}" is not an IPv4 or IPv6 address or CIDR`);
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new UsageError(`${option}: "${text}" has an invalid prefix length (0-${max})`);
    prefix = Number(p);
  }
  // Zero the host bits so that 10.1.2.3/8 means 10.0.0.0/8.
  for (let bit = prefix; bit < 128; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { family: family as 4 | 6, prefix, bytes, text };
}

export function parseCidrs(values: string[] | undefined, option: string): Cidr[] {
  return items(values).map((v) => parseCidr(v, option));
}

export function encodeCidrs(list: Cidr[]): Uint8Array {
  const out = new Uint8Array(list.length * CIDR_BYTES);
  list.forEach((c, i) => {
    out[i * CIDR_BYTES] = c.family;
    out[i * CIDR_BYTES + 1] = c.prefix;
    out.set(c.bytes, i * CIDR_BYTES + 2);
  });
  return out;
}

/** True when addr (16 bytes, family) is inside any of the CIDRs. */
export function inCidrs(list: Cidr[], family: number, addr: Uint8Array, offset = 0): boolean {
  for (const c of list) {
    if (c.family !== family) continue;
    let bits = c.prefix;
    let i = 0;
    let ok = true;
    while (bits >= 8) {
      if (c.bytes[i] !== addr[offset + i]) {
        ok = false;
        break;
      }
      i++;
      bits -= 8;
    }
    if (ok && bits > 0) {
      const mask = (0xff << (8 - bits)) & 0xff;
      if ((c.bytes[i]! & mask) !== (addr[offset + i]! & mask)) ok = false;
    }
    if (ok) return true;
  }
  return false;
}

const PROTO_BY_NAME = new Map(Object.entries(PROTO_NAMES).map(([n, name]) => [name, Number(n)]));

export function compileFilter(opts: FilterOptions): CompiledFilter {
  const f = emptyFilter();
  const protos = items(opts.proto);
  if (protos.length > 0) {
    f.protoMask = new Uint8Array(256);
    for (const p of protos) {
      const n = /^\d{1,3}$/.test(p) ? Number(p) : PROTO_BY_NAME.get(p.toLowerCase());
      if (n === undefined || n > 255) {
        throw new UsageError(`--proto: unknown protocol "${p}" (use ${[...PROTO_BY_NAME.keys()].join(", ")} or a number 0-255)`);
      }
      f.protoMask[n] = 1;
    }
  }
  const states = items(opts.state);
  if (states.length > 0) {
    f.stateMask = new Uint8Array(STATE_COUNT);
    for (const s of states) {
      const i = STATE_NAMES.indexOf(s.toUpperCase() as (typeof STATE_NAMES)[number]);
      if (i <= 0) throw new UsageError(`--state: unknown state "${s}" (e.g. ESTABLISHED, SYN_SENT, TIME_WAIT)`);
      f.stateMask[i] = 1;
    }
  }
  const ports = items(opts.port);
  if (ports.length > 0) {
    f.portMask = new Uint8Array(65536);
    for (const p of ports) {
      if (!/^\d{1,5}$/.test(p) || Number(p) > 65535) throw new UsageError(`--port: "${p}" is not a port number (0-65535)`);
      f.portMask[Number(p)] = 1;
    }
  }
  f.src = encodeCidrs(parseCidrs(opts.src, "--src"));
  f.dst = encodeCidrs(parseCidrs(opts.dst, "--dst"));
  return f;
}
