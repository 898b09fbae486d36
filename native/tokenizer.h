// The native tokenizer: the grammar of src/parse/tokenizer.ts, byte for byte. One Scanner
// aggregates one chunk; run() may be called several times with consecutive whole-line ranges
// (mmap windows) and behaves as one call over their concatenation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "flowtable.h"
#include "layout.h"

namespace ctscope {

/** A CompiledFilter (src/engine/contract.ts) as borrowed views; a length of 0 means "no filter". */
struct Filter {
  const uint8_t* proto = nullptr;  // 256 bytes
  size_t protoLen = 0;
  const uint8_t* state = nullptr;  // STATE_COUNT bytes
  size_t stateLen = 0;
  const uint8_t* port = nullptr;  // 65536 bytes
  size_t portLen = 0;
  const uint8_t* src = nullptr;  // n * CIDR_BYTES
  size_t srcLen = 0;
  const uint8_t* dst = nullptr;
  size_t dstLen = 0;
};

/** A filter that owns its bytes (a dump off the main thread, the fuzzer); view() borrows them. */
struct OwnedFilter {
  std::vector<uint8_t> proto, state, port, src, dst;
  Filter view() const {
    Filter f;
    f.proto = proto.data();
    f.protoLen = proto.size();
    f.state = state.data();
    f.stateLen = state.size();
    f.port = port.data();
    f.portLen = port.size();
    f.src = src.data();
    f.srcLen = src.size();
    f.dst = dst.data();
    f.dstLen = dst.size();
    return f;
  }
};

/** Is the address (16 bytes) of this family inside one of the CIDRs of list (CIDR_BYTES each)? */
bool cidrMatch(const uint8_t* list, size_t len, int family, const uint8_t* addr);

/** Checks the sizes the scanner relies on; returns the problem, or nullptr when the filter is usable. */
const char* validateFilter(const Filter& f);

/**
 * The rest of a flow class key once its addresses are at K_SRC and K_DST, the same for text lines
 * and ctnetlink messages: family, protocol, state, flags (F_HAS_PORT; F_NAT when the reply tuple
 * is not the original one inverted) and the destination port.
 */
inline void finishKey(uint8_t* key, int fam, int proto, int state, int flags, bool ports, int sport1, int dport1, int sport2,
                      int dport2, const uint8_t* replySrc, const uint8_t* replyDst) {
  key[K_FAMILY] = static_cast<uint8_t>(fam);
  key[K_PROTO] = static_cast<uint8_t>(proto);
  key[K_STATE] = static_cast<uint8_t>(state);
  if (ports) flags |= F_HAS_PORT;
  bool nat = ports && (sport2 != dport1 || dport2 != sport1);
  if (!nat) nat = std::memcmp(replySrc, key + K_DST, 16) != 0 || std::memcmp(replyDst, key + K_SRC, 16) != 0;
  if (nat) flags |= F_NAT;
  key[K_FLAGS] = static_cast<uint8_t>(flags);
  const int dport = ports ? dport1 : 0;
  key[K_DPORT] = static_cast<uint8_t>(dport >> 8);
  key[K_DPORT + 1] = static_cast<uint8_t>(dport & 255);
  key[6] = 0;
  key[7] = 0;
}

/** Does the entry (its finished key and original ports) pass the filter? */
inline bool filterPasses(const Filter& f, const uint8_t* key, bool ports, int sport, int dport) {
  const int fam = key[K_FAMILY];
  return !((f.protoLen > 0 && f.proto[key[K_PROTO]] != 1) || (f.stateLen > 0 && f.state[key[K_STATE]] != 1) ||
           (f.portLen > 0 && !(ports && (f.port[sport] == 1 || f.port[dport] == 1))) ||
           (f.srcLen > 0 && !cidrMatch(f.src, f.srcLen, fam, key + K_SRC)) ||
           (f.dstLen > 0 && !cidrMatch(f.dst, f.dstLen, fam, key + K_DST)));
}

class Scanner {
 public:
  /**
   * cache (optional, outlives the scanner): memory an earlier scan's table left, for this one's.
   * expectedClasses: the table's first size (a guess; it grows as needed).
   */
  explicit Scanner(const Filter& filter, MappingCache* cache = nullptr, size_t expectedClasses = 4096)
      : table(expectedClasses, cache), filter_(filter) {}
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  /** Scan whole lines in [p, end). Never reads outside that range. */
  void run(const uint8_t* p, const uint8_t* end);

