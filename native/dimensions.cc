// See dimensions.h. Ids are handed out in first-seen order over the classes, exactly as the TS
// PairInterners do; sums are added in class order, so every double comes out identical.
#include "dimensions.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <functional>
#include <queue>
#include <system_error>
#include <thread>

#include "tokenizer.h"

namespace ctscope {

namespace {

/** An IPv6 address as an interner key. */
struct Key128 {
  uint64_t hi = 0;
  uint64_t lo = 0;
  bool operator==(const Key128& o) const { return hi == o.hi && lo == o.lo; }
};

inline size_t mix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return static_cast<size_t>(k);
}

inline size_t hashKey(uint64_t k) { return mix64(k); }
inline size_t hashKey(const Key128& k) { return mix64(k.hi ^ (k.lo * 0x9e3779b97f4a7c15ULL)); }

/**
 * The slots of an open-addressing table: a power of two of them, at least twice the expected keys,
 * zero-filled (all zero bytes is the empty slot). From cache when one is given, and back to it
 * when the table goes; outgrown slots are unmapped instead, as nothing later in a build is as small.
 */
template <typename Slot>
class SlotArray {
 public:
  SlotArray(size_t expected, MappingCache* cache) : cache_(cache) {
    size_t cap = 1024;
    while (cap < expected * 2) cap <<= 1;
    set(cap);
  }
  ~SlotArray() {
    if (cache_ != nullptr) cache_->give(std::move(map_));
  }
  SlotArray(const SlotArray&) = delete;
  SlotArray& operator=(const SlotArray&) = delete;

  Slot& operator[](size_t i) { return slots_[i]; }
  const Slot& operator[](size_t i) const { return slots_[i]; }
  size_t mask() const { return mask_; }

  /** Twice the slots; every old one that is not empty goes back in at home(slot), probing on. */
  template <typename Empty, typename Home>
  void grow(Empty empty, Home home) {
    Mapping old = std::move(map_);
    const Slot* from = slots_;
    const size_t oldCap = mask_ + 1;
    set(oldCap * 2);
    for (size_t i = 0; i < oldCap; i++) {
      if (empty(from[i])) continue;
      size_t s = home(from[i]) & mask_;
      while (!empty(slots_[s])) s = (s + 1) & mask_;
      slots_[s] = from[i];
    }
  }

 private:
  void set(size_t cap) {
    const size_t bytes = cap * sizeof(Slot);
    map_ = cache_ != nullptr ? cache_->take(bytes, true) : Mapping::fresh(bytes, true);
    slots_ = static_cast<Slot*>(map_.data());
    mask_ = cap - 1;
  }

  MappingCache* cache_;
  Mapping map_;
  Slot* slots_ = nullptr;
  size_t mask_ = 0;
};

/**
 * Open-addressing map from a key (64 bits, or an IPv6 address's 128) to a dense id (0, 1, 2, ...
 * in first-seen order). A whole address is one key, so its slot can be prefetched like any other.
 */
template <typename Key>
class Interner {
 public:
  /** cache (optional, outlives the interner): see SlotArray. */
  Interner(size_t expected, MappingCache* cache) : slots_(expected, cache) {}

  size_t size() const { return size_; }

  /** The id of key, a new one (== size() before the call) when it is new. */
  uint32_t id(const Key& key) { return id(key, static_cast<uint32_t>(size_)); }

  /** The id stored for key; when it is new, fresh is stored and returned (ids from a shared space). */
  uint32_t id(const Key& key, uint32_t fresh) {
    size_t s = hashKey(key) & slots_.mask();
    for (;;) {
      Slot& slot = slots_[s];
      if (slot.id1 == 0) break;
      if (slot.key == key) return slot.id1 - 1;
      s = (s + 1) & slots_.mask();
    }
    size_++;
    slots_[s] = Slot{key, fresh + 1};
    if (size_ * 2 > slots_.mask() + 1) {
      slots_.grow([](const Slot& o) { return o.id1 == 0; }, [](const Slot& o) { return hashKey(o.key); });
    }
    return fresh;
  }

  void prefetch(const Key& key) const { __builtin_prefetch(&slots_[hashKey(key) & slots_.mask()]); }

