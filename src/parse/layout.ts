/**
 * The binary layout shared by both backends (TS tokenizer and C++ addon).
 * native/layout.h mirrors every number here; test/layout.test.ts checks they agree.
 *
 * A conntrack entry is reduced to a "flow class": the fields that every report dimension needs
 * (source, destination, remote, service, prefix, state), without the client port. One chunk of
 * input becomes a table of distinct flow classes with per-class sums, plus a few counters.
 */

/** Flow-class key: fixed 40 bytes so it can be hashed and compared as ten 32-bit words. */
export const KEY_BYTES = 40;
export const K_FAMILY = 0; // 4 | 6
export const K_PROTO = 1; // l4 protocol number
export const K_STATE = 2; // State enum (0 = none)
export const K_FLAGS = 3; // Flag bits
export const K_DPORT = 4; // big-endian u16, original-direction destination port; 0 when the protocol has none
export const K_SRC = 8; // 16 bytes, IPv4 in the first 4
export const K_DST = 24; // 16 bytes

export const F_UNREPLIED = 1;
export const F_ASSURED = 2;
export const F_OFFLOAD = 4;
export const F_HW_OFFLOAD = 8;
/** Reply tuple is not the inverted original tuple: NAT was applied. */
export const F_NAT = 16;
/** The protocol carries ports (tcp, udp, udplite, sctp, dccp). */
export const F_HAS_PORT = 32;

/** Per-class values (Float64). */
export const VALUE_FIELDS = 4;
export const V_COUNT = 0;
export const V_PACKETS = 1; // both directions
export const V_BYTES = 2; // both directions
export const V_MAX_TIMEOUT = 3; // largest remaining timeout seen, -1 when no entry had one

/** Per-chunk counters (Float64). */
export const COUNTER_FIELDS = 16;
export const C_LINES = 0;
export const C_ENTRIES = 1; // valid entries that passed the filters (NEW/UPDATE events included)
export const C_MALFORMED = 2;
export const C_BLANK = 3;
export const C_IGNORED = 4; // conntrack-tools trailer, XML wrapper lines
export const C_DESTROYED = 5; // [DESTROY] events: valid, never counted as live entries
export const C_FILTERED = 6; // valid entries excluded by --proto/--state/--src/--dst/--port
export const C_ACCT = 7; // entries carrying packets=/bytes=
export const C_FORM_L3 = 8; // "ipv4 2 tcp 6 ..." (/proc/net/nf_conntrack, conntrack -o extended)
export const C_FORM_PLAIN = 9; // "tcp 6 ..." (conntrack -L, /proc/net/ip_conntrack)
export const C_FORM_XML = 10; // conntrack -o xml
export const C_EVENTS = 11; // [NEW]/[UPDATE] event lines (also counted in C_ENTRIES)
export const COUNTER_NAMES = [
  "lines",
  "entries",
  "malformed",
  "blank",
  "ignored",
  "destroyed",
  "filtered",
  "acct",
  "form_l3",
  "form_plain",
  "form_xml",
  "events",
] as const;

/**
 * Remaining-timeout histogram: bucket i holds HIST_EDGES[i] <= t < HIST_EDGES[i+1]; the bucket
 * after the last edge holds t >= 432001; the final bucket counts entries without a timeout
 * (offloaded entries, DESTROY events never reach it). 86401 is an edge because a remaining
 * timeout above 86400 s proves the 5-day established default (Kubernetes sets 86400).
 */
export const HIST_EDGES = [0, 10, 60, 300, 600, 1800, 3600, 7200, 21600, 43200, 86401, 172800, 345600, 432001] as const;
export const HIST_BUCKETS = HIST_EDGES.length + 1; // + "no timeout"
export const HIST_NONE = HIST_EDGES.length;
/** Two histograms: every entry, then TCP ESTABLISHED only. */
export const HIST_FIELDS = HIST_BUCKETS * 2;
export const HIST_ALL = 0;
export const HIST_TCP_ESTABLISHED = HIST_BUCKETS;

/** Malformed lines kept verbatim per chunk (the rest are only counted). */
export const MALFORMED_SAMPLES = 8;
export const MALFORMED_SAMPLE_BYTES = 200;

/** Limits that make a line malformed rather than silently wrapping. */
export const MAX_TIMEOUT = 4294967295; // u32
export const MAX_DIGITS = 20;

