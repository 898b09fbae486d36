/**
 * The TS backend: where a conntrack line becomes a flow-class record.
 *
 * One pass over bytes, no string per line, no regex, no object per row. Every line is detected on
 * its own (formats may be mixed): /proc/net/nf_conntrack and `conntrack -o extended` ("ipv4 2 tcp
 * 6 ..."), /proc/net/ip_conntrack and `conntrack -L` ("tcp 6 ..."), `conntrack -E` events with an
 * optional "[sec.usec]" prefix, and `conntrack -o xml` (one <flow> per line).
 *
 * native/tokenizer.h implements exactly the same grammar; the differential test holds them equal.
 */
import { type ChunkAggregate, CIDR_BYTES, type CompiledFilter } from "../engine/contract.js";
import { FlowTable } from "../engine/flowtable.js";
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
  COUNTER_FIELDS,
  F_ASSURED,
  F_HAS_PORT,
  F_HW_OFFLOAD,
  F_NAT,
  F_OFFLOAD,
  F_UNREPLIED,
  HIST_EDGES,
  HIST_FIELDS,
  HIST_NONE,
  HIST_TCP_ESTABLISHED,
  hasPorts,
  K_DPORT,
  K_DST,
  K_FAMILY,
  K_FLAGS,
  K_PROTO,
  K_SRC,
  K_STATE,
  KEY_BYTES,
  MALFORMED_SAMPLE_BYTES,
  MALFORMED_SAMPLES,
  MAX_DIGITS,
  MAX_TIMEOUT,
  P_DCCP,
  P_GRE,
  P_ICMP,
  P_ICMPV6,
  P_SCTP,
  P_TCP,
  P_UDP,
  P_UDPLITE,
  S_ESTABLISHED,
  STATE_ALLOWED,
  STATE_COUNT,
  STATE_NAMES,
  V_BYTES,
  V_COUNT,
  V_MAX_TIMEOUT,
  V_PACKETS,
  VALUE_FIELDS,
} from "./layout.js";

const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const STATE_BYTES = STATE_NAMES.map(enc);
const L4_NAMES: Array<[Uint8Array, number]> = [
  [enc("tcp"), P_TCP],
  [enc("udp"), P_UDP],
  [enc("udplite"), P_UDPLITE],
  [enc("icmp"), P_ICMP],
  [enc("icmpv6"), P_ICMPV6],
  [enc("sctp"), P_SCTP],
  [enc("gre"), P_GRE],
  [enc("dccp"), P_DCCP],
  [enc("unknown"), -1],
];
const KNOWN_PROTO = new Uint8Array(256);
for (const [, n] of L4_NAMES) if (n >= 0) KNOWN_PROTO[n] = 1;

const W_NEW = enc("[NEW]");
const W_UPDATE = enc("[UPDATE]");
const W_DESTROY = enc("[DESTROY]");
const W_TRAILER_HEAD = enc("conntrack v");
const W_TRAILER_TAIL = enc("have been shown.");
const W_XML_DECL = enc("<?xml");
const W_CONNTRACK_OPEN = enc("<conntrack>");
const W_CONNTRACK_CLOSE = enc("</conntrack>");
const W_FLOW = enc("flow");
const W_UNREPLIED = enc("UNREPLIED");
const W_ASSURED = enc("ASSURED");
const W_OFFLOAD = enc("OFFLOAD");
const W_HW_OFFLOAD = enc("HW_OFFLOAD");

// Tuple field bits.
const T_SRC = 1;
const T_DST = 2;
const T_SPORT = 4;
const T_DPORT = 8;
const T_TYPE = 16;
const T_CODE = 32;
const T_ID = 64;
const T_SRCKEY = 128;
const T_DSTKEY = 256;
const T_PACKETS = 512;
const T_BYTES = 1024;

const EV_NONE = 0;
const EV_UPDATE = 1; // [NEW] or [UPDATE]
const EV_DESTROY = 2;

// Line outcomes.
const R_ENTRY = 0;
const R_MALFORMED = 1;
const R_BLANK = 2;
const R_IGNORED = 3;

const isSpace = (c: number): boolean => c === 32 || c === 9;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function eq(b: Uint8Array, s: number, e: number, lit: Uint8Array): boolean {
  if (e - s !== lit.length) return false;
  for (let i = 0; i < lit.length; i++) if (b[s + i] !== lit[i]) return false;
  return true;
}

function startsWith(b: Uint8Array, s: number, e: number, lit: Uint8Array): boolean {
  if (e - s < lit.length) return false;
  for (let i = 0; i < lit.length; i++) if (b[s + i] !== lit[i]) return false;
  return true;
}