 private:
  struct Slot {
    Key key{};
    uint32_t id1 = 0;  // id + 1; 0 = empty
  };

  SlotArray<Slot> slots_;
  size_t size_ = 0;
};

/**
 * Open-addressing set of keys below 2^63: half an interner's memory (8 bytes a slot: the key with
 * its top bit set, 0 = empty), for passes that only ask whether a key is new.
 */
class KeySet {
 public:
  KeySet(size_t expected, MappingCache* cache) : slots_(expected, cache) {}

  /** Adds key; true when it was not there yet. */
  bool insert(uint64_t key) {
    const uint64_t stored = key | TOP;
    size_t s = mix64(key) & slots_.mask();
    for (;;) {
      const uint64_t v = slots_[s];
      if (v == 0) break;
      if (v == stored) return false;
      s = (s + 1) & slots_.mask();
    }
    slots_[s] = stored;
    if (++size_ * 2 > slots_.mask() + 1) slots_.grow([](uint64_t v) { return v == 0; }, [](uint64_t v) { return mix64(v & ~TOP); });
    return true;
  }

  void prefetch(uint64_t key) const { __builtin_prefetch(&slots_[mix64(key) & slots_.mask()]); }

 private:
  static constexpr uint64_t TOP = uint64_t{1} << 63;

