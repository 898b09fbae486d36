// ctnetlink for the live view: a native dump of the conntrack table, aggregated exactly like the
// /proc/net/nf_conntrack text of the same entries (see finish() in tokenizer.cc: same key, values,
// counters, filters and histograms). Only the kernel UAPI headers are used, no libmnl.
#include "netlink.h"

#include "dimensions_js.h"
#include "js_arrays.h"
#include "js_filter.h"

#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <utility>

namespace ctscope {

namespace {

constexpr uint16_t CT_SUBSYS = NFNL_SUBSYS_CTNETLINK;
constexpr uint16_t msgType(int msg) { return static_cast<uint16_t>((CT_SUBSYS << 8) | msg); }

/** Datagrams of a dump are at most 32 KiB (the kernel's cap on its dump skbs); MSG_TRUNC catches bigger ones. */
constexpr size_t RECV_BYTES = 256 * 1024;
/** A stuck kernel exchange fails instead of hanging the view. */
constexpr int RECV_TIMEOUT_SEC = 15;

struct Attr {
  const uint8_t* data = nullptr;
  size_t len = 0;
};

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) | (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline uint64_t be64(const uint8_t* p) { return (static_cast<uint64_t>(be32(p)) << 32) | be32(p + 4); }

/** Index the attributes of [p, p+len) by type (types >= N are skipped). False when an attribute overruns. */
template <size_t N>
bool parseAttrs(const uint8_t* p, size_t len, Attr (&out)[N]) {
  for (auto& a : out) a = Attr{};
  while (len >= NLA_HDRLEN) {
    nlattr h;
    std::memcpy(&h, p, sizeof h);
    if (h.nla_len < NLA_HDRLEN || h.nla_len > len) return false;
    const size_t type = h.nla_type & NLA_TYPE_MASK;
    if (type < N) out[type] = Attr{p + NLA_HDRLEN, static_cast<size_t>(h.nla_len) - NLA_HDRLEN};
    const size_t step = NLA_ALIGN(h.nla_len);
    if (step >= len) break;
    p += step;
    len -= step;
  }
  return true;
}

struct Tuple {
  int family = 0;  // 4 | 6
  alignas(8) uint8_t src[16] = {};
  alignas(8) uint8_t dst[16] = {};
  int proto = -1;
  int sport = -1;
  int dport = -1;
};

/** One CTA_TUPLE_* nest; returns the problem, or nullptr. */
const char* parseTuple(const Attr& a, Tuple& t) {
  Attr tb[CTA_TUPLE_MAX + 1];
  if (!parseAttrs(a.data, a.len, tb)) return "tuple attribute overruns its nest";
  const Attr& ipNest = tb[CTA_TUPLE_IP];
  const Attr& protoNest = tb[CTA_TUPLE_PROTO];
  if (!ipNest.data) return "tuple without CTA_TUPLE_IP";
  if (!protoNest.data) return "tuple without CTA_TUPLE_PROTO";
  Attr ip[CTA_IP_MAX + 1];
  if (!parseAttrs(ipNest.data, ipNest.len, ip)) return "address attribute overruns its nest";
  if (ip[CTA_IP_V4_SRC].data && ip[CTA_IP_V4_DST].data) {
    if (ip[CTA_IP_V4_SRC].len < 4 || ip[CTA_IP_V4_DST].len < 4) return "short IPv4 address";
    t.family = 4;
    std::memcpy(t.src, ip[CTA_IP_V4_SRC].data, 4);
    std::memcpy(t.dst, ip[CTA_IP_V4_DST].data, 4);
  } else if (ip[CTA_IP_V6_SRC].data && ip[CTA_IP_V6_DST].data) {
    if (ip[CTA_IP_V6_SRC].len < 16 || ip[CTA_IP_V6_DST].len < 16) return "short IPv6 address";
    t.family = 6;
    std::memcpy(t.src, ip[CTA_IP_V6_SRC].data, 16);
    std::memcpy(t.dst, ip[CTA_IP_V6_DST].data, 16);
  } else {
    return "tuple without a source and destination address";
  }
  Attr pr[CTA_PROTO_MAX + 1];
  if (!parseAttrs(protoNest.data, protoNest.len, pr)) return "protocol attribute overruns its nest";
  if (!pr[CTA_PROTO_NUM].data || pr[CTA_PROTO_NUM].len < 1) return "tuple without CTA_PROTO_NUM";
  t.proto = pr[CTA_PROTO_NUM].data[0];
  if (pr[CTA_PROTO_SRC_PORT].data && pr[CTA_PROTO_SRC_PORT].len >= 2) t.sport = be16(pr[CTA_PROTO_SRC_PORT].data);
  if (pr[CTA_PROTO_DST_PORT].data && pr[CTA_PROTO_DST_PORT].len >= 2) t.dport = be16(pr[CTA_PROTO_DST_PORT].data);
  return nullptr;
}

/** The state enum of layout.h for a kernel protoinfo state; -1 when the kernel value is unknown. */
int stateOf(int proto, int k) {
  switch (proto) {
    case P_TCP:  // NONE .. CLOSE, then SYN_SENT2 (the old LISTEN slot), as /proc prints them
      return k >= 0 && k <= 9 ? k + 1 : -1;
    case P_SCTP: {
      // NONE CLOSED COOKIE_WAIT COOKIE_ECHOED ESTABLISHED SHUTDOWN_SENT SHUTDOWN_RECD SHUTDOWN_ACK_SENT HEARTBEAT_SENT HEARTBEAT_ACKED
      static constexpr int map[] = {1, 12, 13, 14, 4, 15, 16, 17, 18, 19};
      return k >= 0 && k <= 9 ? map[k] : -1;
    }
    case P_DCCP:  // NONE, then REQUEST .. INVALID
      return k == 0 ? 1 : (k >= 1 && k <= 9 ? 19 + k : -1);
    default:
      return -1;
  }
}

inline int histBucket(double t) {
  if (t < 0) return HIST_NONE;
  int i = HIST_EDGE_COUNT - 1;
  while (t < HIST_EDGES[i]) i--;
  return i;
}

void malformed(CtAggregate& agg, const char* problem) {
  agg.counters[C_MALFORMED]++;
  if (agg.malformedCount < MALFORMED_SAMPLES) {
    std::string text = std::string("ctnetlink entry: ") + problem;
    if (text.size() > static_cast<size_t>(MALFORMED_SAMPLE_BYTES)) text.resize(MALFORMED_SAMPLE_BYTES);
    agg.malformedLine[agg.malformedCount] = agg.messages - 1;
    agg.malformedText[agg.malformedCount] = std::move(text);
    agg.malformedCount++;
  }
}

/** One conntrack entry message (payload after the nlmsghdr). */
void addEntry(const uint8_t* p, size_t len, CtAggregate& agg) {
  agg.messages++;
  agg.counters[C_LINES]++;
  if (len < sizeof(nfgenmsg)) return malformed(agg, "message shorter than its nfgenmsg header");
  nfgenmsg g;
  std::memcpy(&g, p, sizeof g);
  const int fam = g.nfgen_family == AF_INET ? 4 : g.nfgen_family == AF_INET6 ? 6 : 0;
  if (fam == 0) return malformed(agg, "layer 3 family is neither AF_INET nor AF_INET6");
  const size_t hdr = NLMSG_ALIGN(sizeof(nfgenmsg));
  if (len < hdr) return malformed(agg, "message shorter than its nfgenmsg header");
  Attr cta[CTA_MAX + 1];
  if (!parseAttrs(p + hdr, len - hdr, cta)) return malformed(agg, "attribute overruns the message");
  if (!cta[CTA_TUPLE_ORIG].data) return malformed(agg, "no CTA_TUPLE_ORIG");
  if (!cta[CTA_TUPLE_REPLY].data) return malformed(agg, "no CTA_TUPLE_REPLY");
  Tuple o, r;
  if (const char* why = parseTuple(cta[CTA_TUPLE_ORIG], o)) return malformed(agg, why);
  if (const char* why = parseTuple(cta[CTA_TUPLE_REPLY], r)) return malformed(agg, why);
  if (o.family != fam || r.family != fam) return malformed(agg, "tuple family differs from the message family");
  const int proto = o.proto;
  const bool ports = hasPorts(proto);
  if (ports && (o.sport < 0 || o.dport < 0 || r.sport < 0 || r.dport < 0)) return malformed(agg, "port protocol without ports");
  int state = 0;
  if (cta[CTA_PROTOINFO].data) {
    Attr pi[CTA_PROTOINFO_MAX + 1];
    if (!parseAttrs(cta[CTA_PROTOINFO].data, cta[CTA_PROTOINFO].len, pi)) return malformed(agg, "protoinfo overruns its nest");
    int k = -1;
    if (proto == P_TCP && pi[CTA_PROTOINFO_TCP].data) {
      Attr t[CTA_PROTOINFO_TCP_MAX + 1];
      if (parseAttrs(pi[CTA_PROTOINFO_TCP].data, pi[CTA_PROTOINFO_TCP].len, t) && t[CTA_PROTOINFO_TCP_STATE].len >= 1) {
        k = t[CTA_PROTOINFO_TCP_STATE].data[0];
      }
    } else if (proto == P_SCTP && pi[CTA_PROTOINFO_SCTP].data) {
      Attr t[CTA_PROTOINFO_SCTP_MAX + 1];
      if (parseAttrs(pi[CTA_PROTOINFO_SCTP].data, pi[CTA_PROTOINFO_SCTP].len, t) && t[CTA_PROTOINFO_SCTP_STATE].len >= 1) {
        k = t[CTA_PROTOINFO_SCTP_STATE].data[0];
      }
    } else if (proto == P_DCCP && pi[CTA_PROTOINFO_DCCP].data) {
      Attr t[CTA_PROTOINFO_DCCP_MAX + 1];
      if (parseAttrs(pi[CTA_PROTOINFO_DCCP].data, pi[CTA_PROTOINFO_DCCP].len, t) && t[CTA_PROTOINFO_DCCP_STATE].len >= 1) {
        k = t[CTA_PROTOINFO_DCCP_STATE].data[0];
      }
    }
    if (k >= 0) {
      state = stateOf(proto, k);
      if (state < 0 || !stateAllowed(proto, state)) return malformed(agg, "unknown protocol state");
    }
  }
  const uint32_t status = cta[CTA_STATUS].len >= 4 ? be32(cta[CTA_STATUS].data) : 0;
  const double timeout = cta[CTA_TIMEOUT].len >= 4 ? static_cast<double>(be32(cta[CTA_TIMEOUT].data)) : -1.0;
  // Counters are there exactly when /proc prints packets= bytes= (the acct extension exists).
  double packets = 0, bytes = 0;
  bool acct = false;
  for (const int dir : {CTA_COUNTERS_ORIG, CTA_COUNTERS_REPLY}) {
    if (!cta[dir].data) continue;
    Attr c[CTA_COUNTERS_MAX + 1];
    if (!parseAttrs(cta[dir].data, cta[dir].len, c)) return malformed(agg, "counters overrun their nest");
    acct = true;
    if (c[CTA_COUNTERS_PACKETS].len >= 8) packets += static_cast<double>(be64(c[CTA_COUNTERS_PACKETS].data));
    else if (c[CTA_COUNTERS32_PACKETS].len >= 4) packets += static_cast<double>(be32(c[CTA_COUNTERS32_PACKETS].data));
    if (c[CTA_COUNTERS_BYTES].len >= 8) bytes += static_cast<double>(be64(c[CTA_COUNTERS_BYTES].data));
    else if (c[CTA_COUNTERS32_BYTES].len >= 4) bytes += static_cast<double>(be32(c[CTA_COUNTERS32_BYTES].data));
  }

  agg.counters[C_FORM_L3]++;
  alignas(8) uint8_t key[KEY_BYTES] = {};
  std::memcpy(key + K_SRC, o.src, 16);
  std::memcpy(key + K_DST, o.dst, 16);
  // The one flag /proc prints after the reply tuple: HW_OFFLOAD, else OFFLOAD, else ASSURED.
  int flags = 0;
  if (!(status & IPS_SEEN_REPLY)) flags |= F_UNREPLIED;
  if (status & IPS_HW_OFFLOAD) flags |= F_HW_OFFLOAD;
  else if (status & IPS_OFFLOAD) flags |= F_OFFLOAD;
  else if (status & IPS_ASSURED) flags |= F_ASSURED;
  finishKey(key, fam, proto, state, flags, ports, o.sport, o.dport, r.sport, r.dport, r.src, r.dst);
  if (!filterPasses(agg.filter, key, ports, o.sport, o.dport)) {
    agg.counters[C_FILTERED]++;
    return;
  }
  agg.counters[C_ENTRIES]++;
  if (acct) agg.counters[C_ACCT]++;
  const size_t classes = agg.table.size();
  agg.table.add(reinterpret_cast<const uint64_t*>(key), 1, packets, bytes, timeout);
  if (agg.dumpTable && agg.table.size() != classes) agg.dumpTable->addClass(key);
  const int hb = histBucket(timeout);
  agg.hist[hb]++;
  if (proto == P_TCP && state == S_ESTABLISHED) agg.hist[HIST_TCP_ESTABLISHED + hb]++;
}

/**
 * Walk netlink messages: DONE and ERROR end the exchange, every other message goes to onMessage
 * (type, payload, payload length). Messages that do not fit are dropped with the rest of the buffer.
 */
template <typename F>
ParseStatus walkMessages(const uint8_t* buf, size_t len, F&& onMessage) {
  ParseStatus st;
  size_t off = 0;
  while (len - off >= NLMSG_HDRLEN) {
    nlmsghdr h;
    std::memcpy(&h, buf + off, sizeof h);
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off) break;
    const uint8_t* payload = buf + off + NLMSG_HDRLEN;
    const size_t plen = h.nlmsg_len - NLMSG_HDRLEN;
    if (h.nlmsg_type == NLMSG_DONE) {
      st.done = true;
    } else if (h.nlmsg_type == NLMSG_ERROR) {
      st.acked = true;
      if (plen >= sizeof(int)) {
        int e;
        std::memcpy(&e, payload, sizeof e);
        if (e < 0 && st.error == 0) st.error = -e;
      }
    } else if (h.nlmsg_type >= NLMSG_MIN_TYPE) {
      onMessage(h.nlmsg_type, payload, plen);
    }
    const size_t step = NLMSG_ALIGN(h.nlmsg_len);
    if (step >= len - off) break;
    off += step;
  }
  return st;
}

/** A NETLINK_NETFILTER socket, closed on every path. */
class NlSocket {
 public:
  ~NlSocket() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool open(NetlinkFailure& fail) {
    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd_ < 0) return failWith(fail, "socket(AF_NETLINK, NETLINK_NETFILTER)");
    timeval tv{RECV_TIMEOUT_SEC, 0};
    if (::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) return failWith(fail, "setsockopt(SO_RCVTIMEO)");
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) return failWith(fail, "bind(AF_NETLINK)");
    return true;
  }

  /** Send one ctnetlink request with an empty body. Only GET requests exist in this file. */
  bool request(int msg, uint16_t flags, NetlinkFailure& fail) {
    struct {
      nlmsghdr h;
      nfgenmsg g;
    } req{};
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(nfgenmsg));
    req.h.nlmsg_type = msgType(msg);
    req.h.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
    req.h.nlmsg_seq = 1;
    req.g.nfgen_family = AF_UNSPEC;  // every layer 3 family
    req.g.version = NFNETLINK_V0;
    req.g.res_id = 0;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
      const ssize_t n = ::sendto(fd_, &req, req.h.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
      if (n >= 0) return true;
      if (errno != EINTR) return failWith(fail, "sendto(ctnetlink)");
    }
  }

  /** One datagram into buf; its length, or -1 with fail set. */
  ssize_t receive(std::vector<uint8_t>& buf, NetlinkFailure& fail) {
    for (;;) {
      const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_TRUNC);
      if (n >= 0) {
        if (static_cast<size_t>(n) > buf.size()) {
          fail = {EMSGSIZE, "recv(ctnetlink): datagram larger than the buffer"};
          return -1;
        }
        return n;
      }
      if (errno == EINTR) continue;
      failWith(fail, errno == EAGAIN || errno == EWOULDBLOCK ? "recv(ctnetlink): no answer from the kernel" : "recv(ctnetlink)");
      return -1;
    }
  }

 private:
  static bool failWith(NetlinkFailure& fail, const char* step) {
    fail = {errno, step};
    return false;
  }
  int fd_ = -1;
};

}  // namespace