  double counters[COUNTER_FIELDS] = {};
  double hist[HIST_FIELDS] = {};
  FlowTable table;
  int malformedCount = 0;
  double malformedLine[MALFORMED_SAMPLES] = {};
  uint16_t malformedLen[MALFORMED_SAMPLES] = {};
  uint8_t malformedText[MALFORMED_SAMPLES][MALFORMED_SAMPLE_BYTES];

 private:
  int line(const uint8_t* ls, const uint8_t* le);
  int text(const uint8_t* p, const uint8_t* e);
  const uint8_t* head(const uint8_t* p, const uint8_t* e, int& form);
  static size_t headSlot(const uint8_t* p);
  bool sameBytes(const uint8_t* p, const uint8_t* bytes, ptrdiff_t n) const;
  int xml(const uint8_t* p, const uint8_t* e);
  const uint8_t* attrs(const uint8_t* p, const uint8_t* e);
  int finish(int form);
  bool setAddr(const uint8_t* s, const uint8_t* e, bool isSrc);
  bool setField(int bit, const uint8_t* s, const uint8_t* e);
  void reset();
  void commitOldest();
  void commitAll();

  const Filter filter_;
  // The range given to run(): word-at-a-time reads stay inside it.
  const uint8_t* lo_ = nullptr;
  const uint8_t* hi_ = nullptr;
  double lineNo_ = 0;

  alignas(8) uint8_t key_[KEY_BYTES] = {};

  // Entries of the previous lines, added to the table in order a little later: meanwhile their
  // table slots are prefetched (a table of many classes misses the cache on nearly every probe).
  // Insertion order, and so the output, is unchanged.
  struct Pending {
    alignas(8) uint8_t key[KEY_BYTES];
    uint64_t hash;
    double packets;
    double bytes;
    double timeout;
  };
  static constexpr int PIPELINE = 8;
  Pending pending_[PIPELINE] = {};
  int pendingHead_ = 0;   // oldest
  int pendingCount_ = 0;
  uint8_t reply_[32] = {};  // reply tuple src, dst: only to detect NAT

  // Headers read before (Scanner::text): their bytes and what they set.
  static constexpr int HEAD_BYTES = 48;
  static constexpr size_t HEAD_MEMOS = 8;
  struct HeadMemo {
    alignas(16) uint8_t bytes[HEAD_BYTES];
    uint8_t len;  // 0: empty
    uint8_t event, l3, proto, form;
  };
  HeadMemo heads_[HEAD_MEMOS] = {};
  // Line ends read before (Scanner::text) that only set flags: their bytes and the state they met.
  static constexpr int TAIL_BYTES = 48;
  static constexpr size_t TAIL_MEMOS = 8;
  struct TailMemo {
    alignas(16) uint8_t bytes[TAIL_BYTES];
    uint8_t len;  // 0: empty
    uint8_t proto, flags;
    uint16_t bits1, bits2;
  };
  TailMemo tails_[TAIL_MEMOS] = {};

  // Per-line fields (reset for every non-blank line).
  int l3_ = 0;
  int proto_ = 0;
  int state_ = 0;
  int flags_ = 0;
  double timeout_ = -1;
  int event_ = 0;
  int tuple_ = 0;
  int bits1_ = 0;
  int bits2_ = 0;
  int fam1s_ = 0, fam1d_ = 0, fam2s_ = 0, fam2d_ = 0;
  // Text of the original tuple's valid addresses (the reply tuple mostly repeats them).
  struct Span {
    const uint8_t* p = nullptr;
    size_t n = 0;
  };
  Span text1s_, text1d_;
  int sport1_ = 0, dport1_ = 0, sport2_ = 0, dport2_ = 0;
  double packets1_ = 0, packets2_ = 0, bytes1_ = 0, bytes2_ = 0;

  // Attributes of the XML tag being read.
  int attrType_ = 0;
  int attrDirection_ = 0;
  double attrProtonum_ = -1;
  bool attrSelfClosing_ = false;
};

}  // namespace ctscope
