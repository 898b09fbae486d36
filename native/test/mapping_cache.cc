// MappingCache and MappedArray over reused memory: pieces handed out are zero-filled and carved
// from the front of the best fit, pieces that meet again join, trim() keeps no more than asked,
// and an array grown past a piece that spans two kernel mappings keeps its contents. Built and run
// by test/native-mapping-cache.test.ts. Prints one "ok ..." line per check; exit 0 when all pass.
#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../flowtable.h"

using ctscope::Mapping;
using ctscope::MappedArray;
using ctscope::MappingCache;

namespace {

constexpr size_t MB = size_t{1} << 20;
int failures = 0;

void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok" : "FAIL", what);
  if (!ok) failures++;
}

bool allZero(const void* p, size_t n) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; i++) {
    if (b[i] != 0) return false;
  }
  return true;
}

/** A fresh mapping of bytes filled with 0xab, as a table leaves its memory. */
Mapping dirty(size_t bytes) {
  Mapping m = Mapping::fresh(bytes, false);
  std::memset(m.data(), 0xab, bytes);
  return m;
}

}  // namespace

int main() {
  {
    MappingCache c;
    Mapping m = dirty(8 * MB);
    char* base = static_cast<char*>(m.data());
    c.give(std::move(m));
    Mapping a = c.reuse(3 * MB);
    check(a.data() == base && a.bytes() == 3 * MB && allZero(a.data(), 3 * MB), "a reused piece is the front of the mapping, zero-filled");
    check(c.keptBytes() == 5 * MB && c.keptPieces() == 1, "the rest of the mapping stays kept");
    Mapping b = c.reuse(6 * MB);
    check(b.data() == nullptr && c.keptBytes() == 5 * MB, "a request bigger than every kept piece gets nothing");
    Mapping d = c.reuse(5 * MB - 4096);
    check(d.data() == base + 3 * MB && d.bytes() == 5 * MB && allZero(d.data(), d.bytes()),
          "the next piece follows the first, whole when what would be left is under 1 MB");
    check(c.keptPieces() == 0, "nothing is left kept");
    std::memset(a.data(), 1, a.bytes());
    c.give(std::move(d));
    c.give(std::move(a));
    check(c.keptPieces() == 1 && c.keptBytes() == 8 * MB, "pieces that meet again are one");
    Mapping all = c.reuse(8 * MB);
    check(all.data() == base && allZero(all.data(), all.bytes()), "the joined piece serves a request as big as both");
  }
  {
    MappingCache c;
    c.give(dirty(2 * MB));
    c.give(dirty(6 * MB));
    Mapping a = c.reuse(1 * MB);
    check(a.bytes() == 1 * MB && c.keptBytes() == 7 * MB, "the smallest piece that fits is used");
    c.give(Mapping::fresh(512 * 1024, false));
    check(c.keptBytes() == 7 * MB, "pieces under 1 MB are unmapped, not kept");
    c.trim(3 * MB);
    check(c.keptBytes() == 3 * MB && c.keptPieces() == 1, "trim keeps the biggest piece, cut to size");
    c.trim(0);
    check(c.keptBytes() == 0, "trim(0) keeps nothing");
    Mapping t = c.take(2 * MB, false);
    check(t.data() != nullptr && t.bytes() == 2 * MB && allZero(t.data(), t.bytes()), "take falls back to a fresh mapping");
  }
  {
    // Two kernel mappings side by side with different advice: one piece to the cache, which
    // mremap cannot move. The array must copy instead, keeping its elements and its zeros.
    char* area = static_cast<char*>(mmap(nullptr, 4 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    check(area != MAP_FAILED, "mapped a scratch area");
    madvise(area, 2 * MB, MADV_RANDOM);
    madvise(area + 2 * MB, 2 * MB, MADV_SEQUENTIAL);
    MappingCache c;
    c.give(Mapping(area + 2 * MB, 2 * MB));
    c.give(Mapping(area, 2 * MB));
    check(c.keptPieces() == 1, "the two halves joined");
    MappedArray<uint32_t, false> arr;
    arr.reserve(MB, &c);  // exactly the 4 MB piece
    check(arr.data() == reinterpret_cast<uint32_t*>(area), "the array took the joined piece");
    uint32_t* p = arr.extend(MB);
    for (size_t i = 0; i < MB; i++) p[i] = static_cast<uint32_t>(i * 7);
    arr.reserve(3 * MB);
    bool same = true;
    for (size_t i = 0; i < MB; i++) same = same && arr[i] == static_cast<uint32_t>(i * 7);
    check(same, "growing past a piece of two mappings keeps the elements");
    uint32_t* more = arr.extend(2 * MB);
    check(allZero(more, 2 * MB * sizeof(uint32_t)), "and the new elements are zero");
  }
  std::printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