ParseStatus parseConntrackMessages(const uint8_t* buf, size_t len, CtAggregate& agg) {
  const ParseStatus st = walkMessages(buf, len, [&](uint16_t type, const uint8_t* p, size_t n) {
    // Dump replies carry the request's type (GET); event-style messages carry NEW.
    if (type == msgType(IPCTNL_MSG_CT_NEW) || type == msgType(IPCTNL_MSG_CT_GET)) addEntry(p, n, agg);
  });
  // A buffer's new classes at once: the builder prefetches across them.
  if (agg.dumpTable) agg.dumpTable->flush();
  return st;
}

namespace {

/**
 * The kernel formats the table inside recv(), one datagram of up to 32 KiB per call: a second
 * thread receives while this one parses, so that parsing overlaps the kernel's work instead of
 * adding to it. A few buffers circulate between the two.
 */
bool dumpPipelined(NlSocket& sock, CtAggregate& agg, NetlinkFailure& fail) {
  constexpr size_t SLOTS = 8;
  struct Datagram {
    size_t slot;
    ssize_t n;
    ParseStatus st;
  };
  std::vector<std::vector<uint8_t>> bufs(SLOTS, std::vector<uint8_t>(RECV_BYTES));
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Datagram> received;
  std::vector<size_t> spare;
  for (size_t i = 0; i < SLOTS; i++) spare.push_back(i);
  bool stop = false;
  NetlinkFailure recvFail;

  std::thread receiver([&] {
    for (;;) {
      size_t slot;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stop || !spare.empty(); });
        if (stop) return;
        slot = spare.back();
        spare.pop_back();
      }
      NetlinkFailure f;
      const ssize_t n = sock.receive(bufs[slot], f);
      // Only the end of the dump is looked for here (headers only); the parser reads the rest.
      const ParseStatus st = n > 0 ? walkMessages(bufs[slot].data(), static_cast<size_t>(n), [](uint16_t, const uint8_t*, size_t) {})
                                   : ParseStatus{};
      {
        std::lock_guard<std::mutex> lock(mu);
        if (n < 0) recvFail = f;
        received.push_back({slot, n, st});
      }
      cv.notify_all();
      if (n <= 0 || st.done || st.error != 0) return;
    }
  });
  // Whatever happens below (an error, bad_alloc), the receiver is stopped and joined first.
  struct Join {
    std::mutex& mu;
    std::condition_variable& cv;
    bool& stop;
    std::thread& t;
    ~Join() {
      {
        std::lock_guard<std::mutex> lock(mu);
        stop = true;
      }
      cv.notify_all();
      t.join();
    }
  } join{mu, cv, stop, receiver};

  for (;;) {
    Datagram d;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !received.empty(); });
      d = received.front();
      received.pop_front();
    }
    if (d.n < 0) {
      fail = recvFail;
      return false;
    }
    const ParseStatus st = parseConntrackMessages(bufs[d.slot].data(), static_cast<size_t>(d.n), agg);
    {
      std::lock_guard<std::mutex> lock(mu);
      spare.push_back(d.slot);
    }
    cv.notify_all();
    if (st.error != 0) {
      fail = {st.error, "ctnetlink dump (IPCTNL_MSG_CT_GET)"};
      return false;
    }
    if (st.done || d.n == 0) return true;
  }
}

}  // namespace

