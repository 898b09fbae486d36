/**
 * What a generated dump contains: entry kinds with fixed protocol/state/flags, the planted
 * anomalies, and the exact count of each kind for a given N. Counts depend on N only (never on the
 * seed), so the expected numbers are known without generating anything.
 *
 * The local host is a server with two addresses (LOCAL4, LOCAL6) serving 22/80/443/53/5228, with
 * a Docker bridge behind it (DNAT to 172.17.0.x, masquerade out). Planted anomalies, as fractions
 * of N (floored):
 *   1. dominant remote  5 %  DOMINANT4 -> LOCAL4:5228, TCP ESTABLISHED [ASSURED] (the field case:
 *                            one host holding tens of thousands of entries on port 5228)
 *   2. SYN flood        8 %  spoofed sources in 203.0.113.0/24 -> LOCAL4:80 (3 of 4) and :443 (1 of 4),
 *                            inbound, [UNREPLIED]: 6 % SYN_RECV, 2 % SYN_SENT
 *   3. DNS flood       10 %  UDP [UNREPLIED] from random sources -> LOCAL4:53
 *   4. IPv6 remote      3 %  DOMINANT6 -> LOCAL6:443, TCP ESTABLISHED [ASSURED]
 * The remaining entries are background traffic, split by the weights below (largest remainder).
 * Background addresses never fall in 192.0.2.0/24, 203.0.113.0/24 or 2001:db8::/32, so planted
 * subjects have exactly their planted counts.
 */
import { P_ICMP, P_ICMPV6, P_TCP, P_UDP, S_ESTABLISHED, S_SYN_RECV, S_SYN_SENT, STATE_NAMES } from "../parse/layout.js";

export const GEN_FORMATS = ["proc", "legacy", "conntrack", "extended", "xml"] as const;
/** The most entries one dump may have. */
export const MAX_ENTRIES = 2 ** 31;
export type GenFormat = (typeof GEN_FORMATS)[number];

export const LOCAL4 = "198.51.100.10";
export const LOCAL6 = "2001:db8:1::10";
export const DOMINANT4 = "192.0.2.77";
export const DOMINANT_PORT = 5228;
export const SYN_PREFIX = "203.0.113.0/24";
export const DOMINANT6 = "2001:db8:ffff::77";
export const DOMINANT6_PORT = 443;
/** `legacy` (/proc/net/ip_conntrack) is IPv4 only: IPv6 entries are generated as IPv4 ones, DOMINANT6 as this. */
export const DOMINANT6_AS_V4 = "192.0.2.66";

/** Kind ids, in slot order (planted first). */
export const K = {
  dominant: 0,
  synRecv: 1,
  synSent: 2,
  dnsFlood: 3,
  dominant6: 4,
  inEst4: 5,
  inEst6: 6,
  outEst4: 7,
  outEst6: 8,
  inTimeWait4: 9,
  inTimeWait6: 10,
  outSynSent4: 11,
  inCloseWait4: 12,
  inFinWait4: 13,
  inLastAck4: 14,
  inSynRecv4: 15,
  inClose4: 16,
  outDns4: 17,
  inDns4: 18,
  inDns6: 19,
  outNtp4: 20,
  inQuic4: 21,
  outUdpUnreplied4: 22,
  icmpIn4: 23,
  icmpUnreplied4: 24,
  icmpIn6: 25,
  natDnat4: 26,
  natSnat4: 27,
} as const;

export interface KindSpec {
  name: string;
  family: 4 | 6;
  proto: number;
  /** STATE_NAMES index, 0 = the protocol prints no state. */
  state: number;
  unreplied: boolean;
  assured: boolean;
  nat: boolean;
  /** Planted kinds: fraction of N. Background kinds: weight among the rest. */
  share: number;
  planted: boolean;
}

const st = (name: string): number => STATE_NAMES.indexOf(name as (typeof STATE_NAMES)[number]);

function kind(
  name: string,
  family: 4 | 6,
  proto: number,
  state: number,
  flags: "" | "U" | "A",
  share: number,
  planted = false,
  nat = false,
): KindSpec {
  return { name, family, proto, state, unreplied: flags === "U", assured: flags === "A", nat, share, planted };
}

