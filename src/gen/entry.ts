/**
 * Builds one conntrack entry (the fields every output format prints) from (seed, index).
 * One reusable Entry record: no object per generated row.
 */
import { P_ICMP, P_ICMPV6, P_TCP, S_ESTABLISHED, S_SYN_RECV, S_SYN_SENT, STATE_NAMES } from "../parse/layout.js";
import { effectiveFamily, effectiveProto, type GenFormat, K, KINDS, type KindSpec, kindCounts, synFloodPort } from "./model.js";
import { hash2, Permutation, Rng } from "./rng.js";

/** Address slots: original src/dst, reply src/dst. */
export const OS = 0;
export const OD = 1;
export const RS = 2;
export const RD = 3;

export class Entry {
  kind = 0;
  family: 4 | 6 = 4;
  proto = P_TCP;
  state = 0;
  timeout = 0;
  unreplied = false;
  assured = false;
  sport1 = 0;
  dport1 = 0;
  sport2 = 0;
  dport2 = 0;
  /** ICMP: original type (echo request), reply type, identifier. */
  type1 = 0;
  type2 = 0;
  icmpId = 0;
  packets1 = 0;
  bytes1 = 0;
  packets2 = 0;
  bytes2 = 0;
  /** conntrack id (XML prints it). */
  id = 0;
  /** IPv4 addresses per slot. */
  readonly v4 = new Uint32Array(4);
  /** IPv6 addresses: 8 groups per slot. */
  readonly v6 = new Uint16Array(32);
}

const ip4 = (s: string): number => s.split(".").reduce((a, o) => a * 256 + Number(o), 0);

const LOCAL4_U = ip4("198.51.100.10");
const DOMINANT4_U = ip4("192.0.2.77");
const DOMINANT6_AS_V4_U = ip4("192.0.2.66");
const SYN_NET_U = ip4("203.0.113.0");
const DOCKER_NET_U = ip4("172.17.0.0");
const RESOLVERS = [ip4("1.1.1.1"), ip4("8.8.8.8"), ip4("9.9.9.9")];
const LOCAL6_G = [0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10];
const DOMINANT6_G = [0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0x77];
/** Background IPv4 first octets: ordinary unicast space, never a documentation or private range. */
const FIRST_OCTETS = [
  23, 31, 37, 45, 46, 62, 77, 78, 80, 81, 82, 85, 88, 91, 94, 95, 104, 109, 141, 145, 151, 157, 176, 178, 185, 188, 193, 194, 195, 212, 213,
  217,
];
/** Background IPv6 first groups (never 2001::/16). */
const FIRST_GROUPS = [
  0x2a00, 0x2a01, 0x2a02, 0x2a03, 0x2a0a, 0x2a10, 0x2600, 0x2601, 0x2604, 0x2607, 0x2620, 0x2800, 0x2c0f, 0x2400, 0x2401, 0x2405,
];

// Salts for seed-dependent pools.
const SALT_CLIENT4 = 0x1000000;
const SALT_CLIENT6 = 0x2000000;
const SALT_UP4 = 0x3000000;
const SALT_UP6 = 0x4000000;
const SALT_NTP = 0x5000000;
const SALT_ENTRY = 0x6000000;

const UPSTREAM4 = 96;
const UPSTREAM6 = 24;

const TIME_WAIT = STATE_NAMES.indexOf("TIME_WAIT");
const CLOSE_WAIT = STATE_NAMES.indexOf("CLOSE_WAIT");
const FIN_WAIT = STATE_NAMES.indexOf("FIN_WAIT");
const LAST_ACK = STATE_NAMES.indexOf("LAST_ACK");
const CLOSE = STATE_NAMES.indexOf("CLOSE");

/** Makes entry i of a dump of n entries. */
export class EntryFactory {
  readonly counts: number[];
  private readonly starts: number[];
  private readonly perm: Permutation;
  private readonly rng = new Rng();
  private readonly pool4: number;
  private readonly pool6: number;
  private readonly seedHash: number;
  private e!: Entry;

  constructor(
    readonly n: number,
    readonly seed: number,
    readonly format: GenFormat,
  ) {
    this.counts = kindCounts(n);
    this.starts = [];
    let s = 0;
    for (const c of this.counts) {
      this.starts.push(s);
      s += c;
    }
    this.perm = new Permutation(n, seed);
    this.seedHash = hash2(seed, 0x5eed);
    // Remote clients repeat (skewed), but no background client comes near a planted subject.
    this.pool4 = Math.max(512, Math.floor(n / 8));
    this.pool6 = Math.max(128, Math.floor(n / 32));
  }