bool dumpConntrack(CtAggregate* agg, std::vector<uint8_t>* raw, NetlinkFailure& fail) {
  NlSocket sock;
  if (!sock.open(fail) || !sock.request(IPCTNL_MSG_CT_GET, NLM_F_DUMP, fail)) return false;
  if (agg && !raw) return dumpPipelined(sock, *agg, fail);
  std::vector<uint8_t> buf(RECV_BYTES);
  Filter none;
  CtAggregate scratch(none);  // raw-only recording still needs to see DONE
  CtAggregate& into = agg ? *agg : scratch;
  for (;;) {
    const ssize_t n = sock.receive(buf, fail);
    if (n < 0) return false;
    const size_t len = static_cast<size_t>(n);
    if (raw) {
      raw->insert(raw->end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len));
      raw->resize(NLMSG_ALIGN(raw->size()), 0);
    }
    const ParseStatus st = parseConntrackMessages(buf.data(), len, into);
    if (st.error != 0) {
      fail = {st.error, "ctnetlink dump (IPCTNL_MSG_CT_GET)"};
      return false;
    }
    if (st.done || len == 0) return true;
  }
}

bool conntrackCount(double& count, double& max, NetlinkFailure& fail) {
  NlSocket sock;
  if (!sock.open(fail) || !sock.request(IPCTNL_MSG_CT_GET_STATS, NLM_F_ACK, fail)) return false;
  std::vector<uint8_t> buf(64 * 1024);
  bool got = false;
  count = -1;
  max = -1;
  for (;;) {
    const ssize_t n = sock.receive(buf, fail);
    if (n < 0) return false;
    const ParseStatus st = walkMessages(buf.data(), static_cast<size_t>(n), [&](uint16_t type, const uint8_t* p, size_t len) {
      if (type != msgType(IPCTNL_MSG_CT_GET_STATS) || len < NLMSG_ALIGN(sizeof(nfgenmsg))) return;
      Attr a[CTA_STATS_GLOBAL_MAX + 1];
      const size_t hdr = NLMSG_ALIGN(sizeof(nfgenmsg));
      if (!parseAttrs(p + hdr, len - hdr, a)) return;
      if (a[CTA_STATS_GLOBAL_ENTRIES].len >= 4) {
        count = be32(a[CTA_STATS_GLOBAL_ENTRIES].data);
        got = true;
      }
      if (a[CTA_STATS_GLOBAL_MAX_ENTRIES].len >= 4) max = be32(a[CTA_STATS_GLOBAL_MAX_ENTRIES].data);
    });
    if (st.error != 0) {
      fail = {st.error, "ctnetlink IPCTNL_MSG_CT_GET_STATS"};
      return false;
    }
    if (st.acked || st.done || n == 0) break;
  }
  if (!got) {
    fail = {ENODATA, "ctnetlink IPCTNL_MSG_CT_GET_STATS: no entry count in the answer"};
    return false;
  }
  return true;
}