/** Indexed by K.*. */
export const KINDS: readonly KindSpec[] = [
  kind("dominant-remote", 4, P_TCP, S_ESTABLISHED, "A", 0.05, true),
  kind("syn-flood-syn-recv", 4, P_TCP, S_SYN_RECV, "U", 0.06, true),
  kind("syn-flood-syn-sent", 4, P_TCP, S_SYN_SENT, "U", 0.02, true),
  kind("dns-flood", 4, P_UDP, 0, "U", 0.1, true),
  kind("dominant-remote-v6", 6, P_TCP, S_ESTABLISHED, "A", 0.03, true),
  kind("in-established-v4", 4, P_TCP, S_ESTABLISHED, "A", 30),
  kind("in-established-v6", 6, P_TCP, S_ESTABLISHED, "A", 20),
  kind("out-established-v4", 4, P_TCP, S_ESTABLISHED, "A", 12),
  kind("out-established-v6", 6, P_TCP, S_ESTABLISHED, "A", 8),
  kind("in-time-wait-v4", 4, P_TCP, st("TIME_WAIT"), "A", 10),
  kind("in-time-wait-v6", 6, P_TCP, st("TIME_WAIT"), "A", 6),
  kind("out-syn-sent-v4", 4, P_TCP, S_SYN_SENT, "U", 1.5),
  kind("in-close-wait-v4", 4, P_TCP, st("CLOSE_WAIT"), "A", 2),
  kind("in-fin-wait-v4", 4, P_TCP, st("FIN_WAIT"), "A", 2),
  kind("in-last-ack-v4", 4, P_TCP, st("LAST_ACK"), "A", 0.5),
  kind("in-syn-recv-v4", 4, P_TCP, S_SYN_RECV, "", 0.5),
  kind("in-close-v4", 4, P_TCP, st("CLOSE"), "A", 0.5),
  kind("out-dns-v4", 4, P_UDP, 0, "", 8),
  kind("in-dns-v4", 4, P_UDP, 0, "", 4),
  kind("in-dns-v6", 6, P_UDP, 0, "", 3),
  kind("out-ntp-v4", 4, P_UDP, 0, "", 1),
  kind("in-quic-v4", 4, P_UDP, 0, "A", 3),
  kind("out-udp-unreplied-v4", 4, P_UDP, 0, "U", 1),
  kind("icmp-echo-in-v4", 4, P_ICMP, 0, "", 2),
  kind("icmp-echo-unreplied-v4", 4, P_ICMP, 0, "U", 0.5),
  kind("icmpv6-echo-in", 6, P_ICMPV6, 0, "", 1),
  kind("dnat-docker-v4", 4, P_TCP, S_ESTABLISHED, "A", 1.5, false, true),
  kind("masquerade-docker-v4", 4, P_TCP, S_ESTABLISHED, "A", 1.5, false, true),
];

/** Exact number of entries of each kind (indexed like KINDS). Depends on n only. */
export function kindCounts(n: number): number[] {
  const counts = KINDS.map((k) => (k.planted ? Math.floor(n * k.share) : 0));
  const rest = n - counts.reduce((a, b) => a + b, 0);
  const bg = KINDS.map((k, i) => (k.planted ? -1 : i)).filter((i) => i >= 0);
  const total = bg.reduce((a, i) => a + KINDS[i]!.share, 0);
  // Largest remainder; ties go to the earlier kind.
  const rem: Array<[number, number]> = [];
  let given = 0;
  for (const i of bg) {
    const exact = (rest * KINDS[i]!.share) / total;
    const c = Math.floor(exact);
    counts[i] = c;
    given += c;
    rem.push([exact - c, i]);
  }
  rem.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let j = 0; j < rest - given; j++) counts[rem[j]![1]]!++;
  return counts;
}

/** The family an entry of this kind has in this format (legacy is IPv4 only). */
export function effectiveFamily(k: KindSpec, format: GenFormat): 4 | 6 {
  return format === "legacy" ? 4 : k.family;
}

export function effectiveProto(k: KindSpec, format: GenFormat): number {
  return k.proto === P_ICMPV6 && format === "legacy" ? P_ICMP : k.proto;
}

