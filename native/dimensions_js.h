// A DimensionBuilder's result as the Dimensions object of src/engine/dimensions.ts, for both the
// addon's buildDimensions and the ctnetlink dump.
#pragma once

#include <napi.h>

#include "dimensions.h"
#include "js_arrays.h"

namespace ctscope {

/** The Dimensions of src/engine/dimensions.ts: the builder's arrays, handed over without a copy. */
inline Napi::Object dimensionsObject(const Napi::Env& env, DimensionBuilder& t) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("family", handOver(env, t.family));
  out.Set("proto", handOver(env, t.proto));
  out.Set("state", handOver(env, t.state));
  out.Set("flags", handOver(env, t.flags));
  out.Set("dport", handOver(env, t.dport));
  out.Set("src", handOver(env, t.src));
  out.Set("dst", handOver(env, t.dst));
  out.Set("remote", handOver(env, t.remote));
  out.Set("local", handOver(env, t.local));
  out.Set("service", handOver(env, t.service));
  out.Set("srcPrefix", handOver(env, t.srcPrefix));
  out.Set("rss", handOver(env, t.rss));
  out.Set("count", handOver(env, t.count));
  out.Set("packets", handOver(env, t.packets));
  out.Set("bytes", handOver(env, t.bytes));
  out.Set("maxTimeout", handOver(env, t.maxTimeout));
  out.Set("addrFamily", handOver(env, t.addrFamily));
  out.Set("addrBytes", handOver(env, t.addrBytes));
  out.Set("localCount", handOver(env, t.localCount));
  out.Set("prefixAddr", handOver(env, t.prefixAddr));
  out.Set("serviceClass", handOver(env, t.serviceClass));
  out.Set("rssClass", handOver(env, t.rssClass));
  out.Set("addrRank", handOver(env, t.addrRank));
  out.Set("prefixRank", handOver(env, t.prefixRank));
  out.Set("serviceRank", handOver(env, t.serviceRank));
  out.Set("rssRank", handOver(env, t.rssRank));
  Napi::Object sums = Napi::Object::New(env);
  for (int d = 0; d < DIM_COUNT; d++) {
    Napi::Object s = Napi::Object::New(env);
    s.Set("count", handOver(env, t.sumCount[d]));
    s.Set("packets", handOver(env, t.sumPackets[d]));
    s.Set("bytes", handOver(env, t.sumBytes[d]));
    s.Set("unreplied", handOver(env, t.sumUnreplied[d]));
    sums.Set(DIM_NAMES[d], s);
  }
  out.Set("sums", sums);
  out.Set("distinct", float64Array(env, t.distinct, DIM_COUNT));
  out.Set("stateCounts", float64Array(env, t.stateCounts.data(), t.stateCounts.size()));
  out.Set("protoCounts", float64Array(env, t.protoCounts.data(), t.protoCounts.size()));
  out.Set("totals", float64Array(env, t.totals, TOTAL_FIELDS));
  return out;
}

}  // namespace ctscope