bool conntrackCpuStats(std::vector<CpuStats>& out, NetlinkFailure& fail) {
  // Names as `conntrack -S` prints them; unused kernel slots are left out.
  static constexpr std::pair<int, const char*> NAMES[] = {
      {CTA_STATS_FOUND, "found"},           {CTA_STATS_INVALID, "invalid"},
      {CTA_STATS_INSERT, "insert"},         {CTA_STATS_INSERT_FAILED, "insert_failed"},
      {CTA_STATS_DROP, "drop"},             {CTA_STATS_EARLY_DROP, "early_drop"},
      {CTA_STATS_ERROR, "error"},           {CTA_STATS_SEARCH_RESTART, "search_restart"},
      {CTA_STATS_CLASH_RESOLVE, "clash_resolve"}, {CTA_STATS_CHAIN_TOOLONG, "chaintoolong"},
  };
  NlSocket sock;
  if (!sock.open(fail) || !sock.request(IPCTNL_MSG_CT_GET_STATS_CPU, NLM_F_DUMP, fail)) return false;
  std::vector<uint8_t> buf(RECV_BYTES);
  for (;;) {
    const ssize_t n = sock.receive(buf, fail);
    if (n < 0) return false;
    const ParseStatus st = walkMessages(buf.data(), static_cast<size_t>(n), [&](uint16_t type, const uint8_t* p, size_t len) {
      if (type != msgType(IPCTNL_MSG_CT_GET_STATS_CPU) || len < NLMSG_ALIGN(sizeof(nfgenmsg))) return;
      nfgenmsg g;
      std::memcpy(&g, p, sizeof g);
      Attr a[CTA_STATS_MAX + 1];
      const size_t hdr = NLMSG_ALIGN(sizeof(nfgenmsg));
      if (!parseAttrs(p + hdr, len - hdr, a)) return;
      CpuStats row;
      row.cpu = be16(reinterpret_cast<const uint8_t*>(&g.res_id));
      for (const auto& [type2, name] : NAMES) {
        if (a[type2].len >= 4) row.values.emplace_back(name, static_cast<double>(be32(a[type2].data)));
      }
      out.push_back(std::move(row));
    });
    if (st.error != 0) {
      fail = {st.error, "ctnetlink IPCTNL_MSG_CT_GET_STATS_CPU"};
      return false;
    }
    if (st.done || n == 0) return true;
  }
}