  fill(i: number, e: Entry): void {
    const slot = this.perm.at(i);
    let k = this.starts.length - 1;
    while (this.starts[k]! > slot) k--;
    const j = slot - this.starts[k]!; // index within the kind
    const spec = KINDS[k]!;
    const r = this.rng;
    r.reset(hash2(this.seedHash ^ SALT_ENTRY, i));
    this.e = e;
    e.kind = k;
    e.family = effectiveFamily(spec, this.format);
    e.proto = effectiveProto(spec, this.format);
    e.state = spec.state;
    e.unreplied = spec.unreplied;
    e.assured = spec.assured;
    e.id = r.u32();
    this.build(k, j, spec);
  }

  private build(k: number, j: number, spec: KindSpec): void {
    const e = this.e;
    const r = this.rng;
    switch (k) {
      case K.dominant:
        this.setV4(OS, DOMINANT4_U);
        this.setLocal(OD);
        this.ports(r.range(1024, 65535), 5228);
        e.timeout = this.establishedTimeout(0.6);
        this.tcpAcct(20, 400);
        break;
      case K.synRecv:
      case K.synSent:
        this.setV4(OS, SYN_NET_U + r.range(1, 254));
        this.setLocal(OD);
        this.ports(r.range(1024, 65535), synFloodPort(j));
        e.timeout = k === K.synRecv ? r.below(61) : r.below(121);
        this.synAcct();
        break;
      case K.dnsFlood:
        this.setRandomRemote(OS);
        this.setLocal(OD);
        this.ports(r.range(1024, 65535), 53);
        e.timeout = r.below(31);
        e.packets1 = r.range(1, 3);
        e.bytes1 = e.packets1 * r.range(56, 92);
        e.packets2 = 0;
        e.bytes2 = 0;
        break;
      case K.dominant6:
        if (e.family === 6) this.setV6(OS, DOMINANT6_G);
        else this.setV4(OS, DOMINANT6_AS_V4_U);
        this.setLocal(OD);
        this.ports(r.range(1024, 65535), 443);
        e.timeout = this.establishedTimeout(0.5);
        this.tcpAcct(10, 2000);
        break;
      case K.inEst4:
      case K.inEst6:
      case K.inTimeWait4:
      case K.inTimeWait6:
      case K.inCloseWait4:
      case K.inFinWait4:
      case K.inLastAck4:
      case K.inSynRecv4:
      case K.inClose4: {
        this.setClient(OS);
        this.setLocal(OD);
        const u = r.below(100);
        this.ports(this.clientPort(), u < 62 ? 443 : u < 90 ? 80 : u < 97 ? 22 : 5228);
        e.timeout = this.tcpTimeout(spec.state);
        if (spec.state === S_SYN_RECV) this.synAcct();
        else this.tcpAcct(spec.state === S_ESTABLISHED ? 30 : 12, 20000);
        if (spec.state === S_SYN_RECV) {
          e.packets2 = 1;
          e.bytes2 = e.family === 4 ? 60 : 80;
        }
        break;
      }
      case K.outEst4:
      case K.outEst6:
      case K.outSynSent4: {
        this.setLocal(OS);
        this.setUpstream(OD);
        const u = r.below(100);
        this.ports(this.ephemeral(), u < 70 ? 443 : u < 85 ? 80 : u < 93 ? 993 : u < 97 ? 5228 : 22);
        e.timeout = this.tcpTimeout(spec.state);
        if (spec.state === S_SYN_SENT) this.synAcct();
        else this.tcpAcct(40, 50000);
        break;
      }
      case K.outDns4:
        this.setLocal(OS);
        this.setV4(OD, RESOLVERS[r.below(RESOLVERS.length)]!);
        this.ports(this.ephemeral(), 53);
        e.timeout = r.below(31);
        this.udpAcct(1, 1, 60, 90, 76, 400);
        break;
      case K.inDns4:
      case K.inDns6:
        this.setClient(OS);
        this.setLocal(OD);
        this.ports(this.clientPort(), 53);
        e.timeout = r.below(31);
        this.udpAcct(1, 1, 60, 90, 76, 512);
        break;
      case K.outNtp4:
        this.setLocal(OS);
        this.setV4(OD, this.poolV4(SALT_NTP, r.below(8)));
        this.ports(r.below(4) === 0 ? 123 : this.ephemeral(), 123);
        e.timeout = r.below(31);
        this.udpAcct(1, 1, 76, 76, 76, 76);
        break;
      case K.inQuic4:
        this.setClient(OS);
        this.setLocal(OD);
        this.ports(this.clientPort(), 443);
        e.timeout = r.below(121);
        this.udpAcct(8, 3000, 60, 1350, 60, 1350);
        break;
      case K.outUdpUnreplied4:
        this.setLocal(OS);
        this.setUpstream(OD);
        this.ports(this.ephemeral(), r.below(2) === 0 ? 514 : 123);
        e.timeout = r.below(31);
        this.udpAcct(1, 3, 60, 300, 0, 0);
        e.packets2 = 0;
        e.bytes2 = 0;
        break;
      case K.icmpIn4:
      case K.icmpUnreplied4:
      case K.icmpIn6: {
        this.setClient(OS);
        this.setLocal(OD);
        const v6 = e.proto === P_ICMPV6;
        e.type1 = v6 ? 128 : 8;
        e.type2 = v6 ? 129 : 0;
        e.icmpId = r.below(65536);
        e.timeout = r.below(31);
        e.packets1 = 1;
        e.bytes1 = v6 ? 104 : 84;
        e.packets2 = spec.unreplied ? 0 : 1;
        e.bytes2 = spec.unreplied ? 0 : e.bytes1;
        break;
      }
      case K.natDnat4: {
        // Published container port: REMOTE -> LOCAL:8080 becomes 172.17.0.x:80.
        this.setClient(OS);
        this.setLocal(OD);
        this.ports(this.clientPort(), 8080);
        e.timeout = this.establishedTimeout(0.2);
        this.tcpAcct(20, 5000);
        this.setV4(RS, DOCKER_NET_U + r.range(2, 15));
        e.v4[RD] = e.v4[OS]!;
        e.sport2 = 80;
        e.dport2 = e.sport1;
        return;
      }
      case K.natSnat4: {
        // Container going out, masqueraded behind LOCAL (source port sometimes rewritten).
        this.setV4(OS, DOCKER_NET_U + r.range(2, 15));
        this.setUpstream(OD);
        this.ports(this.ephemeral(), 443);
        e.timeout = this.establishedTimeout(0.2);
        this.tcpAcct(20, 20000);
        e.v4[RS] = e.v4[OD]!;
        e.v4[RD] = LOCAL4_U;
        e.sport2 = e.dport1;
        e.dport2 = r.below(8) === 0 ? this.ephemeral() : e.sport1;
        return;
      }
      default:
        throw new Error(`unknown entry kind ${k}`);
    }
    this.invert();
  }