/** Everything a test or benchmark needs to check a generated dump, exactly. */
export interface GenTruth {
  n: number;
  seed: number;
  format: GenFormat;
  acct: boolean;
  /** Entries (lines that are conntrack entries); XML adds 3 wrapper lines. */
  entries: number;
  lines: number;
  family: { ipv4: number; ipv6: number };
  /** By l4 protocol name (tcp, udp, icmp, icmpv6). */
  proto: Record<string, number>;
  /** By state name; "none" for protocols that print no state. */
  state: Record<string, number>;
  unreplied: number;
  assured: number;
  nat: number;
  /** Entries carrying packets=/bytes=. */
  acctEntries: number;
  kinds: Record<string, number>;
  planted: {
    dominantRemote: { remote: string; local: string; port: number; state: "ESTABLISHED"; count: number };
    synFlood: {
      prefix: string;
      local: string;
      count: number;
      byPort: Record<string, number>;
      byState: { SYN_RECV: number; SYN_SENT: number };
    };
    dnsFlood: { local: string; port: 53; count: number };
    v6Remote: { remote: string; local: string; port: number; state: "ESTABLISHED"; count: number };
  };
}

const PROTO_LABEL: Record<number, string> = { [P_TCP]: "tcp", [P_UDP]: "udp", [P_ICMP]: "icmp", [P_ICMPV6]: "icmpv6" };

/** Index j (0-based, within the SYN flood kinds) → port: three of four hit 80, one 443. */
export function synFloodPort(j: number): number {
  return j % 4 === 3 ? 443 : 80;
}

function nonZero(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).filter(([, v]) => v > 0));
}

function synPortCount(count: number): { p80: number; p443: number } {
  const p443 = Math.floor(count / 4);
  return { p80: count - p443, p443 };
}

/** The exact expected content of `ctscope gen n --seed seed --format format [--acct]`. */
export function plantedTruth(n: number, seed = 1, format: GenFormat = "proc", acct = false): GenTruth {
  const counts = kindCounts(n);
  const family = { ipv4: 0, ipv6: 0 };
  const proto: Record<string, number> = {};
  const state: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  let unreplied = 0;
  let assured = 0;
  let nat = 0;
  KINDS.forEach((k, i) => {
    const c = counts[i]!;
    kinds[k.name] = c;
    if (c === 0) return; // absent, as a recount would have it
    if (effectiveFamily(k, format) === 4) family.ipv4 += c;
    else family.ipv6 += c;
    const pn = PROTO_LABEL[effectiveProto(k, format)]!;
    proto[pn] = (proto[pn] ?? 0) + c;
    const sn = k.state === 0 ? "none" : STATE_NAMES[k.state]!;
    state[sn] = (state[sn] ?? 0) + c;
    if (k.unreplied) unreplied += c;
    if (k.assured) assured += c;
    if (k.nat) nat += c;
  });
  const sr = synPortCount(counts[K.synRecv]!);
  const ss = synPortCount(counts[K.synSent]!);
  const legacy = format === "legacy";
  return {
    n,
    seed,
    format,
    acct,
    entries: n,
    lines: format === "xml" ? n + 3 : n,
    family,
    proto,
    state,
    unreplied,
    assured,
    nat,
    acctEntries: acct ? n : 0,
    kinds,
    planted: {
      dominantRemote: { remote: DOMINANT4, local: LOCAL4, port: DOMINANT_PORT, state: "ESTABLISHED", count: counts[K.dominant]! },
      synFlood: {
        prefix: SYN_PREFIX,
        local: LOCAL4,
        count: counts[K.synRecv]! + counts[K.synSent]!,
        byPort: nonZero({ "80": sr.p80 + ss.p80, "443": sr.p443 + ss.p443 }),
        byState: { SYN_RECV: counts[K.synRecv]!, SYN_SENT: counts[K.synSent]! },
      },
      dnsFlood: { local: LOCAL4, port: 53, count: counts[K.dnsFlood]! },
      v6Remote: {
        remote: legacy ? DOMINANT6_AS_V4 : DOMINANT6,
        local: legacy ? LOCAL4 : LOCAL6,
        port: DOMINANT6_PORT,
        state: "ESTABLISHED",
        count: counts[K.dominant6]!,
      },
    },
  };
}
