// Open-addressing table over packed 40-byte flow-class keys with dense, insertion-ordered storage,
// so a chunk's result is a prefix of two flat arrays (copied out once per chunk).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "layout.h"

namespace ctscope {

/**
 * Commits the whole pages of [p, p + bytes) in one call (Linux 5.14+), for memory about to be
 * written from end to end: touching fresh pages one at a time costs a page fault each, which in a
 * virtual machine costs many times the write itself (one call measured a quarter to a third
 * cheaper per page than the faults). Only a hint: where the kernel refuses (no support, no
 * memory), the writes that follow fault the pages in one by one, and commit what they would have
 * committed anyway.
 */
/** The kernel's page size: mappings are made, cut and released in whole pages of it. */
inline size_t pageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

/** bytes rounded up to whole pages. */
inline size_t wholePages(size_t bytes) {
  const size_t page = pageSize();
  return (bytes + page - 1) / page * page;
}

inline void populate(void* p, size_t bytes) {
#ifdef MADV_POPULATE_WRITE
  if (bytes < (size_t{1} << 20)) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t from = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
  const uintptr_t to = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(page - 1);
  const int saved = errno;
  if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_POPULATE_WRITE);
  errno = saved;
#else
  (void)p;
  (void)bytes;
#endif
}

/** A private anonymous mapping, unmapped when destroyed. */
class Mapping {
 public:
  Mapping() = default;
  Mapping(void* p, size_t bytes) : p_(p), bytes_(bytes) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  Mapping(Mapping&& o) noexcept : p_(o.p_), bytes_(o.bytes_) {
    o.p_ = nullptr;
    o.bytes_ = 0;
  }
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = o.p_;
      bytes_ = o.bytes_;
      o.p_ = nullptr;
      o.bytes_ = 0;
    }
    return *this;
  }
  ~Mapping() { reset(); }

  /**
   * A new mapping of at least bytes, zero-filled and committed whole; huge: marked for transparent
   * huge pages (for tables probed at random).
   */
  static Mapping fresh(size_t bytes, bool huge) {
    bytes = wholePages(bytes);
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    if (huge && bytes >= (size_t{2} << 20)) madvise(p, bytes, MADV_HUGEPAGE);
#endif
    populate(p, bytes);
    return Mapping(p, bytes);
  }

  void reset() {
    if (p_ != nullptr) munmap(p_, bytes_);
    p_ = nullptr;
    bytes_ = 0;
  }
  void* data() const { return p_; }
  size_t bytes() const { return bytes_; }

  /** Gives up ownership: the caller unmaps [data(), data() + bytes()) (whole pages). */
  void* release() {
    void* p = p_;
    p_ = nullptr;
    bytes_ = 0;
    return p;
  }

  /** Splits off the first `bytes` (whole pages, fewer than bytes()) as their own Mapping. */
  Mapping split(size_t bytes) {
    Mapping head(p_, bytes);
    p_ = static_cast<char*>(p_) + bytes;
    bytes_ -= bytes;
    return head;
  }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

/**
 * Big mappings one phase of a build is done with, kept for the next phase's tables. In a virtual
 * machine, committing fresh memory costs many times clearing memory already committed (measured:
 * about 0.3 s per GB against 0.04), and a merge followed by the dimensions frees and allocates
 * hundreds of MB several times over. One owner (a merge, a dimensions build, a scanning thread);
 * a lock for the two threads of a dimensions build.
 */
class MappingCache {
 public:
  /**
   * Keeps m for a later take() (small ones are unmapped now: they cost little to make again).
   * Pieces that meet again become one, so that what a big table handed out in parts can serve a
   * table as big later.
   */
  void give(Mapping m) {
    if (m.bytes() < KEEP_FROM) return;
    const std::lock_guard<std::mutex> hold(lock_);
    giveLocked(std::move(m));
  }

  /**
   * A zero-filled mapping of at least bytes from the smallest kept one that is big enough: its
   * front, whole pages, while the rest is worth keeping; an empty Mapping when none is big enough.
   */
  Mapping reuse(size_t bytes) {
    Mapping m = carve(bytes);
    if (m.data() != nullptr) {
      // Kept mappings may have pages never touched (a reservation's tail): commit them in one call.
      populate(m.data(), m.bytes());
      std::memset(m.data(), 0, m.bytes());
    }
    return m;
  }