  /** Reply tuple = original inverted (no NAT). */
  private invert(): void {
    const e = this.e;
    if (e.family === 4) {
      e.v4[RS] = e.v4[OD]!;
      e.v4[RD] = e.v4[OS]!;
    } else {
      const g = e.v6;
      g.copyWithin(RS * 8, OD * 8, OD * 8 + 8);
      g.copyWithin(RD * 8, OS * 8, OS * 8 + 8);
    }
    e.sport2 = e.dport1;
    e.dport2 = e.sport1;
  }

  private ports(sport: number, dport: number): void {
    this.e.sport1 = sport;
    this.e.dport1 = dport;
  }

  /** Remote clients: Linux (32768-60999) and Windows (49152-65535) ephemeral ranges. */
  private clientPort(): number {
    return this.rng.range(32768, 65535);
  }

  private ephemeral(): number {
    return this.rng.range(32768, 60999);
  }

  /** Remaining timeout of an ESTABLISHED entry under the 5-day default; idleShare of them long idle. */
  private establishedTimeout(idleShare: number): number {
    const r = this.rng;
    return r.float() < idleShare ? r.range(1, 431099) : 432000 - r.below(900);
  }

  private tcpTimeout(state: number): number {
    const r = this.rng;
    switch (state) {
      case S_ESTABLISHED:
        return this.establishedTimeout(0.15);
      case S_SYN_SENT:
      case TIME_WAIT:
      case FIN_WAIT:
        return r.below(121);
      case S_SYN_RECV:
      case CLOSE_WAIT:
        return r.below(61);
      case LAST_ACK:
        return r.below(31);
      case CLOSE:
        return r.below(11);
      default:
        return r.below(121);
    }
  }

