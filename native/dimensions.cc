// See dimensions.h. Ids are handed out in first-seen order over the classes, exactly as the TS
// PairInterners do; sums are added in class order, so every double comes out identical.
#include "dimensions.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <queue>

#include "tokenizer.h"

namespace ctscope {

namespace {

/** Open-addressing map from a 64-bit key to a dense id (0, 1, 2, ... in first-seen order). */
class Interner64 {
 public:
  explicit Interner64(size_t expected) {
    size_t cap = 1024;
    while (cap < expected * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }

  size_t size() const { return size_; }

  /** The id of key, a new one (== size() before the call) when it is new. */
  uint32_t id(uint64_t key) { return id(key, static_cast<uint32_t>(size_)); }

  /** The id stored for key; when it is new, fresh is stored and returned (ids from a shared space). */
  uint32_t id(uint64_t key, uint32_t fresh) {
    size_t s = hash(key) & mask_;
    for (;;) {
      Slot& slot = slots_[s];
      if (slot.id1 == 0) break;
      if (slot.key == key) return slot.id1 - 1;
      s = (s + 1) & mask_;
    }
    size_++;
    slots_[s] = Slot{key, fresh + 1};
    if (size_ * 2 > mask_ + 1) grow();
    return fresh;
  }

  void prefetch(uint64_t key) const { __builtin_prefetch(&slots_[hash(key) & mask_]); }

 private:
  struct Slot {
    uint64_t key = 0;
    uint32_t id1 = 0;  // id + 1; 0 = empty
  };

  static size_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }

  void grow() {
    TableVector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& o : old) {
      if (o.id1 == 0) continue;
      size_t s = hash(o.key) & mask_;
      while (slots_[s].id1 != 0) s = (s + 1) & mask_;
      slots_[s] = o;
    }
  }