/** Decimal digits in [s, e) as a double (v = v*10 + d, as native does); -1 when not 1..20 digits. */
function parseNum(b: Uint8Array, s: number, e: number): number {
  const n = e - s;
  if (n < 1 || n > MAX_DIGITS) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Parse an IPv4 or IPv6 address in [s, e) into out[o..o+16). Returns 4, 6, or 0 when invalid.
 * IPv6 accepts the expanded /proc form and the compressed form, with an optional dotted tail.
 */
export function parseAddress(b: Uint8Array, s: number, e: number, out: Uint8Array, o: number): number {
  // Text with a colon is IPv6, any other IPv4. A valid IPv4 address holds only digits and dots,
  // so trying it first costs an IPv6 address a few bytes and spares IPv4 a scan for the colon.
  if (parseV4(b, s, e, out, o) === 4) {
    for (let i = 4; i < 16; i++) out[o + i] = 0;
    return 4;
  }
  for (let i = s; i < e; i++) if (b[i] === 58) return parseV6(b, s, e, out, o);
  return 0;
}

function parseV4(b: Uint8Array, s: number, e: number, out: Uint8Array, o: number): number {
  let part = 0;
  let p = s;
  while (part < 4) {
    let v = 0;
    let digits = 0;
    while (p < e && isDigit(b[p]!)) {
      v = v * 10 + (b[p]! - 48);
      digits++;
      p++;
      if (digits > 3) return 0;
    }
    if (digits === 0 || v > 255) return 0;
    out[o + part] = v;
    part++;
    if (part < 4) {
      if (p >= e || b[p] !== 46) return 0;
      p++;
    }
  }
  return p === e ? 4 : 0;
}

/** The groups of the IPv6 address being parsed, before and after "::", and a dotted tail: no allocation per address. */
const V6_HEAD = new Uint16Array(8);
const V6_TAIL = new Uint16Array(8);
const V6_DOTTED = new Uint8Array(4);

function parseV6(b: Uint8Array, s: number, e: number, out: Uint8Array, o: number): number {
  // Groups before and after "::" are collected separately, then placed. More than 8 groups can
  // never be valid, so the collection stops there.
  let nHead = 0;
  let nTail = 0;
  let gap = false;
  let p = s;
  if (p + 1 < e && b[p] === 58 && b[p + 1] === 58) {
    gap = true;
    p += 2;
    if (p === e) {
      out.fill(0, o, o + 16);
      return 6;
    }
  } else if (p < e && b[p] === 58) {
    return 0;
  }
  for (;;) {
    // One pass to the next ':' reads the group as hex; a dot makes it a dotted IPv4 tail instead,
    // which ends the address.
    let q = p;
    let dot = false;
    let bad = false;
    let v = 0;
    while (q < e) {
      const c = b[q]!;
      if (c === 58) break;
      if (c === 46) dot = true;
      else {
        const h = hexVal(c);
        if (h < 0) bad = true;
        v = (v << 4) | h;
      }
      q++;
    }
    if (dot) {
      if (q !== e || nHead + nTail + 2 > 8) return 0;
      if (parseV4(b, p, e, V6_DOTTED, 0) !== 4) return 0;
      const g = gap ? V6_TAIL : V6_HEAD;
      const at = gap ? nTail : nHead;
      g[at] = (V6_DOTTED[0]! << 8) | V6_DOTTED[1]!;
      g[at + 1] = (V6_DOTTED[2]! << 8) | V6_DOTTED[3]!;
      if (gap) nTail += 2;
      else nHead += 2;
      p = e;
      break;
    }
    const n = q - p;
    if (n < 1 || n > 4 || bad || nHead + nTail >= 8) return 0;
    if (gap) V6_TAIL[nTail++] = v;
    else V6_HEAD[nHead++] = v;
    p = q;
    if (p === e) break;
    // p is at ':'
    if (p + 1 < e && b[p + 1] === 58) {
      if (gap) return 0;
      gap = true;
      p += 2;
      if (p === e) break;
    } else {
      p += 1;
      if (p === e) return 0;
    }
  }
  const groups = nHead + nTail;
  if (gap ? groups > 7 : groups !== 8) return 0;
  for (let i = 0; i < 16; i++) out[o + i] = 0;
  for (let i = 0; i < nHead; i++) {
    out[o + 2 * i] = V6_HEAD[i]! >> 8;
    out[o + 2 * i + 1] = V6_HEAD[i]! & 255;
  }
  const t0 = 8 - nTail;
  for (let i = 0; i < nTail; i++) {
    out[o + 2 * (t0 + i)] = V6_TAIL[i]! >> 8;
    out[o + 2 * (t0 + i) + 1] = V6_TAIL[i]! & 255;
  }
  return 6;
}

/** l4 protocol number for a name, -1 for "unknown", -2 when not a protocol name. */
function l4ByName(b: Uint8Array, s: number, e: number): number {
  for (let i = 0; i < L4_NAMES.length; i++) {
    const entry = L4_NAMES[i]!;
    if (eq(b, s, e, entry[0])) return entry[1];
  }
  return -2;
}

function stateByName(b: Uint8Array, s: number, e: number): number {
  for (let i = 1; i < STATE_COUNT; i++) if (eq(b, s, e, STATE_BYTES[i]!)) return i;
  return 0;
}

/** Flag bit for the text inside [..]; 0 for brackets that carry no flag (e.g. [start=...]). */
function flagByName(b: Uint8Array, s: number, e: number): number {
  if (eq(b, s, e, W_ASSURED)) return F_ASSURED;
  if (eq(b, s, e, W_UNREPLIED)) return F_UNREPLIED;
  if (eq(b, s, e, W_OFFLOAD)) return F_OFFLOAD;
  if (eq(b, s, e, W_HW_OFFLOAD)) return F_HW_OFFLOAD;
  return 0;
}

function histBucket(t: number): number {
  if (t < 0) return HIST_NONE;
  let i = HIST_EDGES.length - 1;
  while (t < HIST_EDGES[i]!) i--;
  return i;
}

function cidrMatch(list: Uint8Array, family: number, key: Uint8Array, off: number): boolean {
  for (let r = 0; r < list.length; r += CIDR_BYTES) {
    if (list[r] !== family) continue;
    let bits = list[r + 1]!;
    let i = 0;
    let ok = true;
    while (bits >= 8) {
      if (list[r + 2 + i] !== key[off + i]) {
        ok = false;
        break;
      }
      i++;
      bits -= 8;
    }
    if (ok && bits > 0) {
      const mask = (0xff << (8 - bits)) & 0xff;
      if ((list[r + 2 + i]! & mask) !== (key[off + i]! & mask)) ok = false;
    }
    if (ok) return true;
  }
  return false;
}

/** Scanner state for one chunk. Fields are reset per line; no allocation per line. */
export class ChunkScanner {
  readonly counters = new Float64Array(COUNTER_FIELDS);
  readonly hist = new Float64Array(HIST_FIELDS);
  readonly table = new FlowTable();
  readonly malformedLines: number[] = [];
  readonly malformedText: string[] = [];

  private readonly key = new Uint8Array(KEY_BYTES);
  private readonly keyWords = new Uint32Array(this.key.buffer);
  /** Reply tuple addresses (src, dst), only to detect NAT. */
  private readonly reply = new Uint8Array(32);
  private readonly replyWords = new Uint32Array(this.reply.buffer);

  // Per-line fields.
  private l3 = 0; // family declared by an "ipv4 2"/"ipv6 10" prefix or XML layer3, 0 = none
  private proto = 0;
  private state = 0;
  private flags = 0;
  private timeout = -1;
  private event = EV_NONE;
  private tuple = 0; // 0 before the original tuple, 1 original, 2 reply
  private bits1 = 0;
  private bits2 = 0;
  private fam1s = 0; // families of the four addresses
  private fam1d = 0;
  private fam2s = 0;
  private fam2d = 0;
  private sport1 = 0;
  private dport1 = 0;
  private sport2 = 0;
  private dport2 = 0;
  private packets1 = 0;
  private packets2 = 0;
  private bytes1 = 0;
  private bytes2 = 0;

  /** The buffer being scanned; successive buffers may be fed (file windows). */
  private b: Uint8Array = new Uint8Array(0);

  constructor(private readonly filter: CompiledFilter) {}

  /** Scan whole lines in bytes[start, end); the line numbering continues across calls. */
  run(bytes: Uint8Array, start: number, end: number): void {
    this.b = bytes;
    const b = bytes;
    let p = start;
    const c = this.counters;
    let line = c[C_LINES]!;
    while (p < end) {
      let nl = b.indexOf(10, p);
      if (nl < 0 || nl > end) nl = end;
      let le = nl;
      if (le > p && b[le - 1] === 13) le--;
      const r = this.line(p, le);
      c[C_LINES]!++;
      if (r === R_MALFORMED) {
        c[C_MALFORMED]!++;
        if (this.malformedLines.length < MALFORMED_SAMPLES) {
          this.malformedLines.push(line);
          this.malformedText.push(latin1(b, p, Math.min(le, p + MALFORMED_SAMPLE_BYTES)));
        }
      } else if (r === R_BLANK) c[C_BLANK]!++;
      else if (r === R_IGNORED) c[C_IGNORED]!++;
      line++;
      p = nl + 1;
    }
  }

  /** The aggregate of everything scanned so far. */
  result(): ChunkAggregate {
    const { keys, values } = this.table.export();
    return {
      counters: this.counters,
      hist: this.hist,
      keys,
      values,
      malformedLines: this.malformedLines,
      malformedText: this.malformedText,
    };
  }

  private reset(): void {
    this.l3 = 0;
    this.proto = 0;
    this.state = 0;
    this.flags = 0;
    this.timeout = -1;
    this.event = EV_NONE;
    this.tuple = 0;
    this.bits1 = 0;
    this.bits2 = 0;
    this.fam1s = 0;
    this.fam1d = 0;
    this.fam2s = 0;
    this.fam2d = 0;
    this.sport1 = 0;
    this.dport1 = 0;
    this.sport2 = 0;
    this.dport2 = 0;
    this.packets1 = 0;
    this.packets2 = 0;
    this.bytes1 = 0;
    this.bytes2 = 0;
  }

  private line(ls: number, le: number): number {
    const b = this.b;
    let p = ls;
    while (p < le && isSpace(b[p]!)) p++;
    if (p === le) return R_BLANK;
    let e = le;
    while (isSpace(b[e - 1]!)) e--;
    this.reset();
    if (b[p] === 60 /* < */) return this.xml(p, e);
    if (
      startsWith(b, p, e, W_TRAILER_HEAD) &&
      e - p >= W_TRAILER_TAIL.length &&
      startsWith(b, e - W_TRAILER_TAIL.length, e, W_TRAILER_TAIL)
    ) {
      return R_IGNORED;
    }
    return this.text(p, e);
  }

  /** Text forms. p is at the first non-space byte, e after the last one. */
  /** Text forms. p is at the first non-space byte, e after the last one. One pass over the bytes. */
  private text(p: number, e: number): number {
    const b = this.b;
    // "[sec.usec]" timestamp prefix (conntrack -E -o timestamp)
    if (b[p] === 91 && p + 1 < e && isDigit(b[p + 1]!)) {
      p++;
      while (p < e && isDigit(b[p]!)) p++;
      if (p >= e || b[p] !== 46) return R_MALFORMED;
      p++;
      const d = p;
      while (p < e && isDigit(b[p]!)) p++;
      if (p === d || p >= e || b[p] !== 93) return R_MALFORMED;
      p++;
      if (p >= e || !isSpace(b[p]!)) return R_MALFORMED;
      while (p < e && isSpace(b[p]!)) p++;
    }
    let q = p;
    while (q < e && !isSpace(b[q]!)) q++;
    // Event prefix.
    if (b[p] === 91) {
      if (eq(b, p, q, W_NEW) || eq(b, p, q, W_UPDATE)) this.event = EV_UPDATE;
      else if (eq(b, p, q, W_DESTROY)) this.event = EV_DESTROY;
      else return R_MALFORMED;
      p = q;
      while (p < e && isSpace(b[p]!)) p++;
      q = p;
      while (q < e && !isSpace(b[q]!)) q++;
    }
    // Optional l3 columns.
    let form = C_FORM_PLAIN;
    if (q - p === 4 && b[p] === 105 && b[p + 1] === 112 && b[p + 2] === 118 && (b[p + 3] === 52 || b[p + 3] === 54)) {
      const v6 = b[p + 3] === 54;
      form = C_FORM_L3;
      this.l3 = v6 ? 6 : 4;
      p = q;
      while (p < e && isSpace(b[p]!)) p++;
      q = p;
      while (q < e && !isSpace(b[q]!)) q++;
      const n = parseNum(b, p, q);
      if (n !== (v6 ? 10 : 2)) return R_MALFORMED;
      p = q;
      while (p < e && isSpace(b[p]!)) p++;
      q = p;
      while (q < e && !isSpace(b[q]!)) q++;
    }
    // l4 name and number.
    const expect = l4ByName(b, p, q);
    if (expect === -2) return R_MALFORMED;
    p = q;
    while (p < e && isSpace(b[p]!)) p++;
    q = p;
    while (q < e && !isSpace(b[q]!)) q++;
    if (q - p > 3) return R_MALFORMED;
    const proto = parseNum(b, p, q);
    if (proto < 0 || proto > 255) return R_MALFORMED;
    if (expect === -1 ? KNOWN_PROTO[proto] === 1 : proto !== expect) return R_MALFORMED;
    this.proto = proto;
    p = q;
    while (p < e && isSpace(b[p]!)) p++;
    // Optional remaining timeout.
    if (p < e && isDigit(b[p]!)) {
      q = p;
      while (q < e && !isSpace(b[q]!)) q++;
      const t = parseNum(b, p, q);
      if (t < 0 || t > MAX_TIMEOUT) return R_MALFORMED;
      this.timeout = t;
      p = q;
      while (p < e && isSpace(b[p]!)) p++;
    }
    // Optional state word.
    if (p < e && b[p]! >= 65 && b[p]! <= 90) {
      q = p;
      while (q < e && !isSpace(b[q]!)) q++;
      const st = stateByName(b, p, q);
      if (st === 0 || STATE_ALLOWED[proto * STATE_COUNT + st] !== 1) return R_MALFORMED;
      this.state = st;
      p = q;
    }
    // key=value and [FLAG] tokens.
    const icmp = proto === P_ICMP || proto === P_ICMPV6;
    const ports = hasPorts(proto);
    const gre = proto === P_GRE;
    let tuple = 0;
    let bits1 = 0;
    let bits2 = 0;
    let flags = 0;
    for (;;) {
      while (p < e && isSpace(b[p]!)) p++;
      if (p >= e) break;
      if (b[p] === 91) {
        q = p + 1;
        while (q < e && b[q] !== 93) q++;
        if (q >= e) return R_MALFORMED;
        flags |= flagByName(b, p + 1, q);
        p = q + 1;
        if (p < e && !isSpace(b[p]!)) return R_MALFORMED;
        continue;
      }
      // Key: [A-Za-z0-9_-]+ then '='.
      const ks = p;
      let c = b[p]!;
      while (c !== 61) {
        if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 45)) return R_MALFORMED;
        p++;
        if (p >= e) return R_MALFORMED;
        c = b[p]!;
      }
      const klen = p - ks;
      if (klen === 0) return R_MALFORMED;
      const vs = p + 1;
      if (vs >= e || isSpace(b[vs]!)) return R_MALFORMED;
      q = vs;
      while (q < e && !isSpace(b[q]!)) q++;
      p = q;
      const k0 = b[ks];
      let bit = 0;
      if (klen === 3) {
        if (k0 === 115 && b[ks + 1] === 114 && b[ks + 2] === 99) {
          // src= opens the next tuple
          if (tuple === 2) return R_MALFORMED;
          tuple++;
          this.tuple = tuple;
          if (tuple === 1) bits1 |= T_SRC;
          else bits2 |= T_SRC;
          if (!this.setAddr(vs, q, true)) return R_MALFORMED;
          continue;
        }
        if (k0 === 100 && b[ks + 1] === 115 && b[ks + 2] === 116) bit = T_DST;
      } else if (klen === 5) {
        if (ports && b[ks + 1] === 112 && b[ks + 2] === 111 && b[ks + 3] === 114 && b[ks + 4] === 116) {
          if (k0 === 115) bit = T_SPORT;
          else if (k0 === 100) bit = T_DPORT;
        } else if (k0 === 98 && keyIs(b, ks, "bytes")) bit = T_BYTES;
      } else if (klen === 7) {
        if (k0 === 112 && keyIs(b, ks, "packets")) bit = T_PACKETS;
      } else if (icmp) {
        if (klen === 4 && keyIs(b, ks, "type")) bit = T_TYPE;
        else if (klen === 4 && keyIs(b, ks, "code")) bit = T_CODE;
        else if (klen === 2 && k0 === 105 && b[ks + 1] === 100) bit = T_ID;
      } else if (gre && klen === 6) {
        if (keyIs(b, ks, "srckey")) bit = T_SRCKEY;
        else if (keyIs(b, ks, "dstkey")) bit = T_DSTKEY;
      }
      if (bit === 0) continue; // any other key: mark=, use=, zone=, secctx=, labels=, id=, ...
      const have = tuple === 1 ? bits1 : bits2;
      if (tuple === 0 || (have & bit) !== 0) {
        if (bit === T_ID) continue; // a second id= is the conntrack id (-o id)
        return R_MALFORMED;
      }
      if (tuple === 1) bits1 |= bit;
      else bits2 |= bit;
      if (!this.setField(bit, vs, q)) return R_MALFORMED;
    }
    this.bits1 = bits1;
    this.bits2 = bits2;
    this.flags = flags;
    // Protocol-specific tuple fields (XML omits ICMP and GRE ones, text always prints them).
    let need = 0;
    if (icmp) need = T_TYPE | T_CODE | T_ID;
    else if (gre) need = T_SRCKEY | T_DSTKEY;
    if ((bits1 & need) !== need || (bits2 & need) !== need) return R_MALFORMED;
    return this.finish(form);
  }

  /** Address for the current tuple; src when isSrc. */
  private setAddr(s: number, e: number, isSrc: boolean): boolean {
    const b = this.b;
    let fam: number;
    if (this.tuple === 1) {
      fam = parseAddress(b, s, e, this.key, isSrc ? K_SRC : K_DST);
      if (isSrc) {
        this.bits1 |= T_SRC;
        this.fam1s = fam;
      } else this.fam1d = fam;
    } else {
      fam = parseAddress(b, s, e, this.reply, isSrc ? 0 : 16);
      if (isSrc) {
        this.bits2 |= T_SRC;
        this.fam2s = fam;
      } else this.fam2d = fam;
    }
    return fam !== 0;
  }

  private setField(bit: number, s: number, e: number): boolean {
    const b = this.b;
    const t1 = this.tuple === 1;
    switch (bit) {
      case T_DST:
        return this.setAddr(s, e, false);
      case T_SPORT:
      case T_DPORT: {
        if (e - s > 5) return false;
        const v = parseNum(b, s, e);
        if (v < 0 || v > 65535) return false;
        if (bit === T_SPORT) {
          if (t1) this.sport1 = v;
          else this.sport2 = v;
        } else if (t1) this.dport1 = v;
        else this.dport2 = v;
        return true;
      }
      case T_PACKETS:
      case T_BYTES: {
        const v = parseNum(b, s, e);
        if (v < 0) return false;
        if (bit === T_PACKETS) {
          if (t1) this.packets1 = v;
          else this.packets2 = v;
        } else if (t1) this.bytes1 = v;
        else this.bytes2 = v;
        return true;
      }
      case T_TYPE:
      case T_CODE: {
        if (e - s > 3) return false;
        const v = parseNum(b, s, e);
        return v >= 0 && v <= 255;
      }
      case T_ID: {
        if (e - s > 5) return false;
        const v = parseNum(b, s, e);
        return v >= 0 && v <= 65535;
      }
      default: {
        // GRE key: 0x + 1..8 hex digits
        if (e - s < 3 || e - s > 10 || b[s] !== 48 || (b[s + 1] !== 120 && b[s + 1] !== 88)) return false;
        for (let i = s + 2; i < e; i++) if (hexVal(b[i]!) < 0) return false;
        return true;
      }
    }
  }

  /** `conntrack -o xml`: one <flow> element on the line. */
  private xml(p: number, e: number): number {
    const b = this.b;
    if (startsWith(b, p, e, W_XML_DECL) && b[e - 2] === 63 && b[e - 1] === 62) return R_IGNORED;
    if (eq(b, p, e, W_CONNTRACK_OPEN) || eq(b, p, e, W_CONNTRACK_CLOSE)) return R_IGNORED;
    // <flow [type="new|update|destroy"]>
    let q = p + 1;
    while (q < e && isNameChar(b[q]!)) q++;
    if (!eq(b, p + 1, q, W_FLOW)) return R_MALFORMED;
    const attrs = this.attrs(q, e);
    if (attrs < 0) return R_MALFORMED;
    if (this.attrType === 1) this.event = EV_UPDATE;
    else if (this.attrType === 2) this.event = EV_DESTROY;
    p = attrs;
    if (this.attrSelfClosing) return R_MALFORMED;
    let dir = 0;
    let done = false;
    const ports = () => hasPorts(this.proto);
    while (p < e) {
      if (b[p] !== 60) {
        p++;
        continue;
      }
      // tag
      const closing = b[p + 1] === 47;
      const ns = closing ? p + 2 : p + 1;
      q = ns;
      while (q < e && isNameChar(b[q]!)) q++;
      const ne = q;
      if (ne === ns) return R_MALFORMED;
      if (closing) {
        if (q >= e || b[q] !== 62) return R_MALFORMED;
        p = q + 1;
        if (eq(b, ns, ne, W_FLOW)) {
          done = true;
          break;
        }
        if (xmlName(b, ns, ne) === X_META) dir = 0;
        continue;
      }
      const after = this.attrs(ne, e);
      if (after < 0) return R_MALFORMED;
      p = after;
      const name = xmlName(b, ns, ne);
      if (name === X_META) {
        if (this.attrDirection === 0) return R_MALFORMED;
        dir = this.attrDirection;
        if (dir === 1 || dir === 2) {
          if (this.tuple >= dir) return R_MALFORMED;
          this.tuple = dir;
        }
        continue;
      }
      if (name === X_LAYER3) {
        if (dir !== 1 && dir !== 2) return R_MALFORMED;
        const fam = this.attrProtonum === 2 ? 4 : this.attrProtonum === 10 ? 6 : 0;
        if (fam === 0 || (this.l3 !== 0 && this.l3 !== fam)) return R_MALFORMED;
        this.l3 = fam;
        continue;
      }
      if (name === X_LAYER4) {
        if (dir !== 1 && dir !== 2) return R_MALFORMED;
        const n = this.attrProtonum;
        if (n < 0 || n > 255) return R_MALFORMED;
        if (dir === 1) this.proto = n;
        else if (n !== this.proto) return R_MALFORMED;
        continue;
      }
      if (name === X_UNREPLIED || name === X_ASSURED) {
        if (dir !== 3 || !this.attrSelfClosing) return R_MALFORMED;
        this.flags |= name === X_UNREPLIED ? F_UNREPLIED : F_ASSURED;
        continue;
      }
      if (name === X_OTHER || this.attrSelfClosing) continue;
      // A value element: text up to "</name>".
      const vs = p;
      while (p < e && b[p] !== 60) p++;
      const ve = p;
      if (p + 2 + (ne - ns) >= e || b[p + 1] !== 47) return R_MALFORMED;
      for (let i = 0; i < ne - ns; i++) if (b[p + 2 + i] !== b[ns + i]) return R_MALFORMED;
      if (b[p + 2 + (ne - ns)] !== 62) return R_MALFORMED;
      p = p + 3 + (ne - ns);
      if (name === X_STATE || name === X_TIMEOUT) {
        if (dir !== 3) return R_MALFORMED;
        if (name === X_TIMEOUT) {
          if (this.timeout >= 0) return R_MALFORMED;
          const t = parseNum(b, vs, ve);
          if (t < 0 || t > MAX_TIMEOUT) return R_MALFORMED;
          this.timeout = t;
        } else {
          if (this.state !== 0) return R_MALFORMED;
          let st = 0;
          for (let i = 1; i < STATE_COUNT; i++) {
            if (eq(b, vs, ve, STATE_BYTES[i]!)) {
              st = i;
              break;
            }
          }
          if (st === 0 || STATE_ALLOWED[this.proto * STATE_COUNT + st] !== 1) return R_MALFORMED;
          this.state = st;
        }
        continue;
      }
      if (dir !== 1 && dir !== 2) return R_MALFORMED;
      let bit = 0;
      if (name === X_SRC) bit = T_SRC;
      else if (name === X_DST) bit = T_DST;
      else if (name === X_SPORT) bit = T_SPORT;
      else if (name === X_DPORT) bit = T_DPORT;
      else if (name === X_PACKETS) bit = T_PACKETS;
      else bit = T_BYTES;
      if ((bit === T_SPORT || bit === T_DPORT) && !ports()) return R_MALFORMED;
      const have = dir === 1 ? this.bits1 : this.bits2;
      if ((have & bit) !== 0) return R_MALFORMED;
      if (bit === T_SRC) {
        if (!this.setAddr(vs, ve, true)) return R_MALFORMED;
      } else {
        if (dir === 1) this.bits1 |= bit;
        else this.bits2 |= bit;
        if (!this.setField(bit, vs, ve)) return R_MALFORMED;
      }
    }
    if (!done) return R_MALFORMED;
    while (p < e && isSpace(b[p]!)) p++;
    if (p !== e) return R_MALFORMED;
    if (this.tuple !== 2) return R_MALFORMED;
    return this.finish(C_FORM_XML);
  }

  // Attributes of the tag being read (only the ones the XML form uses).
  private attrType = 0; // flow type: 1 new/update, 2 destroy
  private attrDirection = 0; // meta direction: 1 original, 2 reply, 3 independent
  private attrProtonum = -1;
  private attrSelfClosing = false;

  /** Read attributes from p (just after the tag name) to '>' ; returns the index after '>', -1 when malformed. */
  private attrs(p: number, e: number): number {
    const b = this.b;
    this.attrType = 0;
    this.attrDirection = 0;
    this.attrProtonum = -1;
    this.attrSelfClosing = false;
    for (;;) {
      while (p < e && isSpace(b[p]!)) p++;
      if (p >= e) return -1;
      if (b[p] === 62) return p + 1;
      if (b[p] === 47) {
        if (p + 1 < e && b[p + 1] === 62) {
          this.attrSelfClosing = true;
          return p + 2;
        }
        return -1;
      }
      const ns = p;
      while (p < e && isNameChar(b[p]!)) p++;
      const ne = p;
      if (ne === ns || p + 1 >= e || b[p] !== 61 || b[p + 1] !== 34) return -1;
      p += 2;
      const vs = p;
      while (p < e && b[p] !== 34) p++;
      if (p >= e) return -1;
      const ve = p;
      p++;
      if (keyIs(b, ns, "type") && ne - ns === 4) {
        if (keyIs(b, vs, "destroy") && ve - vs === 7) this.attrType = 2;
        else if ((keyIs(b, vs, "new") && ve - vs === 3) || (keyIs(b, vs, "update") && ve - vs === 6)) this.attrType = 1;
        else return -1;
      } else if (keyIs(b, ns, "direction") && ne - ns === 9) {
        if (keyIs(b, vs, "original") && ve - vs === 8) this.attrDirection = 1;
        else if (keyIs(b, vs, "reply") && ve - vs === 5) this.attrDirection = 2;
        else if (keyIs(b, vs, "independent") && ve - vs === 11) this.attrDirection = 3;
        else return -1;
      } else if (keyIs(b, ns, "protonum") && ne - ns === 8) {
        if (ve - vs > 3) return -1;
        this.attrProtonum = parseNum(b, vs, ve);
        if (this.attrProtonum < 0) return -1;
      }
    }
  }

  /** Validate the parsed entry and add it to the aggregate. */
  private finish(form: number): number {
    if (this.tuple !== 2) return R_MALFORMED;
    if ((this.bits1 & (T_SRC | T_DST)) !== (T_SRC | T_DST) || (this.bits2 & (T_SRC | T_DST)) !== (T_SRC | T_DST)) return R_MALFORMED;
    const proto = this.proto;
    const ports = hasPorts(proto);
    if (
      ports &&
      ((this.bits1 & (T_SPORT | T_DPORT)) !== (T_SPORT | T_DPORT) || (this.bits2 & (T_SPORT | T_DPORT)) !== (T_SPORT | T_DPORT))
    ) {
      return R_MALFORMED;
    }
    const fam = this.fam1s;
    if (this.fam1d !== fam || this.fam2s !== fam || this.fam2d !== fam || (this.l3 !== 0 && this.l3 !== fam)) return R_MALFORMED;
    const c = this.counters;
    c[form]!++;
    if (this.event === EV_DESTROY) {
      c[C_DESTROYED]!++;
      return R_ENTRY;
    }
    const key = this.key;
    key[K_FAMILY] = fam;
    key[K_PROTO] = proto;
    key[K_STATE] = this.state;
    let flags = this.flags;
    if (ports) flags |= F_HAS_PORT;
    // NAT: the reply tuple is not the original one inverted.
    const r = this.replyWords;
    const kw = this.keyWords;
    // Reply src must be the original dst (key words 6..9), reply dst the original src (words 2..5).
    const nat =
      (ports && (this.sport2 !== this.dport1 || this.dport2 !== this.sport1)) ||
      r[0] !== kw[6] ||
      r[1] !== kw[7] ||
      r[2] !== kw[8] ||
      r[3] !== kw[9] ||
      r[4] !== kw[2] ||
      r[5] !== kw[3] ||
      r[6] !== kw[4] ||
      r[7] !== kw[5];
    if (nat) flags |= F_NAT;
    key[K_FLAGS] = flags;
    const dport = ports ? this.dport1 : 0;
    key[K_DPORT] = dport >> 8;
    key[K_DPORT + 1] = dport & 255;
    key[6] = 0;
    key[7] = 0;
    // Filters.
    const f = this.filter;
    if (
      (f.protoMask.length > 0 && f.protoMask[proto] !== 1) ||
      (f.stateMask.length > 0 && f.stateMask[this.state] !== 1) ||
      (f.portMask.length > 0 && !(ports && (f.portMask[this.sport1] === 1 || f.portMask[this.dport1] === 1))) ||
      (f.src.length > 0 && !cidrMatch(f.src, fam, key, K_SRC)) ||
      (f.dst.length > 0 && !cidrMatch(f.dst, fam, key, K_DST))
    ) {
      c[C_FILTERED]!++;
      return R_ENTRY;
    }
    c[C_ENTRIES]!++;
    if (this.event === EV_UPDATE) c[C_EVENTS]!++;
    const acct = ((this.bits1 | this.bits2) & (T_PACKETS | T_BYTES)) !== 0;
    if (acct) c[C_ACCT]!++;
    const t = this.table;
    const idx = t.indexOf(this.keyWords);
    const v = t.values;
    const o = idx * VALUE_FIELDS;
    v[o + V_COUNT]!++;
    v[o + V_PACKETS]! += this.packets1 + this.packets2;
    v[o + V_BYTES]! += this.bytes1 + this.bytes2;
    if (this.timeout > v[o + V_MAX_TIMEOUT]!) v[o + V_MAX_TIMEOUT] = this.timeout;
    const hb = histBucket(this.timeout);
    this.hist[hb]!++;
    if (proto === P_TCP && this.state === S_ESTABLISHED) this.hist[HIST_TCP_ESTABLISHED + hb]!++;
    return R_ENTRY;
  }
}

