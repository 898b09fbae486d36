// Typed arrays handed to JS: the fields every ChunkAggregate producer (file and buffer scans, the
// ctnetlink dump, the merge) fills the same way. One copy each, no JS object per key.
#pragma once

#include <napi.h>

#include <cstring>
#include <memory>
#include <new>

#include "flowtable.h"
#include "layout.h"

namespace ctscope {

inline Napi::Float64Array float64Array(const Napi::Env& env, const double* data, size_t n) {
  Napi::Float64Array a = Napi::Float64Array::New(env, n);
  if (n > 0) std::memcpy(a.Data(), data, n * sizeof(double));
  return a;
}

inline Napi::Int32Array int32Array(const Napi::Env& env, const int32_t* data, size_t n) {
  Napi::Int32Array a = Napi::Int32Array::New(env, n);
  if (n > 0) std::memcpy(a.Data(), data, n * sizeof(int32_t));
  return a;
}

/**
 * The array's mapping as a JS typed array, without a copy: the pages it touched while it grew are
 * the JS array's pages, and the mapping is unmapped when JS collects it. The array is left empty.
 */
template <typename T, bool huge>
Napi::TypedArrayOf<T> handOver(const Napi::Env& env, MappedArray<T, huge>& a) {
  const size_t n = a.size();
  if (n == 0) return Napi::TypedArrayOf<T>::New(env, 0);
  auto hint = std::make_unique<size_t>(0);  // before the release: nothing can throw after it but the buffer
  T* p = a.release(*hint);
  const size_t mapped = *hint;
  Napi::ArrayBuffer buf;
  try {
    buf = Napi::ArrayBuffer::New(
        env, p, n * sizeof(T),
        [](Napi::Env, void* data, size_t* bytes) {
          munmap(data, *bytes);
          delete bytes;
        },
        hint.get());
    hint.release();  // owned by the finalizer now
  } catch (const Napi::Error&) {
    // A runtime without external buffers: one copy instead.
    Napi::TypedArrayOf<T> copy = Napi::TypedArrayOf<T>::New(env, n);
    std::memcpy(copy.Data(), p, n * sizeof(T));
    munmap(p, mapped);
    return copy;
  }
  return Napi::TypedArrayOf<T>::New(env, n, buf, 0);
}

/**
 * An entry point that turns an allocation failure into a JS error: any other C++ exception than
 * Napi::Error would end the process (std::terminate) instead of failing the call.
 */
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "ctscope addon: out of memory");
  }
}

/** guarded() for the methods of an addon or wrapped class T. */
template <typename T, Napi::Value (T::*M)(const Napi::CallbackInfo&)>
Napi::Value guardedMethod(T* self, const Napi::CallbackInfo& info) {
  try {
    return (self->*M)(info);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "ctscope addon: out of memory");
  }
}

/** out.keys and out.values: the table's flow classes in first-seen order. */
inline void setTable(Napi::Object& out, const FlowTable& table) {
  const Napi::Env env = out.Env();
  const size_t n = table.size();
  // Big arrays are usually fresh pages from the runtime's allocator: commit them in one call
  // before the copy writes them end to end, rather than a page fault per page.
  Napi::Uint8Array keys = Napi::Uint8Array::New(env, n * KEY_BYTES);
  populate(keys.Data(), keys.ByteLength());
  table.copyKeys(keys.Data());
  out.Set("keys", keys);
  Napi::Float64Array values = Napi::Float64Array::New(env, n * VALUE_FIELDS);
  populate(values.Data(), values.ByteLength());
  table.copyValues(values.Data());
  out.Set("values", values);
}

/** counters, hist, keys and values of a ChunkAggregate (src/engine/contract.ts). */
inline void setAggregate(Napi::Object& out, const double* counters, const double* hist, const FlowTable& table) {
  out.Set("counters", float64Array(out.Env(), counters, COUNTER_FIELDS));
  out.Set("hist", float64Array(out.Env(), hist, HIST_FIELDS));
  setTable(out, table);
}

}  // namespace ctscope