  /** A zero-filled mapping of at least bytes: reused when one is kept, else fresh. */
  Mapping take(size_t bytes, bool huge) {
    Mapping m = reuse(bytes);
    return m.data() != nullptr ? std::move(m) : Mapping::fresh(bytes, huge);
  }

  /**
   * Keeps no more than about bytes (the biggest mappings, the last one cut to size) and unmaps
   * the rest: what is kept stays resident, so only what the next steps will ask for is worth it.
   */
  void trim(size_t bytes) {
    const std::lock_guard<std::mutex> hold(lock_);
    std::sort(spare_.begin(), spare_.end(), [](const Mapping& a, const Mapping& b) { return a.bytes() > b.bytes(); });
    size_t kept = 0;
    size_t i = 0;
    for (; i < spare_.size() && kept < bytes; i++) {
      const size_t room = wholePages(bytes - kept);
      if (spare_[i].bytes() > room) {
        Mapping head = spare_[i].split(room);
        spare_[i] = std::move(head);  // the tail is unmapped as the old value goes
      }
      kept += spare_[i].bytes();
    }
    spare_.resize(i);
  }

  /** Unmaps everything kept. */
  void clear() {
    const std::lock_guard<std::mutex> hold(lock_);
    spare_.clear();
  }

  /** What is kept: bytes, and pieces (after joining). */
  size_t keptBytes() const {
    const std::lock_guard<std::mutex> hold(lock_);
    size_t n = 0;
    for (const Mapping& m : spare_) n += m.bytes();
    return n;
  }
  size_t keptPieces() const {
    const std::lock_guard<std::mutex> hold(lock_);
    return spare_.size();
  }

 private:
  static constexpr size_t KEEP_FROM = size_t{1} << 20;

  void giveLocked(Mapping m) {
    for (size_t i = 0; i < spare_.size(); i++) {
      char* a = static_cast<char*>(spare_[i].data());
      char* b = static_cast<char*>(m.data());
      if (a + spare_[i].bytes() == b || b + m.bytes() == a) {
        const size_t bytes = spare_[i].bytes() + m.bytes();
        spare_[i].release();
        m.release();
        Mapping joined(a < b ? a : b, bytes);
        spare_.erase(spare_.begin() + static_cast<std::ptrdiff_t>(i));
        giveLocked(std::move(joined));  // it may meet another piece too
        return;
      }
    }
    spare_.push_back(std::move(m));
  }

  /** The front of the best fit, taken out of the cache (not cleared). */
  Mapping carve(size_t bytes) {
    bytes = wholePages(bytes);
    const std::lock_guard<std::mutex> hold(lock_);
    size_t best = spare_.size();
    for (size_t i = 0; i < spare_.size(); i++) {
      if (spare_[i].bytes() >= bytes && (best == spare_.size() || spare_[i].bytes() < spare_[best].bytes())) best = i;
    }
    if (best == spare_.size()) return Mapping();
    if (spare_[best].bytes() - bytes >= KEEP_FROM) return spare_[best].split(bytes);
    Mapping m = std::move(spare_[best]);
    spare_.erase(spare_.begin() + static_cast<std::ptrdiff_t>(best));
    return m;
  }

  // Two dimension passes may run at once (DimensionBuilder::finish): one lock, held only briefly.
  mutable std::mutex lock_;
  std::vector<Mapping> spare_;
};


/**
 * An append-only array of trivially copyable T in its own mapping. Growing remaps the pages
 * (mremap) instead of copying them into freshly zeroed ones: a table of millions of classes grows
 * through several doublings, and std::vector's copies cost more than the inserts.
 *
 * huge: big mappings use transparent huge pages, for arrays probed at random (a flow table's
 * entries). Arrays written in order are better off without: each huge page is cleared whole
 * when first touched, and the last one of each array stays resident whole.
 *
 * Nothing may be written at or past size(): the mapping there is still zero (the kernel's fill, or
 * a reused mapping's clearing), which is what lets extend() hand out zeroed elements without
 * clearing them.
 */
template <typename T, bool huge = true>
class MappedArray {
 public:
  MappedArray() = default;
  MappedArray(const MappedArray&) = delete;
  MappedArray& operator=(const MappedArray&) = delete;
  ~MappedArray() {
    if (data_ != nullptr) munmap(data_, cap_ * sizeof(T));
  }

  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

