// The CompiledFilter of src/engine/contract.ts read from JS: views of its Uint8Arrays, checked
// once here for every entry point that takes a filter.
#pragma once

#include <napi.h>

#include <string>

#include "tokenizer.h"

namespace ctscope {

/** A Uint8Array property of the filter object, or an empty view when absent. */
inline void filterField(const Napi::Object& filter, const char* name, const uint8_t*& data, size_t& len) {
  const Napi::Value v = filter.Get(name);
  if (v.IsUndefined()) {
    data = nullptr;
    len = 0;
    return;
  }
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(filter.Env(), std::string("filter.") + name + " must be a Uint8Array");
  }
  const Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  data = a.Data();
  len = a.ElementLength();
}

inline Filter readFilter(const Napi::Env& env, const Napi::Value& v) {
  Filter f;
  if (v.IsUndefined() || v.IsNull()) return f;
  if (!v.IsObject()) throw Napi::TypeError::New(env, "filter must be a CompiledFilter object");
  const Napi::Object o = v.As<Napi::Object>();
  filterField(o, "protoMask", f.proto, f.protoLen);
  filterField(o, "stateMask", f.state, f.stateLen);
  filterField(o, "portMask", f.port, f.portLen);
  filterField(o, "src", f.src, f.srcLen);
  filterField(o, "dst", f.dst, f.dstLen);
  if (const char* problem = validateFilter(f)) throw Napi::TypeError::New(env, problem);
  return f;
}

/** readFilter, with its bytes copied: for work that outlives the call (the async dump). */
inline OwnedFilter readOwnedFilter(const Napi::Env& env, const Napi::Value& v) {
  const Filter f = readFilter(env, v);
  OwnedFilter o;
  o.proto.assign(f.proto, f.proto + f.protoLen);
  o.state.assign(f.state, f.state + f.stateLen);
  o.port.assign(f.port, f.port + f.portLen);
  o.src.assign(f.src, f.src + f.srcLen);
  o.dst.assign(f.dst, f.dst + f.dstLen);
  return o;
}

}  // namespace ctscope
