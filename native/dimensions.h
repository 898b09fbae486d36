// The dimensions of a merged flow-class table: src/engine/dimensions.ts, decision for decision
// and addition for addition, so that test/dimensions.test.ts can hold the two equal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "flowtable.h"
#include "layout.h"

namespace ctscope {

/** Slots per protocol in stateCounts, fields per slot, and the totals: as in dimensions.ts. */
constexpr int STATE_SLOTS = 32;
constexpr int STATE_COUNT_FIELDS = 4;
constexpr int TOTAL_FIELDS = 6;
constexpr int T_IPV4 = 0;
constexpr int T_IPV6 = 1;
constexpr int T_UNREPLIED = 2;
constexpr int T_ASSURED = 3;
constexpr int T_OFFLOADED = 4;
constexpr int T_NATTED = 5;

/** The dimensions' order in `sums`: src, dst, remote, service, src_prefix, remote_service_state. */
constexpr int DIM_COUNT = 6;

/**
 * Where the sums of one dimension go, one double per id in each array, zero on entry (JS typed
 * arrays, written in place). packets and bytes are null when the input carried no counters.
 */
struct SumArrays {
  double* count;
  double* unreplied;
  double* packets;
  double* bytes;
};

/** Per-class columns, written in place (n entries each, allocated by the caller as JS typed arrays). */
struct ClassColumns {
  uint8_t* family;
  uint8_t* proto;
  uint8_t* state;
  uint8_t* flags;
  int32_t* dport;
  int32_t* src;
  int32_t* dst;
  int32_t* remote;
  int32_t* local;
  int32_t* service;
  int32_t* srcPrefix;
  int32_t* rss;
  double* count;
  double* packets;
  double* bytes;
  double* maxTimeout;
};

/** Everything whose size is only known at the end. */
struct IdColumns {
  TableVector<uint8_t> addrFamily;
  TableVector<double> addrOffset;
  TableVector<double> localCount;
  TableVector<int32_t> prefixAddr;
  TableVector<int32_t> serviceClass;
  TableVector<int32_t> rssClass;
  /** Ids per dimension (the size of its sums). */
  size_t sumSizes[DIM_COUNT] = {};
  std::vector<double> stateCounts = std::vector<double>(256 * STATE_SLOTS * STATE_COUNT_FIELDS);
  std::vector<double> protoCounts = std::vector<double>(256);
  double totals[TOTAL_FIELDS] = {};
};

struct DimensionsInput {
  const uint8_t* keys;
  const double* values;
  size_t n;
  /** Local side inferred from the table; otherwise decided by the CIDRs (CIDR_BYTES each). */
  bool inferred;
  const uint8_t* cidrs;
  size_t cidrLen;
  /** Sum packets and bytes per id. */
  bool traffic;
};

/** Fills out and ids; returns the problem when a key is not one a scanner makes, else nullptr. */
const char* buildDimensions(const DimensionsInput& in, const ClassColumns& out, IdColumns& ids);

/**
 * Sums of dimension d (in DIM_COUNT order) per id, after buildDimensions filled out and ids: into
 * arrays of ids.sumSizes[d] doubles, so that they need no copy to become JS arrays.
 */
void sumDimension(const DimensionsInput& in, const ClassColumns& out, int d, const SumArrays& sums);

/** Where the tie ranks go (JS typed arrays of the sizes in IdColumns), as in dimensions.ts. */
struct RankArrays {
  double* addr;
  double* prefix;
  double* service;
  double* rss;
};

/** The tie ranks of src/engine/dimensions.ts, after buildDimensions filled out and ids. */
void tieRanks(const DimensionsInput& in, const ClassColumns& out, const IdColumns& ids, const RankArrays& ranks);

/**
 * The ids (ascending) that can be among the top n of count, as topCandidates in src/engine/top.ts:
 * above the n-th largest count, or tied with it and ranked at most the k-th smallest tied rank.
 */
std::vector<int32_t> topCandidates(const double* count, const double* rank, size_t m, size_t n);

}  // namespace ctscope