  /**
   * Room for n elements (mapped, committed only where written). cache: a first mapping may come
   * from it (committed and cleared; see MappingCache).
   */
  void reserve(size_t n, MappingCache* cache = nullptr) {
    if (n <= cap_) return;
    const size_t bytes = wholePages(n * sizeof(T));
    if (data_ == nullptr && cache != nullptr) {
      Mapping m = cache->reuse(bytes);
      if (m.data() != nullptr) {
        cap_ = m.bytes() / sizeof(T);
        data_ = static_cast<T*>(m.release());
        return;
      }
    }
    void* p = data_ == nullptr ? mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                               : mremap(data_, cap_ * sizeof(T), bytes, MREMAP_MAYMOVE);
    if (p == MAP_FAILED && data_ != nullptr) {
      // A mapping from a MappingCache may be pieces of several kernel mappings, which mremap
      // refuses to move as one: copy instead.
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p != MAP_FAILED) {
        std::memcpy(p, data_, size_ * sizeof(T));
        munmap(data_, cap_ * sizeof(T));
      }
    }
    if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    if (huge && bytes >= (size_t{2} << 20)) madvise(p, bytes, MADV_HUGEPAGE);
#endif
    data_ = static_cast<T*>(p);
    cap_ = bytes / sizeof(T);
  }

  /**
   * Before anything is mapped: room for n elements, from cache when it has a piece (see reserve).
   * Afterwards a no-op: growing stays extend()'s doubling.
   */
  void reserveFirst(size_t n, MappingCache* cache) {
    if (data_ == nullptr) reserve(n, cache);
  }

  /** A new element at the end, zero-filled. */
  T& append() {
    if (size_ == cap_) reserve(cap_ < 1024 ? 1024 : cap_ * 2);
    T& e = data_[size_++];
    std::memset(static_cast<void*>(&e), 0, sizeof(T));
    return e;
  }

  void push_back(const T& v) { append() = v; }

  /** k new zero-filled elements at the end; a pointer to the first. */
  T* extend(size_t k) {
    if (k == 0) return data_ + size_;
    if (size_ + k > cap_) {
      size_t c = cap_ < 1024 ? 1024 : cap_ * 2;
      while (c < size_ + k) c *= 2;
      reserve(c);
    }
    T* p = data_ + size_;
    // Still zero (see the class comment). Committed in one call rather than a fault per page:
    // what the builders extend they go on to fill, or (sparse sums) to write all over.
    populate(p, k * sizeof(T));
    size_ += k;
    return p;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }

  /** Frees the mapping now; the array is empty afterwards. */
  void reset() {
    if (data_ != nullptr) munmap(data_, cap_ * sizeof(T));
    data_ = nullptr;
    size_ = 0;
    cap_ = 0;
  }

  /** Hands the mapping over (to a MappingCache). The array is empty afterwards. */
  Mapping releaseMapping() {
    size_t bytes = 0;
    T* p = release(bytes);
    return Mapping(p, bytes);
  }

  /**
   * Hands the mapping over (to a JS ArrayBuffer): its address, and its length in bytes for the
   * munmap that frees it. The array is empty afterwards.
   */
  T* release(size_t& mappedBytes) {
    T* p = data_;
    mappedBytes = cap_ * sizeof(T);
    data_ = nullptr;
    size_ = 0;
    cap_ = 0;
    return p;
  }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
};

/** A MappedArray of data written in order: no huge pages. */
template <typename T>
using ColumnArray = MappedArray<T, false>;

class FlowTable {
 public:
  /** cache (optional, outlives the table): where its first slots and entries come from. */
  explicit FlowTable(size_t initialEntries = 4096, MappingCache* cache = nullptr) : cache_(cache) {
    size_t cap = 16;
    while (cap < initialEntries * 2) cap <<= 1;
    setSlots(slotMemory(cap), cap);
    // Reused memory is cleared and committed whole: only as much as expected. A fresh reservation
    // costs nothing until written.
    const size_t first = cache != nullptr ? initialEntries : cap / 2;
    entries_.reserve(first, cache);
    hashes_.reserve(first, cache);
  }

  size_t size() const { return entries_.size(); }

  /**
   * Hands the hash index's memory to cache: the entries (copyKeys, copyValueColumns) stay readable,
   * nothing else does.
   */
  void giveIndex(MappingCache& cache) {
    cache.give(std::move(slotMap_));
    slots_ = nullptr;
    cache.give(hashes_.releaseMapping());
  }