// ---- JavaScript bindings ----

namespace {

const char* errnoName(int e) {
  switch (e) {
    case EPERM:
      return "EPERM";
    case EACCES:
      return "EACCES";
    case EPROTONOSUPPORT:
      return "EPROTONOSUPPORT";
    case EAFNOSUPPORT:
      return "EAFNOSUPPORT";
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
    case ENOENT:
      return "ENOENT";
    case ENOBUFS:
      return "ENOBUFS";
    case EAGAIN:
      return "EAGAIN";
    case EMSGSIZE:
      return "EMSGSIZE";
    case ENOMEM:
      return "ENOMEM";
    case ENODATA:
      return "ENODATA";
    default:
      return "EIO";
  }
}

/** Error with errno, code and step, so that the TS side can explain what is missing. */
Napi::Error netlinkError(Napi::Env env, const NetlinkFailure& fail) {
  Napi::Error e = Napi::Error::New(env, fail.step + ": " + std::strerror(fail.error));
  e.Set("errno", Napi::Number::New(env, fail.error));
  e.Set("code", Napi::String::New(env, errnoName(fail.error)));
  e.Set("step", Napi::String::New(env, fail.step));
  return e;
}

/**
 * The aggregate as a ChunkAggregate (src/engine/contract.ts), from its finished DumpTable: the keys
 * and values without a copy and, when it built them, `dimensions`.
 */
Napi::Object toChunkAggregate(const Napi::Env& env, CtAggregate& s) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("counters", float64Array(env, s.counters, COUNTER_FIELDS));
  out.Set("hist", float64Array(env, s.hist, HIST_FIELDS));
  out.Set("keys", handOver(env, s.dumpTable->keys));
  out.Set("values", handOver(env, s.dumpTable->values));
  if (s.dumpTable->dims) out.Set("dimensions", dimensionsObject(env, *s.dumpTable->dims));
  Napi::Array lines = Napi::Array::New(env, s.malformedCount);
  Napi::Array texts = Napi::Array::New(env, s.malformedCount);
  for (int i = 0; i < s.malformedCount; i++) {
    lines.Set(i, Napi::Number::New(env, s.malformedLine[i]));
    texts.Set(i, Napi::String::New(env, s.malformedText[i]));
  }
  out.Set("malformedLines", lines);
  out.Set("malformedText", texts);
  return out;
}

