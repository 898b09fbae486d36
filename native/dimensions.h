// The dimensions of a flow-class table: src/engine/dimensions.ts, decision for decision and
// addition for addition, so that test/dimensions.test.ts can hold the two equal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "flowtable.h"
#include "layout.h"

namespace ctscope {

/** Slots per protocol in stateCounts, fields per slot, and the totals: as in dimensions.ts. */
constexpr int STATE_SLOTS = 32;
constexpr int STATE_COUNT_FIELDS = 5;
constexpr int SC_MAX_TIMEOUT = 4;  // the largest remaining timeout of the slot's classes, -1 for none
constexpr int TOTAL_FIELDS = 6;
constexpr int T_IPV4 = 0;
constexpr int T_IPV6 = 1;
constexpr int T_UNREPLIED = 2;
constexpr int T_ASSURED = 3;
constexpr int T_OFFLOADED = 4;
constexpr int T_NATTED = 5;

/** The dimensions' order in `sums`: src, dst, remote, service, src_prefix, remote_service_state. */
constexpr int DIM_COUNT = 6;
constexpr const char* DIM_NAMES[DIM_COUNT] = {"src", "dst", "remote", "service", "src_prefix", "remote_service_state"};

/**
 * The dimensions of a flow-class table, built class by class in table order:
 * src/engine/dimensions.ts, decision for decision and addition for addition. The same builder
 * serves a finished table (all classes in one call) and a table that is still growing (the
 * ctnetlink dump hands over each datagram's new classes while the kernel formats the rest, so
 * that the interning and the first touch of every array happen during the dump).
 *
 * Every array is its own mapping (a ColumnArray) and goes to JS without a copy.
 */
class DimensionBuilder {
 public:
  /**
   * cidrs: the local side (CIDR_BYTES each, copied). inferred: decide it from the whole table
   * instead; then most of the work waits for finish().
   */
  DimensionBuilder(const uint8_t* cidrs, size_t cidrLen, bool inferred);
  ~DimensionBuilder();
  DimensionBuilder(const DimensionBuilder&) = delete;
  DimensionBuilder& operator=(const DimensionBuilder&) = delete;

  /**
   * Before the first class: room for about this many classes, so that no array moves.
   * interners: size the interners for them too (a finished table of that size), so that none rehashes.
   */
  void reserve(size_t classes, bool interners);

  /**
   * Classes [size(), to) of keys (KEY_BYTES each, the table's keys so far; earlier classes were
   * added by earlier calls). last: no class follows, so each interner can go as soon as its pass
   * is done (on a big finished table, only one of them then exists at a time). Returns the
   * problem when a key is not one a scanner makes, else nullptr.
   */
  const char* addClasses(const uint8_t* keys, size_t to, bool last);

  /**
   * After the last class: the count, packets, bytes and maxTimeout columns from the table's values
   * (VALUE_FIELDS each). A caller that has them as columns already writes them itself instead.
   */
  void setValues(const double* values);

  /**
   * After setValues: everything else, from the table's keys; traffic: sum packets and bytes.
   * keysDone (optional) is called as soon as the keys are no longer read, so that their owner can
   * free them before the per-id sums and ranks take their memory.
   */
  void finish(const uint8_t* keys, bool traffic, const std::function<void()>& keysDone = nullptr);

  size_t size() const { return n_; }

  /** Memory the interners may reuse (a merged table's, once its keys and values are copied out); cleared by finish(). */
  MappingCache& cache() { return cache_; }

  // Per class.
  ColumnArray<uint8_t> family, proto, state, flags;
  ColumnArray<int32_t> dport, src, dst, remote, local, service, srcPrefix, rss;
  ColumnArray<double> count, packets, bytes, maxTimeout;
  // Per id.
  ColumnArray<uint8_t> addrFamily;
  /** 16 bytes per address (IPv4 in the first 4), made by finish(): the text needs no table keys. */
  ColumnArray<uint8_t> addrBytes;
  ColumnArray<double> localCount, addrRank;
  ColumnArray<int32_t> prefixAddr, serviceClass, rssClass;
  ColumnArray<double> prefixRank, serviceRank, rssRank;
  /** Per dimension (DIM_COUNT order); packets and bytes stay empty without traffic. */
  ColumnArray<double> sumCount[DIM_COUNT], sumUnreplied[DIM_COUNT], sumPackets[DIM_COUNT], sumBytes[DIM_COUNT];
  /** Ids with entries, per dimension. */
  double distinct[DIM_COUNT] = {};
  std::vector<double> stateCounts = initialStateCounts();
  std::vector<double> protoCounts = std::vector<double>(256);
  double totals[TOTAL_FIELDS] = {};

 private:
  struct Interners;
  int32_t internAddr(const uint8_t* keys, size_t off, int fam);
  void inferSides();
  void sides(size_t from, size_t to);
  void services(size_t from, size_t to);
  void prefixes(const uint8_t* keys, size_t from, size_t to);
  void remoteServiceStates(size_t from, size_t to);
  /** Zero counts, and -1 (no timeout seen) for every slot's largest timeout. */
  static std::vector<double> initialStateCounts();
  /** The per-id sums and ranks as long as the ids so far (zeros). */
  void growIdArrays();
  /** Bytes the per-id sums and ranks other than addrRank take at their final size. */
  size_t idArrayBytes(bool traffic) const;

  std::vector<uint8_t> cidrs_;
  bool inferred_;
  size_t n_ = 0;
  size_t expected_ = 0;
  size_t v4Classes_ = 0, v6Classes_ = 0;  // classes of each family so far
  /** An interner's size for a finished table (classes of its kind / div), or 0 (grown) for a growing one. */
  size_t sized(size_t classes, size_t div) const { return expected_ > 0 ? classes / div : 0; }
  MappingCache cache_;  // before in_: the interners give their slots back to it
  std::unique_ptr<Interners> in_;
  ColumnArray<double> addrOffset_;    // per address: where its bytes are in the keys, until finish()
  ColumnArray<int8_t> isLocal_;       // per address: 1 local, -1 not (given CIDRs only)
  ColumnArray<uint8_t> anyLocal_;     // per class
  std::vector<double> freq_, peers_;  // per address (inferred only)
};

/**
 * The ids (ascending) that can be among the top n of count, as topCandidates in src/engine/top.ts:
 * above the n-th largest count, or tied with it and ranked at most the k-th smallest tied rank.
 */
std::vector<int32_t> topCandidates(const double* count, const double* rank, size_t m, size_t n);

}  // namespace ctscope