/** State names; the enum value is the index (0 = no state). One table for every protocol. */
export const STATE_NAMES = [
  "",
  "NONE",
  "SYN_SENT",
  "SYN_RECV",
  "ESTABLISHED",
  "FIN_WAIT",
  "CLOSE_WAIT",
  "LAST_ACK",
  "TIME_WAIT",
  "CLOSE",
  "SYN_SENT2",
  "LISTEN",
  "CLOSED",
  "COOKIE_WAIT",
  "COOKIE_ECHOED",
  "SHUTDOWN_SENT",
  "SHUTDOWN_RECD",
  "SHUTDOWN_ACK_SENT",
  "HEARTBEAT_SENT",
  "HEARTBEAT_ACKED",
  "REQUEST",
  "RESPOND",
  "PARTOPEN",
  "OPEN",
  "CLOSEREQ",
  "CLOSING",
  "TIMEWAIT",
  "IGNORE",
  "INVALID",
] as const;
export type StateName = Exclude<(typeof STATE_NAMES)[number], "">;
export const STATE_COUNT = STATE_NAMES.length;
export const S_ESTABLISHED = 4;
export const S_SYN_SENT = 2;
export const S_SYN_RECV = 3;
export const S_CLOSE_WAIT = 6;
export const S_TIME_WAIT = 8;
export const S_SYN_SENT2 = 10;

export const P_ICMP = 1;
export const P_TCP = 6;
export const P_UDP = 17;
export const P_DCCP = 33;
export const P_GRE = 47;
export const P_ICMPV6 = 58;
export const P_SCTP = 132;
export const P_UDPLITE = 136;

/** Protocol names as the kernel and conntrack-tools print them. Any other number prints as "unknown". */
export const PROTO_NAMES: Readonly<Record<number, string>> = {
  [P_ICMP]: "icmp",
  [P_TCP]: "tcp",
  [P_UDP]: "udp",
  [P_DCCP]: "dccp",
  [P_GRE]: "gre",
  [P_ICMPV6]: "icmpv6",
  [P_SCTP]: "sctp",
  [P_UDPLITE]: "udplite",
};

const TCP_STATES = [
  "NONE",
  "SYN_SENT",
  "SYN_RECV",
  "ESTABLISHED",
  "FIN_WAIT",
  "CLOSE_WAIT",
  "LAST_ACK",
  "TIME_WAIT",
  "CLOSE",
  "SYN_SENT2",
  "LISTEN",
];
const SCTP_STATES = [
  "NONE",
  "CLOSED",
  "COOKIE_WAIT",
  "COOKIE_ECHOED",
  "ESTABLISHED",
  "SHUTDOWN_SENT",
  "SHUTDOWN_RECD",
  "SHUTDOWN_ACK_SENT",
  "HEARTBEAT_SENT",
  "HEARTBEAT_ACKED",
];
const DCCP_STATES = ["NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN", "CLOSEREQ", "CLOSING", "TIMEWAIT", "IGNORE", "INVALID"];

/** Which states a protocol may print; protocols not listed print none. */
export const PROTO_STATES: Readonly<Record<number, readonly string[]>> = {
  [P_TCP]: TCP_STATES,
  [P_SCTP]: SCTP_STATES,
  [P_DCCP]: DCCP_STATES,
};

/** allowed[proto * STATE_COUNT + state] = 1 when that protocol may print that state. */
export const STATE_ALLOWED: Uint8Array = (() => {
  const t = new Uint8Array(256 * STATE_COUNT);
  for (const [proto, names] of Object.entries(PROTO_STATES)) {
    for (const n of names) t[Number(proto) * STATE_COUNT + STATE_NAMES.indexOf(n as StateName)] = 1;
  }
  return t;
})();

export function hasPorts(proto: number): boolean {
  return proto === P_TCP || proto === P_UDP || proto === P_UDPLITE || proto === P_SCTP || proto === P_DCCP;
}

/** Protocol name for display; numbers without a name show as "unknown(N)" so distinct ones stay distinct. */
export function protoName(proto: number): string {
  return PROTO_NAMES[proto] ?? `unknown(${proto})`;
}

export function stateName(state: number): string | null {
  return state === 0 ? null : (STATE_NAMES[state] ?? null);
}