/** The local CIDRs argument (CIDR_BYTES each, checked in TS); nullopt when undefined. */
std::optional<std::vector<uint8_t>> readLocalCidrs(const Napi::Env& env, const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "local CIDRs must be a Uint8Array");
  }
  const Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  Filter asList;  // the same checks as a filter's CIDR list
  asList.src = a.Data();
  asList.srcLen = a.ElementLength();
  if (validateFilter(asList) != nullptr) throw Napi::RangeError::New(env, "local CIDRs: not a list of encoded CIDRs");
  return std::vector<uint8_t>(a.Data(), a.Data() + a.ElementLength());
}

/**
 * An aggregate with a DumpTable: dense keys and values paged in as classes arrive and, given the
 * local CIDRs, the dimensions.
 */
std::unique_ptr<CtAggregate> dumpAggregate(const Filter& filter, const std::optional<std::vector<uint8_t>>& cidrs) {
  auto agg = std::make_unique<CtAggregate>(filter);
  agg->dumpTable = std::make_unique<DumpTable>();
  if (cidrs) agg->dumpTable->dims = std::make_unique<DimensionBuilder>(cidrs->data(), cidrs->size(), false);
  return agg;
}

/** After the last message: the values, and the sums of the dimensions. */
bool finishDump(CtAggregate& agg, NetlinkFailure& fail) {
  if (agg.dumpTable->finish(agg.table, agg.counters[C_ACCT] > 0)) return true;
  fail = {EPROTO, "ctnetlink dump: the dense table lost track of the classes"};
  return false;
}

