// The binary layout shared with the TS side; mirrors src/parse/layout.ts number for number.
// test/native-layout.test.ts compares the values exported by layout() with layout.ts.
#pragma once

#include <cstdint>

namespace ctscope {

constexpr int KEY_BYTES = 40;
constexpr int KEY_WORDS = KEY_BYTES / 4;
constexpr int K_FAMILY = 0;
constexpr int K_PROTO = 1;
constexpr int K_STATE = 2;
constexpr int K_FLAGS = 3;
constexpr int K_DPORT = 4;  // big-endian u16
constexpr int K_SRC = 8;    // 16 bytes
constexpr int K_DST = 24;   // 16 bytes

constexpr int F_UNREPLIED = 1;
constexpr int F_ASSURED = 2;
constexpr int F_OFFLOAD = 4;
constexpr int F_HW_OFFLOAD = 8;
constexpr int F_NAT = 16;
constexpr int F_HAS_PORT = 32;

constexpr int VALUE_FIELDS = 4;
constexpr int V_COUNT = 0;
constexpr int V_PACKETS = 1;
constexpr int V_BYTES = 2;
constexpr int V_MAX_TIMEOUT = 3;

constexpr int COUNTER_FIELDS = 16;
constexpr int C_LINES = 0;
constexpr int C_ENTRIES = 1;
constexpr int C_MALFORMED = 2;
constexpr int C_BLANK = 3;
constexpr int C_IGNORED = 4;
constexpr int C_DESTROYED = 5;
constexpr int C_FILTERED = 6;
constexpr int C_ACCT = 7;
constexpr int C_FORM_L3 = 8;
constexpr int C_FORM_PLAIN = 9;
constexpr int C_FORM_XML = 10;
constexpr int C_EVENTS = 11;

constexpr int HIST_EDGE_COUNT = 14;
constexpr double HIST_EDGES[HIST_EDGE_COUNT] = {0,    10,    60,    300,   600,    1800,   3600,
                                                7200, 21600, 43200, 86401, 172800, 345600, 432001};
constexpr int HIST_BUCKETS = HIST_EDGE_COUNT + 1;
constexpr int HIST_NONE = HIST_EDGE_COUNT;
constexpr int HIST_FIELDS = HIST_BUCKETS * 2;
constexpr int HIST_ALL = 0;
constexpr int HIST_TCP_ESTABLISHED = HIST_BUCKETS;

constexpr int MALFORMED_SAMPLES = 8;
constexpr int MALFORMED_SAMPLE_BYTES = 200;

constexpr double MAX_TIMEOUT = 4294967295.0;
constexpr int MAX_DIGITS = 20;

constexpr int STATE_COUNT = 29;
constexpr const char* STATE_NAMES[STATE_COUNT] = {
    "",          "NONE",          "SYN_SENT",      "SYN_RECV",      "ESTABLISHED",       "FIN_WAIT",
    "CLOSE_WAIT", "LAST_ACK",     "TIME_WAIT",     "CLOSE",         "SYN_SENT2",         "LISTEN",
    "CLOSED",    "COOKIE_WAIT",   "COOKIE_ECHOED", "SHUTDOWN_SENT", "SHUTDOWN_RECD",     "SHUTDOWN_ACK_SENT",
    "HEARTBEAT_SENT", "HEARTBEAT_ACKED", "REQUEST", "RESPOND",      "PARTOPEN",          "OPEN",
    "CLOSEREQ",  "CLOSING",       "TIMEWAIT",      "IGNORE",        "INVALID"};
constexpr int S_NONE = 1;
constexpr int S_SYN_SENT = 2;
constexpr int S_SYN_RECV = 3;
constexpr int S_ESTABLISHED = 4;
constexpr int S_CLOSE_WAIT = 6;
constexpr int S_TIME_WAIT = 8;
constexpr int S_LISTEN = 11;
constexpr int S_CLOSED = 12;
constexpr int S_HEARTBEAT_ACKED = 19;
constexpr int S_REQUEST = 20;
constexpr int S_INVALID = 28;

constexpr int P_ICMP = 1;
constexpr int P_TCP = 6;
constexpr int P_UDP = 17;
constexpr int P_DCCP = 33;
constexpr int P_GRE = 47;
constexpr int P_ICMPV6 = 58;
constexpr int P_SCTP = 132;
constexpr int P_UDPLITE = 136;

/** Filter wire format (src/engine/contract.ts): [family, prefix length, 16 address bytes]. */
constexpr int CIDR_BYTES = 18;

inline bool hasPorts(int proto) {
  return proto == P_TCP || proto == P_UDP || proto == P_UDPLITE || proto == P_SCTP || proto == P_DCCP;
}

/** Same table as STATE_ALLOWED in layout.ts: which states each protocol may print. */
inline bool stateAllowed(int proto, int st) {
  switch (proto) {
    case P_TCP:
      return st >= S_NONE && st <= S_LISTEN;
    case P_SCTP:
      return st == S_NONE || st == S_ESTABLISHED || (st >= S_CLOSED && st <= S_HEARTBEAT_ACKED);
    case P_DCCP:
      return st == S_NONE || (st >= S_REQUEST && st <= S_INVALID);
    default:
      return false;
  }
}

}  // namespace ctscope