  private tcpAcct(minPackets: number, maxPackets: number): void {
    const e = this.e;
    const r = this.rng;
    const u = r.float();
    e.packets1 = minPackets + Math.floor((maxPackets - minPackets) * u * u * u);
    e.bytes1 = e.packets1 * r.range(52, 600);
    e.packets2 = Math.max(1, Math.floor(e.packets1 * (0.6 + r.float() * 0.9)));
    e.bytes2 = e.packets2 * r.range(52, 1400);
  }

  /** One SYN (and retransmissions), nothing back. */
  private synAcct(): void {
    const e = this.e;
    e.packets1 = 1 + (this.rng.below(4) === 0 ? 1 : 0);
    e.bytes1 = e.packets1 * (e.family === 4 ? 60 : 80);
    e.packets2 = 0;
    e.bytes2 = 0;
  }

  private udpAcct(minP: number, maxP: number, min1: number, max1: number, min2: number, max2: number): void {
    const e = this.e;
    const r = this.rng;
    e.packets1 = r.range(minP, maxP);
    e.bytes1 = e.packets1 * r.range(min1, max1);
    e.packets2 = max2 === 0 ? 0 : r.range(minP, maxP);
    e.bytes2 = e.packets2 * (max2 === 0 ? 0 : r.range(min2, max2));
  }

  private setV4(slot: number, a: number): void {
    this.e.v4[slot] = a;
  }

  private setV6(slot: number, g: readonly number[]): void {
    const v6 = this.e.v6;
    for (let i = 0; i < 8; i++) v6[slot * 8 + i] = g[i]!;
  }

  private setLocal(slot: number): void {
    if (this.e.family === 4) this.setV4(slot, LOCAL4_U);
    else this.setV6(slot, LOCAL6_G);
  }

  /** A pool member, skewed so some remotes hold several entries. */
  private skewed(pool: number): number {
    const u = this.rng.float();
    return Math.floor(pool * u * u);
  }

  private setClient(slot: number): void {
    if (this.e.family === 4) this.setV4(slot, this.poolV4(SALT_CLIENT4, this.skewed(this.pool4)));
    else this.poolV6(slot, SALT_CLIENT6, this.skewed(this.pool6));
  }

  private setUpstream(slot: number): void {
    if (this.e.family === 4) this.setV4(slot, this.poolV4(SALT_UP4, this.skewed(UPSTREAM4)));
    else this.poolV6(slot, SALT_UP6, this.skewed(UPSTREAM6));
  }

  /** A fresh (spoofed-looking) IPv4 source. */
  private setRandomRemote(slot: number): void {
    this.setV4(slot, v4FromHash(this.rng.u32(), this.rng.u32()));
  }

  private poolV4(salt: number, idx: number): number {
    const h = hash2(this.seedHash ^ salt, idx);
    return v4FromHash(h, hash2(h, 1));
  }

  private poolV6(slot: number, salt: number, idx: number): void {
    const h = hash2(this.seedHash ^ salt, idx);
    const h2 = hash2(h, 2);
    const h3 = hash2(h, 3);
    const g = this.e.v6;
    const o = slot * 8;
    g[o] = FIRST_GROUPS[h % FIRST_GROUPS.length]!;
    g[o + 1] = h2 >>> 16;
    g[o + 2] = h2 & 0xffff;
    g[o + 3] = (h >>> 8) & 0xff;
    // Interface ids: static "::n", EUI-64, or random privacy addresses.
    const style = (h >>> 4) & 3;
    if (style === 0) {
      g[o + 4] = 0;
      g[o + 5] = 0;
      g[o + 6] = 0;
      g[o + 7] = 1 + (h3 & 0xff);
    } else if (style === 1) {
      g[o + 4] = (h3 >>> 16) | 0x0200;
      g[o + 5] = ((h3 >>> 8) & 0xff00) | 0xff;
      g[o + 6] = 0xfe00 | (h3 & 0xff);
      g[o + 7] = hash2(h, 4) & 0xffff;
    } else {
      const h4 = hash2(h, 4);
      g[o + 4] = h3 >>> 16;
      g[o + 5] = h3 & 0xffff;
      g[o + 6] = h4 >>> 16;
      g[o + 7] = h4 & 0xffff;
    }
  }
}

function v4FromHash(h: number, h2: number): number {
  const first = FIRST_OCTETS[h % FIRST_OCTETS.length]!;
  return first * 16777216 + ((h2 >>> 8) & 0xffff) * 256 + (1 + (h2 % 254));
}

/** True for kinds whose tuples carry ports (used by the formatter). */
export function entryHasPorts(e: Entry): boolean {
  return e.proto !== P_ICMP && e.proto !== P_ICMPV6;
}
