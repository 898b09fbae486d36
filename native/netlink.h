// The live table over ctnetlink: the dump `conntrack -L` uses (IPCTNL_MSG_CT_GET with NLM_F_DUMP),
// the global count and the per-CPU statistics. Conntrack messages are reduced to the same flow-class
// keys, values, counters and histograms as the text tokenizer, so a dump aggregates exactly like the
// /proc/net/nf_conntrack text of the same table. Read-only: only GET requests are ever sent.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dimensions.h"
#include "flowtable.h"
#include "layout.h"
#include "tokenizer.h"

namespace ctscope {

/**
 * A dump's table as it grows, beside its FlowTable: the keys of new classes in dense order (the
 * JS keys array, without a copy), room for their values, and, when the local side is known, the
 * dimensions built a datagram at a time while the kernel formats the next ones.
 */
struct DumpTable {
  ColumnArray<uint8_t> keys;
  ColumnArray<double> values;
  std::unique_ptr<DimensionBuilder> dims;

  /**
   * Room for about this many classes (the table's entry count, filters aside), before the first:
   * mapped only, committed where written. The interners still start small and grow: sized for the
   * worst case, they would be cleared whole at once.
   */
  void reserve(size_t classes) {
    keys.reserve(classes * KEY_BYTES);
    values.reserve(classes * VALUE_FIELDS);
    if (dims) dims->reserve(classes, false);
  }

  void addClass(const uint8_t* key) {
    std::memcpy(keys.extend(KEY_BYTES), key, KEY_BYTES);
    values.extend(VALUE_FIELDS);
  }

  /**
   * The classes added since the last call, to the dimensions (after each buffer of messages). Keys
   * the builder refuses (none a dump makes) drop the dimensions, not the dump.
   */
  void flush() {
    if (dims && dims->addClasses(keys.data(), keys.size() / KEY_BYTES, false) != nullptr) dims.reset();
  }

  /** After the last message: the final values from the table, whose classes these are. False when they are not. */
  bool finish(const FlowTable& table, bool traffic) {
    flush();
    if (table.size() * KEY_BYTES != keys.size()) return false;
    table.copyValues(values.data());
    if (dims) {
      dims->setValues(values.data());
      dims->finish(keys.data(), traffic);
    }
    return true;
  }
};

/** One chunk's aggregate built from conntrack messages; same fields as Scanner's. */
struct CtAggregate {
  explicit CtAggregate(const Filter& f) : filter(f) {}
  Filter filter;
  double counters[COUNTER_FIELDS] = {};
  double hist[HIST_FIELDS] = {};
  FlowTable table;
  /** Conntrack messages seen; the "line" number of a malformed one. */
  double messages = 0;
  int malformedCount = 0;
  double malformedLine[MALFORMED_SAMPLES] = {};
  std::string malformedText[MALFORMED_SAMPLES];
  /** When set, told of every new class as the table grows. */
  std::unique_ptr<DumpTable> dumpTable;
};

/** What one buffer of netlink messages said besides conntrack entries. */
struct ParseStatus {
  /** NLMSG_DONE was seen: the dump is complete. */
  bool done = false;
  /** A positive errno from an NLMSG_ERROR message (0 when none; an ACK is 0). */
  int error = 0;
  /** An NLMSG_ERROR message (error or ACK) was seen. */
  bool acked = false;
};

/**
 * Parse concatenated netlink messages (each at an NLMSG_ALIGN boundary) and add every conntrack
 * entry message to agg. Pure: no system call, safe on recorded bytes; never reads outside [buf, buf+len).
 */
ParseStatus parseConntrackMessages(const uint8_t* buf, size_t len, CtAggregate& agg);

/** A failed netlink exchange: the errno and the step that failed. */
struct NetlinkFailure {
  int error = 0;
  std::string step;
};

/**
 * Dump the current network namespace's table. Entries go to agg when given; the received bytes are
 * appended to raw when given (each datagram padded to 4 bytes, so the result parses as one buffer).
 */
bool dumpConntrack(CtAggregate* agg, std::vector<uint8_t>* raw, NetlinkFailure& fail);

/** nf_conntrack_count of the current namespace (IPCTNL_MSG_CT_GET_STATS). */
bool conntrackCount(double& count, double& max, NetlinkFailure& fail);

/** Per-CPU statistics (IPCTNL_MSG_CT_GET_STATS_CPU), names as `conntrack -S` prints them. */
struct CpuStats {
  int cpu = 0;
  std::vector<std::pair<const char*, double>> values;
};
bool conntrackCpuStats(std::vector<CpuStats>& out, NetlinkFailure& fail);

/** Adds netlinkDump, netlinkDumpRaw, netlinkParse, netlinkCount and netlinkCpuStats to the exports. */
void registerNetlink(Napi::Env env, Napi::Object exports);

}  // namespace ctscope