/** The dump runs on the libuv pool: a full table takes the kernel a while to walk. */
class DumpWorker : public Napi::AsyncWorker {
 public:
  DumpWorker(Napi::Env env, OwnedFilter filter, const std::optional<std::vector<uint8_t>>& cidrs)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        filter_(std::move(filter)),
        agg_(dumpAggregate(filter_.view(), cidrs)) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      // The entry count bounds the classes: room for them all before the first arrives.
      double count = 0, max = 0;
      NetlinkFailure ignored;
      if (conntrackCount(count, max, ignored) && count > 0) agg_->dumpTable->reserve(static_cast<size_t>(count * 1.05) + 1024);
      ok_ = dumpConntrack(agg_.get(), nullptr, fail_) && finishDump(*agg_, fail_);
    } catch (const std::bad_alloc&) {
      ok_ = false;
      fail_ = {ENOMEM, "ctnetlink dump: out of memory"};
    }
  }

  void OnOK() override {
    const Napi::Env env = Env();
    if (ok_) deferred_.Resolve(toChunkAggregate(env, *agg_));
    else deferred_.Reject(netlinkError(env, fail_).Value());
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  OwnedFilter filter_;  // before agg_: agg_ keeps a view of it
  std::unique_ptr<CtAggregate> agg_;
  bool ok_ = false;
  NetlinkFailure fail_;
};