  /** Hands all of the table's memory to cache; the table is unusable afterwards. */
  void giveMemory(MappingCache& cache) {
    giveIndex(cache);
    cache.give(entries_.releaseMapping());
    cache.give(traffic_.releaseMapping());
  }

  /** Bytes of the table's own memory (its mappings, whether touched or not). */
  size_t mappedBytes() const {
    return slotMap_.bytes() + entries_.capacity() * sizeof(Entry) + hashes_.capacity() * sizeof(uint64_t) +
           traffic_.capacity() * sizeof(double);
  }

  /**
   * About n entries are coming in all: the index grows to hold them now, in one step (one rehash)
   * rather than doubling its way there. Never shrinks; a guess above 2^31 entries is ignored.
   */
  void expect(size_t n) {
    if (n > (size_t{1} << 31) || n * 2 <= mask_ + 1) return;
    size_t cap = mask_ + 1;
    while (cap < n * 2) cap <<= 1;
    rehash(cap);
  }

  /**
   * Room for n entries without moving them again. Big reservations are mapped memory that is only
   * committed where entries are written, so an estimate from the input size costs nothing unused.
   */
  void reserve(size_t n) {
    entries_.reserve(n);
    hashes_.reserve(n);
  }

  /** The keys, KEY_BYTES each, in first-seen order, into out. */
  void copyKeys(uint8_t* out) const {
    for (const Entry& e : entries_) {
      std::memcpy(out, e.key, KEY_BYTES);
      out += KEY_BYTES;
    }
  }

  /** The values, VALUE_FIELDS each, in first-seen order, into out. */
  void copyValues(double* out) const {
    copyValuesStrided(out + V_COUNT, out + V_PACKETS, out + V_BYTES, out + V_MAX_TIMEOUT, VALUE_FIELDS);
  }

  /** The values as four columns (n doubles each), in first-seen order. */
  void copyValueColumns(double* count, double* packets, double* bytes, double* maxTimeout) const {
    copyValuesStrided(count, packets, bytes, maxTimeout, 1);
  }

  /** Dense copies of the keys and values (valid until the next insertion). */
  const uint8_t* keyBytes() const {
    dense();
    return denseKeys_.data();
  }
  const double* values() const {
    dense();
    return denseValues_.data();
  }

  /**
   * Adds to the values of the entry for key (KEY_BYTES bytes, 8-byte aligned; a fresh entry when
   * new): count, packets and bytes are summed, the largest timeout kept.
   */
  void add(const uint64_t* key, double count, double packets, double bytes, double timeout) {
    add(key, hash(key), count, packets, bytes, timeout);
  }

  /** add() with the key's hash() already computed. */
  void add(const uint64_t* key, uint64_t h, double count, double packets, double bytes, double timeout) {
    const size_t i = find(key, h);
    Entry& e = entries_[i];
    e.count += count;
    if (timeout > e.maxTimeout) e.maxTimeout = timeout;
    // Adding zero would change nothing: dumps without counters never touch the traffic array.
    if (packets != 0 || bytes != 0) {
      if (traffic_.size() == 0) traffic_.extend(2 * entries_.size());
      traffic_[2 * i] += packets;
      traffic_[2 * i + 1] += bytes;
    }
  }

  /** Start loading the slot a key with this hash will probe first (the table can be far bigger than the cache). */
  void prefetch(uint64_t h) const { __builtin_prefetch(&slots_[static_cast<size_t>(h) & mask_]); }

  /** Once the slot for h is in cache: start loading the entry it points at (a hint only). */
  void prefetchEntry(uint64_t h) const {
    const uint64_t s = slots_[static_cast<size_t>(h) & mask_];
    if (s != 0 && (s & ~uint64_t{0xffffffff}) == (h & ~uint64_t{0xffffffff})) {
      __builtin_prefetch(&entries_[static_cast<uint32_t>(s) - 1]);
    }
  }

