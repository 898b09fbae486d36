/**
 * Seeded generator of conntrack lines in every input format the tokenizer accepts, plus mutated
 * (mostly malformed) variants. Used by the differential test (native vs TS) and to build dumps.
 * The same seed always yields the same lines.
 */

import { CIDR_BYTES, type CompiledFilter, emptyFilter } from "../../src/engine/contract.js";
import { P_DCCP, P_SCTP, P_TCP, PROTO_STATES, STATE_NAMES } from "../../src/parse/layout.js";

/** mulberry32: small, fast, good enough to drive test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Proto {
  name: string;
  num: number;
  states: readonly string[];
  kind: "ports" | "icmp" | "gre" | "none";
}

// The states each protocol may print come from the layout both tokenizers share.
const PROTOS: Proto[] = [
  { name: "tcp", num: 6, states: PROTO_STATES[P_TCP]!, kind: "ports" },
  { name: "udp", num: 17, states: [], kind: "ports" },
  { name: "udplite", num: 136, states: [], kind: "ports" },
  { name: "sctp", num: 132, states: PROTO_STATES[P_SCTP]!, kind: "ports" },
  { name: "dccp", num: 33, states: PROTO_STATES[P_DCCP]!, kind: "ports" },
  { name: "icmp", num: 1, states: [], kind: "icmp" },
  { name: "icmpv6", num: 58, states: [], kind: "icmp" },
  { name: "gre", num: 47, states: [], kind: "gre" },
  { name: "unknown", num: 2, states: [], kind: "none" },
  { name: "unknown", num: 112, states: [], kind: "none" },
];

export type LineFormat = "proc" | "plain" | "extended" | "event" | "xml";
const FORMATS: LineFormat[] = ["proc", "plain", "extended", "event", "xml"];

/** Valid counter values at the edges: up to 20 digits, beyond 2^53. */
const EDGE_COUNTERS = ["0", "4294967296", "99999999999999999999", "18446744073709551615", "9007199254740993", "00000000000000000001"];

/** Numbers that exercise the edges of the grammar (u32 timeout, 20 digits, ports); many are invalid. */
const EDGE_NUMBERS = [
  "0",
  "00",
  "4294967295",
  "4294967296",
  "65535",
  "65536",
  "255",
  "256",
  "99999999999999999999",
  "100000000000000000000",
  "18446744073709551615",
  "9007199254740993",
  "123456789012345678901234567890",
];

export interface GenOptions {
  /** Weights of the formats (default: equal). */
  formats?: LineFormat[];
  /** Pool sizes: small pools make flow classes repeat (aggregation), large ones make many keys. */
  hosts?: number;
  ports?: number;
}

export class LineGen {
  readonly r: () => number;
  private readonly formats: LineFormat[];
  private readonly v4: string[] = [];
  private readonly v6: string[][] = []; // 8 groups each
  private readonly servicePorts: number[] = [];

  constructor(
    readonly seed: number,
    opts: GenOptions = {},
  ) {
    this.r = rng(seed);
    this.formats = opts.formats ?? FORMATS;
    const hosts = opts.hosts ?? 40;
    for (let i = 0; i < hosts; i++) {
      this.v4.push(`${this.pick([10, 172, 192, 100, 8, 1])}.${this.int(256)}.${this.int(256)}.${this.int(256)}`);
      const g = ["2001", "0db8", this.hex4(), this.hex4(), "0000", "0000", this.hex4(), this.hex4()];
      if (this.r() < 0.3) g[2] = "0000";
      if (this.r() < 0.2) g[7] = "0001";
      this.v6.push(g);
    }
    const ports = opts.ports ?? 12;
    const common = [22, 53, 80, 123, 443, 3306, 5228, 5432, 6443, 8080, 9100, 10250];
    for (let i = 0; i < ports; i++) this.servicePorts.push(i < common.length ? common[i]! : 1 + this.int(65535));
  }

