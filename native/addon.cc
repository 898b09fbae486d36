// The ctscope addon: the NativeAddon interface of src/engine/backend.ts. State lives in one
// CtscopeAddon per Node environment (main thread, each worker thread); nothing is shared.
#include <napi.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "dimensions.h"
#include "dimensions_js.h"
#include "flowtable.h"
#include "js_arrays.h"
#include "js_filter.h"
#include "layout.h"
#include "mapped_file.h"
#include "netlink.h"
#include "tokenizer.h"

namespace ctscope {

namespace {

/** A non-negative integer offset (JS number, at most 2^53). */
double readOffset(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740992.0 || std::floor(d) != d) {
    throw Napi::RangeError::New(env, std::string(what) + " must be a non-negative integer");
  }
  return d;
}


/** The chunk's aggregate as a ChunkAggregate: typed arrays, one copy, no object per key. */
Napi::Object toAggregate(const Napi::Env& env, const Scanner& s) {
  Napi::Object out = Napi::Object::New(env);
  setAggregate(out, s.counters, s.hist, s.table);
  Napi::Array lines = Napi::Array::New(env, s.malformedCount);
  Napi::Array texts = Napi::Array::New(env, s.malformedCount);
  for (int i = 0; i < s.malformedCount; i++) {
    lines.Set(i, Napi::Number::New(env, s.malformedLine[i]));
    napi_value str;
    const napi_status st =
        napi_create_string_latin1(env, reinterpret_cast<const char*>(s.malformedText[i]), s.malformedLen[i], &str);
    NAPI_THROW_IF_FAILED(env, st, Napi::Object());
    texts.Set(i, Napi::Value(env, str));
  }
  out.Set("malformedLines", lines);
  out.Set("malformedText", texts);
  return out;
}

Napi::Array numberArray(const Napi::Env& env, const double* v, size_t n) {
  Napi::Array a = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, v[i]));
  return a;
}

}  // namespace

/**
 * new MergeTable(): chunk tables summed as they arrive (counts, packets and bytes added, the
 * largest timeout kept), keys in first-seen order; take() hands the result over and frees the
 * table, so that neither the chunks nor the native copy outlive the merge. Arguments are checked in TS.
 */
class MergeTable : public Napi::ObjectWrap<MergeTable> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MergeTable",
                       {InstanceMethod("add", &MergeTable::Guarded<&MergeTable::Add>), InstanceMethod("take", &MergeTable::Guarded<&MergeTable::Take>),
                        InstanceMethod("size", &MergeTable::Guarded<&MergeTable::Size>),
                        InstanceMethod("expect", &MergeTable::Guarded<&MergeTable::Expect>),
                        InstanceMethod("dimensions", &MergeTable::Guarded<&MergeTable::Dimensions>)});
  }

  explicit MergeTable(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MergeTable>(info) {}

 private:
  template <Napi::Value (MergeTable::*M)(const Napi::CallbackInfo&)>
  Napi::Value Guarded(const Napi::CallbackInfo& info) {
    return guardedMethod<MergeTable, M>(this, info);
  }

  std::unique_ptr<FlowTable> table_;

  /** add(keys, values): one chunk's table. */
  Napi::Value Add(const Napi::CallbackInfo& info) {
    const Napi::Uint8Array k = info[0].As<Napi::Uint8Array>();
    const Napi::Float64Array v = info[1].As<Napi::Float64Array>();
    const size_t n = k.ElementLength() / KEY_BYTES;
    if (!table_) table_ = std::make_unique<FlowTable>(n < 4096 ? 4096 : n);
    FlowTable& table = *table_;
    alignas(8) uint64_t key[FlowTable::WORDS];
    const uint8_t* kp = k.Data();
    const double* vp = v.Data();
    alignas(8) uint64_t ahead[FlowTable::WORDS];
    constexpr size_t AHEAD = 8;  // the table is far bigger than the cache: request slots early
    for (size_t i = 0; i < n; i++, kp += KEY_BYTES, vp += VALUE_FIELDS) {
      if (i + AHEAD < n) {
        std::memcpy(ahead, kp + AHEAD * KEY_BYTES, KEY_BYTES);
        table.prefetch(FlowTable::hash(ahead));
      }
      std::memcpy(key, kp, KEY_BYTES);
      table.add(key, vp[V_COUNT], vp[V_PACKETS], vp[V_BYTES], vp[V_MAX_TIMEOUT]);
    }
    return info.Env().Undefined();
  }

  /** size(): classes merged so far. */
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(table_ ? table_->size() : 0)); }

  /** expect(classes): grow the index to hold about that many classes now (a guess; checked in TS). */
  Napi::Value Expect(const Napi::CallbackInfo& info) {
    if (table_) table_->expect(static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue()));
    return info.Env().Undefined();
  }

  /**
   * dimensions(inferred, cidrs, traffic): the Dimensions of everything added (as buildDimensions),
   * built here so that the merged table never goes to JS: it is freed as soon as its keys and
   * values are copied out, and those keys as soon as the dimensions stop reading them, before the
   * per-id sums take their memory. The table starts empty again. Arguments are checked in TS.
   */
  Napi::Value Dimensions(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const Napi::Uint8Array cidrs = info[1].As<Napi::Uint8Array>();
    const size_t n = table_ ? table_->size() : 0;
    DimensionBuilder b(cidrs.Data(), cidrs.ElementLength(), info[0].ToBoolean().Value());
    b.reserve(n, true);
    ColumnArray<uint8_t> keys;
    keys.extend(n * KEY_BYTES);
    // Each step hands the memory it is done with to the builder's cache for the next ones: the
    // table's index before its entries are copied out, the entries after, the keys once read.
    if (table_) table_->giveIndex(b.cache());
    for (auto* a : {&b.count, &b.packets, &b.bytes, &b.maxTimeout}) {
      a->reserveFirst(n, &b.cache());
      a->extend(n);
    }
    if (table_) {
      table_->copyKeys(keys.data());
      table_->copyValueColumns(b.count.data(), b.packets.data(), b.bytes.data(), b.maxTimeout.data());
      table_->giveMemory(b.cache());
      table_.reset();
    }
    if (const char* problem = b.addClasses(keys.data(), n, true)) throw Napi::RangeError::New(env, problem);
    b.finish(keys.data(), info[2].ToBoolean().Value(), [&] { b.cache().give(keys.releaseMapping()); });
    return dimensionsObject(env, b);
  }

  /** take(): { keys, values } of everything added since the last take(); the table starts empty again. */
  Napi::Value Take(const Napi::CallbackInfo& info) {
    Napi::Object out = Napi::Object::New(info.Env());
    if (!table_) table_ = std::make_unique<FlowTable>(16);
    setTable(out, *table_);
    table_.reset();
    return out;
  }
};