  SlotArray<uint64_t> slots_;
  size_t size_ = 0;
};

using Interner64 = Interner<uint64_t>;
using Interner128 = Interner<Key128>;

inline uint64_t pairKey(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline Key128 load128(const uint8_t* p) { return Key128{load64(p), load64(p + 8)}; }

inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

/** How many classes ahead each pass prefetches: the tables are far bigger than the cache. */
constexpr size_t AHEAD = 16;

/** The destination port column: -1 for protocols without ports. */
inline int32_t dportOf(const uint8_t* key) {
  return (key[K_FLAGS] & F_HAS_PORT) != 0 ? (static_cast<int32_t>(key[K_DPORT]) << 8) | key[K_DPORT + 1] : -1;
}

/** Services: (destination id, protocol, port); portless protocols get port 65536. */
inline uint64_t serviceKey(int32_t dst, int proto, int32_t dport) {
  return pairKey(static_cast<uint32_t>(dst), static_cast<uint32_t>(proto) * 131072 + static_cast<uint32_t>(dport < 0 ? 65536 : dport));
}

/** An IPv4 source's /24 (its first three bytes); an IPv6 source's /64 is its first eight. */
inline uint64_t prefix4Key(const uint8_t* a) {
  return static_cast<uint64_t>((static_cast<uint32_t>(a[0]) << 16) | (static_cast<uint32_t>(a[1]) << 8) | a[2]);
}

inline uint64_t rssKey(int32_t remote, int32_t service, int state) {
  return pairKey(static_cast<uint32_t>(remote), static_cast<uint32_t>(service) * STATE_SLOTS + static_cast<uint32_t>(state));
}

/** Outbound: the remote is the destination; inbound or both local: the source; transit: the destination. */
inline bool remoteIsDst(bool srcLocal, bool dstLocal) { return (srcLocal && !dstLocal) || (!srcLocal && !dstLocal); }

/** An address's tie rank (see Dimensions.addrRank in dimensions.ts). */
double addrRankOf(int fam, const uint8_t* a) {
  uint64_t r = 0;
  if (fam == 4) {
    r = (static_cast<uint64_t>(a[0]) << 24) | (static_cast<uint64_t>(a[1]) << 16) | (static_cast<uint64_t>(a[2]) << 8) | a[3];
  } else {
    r = (uint64_t{1} << 32) + ((static_cast<uint64_t>(a[0]) << 40) | (static_cast<uint64_t>(a[1]) << 32) | (static_cast<uint64_t>(a[2]) << 24) |
                               (static_cast<uint64_t>(a[3]) << 16) | (static_cast<uint64_t>(a[4]) << 8) | a[5]);
  }
  return static_cast<double>(r);
}

/** IPv4 ranks lose the host byte (the /24); IPv6 ranks stop before the /64 does. */
double prefixRankOf(double addrRank) {
  return addrRank < 4294967296.0 ? static_cast<double>(static_cast<uint64_t>(addrRank) & ~uint64_t{255}) : addrRank;
}

/** Sums of one dimension per id (ids in id), in class order. packets and bytes null without traffic. */
void sumDimension(const int32_t* id, const double* classCount, const double* classPackets, const double* classBytes, const uint8_t* flags,
                  size_t n, double* count, double* unreplied, double* packets, double* bytes) {
  if (packets != nullptr && bytes != nullptr) {
    for (size_t i = 0; i < n; i++) {
      if (i + AHEAD < n) {
        __builtin_prefetch(count + id[i + AHEAD]);
        __builtin_prefetch(packets + id[i + AHEAD]);
        __builtin_prefetch(bytes + id[i + AHEAD]);
      }
      count[id[i]] += classCount[i];
      packets[id[i]] += classPackets[i];
      bytes[id[i]] += classBytes[i];
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      if (i + AHEAD < n) __builtin_prefetch(count + id[i + AHEAD]);
      count[id[i]] += classCount[i];
    }
  }
  // Unreplied entries: usually few classes, a pass of their own.
  for (size_t i = 0; i < n; i++) {
    if ((flags[i] & F_UNREPLIED) != 0) unreplied[id[i]] += classCount[i];
  }
}

/** An interner made on first use, sized for the classes expected. */
/**
 * Runs a and b at once (b on a thread of its own; one after the other when no thread can be
 * made), and rethrows what either threw once both are done.
 */
template <typename A, typename B>
void bothAtOnce(A&& a, B&& b) {
  std::exception_ptr failed;
  std::thread t;
  try {
    t = std::thread([&] {
      try {
        b();
      } catch (...) {
        failed = std::current_exception();
      }
    });
  } catch (const std::system_error&) {
    a();
    b();
    return;
  }
  try {
    a();
  } catch (...) {
    t.join();
    throw;
  }
  t.join();
  if (failed) std::rethrow_exception(failed);
}

template <typename I>
I& lazy(std::unique_ptr<I>& p, size_t expected, MappingCache& cache) {
  if (!p) p = std::make_unique<I>(expected, &cache);
  return *p;
}

}  // namespace

// Each step below is one pass over a range of classes that touches one big table at random, with
// the entry for a class AHEAD positions on prefetched: memory latency, not work, is the cost here.
// Ids depend only on the order of the classes within each pass, so ranges give the ids one pass
// over the whole table gives.

struct DimensionBuilder::Interners {
  // Addresses: IPv4 by the 32-bit word, IPv6 whole; one id space, first-seen order.
  std::unique_ptr<Interner64> v4;
  std::unique_ptr<Interner128> v6;
  std::unique_ptr<Interner64> services, prefixes4, prefixes6, rss;
};

DimensionBuilder::DimensionBuilder(const uint8_t* cidrs, size_t cidrLen, bool inferred)
    : cidrs_(cidrs, cidrs + cidrLen), inferred_(inferred), in_(std::make_unique<Interners>()) {}

DimensionBuilder::~DimensionBuilder() = default;

std::vector<double> DimensionBuilder::initialStateCounts() {
  std::vector<double> v(256 * STATE_SLOTS * STATE_COUNT_FIELDS);
  for (size_t i = SC_MAX_TIMEOUT; i < v.size(); i += STATE_COUNT_FIELDS) v[i] = -1;
  return v;
}

void DimensionBuilder::reserve(size_t classes, bool interners) {
  if (n_ != 0) return;
  // Ids: about one address and one remote+service+state per class on a flood; fewer of the rest.
  addrFamily.reserve(classes);
  isLocal_.reserve(classes);
  addrOffset_.reserve(classes);
  rssClass.reserve(classes);
  if (interners) {
    // A finished table: the columns are made at their final size when first filled, from the
    // cache's memory where it has some (see columns()).
    expected_ = classes;
    return;
  }
  for (auto* a : {&family, &proto, &state, &flags, &anyLocal_}) a->reserve(classes);
  for (auto* a : {&dport, &src, &dst, &remote, &local, &service, &srcPrefix, &rss}) a->reserve(classes);
  for (auto* a : {&count, &packets, &bytes, &maxTimeout}) a->reserve(classes);
  for (auto* a : {&localCount, &addrRank, &rssRank}) a->reserve(classes);
  for (int d : {0, 1, 2, 5}) {
    sumCount[d].reserve(classes);
    sumUnreplied[d].reserve(classes);
  }
}

int32_t DimensionBuilder::internAddr(const uint8_t* keys, size_t off, int fam) {
  const uint8_t* a = keys + off;
  const uint32_t fresh = static_cast<uint32_t>(addrFamily.size());
  uint32_t id;
  // addClasses made the interner of each family it saw.
  if (fam == 4) {
    id = in_->v4->id(load32(a), fresh);
  } else {
    id = in_->v6->id(load128(a), fresh);
  }
  if (id == fresh) {
    addrFamily.push_back(static_cast<uint8_t>(fam));
    addrOffset_.push_back(static_cast<double>(off));
    if (!inferred_) isLocal_.push_back(cidrMatch(cidrs_.data(), cidrs_.size(), fam, a) ? 1 : -1);
  }
  return static_cast<int32_t>(id);
}

const char* DimensionBuilder::addClasses(const uint8_t* keys, size_t to, bool last) {
  const size_t from = n_;
  if (to <= from) return nullptr;
  // Keys come from the scanners; this only guards the array indexing below.
  size_t v6 = 0;
  for (size_t i = from; i < to; i++) {
    const uint8_t* key = keys + i * KEY_BYTES;
    if ((key[K_FAMILY] != 4 && key[K_FAMILY] != 6) || key[K_STATE] >= STATE_SLOTS) return "keys hold an unknown family or state";
    v6 += key[K_FAMILY] == 6 ? 1 : 0;
  }
  const size_t k = to - from;
  v4Classes_ += k - v6;
  v6Classes_ += v6;
  for (auto* a : {&family, &proto, &state, &flags, &anyLocal_}) {
    a->reserveFirst(to, &cache_);
    a->extend(k);
  }
  for (auto* a : {&dport, &src, &dst, &remote, &local, &service, &srcPrefix, &rss}) {
    a->reserveFirst(to, &cache_);
    a->extend(k);
  }
  // Filled by setValues(); paged in now, while the table is still growing. A caller may have
  // written them already.
  for (auto* a : {&count, &packets, &bytes, &maxTimeout}) {
    a->reserveFirst(to, &cache_);
    if (a->size() < to) a->extend(to - a->size());
  }

  // The plain columns and the addresses. A family's interner exists only once it has classes:
  // sized for about one address per two classes on a finished table, grown on a growing one.
  if (k > v6) lazy(in_->v4, sized(v4Classes_, 2), cache_);
  if (v6 > 0) lazy(in_->v6, sized(v6Classes_, 2), cache_);
  for (size_t i = from; i < to; i++) {
    const size_t base = i * KEY_BYTES;
    if (i + AHEAD < to) {
      const uint8_t* ahead = keys + base + AHEAD * KEY_BYTES;
      if (ahead[K_FAMILY] == 4) {
        in_->v4->prefetch(load32(ahead + K_SRC));
        in_->v4->prefetch(load32(ahead + K_DST));
      } else {
        in_->v6->prefetch(load128(ahead + K_SRC));
        in_->v6->prefetch(load128(ahead + K_DST));
      }
    }
    const uint8_t* key = keys + base;
    const int fam = key[K_FAMILY];
    family[i] = key[K_FAMILY];
    proto[i] = key[K_PROTO];
    state[i] = key[K_STATE];
    flags[i] = key[K_FLAGS];
    dport[i] = dportOf(key);
    src[i] = internAddr(keys, base + K_SRC, fam);
    dst[i] = internAddr(keys, base + K_DST, fam);
  }
  n_ = to;
  if (last) {
    // The biggest interner goes before the next passes make theirs.
    in_->v4.reset();
    in_->v6.reset();
  }
  // Inferring the local side needs the whole table: the rest waits for finish().
  if (inferred_) return nullptr;
  sides(from, to);
  services(from, to);
  if (last) in_->services.reset();
  prefixes(keys, from, to);
  if (last) {
    in_->prefixes4.reset();
    in_->prefixes6.reset();
  }
  remoteServiceStates(from, to);
  if (last) in_->rss.reset();
  // While the table grows, the sums and ranks are paged in as their ids appear; on a finished
  // table they wait until the interners are gone (a lower peak).
  if (!last) growIdArrays();
  return nullptr;
}

size_t DimensionBuilder::idArrayBytes(bool traffic) const {
  const size_t addresses = addrFamily.size();
  const size_t ids = 3 * addresses + serviceClass.size() + prefixAddr.size() + rssClass.size();
  // Per id: the count and unreplied sums (and packets and bytes with traffic); per address, the
  // local count; ranks of services, prefixes, remote+service+states.
  const size_t doubles = ids * (traffic ? 4 : 2) + addresses + serviceClass.size() + prefixAddr.size() + rssClass.size();
  return doubles * sizeof(double);
}

void DimensionBuilder::growIdArrays() {
  const size_t addresses = addrFamily.size();
  const size_t sizes[DIM_COUNT] = {addresses, addresses, addresses, serviceClass.size(), prefixAddr.size(), rssClass.size()};
  // Up to the ids so far: on a finished table, their final size, first made from the cache's memory.
  auto grow = [this](ColumnArray<double>& a, size_t to) {
    a.reserveFirst(to, &cache_);
    a.extend(to - a.size());
  };
  for (int d = 0; d < DIM_COUNT; d++) {
    grow(sumCount[d], sizes[d]);
    grow(sumUnreplied[d], sizes[d]);
  }
  grow(localCount, addresses);
  grow(addrRank, addresses);
  grow(serviceRank, sizes[3]);
  grow(prefixRank, sizes[4]);
  grow(rssRank, sizes[5]);
}

void DimensionBuilder::inferSides() {
  const size_t n = n_;
  const size_t addresses = addrFamily.size();
  // Entries per address, and distinct peers per address: a host's own address talks to many
  // peers, a remote server to few.
  freq_.assign(addresses, 0.0);
  peers_.assign(addresses, 0.0);
  for (size_t i = 0; i < n; i++) {
    if (i + AHEAD < n) {
      __builtin_prefetch(&freq_[src[i + AHEAD]]);
      __builtin_prefetch(&freq_[dst[i + AHEAD]]);
    }
    const double c = count[i];
    freq_[src[i]] += c;
    if (dst[i] != src[i]) freq_[dst[i]] += c;
  }
  KeySet pairs(n, &cache_);
  auto pairOf = [&](size_t i) {
    const uint32_t a = static_cast<uint32_t>(src[i] < dst[i] ? src[i] : dst[i]);
    const uint32_t b = static_cast<uint32_t>(src[i] < dst[i] ? dst[i] : src[i]);
    return pairKey(a, b);
  };
  for (size_t i = 0; i < n; i++) {
    if (i + AHEAD < n) {
      pairs.prefetch(pairOf(i + AHEAD));
      __builtin_prefetch(&peers_[src[i + AHEAD]]);
      __builtin_prefetch(&peers_[dst[i + AHEAD]]);
    }
    const uint64_t pk = pairOf(i);
    if (pairs.insert(pk)) {
      const uint32_t a = static_cast<uint32_t>(pk >> 32);
      const uint32_t b = static_cast<uint32_t>(pk);
      peers_[a]++;
      if (b != a) peers_[b]++;
    }
  }
}

void DimensionBuilder::sides(size_t from, size_t to) {
  for (size_t i = from; i < to; i++) {
    const int32_t si = src[i];
    const int32_t di = dst[i];
    bool srcLocal;
    bool dstLocal;
    if (inferred_) {
      if (i + AHEAD < to) {
        __builtin_prefetch(&peers_[src[i + AHEAD]]);
        __builtin_prefetch(&peers_[dst[i + AHEAD]]);
        __builtin_prefetch(&freq_[src[i + AHEAD]]);
        __builtin_prefetch(&freq_[dst[i + AHEAD]]);
      }
      srcLocal = peers_[si] > peers_[di] || (peers_[si] == peers_[di] && freq_[si] > freq_[di]);
      dstLocal = !srcLocal;
    } else {
      srcLocal = isLocal_[si] == 1;
      dstLocal = isLocal_[di] == 1;
    }
    const bool outbound = remoteIsDst(srcLocal, dstLocal);
    remote[i] = outbound ? di : si;
    local[i] = outbound ? si : di;
    anyLocal_[i] = srcLocal || dstLocal ? 1 : 0;
  }
}

void DimensionBuilder::services(size_t from, size_t to) {
  Interner64& services = lazy(in_->services, expected_ / 4, cache_);
  auto classService = [&](size_t i) { return serviceKey(dst[i], proto[i], dport[i]); };
  for (size_t i = from; i < to; i++) {
    if (i + AHEAD < to) services.prefetch(classService(i + AHEAD));
    const uint32_t svc = services.id(classService(i));
    if (svc == serviceClass.size()) serviceClass.push_back(static_cast<int32_t>(i));
    service[i] = static_cast<int32_t>(svc);
  }
}

void DimensionBuilder::prefixes(const uint8_t* keys, size_t from, size_t to) {
  // As for the addresses: only the families seen, fewer prefixes than addresses.
  if (v4Classes_ > 0) lazy(in_->prefixes4, sized(v4Classes_, 4), cache_);
  if (v6Classes_ > 0) lazy(in_->prefixes6, sized(v6Classes_, 4), cache_);
  Interner64* prefixes4 = in_->prefixes4.get();
  Interner64* prefixes6 = in_->prefixes6.get();
  for (size_t i = from; i < to; i++) {
    if (i + AHEAD < to) {
      const uint8_t* ahead = keys + (i + AHEAD) * KEY_BYTES + K_SRC;
      if (family[i + AHEAD] == 4) {
        prefixes4->prefetch(prefix4Key(ahead));
      } else {
        prefixes6->prefetch(load64(ahead));
      }
    }
    const uint32_t fresh = static_cast<uint32_t>(prefixAddr.size());
    const uint8_t* a = keys + i * KEY_BYTES + K_SRC;
    const uint32_t pid = family[i] == 4 ? prefixes4->id(prefix4Key(a), fresh) : prefixes6->id(load64(a), fresh);
    if (pid == fresh) prefixAddr.push_back(src[i]);
    srcPrefix[i] = static_cast<int32_t>(pid);
  }
}

void DimensionBuilder::remoteServiceStates(size_t from, size_t to) {
  // Nearly one per class on a flood.
  Interner64& rssIds = lazy(in_->rss, expected_, cache_);
  auto classRss = [&](size_t i) { return rssKey(remote[i], service[i], state[i]); };
  for (size_t i = from; i < to; i++) {
    if (i + AHEAD < to) rssIds.prefetch(classRss(i + AHEAD));
    const uint32_t rid = rssIds.id(classRss(i));
    if (rid == rssClass.size()) rssClass.push_back(static_cast<int32_t>(i));
    rss[i] = static_cast<int32_t>(rid);
  }
}

void DimensionBuilder::setValues(const double* vals) {
  for (size_t i = 0; i < n_; i++) {
    const double* v = vals + i * VALUE_FIELDS;
    count[i] = v[V_COUNT];
    packets[i] = v[V_PACKETS];
    bytes[i] = v[V_BYTES];
    maxTimeout[i] = v[V_MAX_TIMEOUT];
  }
}

void DimensionBuilder::finish(const uint8_t* keys, bool traffic, const std::function<void()>& keysDone) {
  const size_t n = n_;
  if (inferred_) {
    // Two chains that share nothing but read-only columns: the sides, and the services and
    // prefixes; remote+service+states need both.
    bothAtOnce(
        [&] {
          inferSides();
          sides(0, n);
          std::vector<double>().swap(freq_);  // freed, not just emptied
          std::vector<double>().swap(peers_);
        },
        [&] {
          services(0, n);
          in_->services.reset();
          prefixes(keys, 0, n);
          in_->prefixes4.reset();
          in_->prefixes6.reset();
        });
    remoteServiceStates(0, n);
  }
  in_ = std::make_unique<Interners>();  // all of them freed (to the cache) before the sums touch more memory
  const size_t addresses = addrFamily.size();
  cache_.trim(addresses * (16 + sizeof(double)) + idArrayBytes(traffic));

  // The last reads of the keys: each address's bytes and tie rank.
  addrRank.reserveFirst(addresses, &cache_);
  addrRank.extend(addresses - addrRank.size());
  addrBytes.reserveFirst(addresses * 16, &cache_);
  addrBytes.extend(addresses * 16 - addrBytes.size());
  for (size_t a = 0; a < addresses; a++) {
    const uint8_t* k = keys + static_cast<size_t>(addrOffset_[a]);
    std::memcpy(addrBytes.data() + a * 16, k, 16);
    addrRank[a] = addrRankOf(addrFamily[a], k);
  }
  cache_.give(addrOffset_.releaseMapping());
  if (keysDone) keysDone();
  cache_.trim(idArrayBytes(traffic));
  growIdArrays();

  // Tie ranks: prefixes, services and remotes+services+states from the address of their first class.
  for (size_t p = 0; p < prefixAddr.size(); p++) prefixRank[p] = prefixRankOf(addrRank[prefixAddr[p]]);
  for (size_t v = 0; v < serviceClass.size(); v++) serviceRank[v] = addrRank[dst[serviceClass[v]]];
  for (size_t r = 0; r < rssClass.size(); r++) rssRank[r] = addrRank[remote[rssClass[r]]];

  // Entries per address where it is the local side.
  for (size_t i = 0; i < n; i++) {
    if (i + AHEAD < n) __builtin_prefetch(&localCount[local[i + AHEAD]]);
    if (anyLocal_[i] != 0) localCount[local[i]] += count[i];
  }
  const int32_t* ids[DIM_COUNT] = {src.data(), dst.data(), remote.data(), service.data(), srcPrefix.data(), rss.data()};
  // Each dimension's sums are its own: half of them on a second thread.
  auto sumsOf = [&](int d) {
    if (traffic) {
      sumPackets[d].reserveFirst(sumCount[d].size(), &cache_);
      sumPackets[d].extend(sumCount[d].size());
      sumBytes[d].reserveFirst(sumCount[d].size(), &cache_);
      sumBytes[d].extend(sumCount[d].size());
    }
    sumDimension(ids[d], count.data(), packets.data(), bytes.data(), flags.data(), n, sumCount[d].data(), sumUnreplied[d].data(),
                 traffic ? sumPackets[d].data() : nullptr,
                 traffic ? sumBytes[d].data() : nullptr);
    for (size_t id = 0; id < sumCount[d].size(); id++) distinct[d] += sumCount[d][id] > 0 ? 1 : 0;
  };
  bothAtOnce(
      [&] {
        for (int d : {0, 2, 4}) sumsOf(d);
      },
      [&] {
        for (int d : {1, 3, 5}) sumsOf(d);
      });
  // Entries per protocol and state, and the totals.
  for (size_t i = 0; i < n; i++) {
    const int pr = proto[i];
    const int fl = flags[i];
    const double c = count[i];
    double* sc = stateCounts.data() + (pr * STATE_SLOTS + state[i]) * STATE_COUNT_FIELDS;
    sc[0] += c;
    if ((fl & F_UNREPLIED) != 0) {
      sc[1] += c;
      totals[T_UNREPLIED] += c;
    }
    if ((fl & F_ASSURED) != 0) {
      sc[2] += c;
      totals[T_ASSURED] += c;
    }
    if ((fl & (F_OFFLOAD | F_HW_OFFLOAD)) != 0) {
      sc[3] += c;
      totals[T_OFFLOADED] += c;
    }
    if (maxTimeout[i] > sc[SC_MAX_TIMEOUT]) sc[SC_MAX_TIMEOUT] = maxTimeout[i];
    if ((fl & F_NAT) != 0) totals[T_NATTED] += c;
    totals[family[i] == 4 ? T_IPV4 : T_IPV6] += c;
    protoCounts[pr] += c;
  }
  cache_.clear();
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