  int(n: number): number {
    return Math.floor(this.r() * n);
  }

  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }

  private hex4(): string {
    return this.int(65536).toString(16).padStart(4, "0");
  }

  /** Server-side ports drawn from the pool, client ports at random. */
  private port(server: boolean): number {
    return server ? this.pick(this.servicePorts) : 1024 + this.int(64512);
  }

  private addr6(g: string[], style: "expanded" | "compressed" | "short" | "dotted"): string {
    if (style === "expanded") return g.join(":");
    const short = g.map((x) => x.replace(/^0{1,3}/, ""));
    if (style === "short") return short.join(":");
    if (style === "dotted") {
      const n = Number.parseInt(g[6]!, 16);
      const m = Number.parseInt(g[7]!, 16);
      return `${short.slice(0, 6).join(":")}:${n >> 8}.${n & 255}.${m >> 8}.${m & 255}`;
    }
    // RFC 5952: longest run of zero groups (length >= 2) becomes "::".
    let best = -1;
    let bestLen = 0;
    for (let i = 0; i < 8; ) {
      if (short[i] !== "0") {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && short[j] === "0") j++;
      if (j - i > bestLen && j - i >= 2) {
        best = i;
        bestLen = j - i;
      }
      i = j;
    }
    if (best < 0) return short.join(":");
    return `${short.slice(0, best).join(":")}::${short.slice(best + bestLen).join(":")}`;
  }

  private address(v6: boolean, expanded: boolean, i: number): string {
    if (!v6) return this.v4[i]!;
    const g = this.v6[i]!;
    if (expanded) return this.addr6(g, "expanded");
    const x = this.r();
    return this.addr6(g, x < 0.8 ? "compressed" : x < 0.9 ? "short" : "dotted");
  }

  private flowParts(fmt: LineFormat) {
    const proto = this.pick(PROTOS);
    const v6 = this.r() < 0.3;
    const expanded = fmt === "proc" ? true : fmt === "xml" ? false : this.r() < 0.2;
    const si = this.int(this.v4.length);
    let di = this.int(this.v4.length);
    if (di === si) di = (di + 1) % this.v4.length;
    const nat = this.r() < 0.15;
    const ri = nat ? this.int(this.v4.length) : di;
    const src = this.address(v6, expanded, si);
    const dst = this.address(v6, expanded, di);
    const rsrc = this.address(v6, expanded, ri);
    const sport = this.port(false);
    const dport = this.port(true);
    const rsport = nat && this.r() < 0.5 ? this.port(true) : dport;
    const rdport = nat && this.r() < 0.5 ? this.port(false) : sport;
    const state = proto.states.length > 0 && this.r() < 0.97 ? this.pick(proto.states) : "";
    const r = this.r();
    const timeout =
      r < 0.05 ? "" : r < 0.1 ? this.pick(["0", "4294967295", "432000", "86400", "86401", "432001"]) : String(this.int(432001));
    const acct = this.r() < 0.4;
    const big = () => (this.r() < 0.05 ? this.pick(EDGE_COUNTERS) : String(this.int(100000)));
    const pk1 = big();
    const by1 = big();
    const pk2 = big();
    const by2 = big();
    const unreplied = this.r() < 0.15;
    const flag = this.pick(["", "", "ASSURED", "ASSURED", "OFFLOAD", "HW_OFFLOAD"]);
    return { proto, v6, src, dst, rsrc, sport, dport, rsport, rdport, state, timeout, acct, pk1, by1, pk2, by2, unreplied, flag };
  }

  private tupleText(p: Proto, src: string, dst: string, sport: number, dport: number, reply: boolean): string {
    let s = `src=${src} dst=${dst}`;
    if (p.kind === "ports") s += ` sport=${sport} dport=${dport}`;
    else if (p.kind === "icmp") s += ` type=${reply ? 0 : 8} code=0 id=${sport & 0xffff}`;
    else if (p.kind === "gre") s += ` srckey=0x${(sport & 0xff).toString(16)} dstkey=0x${(dport & 0xff).toString(16)}`;
    return s;
  }

  /** One valid line in the given (or a random) format. */
  valid(format?: LineFormat): string {
    const fmt = format ?? this.pick(this.formats);
    if (fmt === "xml") return this.xml();
    const f = this.flowParts(fmt);
    const p = f.proto;
    const parts: string[] = [];
    let prefix = "";
    let destroy = false;
    if (fmt === "event") {
      const ev = this.pick(["    [NEW]", " [UPDATE]", "[DESTROY]"]);
      destroy = ev === "[DESTROY]";
      prefix = this.r() < 0.5 ? `[${1700000000 + this.int(1000000)}.${String(this.int(1000000)).padStart(6, "0")}]\t${ev} ` : `${ev} `;
    }
    const l3 = fmt === "proc" || fmt === "extended" || (fmt === "event" && this.r() < 0.3);
    if (l3) parts.push(`${(f.v6 ? "ipv6" : "ipv4").padEnd(8)} ${f.v6 ? 10 : 2}`);
    parts.push(`${p.name.padEnd(8)} ${p.num}`);
    if (!destroy && f.timeout !== "") parts.push(f.timeout);
    if (p.name === "gre" && this.r() < 0.3) parts.push("timeout=600, stream_timeout=18000");
    if (f.state) parts.push(f.state);
    parts.push(this.tupleText(p, f.src, f.dst, f.sport, f.dport, false));
    if (f.acct) parts.push(`packets=${f.pk1} bytes=${f.by1}`);
    if (f.unreplied) parts.push("[UNREPLIED]");
    if (this.r() < 0.05) parts.push("zone-orig=1");
    parts.push(this.tupleText(p, f.rsrc, f.src, f.rsport, f.rdport, true));
    if (f.acct) parts.push(`packets=${f.pk2} bytes=${f.by2}`);
    if (this.r() < 0.05) parts.push("zone-reply=1");
    if (f.flag) parts.push(`[${f.flag}]`);
    if (fmt === "plain" || fmt === "extended") {
      if (this.r() < 0.2) parts.push(`[start=Thu Nov 21 10:${this.int(60)}:00 2024]`);
      if (this.r() < 0.1) parts.push(`[stop=Thu Nov 21 11:${this.int(60)}:00 2024]`);
    }
    parts.push(`mark=${this.r() < 0.9 ? 0 : this.int(1 << 30)}`);
    if (this.r() < 0.1) parts.push("secctx=system_u:object_r:unlabeled_t:s0");
    if (fmt === "proc" || this.r() < 0.5) parts.push(`zone=${this.int(3)}`);
    if (fmt === "proc" && this.r() < 0.2) parts.push(`delta-time=${this.int(100000)}`);
    if (fmt !== "event" || this.r() < 0.5) parts.push(`use=${1 + this.int(3)}`);
    if ((fmt === "plain" || fmt === "extended" || fmt === "event") && this.r() < 0.3) parts.push(`id=${this.int(4294967296)}`);
    if ((fmt === "plain" || fmt === "extended") && this.r() < 0.1) parts.push("labels=default,blue");
    return prefix + parts.join(" ");
  }

  /** `conntrack -o xml`: one <flow> element. */
  xml(): string {
    const f = this.flowParts("xml");
    const p = f.proto;
    const l3 = `<layer3 protonum="${f.v6 ? 10 : 2}" protoname="${f.v6 ? "ipv6" : "ipv4"}">`;
    const l4 = `<layer4 protonum="${p.num}" protoname="${p.name}">`;
    const tuple = (dir: string, src: string, dst: string, sport: number, dport: number, pk: string, by: string) => {
      let s = `<meta direction="${dir}">${l3}<src>${src}</src><dst>${dst}</dst></layer3>${l4}`;
      if (p.kind === "ports") s += `<sport>${sport}</sport><dport>${dport}</dport>`;
      s += "</layer4>";
      if (f.acct) s += `<counters><packets>${pk}</packets><bytes>${by}</bytes></counters>`;
      return `${s}</meta>`;
    };
    const type = this.pick(["new", "update", "destroy", ""]);
    let s = type ? `<flow type="${type}">` : "<flow>";
    s += tuple("original", f.src, f.dst, f.sport, f.dport, f.pk1, f.by1);
    s += tuple("reply", f.rsrc, f.src, f.rsport, f.rdport, f.pk2, f.by2);
    s += '<meta direction="independent">';
    if (f.state) s += `<state>${f.state}</state>`;
    if (f.timeout !== "" && type !== "destroy") s += `<timeout>${f.timeout}</timeout>`;
    s += `<mark>0</mark><use>${1 + this.int(3)}</use><id>${this.int(4294967296)}</id>`;
    if (f.flag === "ASSURED") s += "<assured/>";
    if (f.unreplied) s += "<unreplied/>";
    s += "</meta></flow>";
    return s;
  }

  /** Lines that are not entries: blanks, trailers, XML wrappers. */
  other(): string {
    return this.pick([
      "",
      "   ",
      "\t",
      "conntrack v1.4.7 (conntrack-tools): 42 flow entries have been shown.",
      '<?xml version="1.0" encoding="utf-8"?>',
      "<conntrack>",
      "</conntrack>",
      "conntrack v1.4.6 (conntrack-tools): 0 flow entries have been shown.",
    ]);
  }

  /** A valid or other line changed in one or more random ways (usually malformed, not always). */
  mutate(line: string): string {
    let s = line;
    const rounds = 1 + this.int(3);
    for (let k = 0; k < rounds; k++) {
      const op = this.int(14);
      const toks = s.split(" ");
      switch (op) {
        case 0: // truncate
          s = s.slice(0, this.int(s.length + 1));
          break;
        case 1: {
          // flip a byte
          if (s.length === 0) break;
          const i = this.int(s.length);
          const c = this.pick([0, 9, 13, 32, 46, 58, 60, 61, 62, 91, 93, 34, 47, 48, 57, 65, 90, 97, 120, 255, this.int(256)]);
          s = s.slice(0, i) + String.fromCharCode(c) + s.slice(i + 1);
          break;
        }
        case 2: // drop a field
          if (toks.length > 1) toks.splice(this.int(toks.length), 1);
          s = toks.join(" ");
          break;
        case 3: {
          // duplicate a field
          const i = this.int(toks.length);
          toks.splice(i, 0, toks[i]!);
          s = toks.join(" ");
          break;
        }
        case 4: // huge or edge number
          s = s.replace(/\d+/g, (m) => (this.r() < 0.3 ? this.pick(EDGE_NUMBERS) : m));
          break;
        case 5: {
          // NUL bytes
          const i = this.int(s.length + 1);
          s = `${s.slice(0, i)}\0${s.slice(i)}`;
          break;
        }
        case 6: // trailing / leading whitespace, carriage returns
          s = this.pick(["", " ", "\t", "  \t"]) + s + this.pick([" ", "\t", "\r", " \r", "\r\r"]);
          break;
        case 7: {
          // swap two fields
          const i = this.int(toks.length);
          const j = this.int(toks.length);
          [toks[i], toks[j]] = [toks[j]!, toks[i]!];
          s = toks.join(" ");
          break;
        }
        case 8: // a state of another protocol, or a bogus one
          s = s.replace(/\b[A-Z][A-Z_0-9]+\b/, () =>
            this.pick([...PROTO_STATES[P_TCP]!, ...PROTO_STATES[P_SCTP]!, ...PROTO_STATES[P_DCCP]!, "BOGUS", "ESTABLISHE"]),
          );
          break;
        case 9: // wrong protocol number or name
          s = s.replace(
            /\b(tcp|udp|icmp|gre|sctp|dccp|unknown|udplite|icmpv6)(\s+)(\d+)/,
            (_m, n, sp) => `${n}${sp}${this.pick(["6", "17", "1", "47", "0", "255", "256", "1000"])}`,
          );
          break;
        case 10: {
          // remove the spaces around a random position
          const i = this.int(s.length + 1);
          s = s.slice(0, i) + s.slice(i).replace(/^\s+/, "");
          break;
        }
        case 11: // an address made invalid or odd
          s = s.replace(
            /(src|dst)=([0-9a-f.:]+)/,
            (_m, k) =>
              `${k}=${this.pick(["1.2.3", "1.2.3.4.5", "256.1.1.1", "::", "1::2::3", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "0001.2.3.4", ":1::", "1:2:3:4:5:6:7::", "::1.2.3"])}`,
          );
          break;
        case 12: // replace a <tag> name in XML or a key name
          s = s.replace(
            /<(\/?)(meta|layer3|layer4|src|dst|sport|dport|state|timeout|flow)/,
            (_m, sl) => `<${sl}${this.pick(["meta", "flow", "src", "x", "layer4", "timeout", ""])}`,
          );
          break;
        default: // insert a random key=value or flag token
          toks.splice(
            this.int(toks.length + 1),
            0,
            this.pick([
              "id=7",
              "src=1.1.1.1",
              "dst=2.2.2.2",
              "sport=1",
              "type=3",
              "[OFFLOAD]",
              "[X",
              "=1",
              "a=",
              "k=v",
              "[]",
              "[UNREPLIED]x",
              "packets=1",
              "srckey=0x1",
            ]),
          );
          s = toks.join(" ");
          break;
      }
    }
    return s;
  }

  /**
   * n lines drawn from a pool of a few valid text lines: repeated verbatim, mutated, or spliced
   * (the first tokens of one pool line, the last of another), so that a header or line end the
   * tokenizer has seen before comes back after different protocols, fields and flags.
   */
  splicedLines(n: number, poolSize = 40): string[] {
    const pool: string[] = [];
    for (let i = 0; i < poolSize; i++) pool.push(this.valid(this.pick(["proc", "plain", "extended", "event"] as const)));
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const a = this.pick(pool);
      const x = this.r();
      if (x < 0.4) {
        out.push(a);
      } else if (x < 0.5) {
        out.push(this.mutate(a));
      } else {
        const ta = a.split(" ");
        const tb = this.pick(pool).split(" ");
        out.push([...ta.slice(0, this.int(ta.length + 1)), ...tb.slice(this.int(tb.length + 1))].join(" "));
      }
    }
    return out;
  }

  /** n lines: valid ones, some others, and a share of mutated ones. */
  lines(n: number, mutatedShare = 0.3): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const x = this.r();
      const base = x < 0.03 ? this.other() : this.valid();
      out.push(this.r() < mutatedShare ? this.mutate(base) : base);
    }
    return out;
  }

  /**
   * A random CompiledFilter: each field is left empty or filled from the generator's own pools
   * (protocols, states, service ports, IPv4/IPv6 prefixes of every length), so that it keeps
   * some entries and drops others.
   */
  filter(): CompiledFilter {
    const f = emptyFilter();
    const use = () => this.r() < 0.5;
    if (use()) {
      f.protoMask = new Uint8Array(256);
      for (const p of PROTOS) if (this.r() < 0.5) f.protoMask[p.num] = 1;
    }
    if (use()) {
      f.stateMask = new Uint8Array(STATE_NAMES.length);
      for (let i = 0; i < STATE_NAMES.length; i++) if (this.r() < 0.4) f.stateMask[i] = 1;
    }
    if (use()) {
      f.portMask = new Uint8Array(65536);
      for (const p of this.servicePorts) if (this.r() < 0.4) f.portMask[p] = 1;
      for (let i = 0; i < 1000; i++) f.portMask[this.int(65536)] = 1;
    }
    if (use()) f.src = this.cidrList();
    if (use()) f.dst = this.cidrList();
    return f;
  }

  private cidrList(): Uint8Array {
    const n = 1 + this.int(4);
    const out = new Uint8Array(n * CIDR_BYTES);
    for (let r = 0; r < n; r++) {
      const o = r * CIDR_BYTES;
      if (this.r() < 0.6) {
        out[o] = 4;
        out[o + 1] = this.pick([0, 8, 12, 16, 20, 24, 27, 31, 32, this.int(33)]);
        const a = this.pick(this.v4).split(".").map(Number);
        for (let i = 0; i < 4; i++) out[o + 2 + i] = a[i]!;
      } else {
        out[o] = 6;
        out[o + 1] = this.pick([0, 16, 32, 48, 56, 64, 100, 127, 128, this.int(129)]);
        const g = this.pick(this.v6);
        for (let i = 0; i < 8; i++) {
          const v = Number.parseInt(g[i]!, 16);
          out[o + 2 + 2 * i] = v >> 8;
          out[o + 3 + 2 * i] = v & 255;
        }
      }
      // Sometimes flip a bit after the prefix (must not matter) or inside it (must).
      if (this.r() < 0.3) out[o + 2 + this.int(out[o] === 4 ? 4 : 16)]! ^= 1 << this.int(8);
    }
    return out;
  }

  /** Sorted cut points in [0, buf.length] just after a newline (plus 0 and the length). */
  newlineSplits(buf: Uint8Array, maxChunks: number): number[] {
    const cuts = new Set<number>([0, buf.length]);
    const n = this.int(maxChunks);
    for (let i = 0; i < n; i++) {
      const at = buf.indexOf(10, this.int(buf.length));
      if (at >= 0) cuts.add(at + 1);
    }
    return [...cuts].sort((a, b) => a - b);
  }

  /** Join lines into a latin1 buffer with mixed LF/CRLF endings, sometimes without a final newline. */
  join(lines: string[], crlfShare = 0.05): Buffer {
    let s = "";
    for (let i = 0; i < lines.length; i++) {
      s += lines[i];
      if (i < lines.length - 1 || this.r() < 0.7) s += this.r() < crlfShare ? "\r\n" : "\n";
    }
    return Buffer.from(s, "latin1");
  }
}