class CtscopeAddon : public Napi::Addon<CtscopeAddon> {
 public:
  CtscopeAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceMethod("setErrorClasses", &CtscopeAddon::SetErrorClasses),
                             InstanceMethod("scanBuffer", &CtscopeAddon::Guarded<&CtscopeAddon::ScanBuffer>),
                             InstanceMethod("scanFile", &CtscopeAddon::Guarded<&CtscopeAddon::ScanFile>),
                             InstanceMethod("layout", &CtscopeAddon::Layout),
                             InstanceMethod("keepScanMemory", &CtscopeAddon::KeepScanMemory),
                             InstanceMethod("dropScanMemory", &CtscopeAddon::DropScanMemory),
                             InstanceMethod("buildDimensions", &CtscopeAddon::Guarded<&CtscopeAddon::BuildDimensions>),
                             InstanceMethod("topCandidates", &CtscopeAddon::Guarded<&CtscopeAddon::TopCandidates>),
                         });
    exports.Set("MergeTable", MergeTable::Define(env));
    registerNetlink(env, exports);
  }

 private:
  Napi::FunctionReference inputError_;
  // This instance's (this thread's) last scan: its table's memory and size, for the next scan.
  bool keepScanMemory_ = false;
  MappingCache scanMemory_;
  size_t lastClasses_ = 4096;

  template <Napi::Value (CtscopeAddon::*M)(const Napi::CallbackInfo&)>
  Napi::Value Guarded(const Napi::CallbackInfo& info) {
    return guardedMethod<CtscopeAddon, M>(this, info);
  }

  Napi::Value SetErrorClasses(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "setErrorClasses expects { InputError }");
    const Napi::Value ctor = info[0].As<Napi::Object>().Get("InputError");
    if (!ctor.IsFunction()) throw Napi::TypeError::New(env, "setErrorClasses: InputError must be a class");
    inputError_ = Napi::Persistent(ctor.As<Napi::Function>());
    return env.Undefined();
  }

  /** scanBuffer(bytes, start, end, filter): lines of bytes[start, end). */
  Napi::Value ScanBuffer(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, "scanBuffer: bytes must be a Uint8Array");
    }
    const Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
    const double start = readOffset(env, info[1], "start");
    const double end = readOffset(env, info[2], "end");
    if (end > static_cast<double>(bytes.ElementLength())) throw Napi::RangeError::New(env, "scanBuffer: end is past the buffer");
    const Filter filter = readFilter(env, info[3]);
    Scanner scanner(filter, &scanMemory_, lastClasses_);
    if (start < end) {
      const uint8_t* base = bytes.Data();
      scanner.run(base + static_cast<size_t>(start), base + static_cast<size_t>(end));
    }
    return aggregateAndKeep(env, scanner);
  }

  /**
   * The scan's aggregate; then, when keepScanMemory(true) was called, its table's memory is kept
   * for this instance's next scan (a worker scans range after range of a big dump), and nothing
   * more than that.
   */
  Napi::Object aggregateAndKeep(const Napi::Env& env, Scanner& scanner) {
    Napi::Object out = toAggregate(env, scanner);
    if (keepScanMemory_) {
      lastClasses_ = scanner.table.size() < 4096 ? 4096 : scanner.table.size();
      const size_t bytes = scanner.table.mappedBytes();
      scanner.table.giveMemory(scanMemory_);
      scanMemory_.trim(bytes);
    } else {
      scanMemory_.clear();
      lastClasses_ = 4096;
    }
    return out;
  }

  /**
   * keepScanMemory(keep): whether the scans from now on keep their table's memory for the next
   * one. Worth it where scans follow one another (a pool worker with more ranges to come);
   * elsewhere it would stay resident for nothing. The next scan uses what is kept either way.
   */
  Napi::Value KeepScanMemory(const Napi::CallbackInfo& info) {
    keepScanMemory_ = info[0].ToBoolean().Value();
    return info.Env().Undefined();
  }

  /** dropScanMemory(): frees what the last scan kept (a worker with no more ranges coming). */
  Napi::Value DropScanMemory(const Napi::CallbackInfo& info) {
    scanMemory_.clear();
    lastClasses_ = 4096;
    return info.Env().Undefined();
  }

  /**
   * scanFile(path, start, end, filter[, windowBytes]): lines of a regular file's bytes [start, end).
   * windowBytes (tests only) shrinks the mmap window to exercise lines that cross windows.
   */
  Napi::Value ScanFile(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "scanFile: path must be a string");
    const std::string path = info[0].As<Napi::String>().Utf8Value();
    const double start = readOffset(env, info[1], "start");
    const double end = readOffset(env, info[2], "end");
    const Filter filter = readFilter(env, info[3]);
    ScanFileOptions options;
    if (!info[4].IsUndefined()) options.windowBytes = static_cast<size_t>(readOffset(env, info[4], "windowBytes"));
    Scanner scanner(filter, &scanMemory_, lastClasses_);
    try {
      scanFileRange(path, static_cast<uint64_t>(start), static_cast<uint64_t>(end), scanner, options);
    } catch (const InputFailure& err) {
      scanMemory_.clear();
      throw inputError(env, err.what(), err.path);
    }
    return aggregateAndKeep(env, scanner);
  }

  Napi::Error inputError(const Napi::Env& env, const std::string& message, const std::string& path) {
    if (inputError_.IsEmpty()) {
      Napi::Error e = Napi::Error::New(env, message);
      e.Set("path", Napi::String::New(env, path));
      return e;
    }
    const Napi::Object e = inputError_.New({Napi::String::New(env, message), Napi::String::New(env, path)});
    return Napi::Error(env, e);
  }

  /**
   * buildDimensions(keys, values, inferred, cidrs, traffic): the Dimensions of
   * src/engine/dimensions.ts for a merged table. Arguments are checked in TS.
   */
  Napi::Value BuildDimensions(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const Napi::Uint8Array keys = info[0].As<Napi::Uint8Array>();
    const Napi::Float64Array values = info[1].As<Napi::Float64Array>();
    const Napi::Uint8Array cidrs = info[3].As<Napi::Uint8Array>();
    const size_t n = keys.ElementLength() / KEY_BYTES;
    DimensionBuilder b(cidrs.Data(), cidrs.ElementLength(), info[2].ToBoolean().Value());
    b.reserve(n, true);
    if (const char* problem = b.addClasses(keys.Data(), n, true)) throw Napi::RangeError::New(env, problem);
    b.setValues(values.Data());
    b.finish(keys.Data(), info[4].ToBoolean().Value());
    return dimensionsObject(env, b);
  }

  /** topCandidates(count, rank, n): see src/engine/top.ts. Arguments are checked in TS. */
  Napi::Value TopCandidates(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const Napi::Float64Array count = info[0].As<Napi::Float64Array>();
    const Napi::Float64Array rank = info[1].As<Napi::Float64Array>();
    const size_t n = static_cast<size_t>(info[2].As<Napi::Number>().Int64Value());
    const std::vector<int32_t> ids = topCandidates(count.Data(), rank.Data(), count.ElementLength(), n);
    return int32Array(env, ids.data(), ids.size());
  }

  Napi::Value Layout(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    auto num = [&](const char* name, double v) { o.Set(name, Napi::Number::New(env, v)); };
    num("KEY_BYTES", KEY_BYTES);
    num("K_FAMILY", K_FAMILY);
    num("K_PROTO", K_PROTO);
    num("K_STATE", K_STATE);
    num("K_FLAGS", K_FLAGS);
    num("K_DPORT", K_DPORT);
    num("K_SRC", K_SRC);
    num("K_DST", K_DST);
    num("F_UNREPLIED", F_UNREPLIED);
    num("F_ASSURED", F_ASSURED);
    num("F_OFFLOAD", F_OFFLOAD);
    num("F_HW_OFFLOAD", F_HW_OFFLOAD);
    num("F_NAT", F_NAT);
    num("F_HAS_PORT", F_HAS_PORT);
    num("VALUE_FIELDS", VALUE_FIELDS);
    num("V_COUNT", V_COUNT);
    num("V_PACKETS", V_PACKETS);
    num("V_BYTES", V_BYTES);
    num("V_MAX_TIMEOUT", V_MAX_TIMEOUT);
    num("COUNTER_FIELDS", COUNTER_FIELDS);
    num("C_LINES", C_LINES);
    num("C_ENTRIES", C_ENTRIES);
    num("C_MALFORMED", C_MALFORMED);
    num("C_BLANK", C_BLANK);
    num("C_IGNORED", C_IGNORED);
    num("C_DESTROYED", C_DESTROYED);
    num("C_FILTERED", C_FILTERED);
    num("C_ACCT", C_ACCT);
    num("C_FORM_L3", C_FORM_L3);
    num("C_FORM_PLAIN", C_FORM_PLAIN);
    num("C_FORM_XML", C_FORM_XML);
    num("C_EVENTS", C_EVENTS);
    o.Set("HIST_EDGES", numberArray(env, HIST_EDGES, HIST_EDGE_COUNT));
    num("HIST_BUCKETS", HIST_BUCKETS);
    num("HIST_NONE", HIST_NONE);
    num("HIST_FIELDS", HIST_FIELDS);
    num("HIST_ALL", HIST_ALL);
    num("HIST_TCP_ESTABLISHED", HIST_TCP_ESTABLISHED);
    num("MALFORMED_SAMPLES", MALFORMED_SAMPLES);
    num("MALFORMED_SAMPLE_BYTES", MALFORMED_SAMPLE_BYTES);
    num("MAX_TIMEOUT", MAX_TIMEOUT);
    num("MAX_DIGITS", MAX_DIGITS);
    num("STATE_COUNT", STATE_COUNT);
    Napi::Array names = Napi::Array::New(env, STATE_COUNT);
    for (int i = 0; i < STATE_COUNT; i++) names.Set(i, Napi::String::New(env, STATE_NAMES[i]));
    o.Set("STATE_NAMES", names);
    num("S_ESTABLISHED", S_ESTABLISHED);
    num("S_SYN_SENT", S_SYN_SENT);
    num("S_SYN_RECV", S_SYN_RECV);
    num("S_CLOSE_WAIT", S_CLOSE_WAIT);
    num("S_TIME_WAIT", S_TIME_WAIT);
    num("P_ICMP", P_ICMP);
    num("P_TCP", P_TCP);
    num("P_UDP", P_UDP);
    num("P_DCCP", P_DCCP);
    num("P_GRE", P_GRE);
    num("P_ICMPV6", P_ICMPV6);
    num("P_SCTP", P_SCTP);
    num("P_UDPLITE", P_UDPLITE);
    num("CIDR_BYTES", CIDR_BYTES);
    // STATE_ALLOWED as in layout.ts: allowed[proto * STATE_COUNT + state].
    Napi::Uint8Array allowed = Napi::Uint8Array::New(env, 256 * STATE_COUNT);
    for (int p = 0; p < 256; p++) {
      for (int s = 0; s < STATE_COUNT; s++) allowed[static_cast<size_t>(p * STATE_COUNT + s)] = stateAllowed(p, s) ? 1 : 0;
    }
    o.Set("STATE_ALLOWED", allowed);
    return o;
  }
};

}  // namespace ctscope

using ctscope::CtscopeAddon;
NODE_API_ADDON(CtscopeAddon)