  TableVector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

inline uint64_t pairKey(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

/** How many classes ahead each pass prefetches: the tables are far bigger than the cache. */
constexpr size_t AHEAD = 16;

/** A class's id column of dimension d. */
const int32_t* idColumn(const ClassColumns& out, int d) {
  const int32_t* columns[DIM_COUNT] = {out.src, out.dst, out.remote, out.service, out.srcPrefix, out.rss};
  return columns[d];
}

}  // namespace

const char* buildDimensions(const DimensionsInput& in, const ClassColumns& out, IdColumns& ids) {
  const size_t n = in.n;
  const uint8_t* keys = in.keys;
  const double* vals = in.values;
  // Keys come from the scanners; this only guards the array indexing below.
  for (size_t i = 0; i < n; i++) {
    const uint8_t* key = keys + i * KEY_BYTES;
    if ((key[K_FAMILY] != 4 && key[K_FAMILY] != 6) || key[K_STATE] >= STATE_SLOTS) return "keys hold an unknown family or state";
  }
  // Each step below is one pass over the classes that touches one big table at random, with the
  // entry for a class AHEAD positions on prefetched: memory latency, not work, is the cost here.

  // The plain columns.
  for (size_t i = 0; i < n; i++) {
    const uint8_t* key = keys + i * KEY_BYTES;
    const double* v = vals + i * VALUE_FIELDS;
    const int flags = key[K_FLAGS];
    out.family[i] = key[K_FAMILY];
    out.proto[i] = key[K_PROTO];
    out.state[i] = key[K_STATE];
    out.flags[i] = static_cast<uint8_t>(flags);
    out.dport[i] = (flags & F_HAS_PORT) != 0 ? (static_cast<int32_t>(key[K_DPORT]) << 8) | key[K_DPORT + 1] : -1;
    out.count[i] = v[V_COUNT];
    out.packets[i] = v[V_PACKETS];
    out.bytes[i] = v[V_BYTES];
    out.maxTimeout[i] = v[V_MAX_TIMEOUT];
  }

  // Addresses: IPv4 by the 32-bit word, IPv6 by both halves; one id space, first-seen order.
  // Each interner lives in a block of its own: on millions of classes they are the biggest
  // allocations here, and only one need exist at a time.
  {
    Interner64 v4(n / 2);
    Interner64 v6hi(16), v6lo(16), v6(16);
    auto internAddr = [&](size_t off, int fam) -> int32_t {
      const uint32_t fresh = static_cast<uint32_t>(ids.addrFamily.size());
      const uint32_t id = fam == 4 ? v4.id(load32(keys + off), fresh)
                                   : v6.id(pairKey(v6hi.id(load64(keys + off)), v6lo.id(load64(keys + off + 8))), fresh);
      if (id == fresh) {
        ids.addrFamily.push_back(static_cast<uint8_t>(fam));
        ids.addrOffset.push_back(static_cast<double>(off));
      }
      return static_cast<int32_t>(id);
    };
    for (size_t i = 0; i < n; i++) {
      const size_t k = i * KEY_BYTES;
      if (i + AHEAD < n && keys[k + AHEAD * KEY_BYTES + K_FAMILY] == 4) {
        v4.prefetch(load32(keys + k + AHEAD * KEY_BYTES + K_SRC));
        v4.prefetch(load32(keys + k + AHEAD * KEY_BYTES + K_DST));
      }
      const int fam = keys[k + K_FAMILY];
      out.src[i] = internAddr(k + K_SRC, fam);
      out.dst[i] = internAddr(k + K_DST, fam);
    }
  }
  const size_t addresses = ids.addrFamily.size();
  const int32_t* src = out.src;
  const int32_t* dst = out.dst;

  // Entries per address (only to infer the local side, and to break ties there).
  std::vector<double> freq(addresses, 0.0);
  std::vector<double> peers(addresses, 0.0);
  if (in.inferred) {
    for (size_t i = 0; i < n; i++) {
      if (i + AHEAD < n) {
        __builtin_prefetch(&freq[src[i + AHEAD]]);
        __builtin_prefetch(&freq[dst[i + AHEAD]]);
      }
      const double count = vals[i * VALUE_FIELDS + V_COUNT];
      freq[src[i]] += count;
      if (dst[i] != src[i]) freq[dst[i]] += count;
    }
    // Distinct peers per address: a host's own address talks to many peers, a remote server to few.
    Interner64 pairs(n);
    auto pairOf = [&](size_t i) {
      const uint32_t a = static_cast<uint32_t>(src[i] < dst[i] ? src[i] : dst[i]);
      const uint32_t b = static_cast<uint32_t>(src[i] < dst[i] ? dst[i] : src[i]);
      return pairKey(a, b);
    };
    for (size_t i = 0; i < n; i++) {
      if (i + AHEAD < n) {
        pairs.prefetch(pairOf(i + AHEAD));
        __builtin_prefetch(&peers[src[i + AHEAD]]);
        __builtin_prefetch(&peers[dst[i + AHEAD]]);
      }
      const uint64_t pk = pairOf(i);
      const size_t before = pairs.size();
      pairs.id(pk);
      if (pairs.size() > before) {
        const uint32_t a = static_cast<uint32_t>(pk >> 32);
        const uint32_t b = static_cast<uint32_t>(pk);
        peers[a]++;
        if (b != a) peers[b]++;
      }
    }
  }

  std::vector<int8_t> isLocal(addresses, 0);  // 0 unknown, 1 local, -1 not
  if (!in.inferred) {
    for (size_t id = 0; id < addresses; id++) {
      const size_t off = static_cast<size_t>(ids.addrOffset[id]);
      isLocal[id] = cidrMatch(in.cidrs, in.cidrLen, ids.addrFamily[id], keys + off) ? 1 : -1;
    }
  }
  std::vector<uint8_t> anyLocal(n);
  for (size_t i = 0; i < n; i++) {
    const int32_t si = src[i];
    const int32_t di = dst[i];
    if (in.inferred && i + AHEAD < n) {
      __builtin_prefetch(&peers[src[i + AHEAD]]);
      __builtin_prefetch(&peers[dst[i + AHEAD]]);
      __builtin_prefetch(&freq[src[i + AHEAD]]);
      __builtin_prefetch(&freq[dst[i + AHEAD]]);
    }
    bool srcLocal;
    bool dstLocal;
    if (in.inferred) {
      srcLocal = peers[si] > peers[di] || (peers[si] == peers[di] && freq[si] > freq[di]);
      dstLocal = !srcLocal;
    } else {
      srcLocal = isLocal[si] == 1;
      dstLocal = isLocal[di] == 1;
    }
    // Outbound: the remote is the destination; inbound or both local: the source; transit: the destination.
    const bool outbound = (srcLocal && !dstLocal) || (!srcLocal && !dstLocal);
    out.remote[i] = outbound ? di : si;
    out.local[i] = outbound ? si : di;
    anyLocal[i] = srcLocal || dstLocal ? 1 : 0;
  }
  ids.localCount.assign(addresses, 0.0);
  for (size_t i = 0; i < n; i++) {
    if (i + AHEAD < n) __builtin_prefetch(&ids.localCount[out.local[i + AHEAD]]);
    if (anyLocal[i] != 0) ids.localCount[out.local[i]] += vals[i * VALUE_FIELDS + V_COUNT];
  }

  // Services: (destination id, protocol, port); portless protocols get port 65536.
  {
    Interner64 services(n / 4);
    auto serviceKey = [&](size_t i) {
      const int32_t port = out.dport[i] < 0 ? 65536 : out.dport[i];
      return pairKey(static_cast<uint32_t>(dst[i]), static_cast<uint32_t>(out.proto[i]) * 131072 + static_cast<uint32_t>(port));
    };
    for (size_t i = 0; i < n; i++) {
      if (i + AHEAD < n) services.prefetch(serviceKey(i + AHEAD));
      const uint32_t svc = services.id(serviceKey(i));
      if (svc == ids.serviceClass.size()) ids.serviceClass.push_back(static_cast<int32_t>(i));
      out.service[i] = static_cast<int32_t>(svc);
    }
  }

  // Source prefixes: the /24 (first three bytes) or the /64 (first eight).
  {
    Interner64 prefixes4(n / 4);
    Interner64 prefixes6(16);
    auto prefix4Key = [&](size_t i) {
      const uint8_t* a = keys + i * KEY_BYTES + K_SRC;
      return static_cast<uint64_t>((static_cast<uint32_t>(a[0]) << 16) | (static_cast<uint32_t>(a[1]) << 8) | a[2]);
    };
    for (size_t i = 0; i < n; i++) {
      if (i + AHEAD < n && out.family[i + AHEAD] == 4) prefixes4.prefetch(prefix4Key(i + AHEAD));
      const uint32_t fresh = static_cast<uint32_t>(ids.prefixAddr.size());
      const uint32_t pid = out.family[i] == 4 ? prefixes4.id(prefix4Key(i), fresh) : prefixes6.id(load64(keys + i * KEY_BYTES + K_SRC), fresh);
      if (pid == fresh) ids.prefixAddr.push_back(src[i]);
      out.srcPrefix[i] = static_cast<int32_t>(pid);
    }
  }

  // Remote + service + state (nearly one per class on a flood).
  {
    Interner64 rss(n);
    auto rssKey = [&](size_t i) {
      return pairKey(static_cast<uint32_t>(out.remote[i]), static_cast<uint32_t>(out.service[i]) * STATE_SLOTS + out.state[i]);
    };
    for (size_t i = 0; i < n; i++) {
      if (i + AHEAD < n) rss.prefetch(rssKey(i + AHEAD));
      const uint32_t rid = rss.id(rssKey(i));
      if (rid == ids.rssClass.size()) ids.rssClass.push_back(static_cast<int32_t>(i));
      out.rss[i] = static_cast<int32_t>(rid);
    }
  }

  const size_t sizes[DIM_COUNT] = {addresses, addresses, addresses, ids.serviceClass.size(), ids.prefixAddr.size(), ids.rssClass.size()};
  for (int d = 0; d < DIM_COUNT; d++) ids.sumSizes[d] = sizes[d];

  double* stateCounts = ids.stateCounts.data();
  for (size_t i = 0; i < n; i++) {
    const int proto = out.proto[i];
    const int flags = out.flags[i];
    const double count = out.count[i];
    double* sc = stateCounts + (proto * STATE_SLOTS + out.state[i]) * STATE_COUNT_FIELDS;
    sc[0] += count;
    if ((flags & F_UNREPLIED) != 0) {
      sc[1] += count;
      ids.totals[T_UNREPLIED] += count;
    }
    if ((flags & F_ASSURED) != 0) {
      sc[2] += count;
      ids.totals[T_ASSURED] += count;
    }
    if ((flags & (F_OFFLOAD | F_HW_OFFLOAD)) != 0) {
      sc[3] += count;
      ids.totals[T_OFFLOADED] += count;
    }
    if ((flags & F_NAT) != 0) ids.totals[T_NATTED] += count;
    ids.totals[out.family[i] == 4 ? T_IPV4 : T_IPV6] += count;
    ids.protoCounts[proto] += count;
  }
  return nullptr;
}

void sumDimension(const DimensionsInput& in, const ClassColumns& out, int d, const SumArrays& sums) {
  const size_t n = in.n;
  const double* vals = in.values;
  const int32_t* id = idColumn(out, d);
  double* count = sums.count;
  if (sums.packets != nullptr && sums.bytes != nullptr) {
    for (size_t i = 0; i < n; i++) {
      if (i + AHEAD < n) {
        __builtin_prefetch(count + id[i + AHEAD]);
        __builtin_prefetch(sums.packets + id[i + AHEAD]);
        __builtin_prefetch(sums.bytes + id[i + AHEAD]);
      }
      const double* v = vals + i * VALUE_FIELDS;
      count[id[i]] += v[V_COUNT];
      sums.packets[id[i]] += v[V_PACKETS];
      sums.bytes[id[i]] += v[V_BYTES];
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      if (i + AHEAD < n) __builtin_prefetch(count + id[i + AHEAD]);
      count[id[i]] += vals[i * VALUE_FIELDS + V_COUNT];
    }
  }
  // Unreplied entries: usually few classes, a pass of their own.
  for (size_t i = 0; i < n; i++) {
    if ((out.flags[i] & F_UNREPLIED) != 0) sums.unreplied[id[i]] += out.count[i];
  }
}

void tieRanks(const DimensionsInput& in, const ClassColumns& out, const IdColumns& ids, const RankArrays& ranks) {
  const size_t addresses = ids.addrFamily.size();
  for (size_t id = 0; id < addresses; id++) {
    const uint8_t* a = in.keys + static_cast<size_t>(ids.addrOffset[id]);
    uint64_t r = 0;
    if (ids.addrFamily[id] == 4) {
      r = (static_cast<uint64_t>(a[0]) << 24) | (static_cast<uint64_t>(a[1]) << 16) | (static_cast<uint64_t>(a[2]) << 8) | a[3];
    } else {
      r = (uint64_t{1} << 32) + ((static_cast<uint64_t>(a[0]) << 40) | (static_cast<uint64_t>(a[1]) << 32) | (static_cast<uint64_t>(a[2]) << 24) |
                                 (static_cast<uint64_t>(a[3]) << 16) | (static_cast<uint64_t>(a[4]) << 8) | a[5]);
    }
    ranks.addr[id] = static_cast<double>(r);
  }
  for (size_t p = 0; p < ids.prefixAddr.size(); p++) {
    const double r = ranks.addr[ids.prefixAddr[p]];
    // IPv4 ranks lose the host byte (the /24); IPv6 ranks stop before the /64 does.
    ranks.prefix[p] = r < 4294967296.0 ? static_cast<double>(static_cast<uint64_t>(r) & ~uint64_t{255}) : r;
  }
  for (size_t sid = 0; sid < ids.serviceClass.size(); sid++) ranks.service[sid] = ranks.addr[out.dst[ids.serviceClass[sid]]];
  for (size_t rid = 0; rid < ids.rssClass.size(); rid++) ranks.rss[rid] = ranks.addr[out.remote[ids.rssClass[rid]]];
}

namespace {

/** The k-th value in `less` order (the k-th smallest for std::less, largest for std::greater) of the values that pass; a bounded heap when k is small. */
template <typename Pass, typename Value, typename Less>
double kthBy(size_t m, size_t k, Pass pass, Value value, Less less) {
  if (k <= 4096) {
    // The k best so far, the worst of them on top.
    std::priority_queue<double, std::vector<double>, Less> heap(less);
    for (size_t i = 0; i < m; i++) {
      if (!pass(i)) continue;
      const double v = value(i);
      if (heap.size() < k) {
        heap.push(v);
      } else if (less(v, heap.top())) {
        heap.pop();
        heap.push(v);
      }
    }
    return heap.top();
  }
  std::vector<double> all;
  for (size_t i = 0; i < m; i++) {
    if (pass(i)) all.push_back(value(i));
  }
  std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k - 1), all.end(), less);
  return all[k - 1];
}

}  // namespace