const X_OTHER = 0;
const X_META = 1;
const X_LAYER3 = 2;
const X_LAYER4 = 3;
const X_SRC = 4;
const X_DST = 5;
const X_SPORT = 6;
const X_DPORT = 7;
const X_PACKETS = 8;
const X_BYTES = 9;
const X_STATE = 10;
const X_TIMEOUT = 11;
const X_UNREPLIED = 12;
const X_ASSURED = 13;
const XML_NAMES: Array<[Uint8Array, number]> = [
  [enc("meta"), X_META],
  [enc("layer3"), X_LAYER3],
  [enc("layer4"), X_LAYER4],
  [enc("src"), X_SRC],
  [enc("dst"), X_DST],
  [enc("sport"), X_SPORT],
  [enc("dport"), X_DPORT],
  [enc("packets"), X_PACKETS],
  [enc("bytes"), X_BYTES],
  [enc("state"), X_STATE],
  [enc("timeout"), X_TIMEOUT],
  [enc("unreplied"), X_UNREPLIED],
  [enc("assured"), X_ASSURED],
];

function xmlName(b: Uint8Array, s: number, e: number): number {
  for (const [n, id] of XML_NAMES) if (eq(b, s, e, n)) return id;
  return X_OTHER;
}

function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95 || c === 45 || c === 58;
}

/** True when the bytes at s spell lit (the caller checks the length). */
function keyIs(b: Uint8Array, s: number, lit: string): boolean {
  for (let i = 0; i < lit.length; i++) if (b[s + i] !== lit.charCodeAt(i)) return false;
  return true;
}

function latin1(b: Uint8Array, s: number, e: number): string {
  let out = "";
  for (let i = s; i < e; i++) out += String.fromCharCode(b[i]!);
  return out;
}

/** Scan whole lines in bytes[start, end) and return the chunk's aggregate. */
export function scanBuffer(bytes: Uint8Array, start: number, end: number, filter: CompiledFilter): ChunkAggregate {
  const s = new ChunkScanner(filter);
  s.run(bytes, start, end);
  return s.result();
}