  static uint64_t hash(const uint64_t* k) {
    // Two independent multiply lanes folded at the end: a short dependency chain.
    uint64_t a = (k[0] ^ 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
    uint64_t b = (k[1] ^ 0x94d049bb133111ebULL) * 0x9e3779b97f4a7c15ULL;
    a = (a ^ (a >> 29) ^ k[2]) * 0x94d049bb133111ebULL;
    b = (b ^ (b >> 31) ^ k[3]) * 0xbf58476d1ce4e5b9ULL;
    a = (a ^ (a >> 32) ^ k[4]) * 0x9e3779b97f4a7c15ULL;
    uint64_t h = a ^ (b + (b >> 27));
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    return h;
  }

  static constexpr int WORDS = KEY_BYTES / 8;

 private:
  /**
   * Key, count and largest timeout in one cache line: a lookup that finds its key has them at
   * hand. Packets and bytes, which most dumps do not carry, live in traffic_.
   */
  struct alignas(64) Entry {
    uint64_t key[WORDS];
    double count;
    double maxTimeout;
  };
  static_assert(sizeof(Entry) == 64, "one cache line per entry");

  /** Index of the entry for key, inserting a fresh one (count 0, no timeout) when new. */
  size_t find(const uint64_t* key, uint64_t h) {
    const uint64_t tag = h & ~uint64_t{0xffffffff};
    size_t slot = static_cast<size_t>(h) & mask_;
    for (;;) {
      const uint64_t s = slots_[slot];
      if (s == 0) break;
      // A slot holds the hash's high half and the entry index + 1: most misses never touch the key.
      if ((s & ~uint64_t{0xffffffff}) == tag) {
        const size_t i = static_cast<uint32_t>(s) - 1;
        if (std::memcmp(entries_[i].key, key, KEY_BYTES) == 0) return i;
      }
      slot = (slot + 1) & mask_;
    }
    const size_t idx = entries_.size();
    slots_[slot] = tag | (idx + 1);
    hashes_.push_back(h);
    Entry& e = entries_.append();
    std::memcpy(e.key, key, KEY_BYTES);
    e.maxTimeout = -1;
    if (traffic_.size() != 0) traffic_.extend(2);
    if ((idx + 1) * 2 > mask_ + 1) grow();
    return idx;
  }


  Mapping slotMemory(size_t cap) {
    const size_t bytes = cap * sizeof(uint64_t);
    return cache_ != nullptr ? cache_->take(bytes, true) : Mapping::fresh(bytes, true);
  }

  void setSlots(Mapping m, size_t cap) {
    // Outgrown slots are unmapped, not kept: nothing later in this table's life is as small.
    slotMap_ = std::move(m);
    slots_ = static_cast<uint64_t*>(slotMap_.data());
    mask_ = cap - 1;
  }

  void grow() { rehash((mask_ + 1) * 2); }

  void rehash(size_t cap) {
    setSlots(slotMemory(cap), cap);
    const size_t n = hashes_.size();
    for (size_t i = 0; i < n; i++) {
      const uint64_t h = hashes_[i];
      size_t slot = static_cast<size_t>(h) & mask_;
      while (slots_[slot] != 0) slot = (slot + 1) & mask_;
      slots_[slot] = (h & ~uint64_t{0xffffffff}) | (i + 1);
    }
  }

  /** Entry i's values to count[i * stride], packets[i * stride], and so on. */
  void copyValuesStrided(double* count, double* packets, double* bytes, double* maxTimeout, size_t stride) const {
    const bool traffic = traffic_.size() != 0;
    for (size_t i = 0, o = 0; i < entries_.size(); i++, o += stride) {
      const Entry& e = entries_[i];
      count[o] = e.count;
      packets[o] = traffic ? traffic_[2 * i] : 0;
      bytes[o] = traffic ? traffic_[2 * i + 1] : 0;
      maxTimeout[o] = e.maxTimeout;
    }
  }

  void dense() const {
    if (denseSize_ == entries_.size() && !denseKeys_.empty()) return;
    denseKeys_.resize(entries_.size() * KEY_BYTES);
    denseValues_.resize(entries_.size() * VALUE_FIELDS);
    copyKeys(denseKeys_.data());
    copyValues(denseValues_.data());
    denseSize_ = entries_.size();
  }

  MappingCache* cache_;
  Mapping slotMap_;
  uint64_t* slots_ = nullptr;     // (hash & 0xffffffff00000000) | (entry index + 1); 0 = empty
  MappedArray<uint64_t> hashes_;  // per entry, so growing never rehashes keys
  MappedArray<Entry> entries_;    // in first-seen order
  MappedArray<double> traffic_;   // packets, bytes per entry; empty until an entry has some
  size_t mask_ = 0;
  // keyBytes()/values() materialise these on demand.
  mutable std::vector<uint8_t> denseKeys_;
  mutable std::vector<double> denseValues_;
  mutable size_t denseSize_ = 0;
};

}  // namespace ctscope