/** netlinkDump(filter, localCidrs?): Promise<ChunkAggregate> of the current namespace's table. */
Napi::Value NetlinkDump(const Napi::CallbackInfo& info) {
  OwnedFilter filter = readOwnedFilter(info.Env(), info[0]);
  const std::optional<std::vector<uint8_t>> cidrs = readLocalCidrs(info.Env(), info[1]);
  auto* w = new DumpWorker(info.Env(), std::move(filter), cidrs);
  const Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

/** netlinkDumpRaw(): Buffer of the dump's datagrams, for recording test fixtures. */
Napi::Value NetlinkDumpRaw(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  std::vector<uint8_t> raw;
  NetlinkFailure fail;
  if (!dumpConntrack(nullptr, &raw, fail)) throw netlinkError(env, fail);
  return Napi::Buffer<uint8_t>::Copy(env, raw.data(), raw.size());
}

/**
 * netlinkParse(bytes, filter, localCidrs?, perBuffer?): ChunkAggregate of recorded dump bytes.
 * perBuffer: parse them perBuffer messages at a time, as a dump's datagrams arrive (tests).
 */
Napi::Value NetlinkParse(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "netlinkParse: bytes must be a Uint8Array");
  }
  const Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  const OwnedFilter filter = readOwnedFilter(env, info[1]);
  const std::unique_ptr<CtAggregate> agg = dumpAggregate(filter.view(), readLocalCidrs(env, info[2]));
  const uint8_t* p = bytes.Data();
  const size_t len = bytes.ElementLength();
  size_t per = SIZE_MAX;
  if (!info[3].IsUndefined()) {
    const double d = info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : 0;
    if (!(d >= 1 && d <= 4294967296.0) || d != std::floor(d)) throw Napi::RangeError::New(env, "netlinkParse: perBuffer must be a whole number from 1 to 2^32");
    per = static_cast<size_t>(d);
  }
  size_t start = 0;
  size_t off = 0;
  size_t messages = 0;
  // Cut at message boundaries; a header that does not fit ends the cutting (the parser judges the rest).
  while (per != SIZE_MAX && off + sizeof(nlmsghdr) <= len) {
    nlmsghdr h;
    std::memcpy(&h, p + off, sizeof h);
    if (h.nlmsg_len < sizeof(nlmsghdr) || off + h.nlmsg_len > len) break;
    off += NLMSG_ALIGN(h.nlmsg_len);
    if (off > len) off = len;
    if (++messages % per == 0) {
      parseConntrackMessages(p + start, off - start, *agg);
      start = off;
    }
  }
  parseConntrackMessages(p + start, len - start, *agg);
  NetlinkFailure fail;
  if (!finishDump(*agg, fail)) throw netlinkError(env, fail);
  return toChunkAggregate(env, *agg);
}

/** netlinkCount(): nf_conntrack_count of the current namespace. */
Napi::Value NetlinkCount(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  double count = 0, max = 0;
  NetlinkFailure fail;
  if (!conntrackCount(count, max, fail)) throw netlinkError(env, fail);
  return Napi::Number::New(env, count);
}

/** netlinkCpuStats(): [{cpu, found, invalid, insert, insert_failed, drop, early_drop, error, ...}]. */
Napi::Value NetlinkCpuStats(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  std::vector<CpuStats> rows;
  NetlinkFailure fail;
  if (!conntrackCpuStats(rows, fail)) throw netlinkError(env, fail);
  Napi::Array out = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("cpu", Napi::Number::New(env, rows[i].cpu));
    for (const auto& [name, value] : rows[i].values) o.Set(name, Napi::Number::New(env, value));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace

void registerNetlink(Napi::Env env, Napi::Object exports) {
  exports.Set("netlinkDump", Napi::Function::New(env, guarded<NetlinkDump>, "netlinkDump"));
  exports.Set("netlinkDumpRaw", Napi::Function::New(env, guarded<NetlinkDumpRaw>, "netlinkDumpRaw"));
  exports.Set("netlinkParse", Napi::Function::New(env, guarded<NetlinkParse>, "netlinkParse"));
  exports.Set("netlinkCount", Napi::Function::New(env, NetlinkCount, "netlinkCount"));
  exports.Set("netlinkCpuStats", Napi::Function::New(env, NetlinkCpuStats, "netlinkCpuStats"));
}

}  // namespace ctscope