std::vector<int32_t> topCandidates(const double* count, const double* rank, size_t m, size_t n) {
  size_t positive = 0;
  for (size_t i = 0; i < m; i++) positive += count[i] > 0 ? 1 : 0;
  std::vector<int32_t> out;
  if (positive <= n) {
    // Fewer ids than places (or exactly as many): all of them.
    for (size_t i = 0; i < m; i++) {
      if (count[i] > 0) out.push_back(static_cast<int32_t>(i));
    }
    return out;
  }
  // The n-th largest count, then the k-th smallest rank among the ids tied with it.
  const double cutoff = kthBy(
      m, n, [&](size_t i) { return count[i] > 0; }, [&](size_t i) { return count[i]; }, std::greater<double>());
  size_t above = 0;
  for (size_t i = 0; i < m; i++) above += count[i] > cutoff ? 1 : 0;
  const size_t k = n - above;
  const double bar = kthBy(
      m, k, [&](size_t i) { return count[i] == cutoff; }, [&](size_t i) { return rank[i]; }, std::less<double>());
  for (size_t i = 0; i < m; i++) {
    if (count[i] > cutoff || (count[i] == cutoff && rank[i] <= bar)) out.push_back(static_cast<int32_t>(i));
  }
  return out;
}

}  // namespace ctscope
