// libFuzzer target for the native tokenizer (built by scripts/fuzz.sh with ASan and UBSan).
//
// Besides "no crash, no out-of-bounds read, no undefined behaviour", every input is checked
// against invariants that hold for any bytes:
//   - every line lands in exactly one outcome, and the line count is the newline count (+1 for
//     an unterminated last line);
//   - per-class counts and both histograms add up to the entries;
//   - scanning the input in two runs split after a newline gives the identical aggregate (the
//     mmap windows rely on this), and so does scanning it as a file through tiny mmap windows.
// The filter is derived from the input's hash, so a corpus of plain text still varies it.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../layout.h"
#include "../mapped_file.h"
#include "../tokenizer.h"

using ctscope::Filter;
using ctscope::OwnedFilter;
using ctscope::Scanner;

namespace {

void fail(const char* what) {
  std::fprintf(stderr, "fuzz_tokenizer: invariant broken: %s\n", what);
  std::abort();
}

uint64_t fnv(const uint8_t* d, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ d[i]) * 1099511628211ULL;
  return h;
}

/** A filter chosen by the hash bits: empty most of the time, every field sometimes. */
OwnedFilter filterFor(uint64_t h) {
  OwnedFilter f;
  if ((h & 3) != 0) return f;
  h >>= 2;
  if (h & 1) {
    f.proto.assign(256, 0);
    for (int p : {1, 2, 6, 17, 33, 47, 58, 132, 136}) f.proto[p] = (h >> (p % 13)) & 1;
  }
  if (h & 2) {
    f.state.assign(ctscope::STATE_COUNT, 0);
    for (int i = 0; i < ctscope::STATE_COUNT; i++) f.state[i] = (h >> (i % 17)) & 1;
  }
  if (h & 4) {
    f.port.assign(65536, 0);
    for (int p : {0, 1, 22, 53, 80, 443, 5228, 8080, 65535}) f.port[p] = 1;
  }
  for (std::vector<uint8_t>* list : {&f.src, &f.dst}) {
    if ((h & 8) == 0) continue;
    h >>= 4;
    const uint8_t entries[][18] = {
        {4, 8, 10, 0, 0, 0},
        {4, static_cast<uint8_t>(h % 33), 1, 2, 3, 4},
        {6, 32, 0x20, 0x01, 0x0d, 0xb8},
        {6, static_cast<uint8_t>(h % 129), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    };
    for (const auto& e : entries) list->insert(list->end(), e, e + 18);
  }
  return f;
}

bool sameAggregate(const Scanner& a, const Scanner& b) {
  if (std::memcmp(a.counters, b.counters, sizeof a.counters) != 0) return false;
  if (std::memcmp(a.hist, b.hist, sizeof a.hist) != 0) return false;
  const size_t n = a.table.size();
  if (n != b.table.size()) return false;
  if (n > 0 && std::memcmp(a.table.keyBytes(), b.table.keyBytes(), n * ctscope::KEY_BYTES) != 0) return false;
  if (n > 0 && std::memcmp(a.table.values(), b.table.values(), n * ctscope::VALUE_FIELDS * sizeof(double)) != 0) return false;
  if (a.malformedCount != b.malformedCount) return false;
  for (int i = 0; i < a.malformedCount; i++) {
    if (a.malformedLine[i] != b.malformedLine[i] || a.malformedLen[i] != b.malformedLen[i]) return false;
    if (std::memcmp(a.malformedText[i], b.malformedText[i], a.malformedLen[i]) != 0) return false;
  }
  return true;
}

void checkInvariants(const Scanner& s, const uint8_t* data, size_t size) {
  using namespace ctscope;
  const double* c = s.counters;
  size_t newlines = 0;
  for (size_t i = 0; i < size; i++) newlines += data[i] == '\n';
  const double lines = static_cast<double>(newlines + (size > 0 && data[size - 1] != '\n' ? 1 : 0));
  if (c[C_LINES] != lines) fail("line count");
  if (c[C_ENTRIES] + c[C_DESTROYED] + c[C_FILTERED] + c[C_MALFORMED] + c[C_BLANK] + c[C_IGNORED] != c[C_LINES]) fail("outcomes");
  if (c[C_FORM_L3] + c[C_FORM_PLAIN] + c[C_FORM_XML] != c[C_ENTRIES] + c[C_DESTROYED] + c[C_FILTERED]) fail("forms");
  if (c[C_EVENTS] > c[C_ENTRIES] || c[C_ACCT] > c[C_ENTRIES]) fail("events/acct");
  double all = 0;
  double est = 0;
  for (int i = 0; i < HIST_BUCKETS; i++) {
    all += s.hist[HIST_ALL + i];
    est += s.hist[HIST_TCP_ESTABLISHED + i];
  }
  if (all != c[C_ENTRIES] || est > all) fail("histograms");
  double count = 0;
  const size_t n = s.table.size();
  if (static_cast<double>(n) > c[C_ENTRIES]) fail("more classes than entries");
  for (size_t i = 0; i < n; i++) {
    const uint8_t* k = s.table.keyBytes() + i * KEY_BYTES;
    const double* v = s.table.values() + i * VALUE_FIELDS;
    if (k[K_FAMILY] != 4 && k[K_FAMILY] != 6) fail("family");
    if (k[K_STATE] >= STATE_COUNT || (k[K_STATE] != 0 && !stateAllowed(k[K_PROTO], k[K_STATE]))) fail("state");
    if (((k[K_FLAGS] & F_HAS_PORT) != 0) != hasPorts(k[K_PROTO])) fail("port flag");
    if (k[6] != 0 || k[7] != 0) fail("key padding");
    if (k[K_FAMILY] == 4) {
      for (int j = 4; j < 16; j++) {
        if (k[K_SRC + j] != 0 || k[K_DST + j] != 0) fail("IPv4 padding");
      }
    }
    if (v[V_COUNT] < 1 || v[V_MAX_TIMEOUT] < -1 || v[V_MAX_TIMEOUT] > MAX_TIMEOUT) fail("values");
    count += v[V_COUNT];
  }
  if (count != c[C_ENTRIES]) fail("class counts");
  if (s.malformedCount != (c[C_MALFORMED] < MALFORMED_SAMPLES ? c[C_MALFORMED] : MALFORMED_SAMPLES)) fail("samples");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint64_t h = fnv(data, size);
  const OwnedFilter owned = filterFor(h);
  const Filter filter = owned.view();
  if (ctscope::validateFilter(filter) != nullptr) fail("generated filter rejected");

  Scanner whole(filter);
  whole.run(data, data + size);
  checkInvariants(whole, data, size);

  // Two runs split just after a newline behave as one.
  const uint8_t* cut = size > 0 ? static_cast<const uint8_t*>(std::memchr(data + (h >> 8) % size, '\n', size - (h >> 8) % size)) : nullptr;
  if (cut != nullptr) {
    Scanner split(filter);
    split.run(data, cut + 1);
    split.run(cut + 1, data + size);
    if (!sameAggregate(whole, split)) fail("split at a newline changed the result");
  }

  // Through the mmap path with the smallest windows, on one input in eight.
  if (((h >> 40) & 7) == 0 && size > 0) {
    const int fd = memfd_create("fuzz", 0);
    if (fd < 0) return 0;
    size_t off = 0;
    while (off < size) {
      const ssize_t w = write(fd, data + off, size - off);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    Scanner mapped(filter);
    ctscope::ScanFileOptions options;
    options.windowBytes = 8192;
    ctscope::scanFileRange("/proc/self/fd/" + std::to_string(fd), 0, size, mapped, options);
    close(fd);
    if (!sameAggregate(whole, mapped)) fail("scanFileRange differs from run()");
  }
  return 0;
}
