// Port of src/parse/tokenizer.ts: the same grammar, decision for decision, so that the
// differential test can hold the results equal bit for bit. The fast paths (numbers and dotted
// quads a word at a time, the expanded IPv6 form, 16-byte token scans, the kernel's usual token
// order, headers and line ends recognised from earlier lines) only ever decide what the plain code
// below them would; anything else falls through to it.
// Reads stay inside the range given to Scanner::run. No function on the scanning path owns an
// object with a destructor: mapped_file.cc may leave it through siglongjmp when the file is
// truncated under the mapping.
#include "tokenizer.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ctscope {

namespace {

constexpr int T_SRC = 1;
constexpr int T_DST = 2;
constexpr int T_SPORT = 4;
constexpr int T_DPORT = 8;
constexpr int T_TYPE = 16;
constexpr int T_CODE = 32;
constexpr int T_ID = 64;
constexpr int T_SRCKEY = 128;
constexpr int T_DSTKEY = 256;
constexpr int T_PACKETS = 512;
constexpr int T_BYTES = 1024;

constexpr int EV_NONE = 0;
constexpr int EV_UPDATE = 1;
constexpr int EV_DESTROY = 2;

constexpr int R_ENTRY = 0;
constexpr int R_MALFORMED = 1;
constexpr int R_BLANK = 2;
constexpr int R_IGNORED = 3;

// Byte classes, one table lookup instead of chains of comparisons.
constexpr uint8_t CL_SPACE = 1;  // ' ' '\t'
constexpr uint8_t CL_DIGIT = 2;
constexpr uint8_t CL_KEY = 4;   // key=value key characters: [A-Za-z0-9_-]
constexpr uint8_t CL_NAME = 8;  // XML name characters: key characters and ':'

struct ByteClasses {
  uint8_t v[256];
};

constexpr ByteClasses makeByteClasses() {
  ByteClasses t{};
  for (int c = 0; c < 256; c++) {
    uint8_t k = 0;
    if (c == 32 || c == 9) k |= CL_SPACE;
    if (c >= 48 && c <= 57) k |= CL_DIGIT;
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95 || c == 45) k |= CL_KEY | CL_NAME;
    if (c == 58) k |= CL_NAME;
    t.v[c] = k;
  }
  return t;
}

constexpr ByteClasses CLASSES = makeByteClasses();

inline bool isSpace(uint8_t c) { return (CLASSES.v[c] & CL_SPACE) != 0; }
inline bool isDigit(uint8_t c) { return static_cast<unsigned>(c - 48) <= 9u; }
inline bool isKeyChar(uint8_t c) { return (CLASSES.v[c] & CL_KEY) != 0; }
inline bool isNameChar(uint8_t c) { return (CLASSES.v[c] & CL_NAME) != 0; }

inline int hexVal(uint8_t c) {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

template <size_t N>
inline bool eq(const uint8_t* s, const uint8_t* e, const char (&lit)[N]) {
  return static_cast<size_t>(e - s) == N - 1 && std::memcmp(s, lit, N - 1) == 0;
}

/** The 4 bytes at p equal the 4-character literal (one word compare). */
inline bool eqWord4(const uint8_t* p, const char (&lit)[5]) {
  uint32_t a;
  uint32_t b;
  std::memcpy(&a, p, 4);
  std::memcpy(&b, lit, 4);
  return a == b;
}

template <size_t N>
inline bool startsWith(const uint8_t* s, const uint8_t* e, const char (&lit)[N]) {
  return static_cast<size_t>(e - s) >= N - 1 && std::memcmp(s, lit, N - 1) == 0;
}

inline const uint8_t* skipSpace(const uint8_t* p, const uint8_t* e) {
  if (p < e && !isSpace(*p)) return p;
  if (p + 1 < e && !isSpace(p[1])) return p + 1;  // the usual single space
#if defined(__SSE2__)
  // Runs of spaces pad the /proc columns ("ipv4     2 tcp      6").
  const __m128i sp = _mm_set1_epi8(' ');
  const __m128i tab = _mm_set1_epi8('\t');
  while (e - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const unsigned m = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, tab))));
    if (m != 0xffff) return p + __builtin_ctz(~m);
    p += 16;
  }
#endif
  while (p < e && isSpace(*p)) p++;
  return p;
}

#if defined(__SSE2__)
/** Bit i set when byte i of v is ' ' or '\t'. */
inline unsigned spaceMask(__m128i v) {
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\t')))));
}

/** Bit i set when byte i of v is a key character [A-Za-z0-9_-]. */
inline unsigned keyCharMask(__m128i v) {
  // Unsigned range checks as signed compares after shifting the range to start at -128.
  const __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
  const __m128i alpha = _mm_cmplt_epi8(_mm_add_epi8(lower, _mm_set1_epi8(128 - 97)), _mm_set1_epi8(-128 + 26));
  const __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(128 - 48)), _mm_set1_epi8(-128 + 10));
  const __m128i other = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('_')), _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(alpha, digit), other)));
}
#endif

/** First space or tab in [p, e), or e. Tokens are short but numerous: 16 bytes per step. */
inline const uint8_t* tokenEnd(const uint8_t* p, const uint8_t* e) {
#if defined(__SSE2__)
  const __m128i sp = _mm_set1_epi8(' ');
  const __m128i tab = _mm_set1_epi8('\t');
  while (e - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const unsigned m = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, tab))));
    if (m != 0) return p + __builtin_ctz(m);
    p += 16;
  }
#endif
  while (p < e && !isSpace(*p)) p++;
  return p;
}

/** First byte in [p, e) that is not a key character ([A-Za-z0-9_-]), or e. */
inline const uint8_t* keyEnd(const uint8_t* p, const uint8_t* e) {
#if defined(__SSE2__)
  while (e - p >= 16) {
    const unsigned ok = keyCharMask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    if (ok != 0xffff) return p + __builtin_ctz(~ok);
    p += 16;
  }
#endif
  while (p < e && isKeyChar(*p)) p++;
  return p;
}

/**
 * Decimal digits in [s, e) as a double; -1 when not 1..MAX_DIGITS digits. TS computes v = v*10 + d
 * in doubles: every step is exact below 2^53, so up to 15 digits an integer sum converts to the same
 * double; longer numbers take the same rounding steps as TS.
 */
inline double parseNum(const uint8_t* s, const uint8_t* e) {
  const ptrdiff_t n = e - s;
  if (n < 1 || n > MAX_DIGITS) return -1;
  if (n <= 15) {
    uint64_t v = 0;
    for (; s < e; s++) {
      const unsigned d = static_cast<unsigned>(*s - 48);
      if (d > 9) return -1;
      v = v * 10 + d;
    }
    return static_cast<double>(v);
  }
  double v = 0;
  for (; s < e; s++) {
    const unsigned d = static_cast<unsigned>(*s - 48);
    if (d > 9) return -1;
    v = v * 10 + static_cast<double>(d);
  }
  return v;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr bool LITTLE_ENDIAN_CPU = true;
#else
constexpr bool LITTLE_ENDIAN_CPU = false;
#endif

/**
 * A number of 1..8 digits in [s, e) as an integer, -1 when a byte is not a digit. When the 8 bytes
 * that end at e can be read (lo <= e - 8), all digits are checked and converted in one 64-bit
 * word, without a branch per digit.
 */
__attribute__((always_inline)) inline int64_t parseSmallIn(const uint8_t* lo, const uint8_t* s, const uint8_t* e) {
  const ptrdiff_t n = e - s;
  if (LITTLE_ENDIAN_CPU && e - lo >= 8) {
    uint64_t x;
    std::memcpy(&x, e - 8, 8);
    // The digits are the top n bytes; the bytes before s become leading '0's.
    const uint64_t keep = ~uint64_t{0} << (static_cast<unsigned>(8 - n) * 8);
    x = (x & keep) | (0x3030303030303030ULL & ~keep);
    if ((x & 0xF0F0F0F0F0F0F0F0ULL) != 0x3030303030303030ULL ||
        ((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) != 0x3030303030303030ULL) {
      return -1;
    }
    x = ((x & 0x0F0F0F0F0F0F0F0FULL) * 2561) >> 8;
    x = ((x & 0x00FF00FF00FF00FFULL) * 6553601) >> 16;
    x = ((x & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32;
    return static_cast<int64_t>(x);
  }
  int64_t v = 0;
  for (; s < e; s++) {
    const unsigned d = static_cast<unsigned>(*s - 48);
    if (d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** parseNum, through parseSmallIn for up to 8 digits (the same value: exact integers). */
inline double parseNumIn(const uint8_t* lo, const uint8_t* s, const uint8_t* e) {
  const ptrdiff_t n = e - s;
  if (n >= 1 && n <= 8) return static_cast<double>(parseSmallIn(lo, s, e));
  return parseNum(s, e);
}

int parseV4(const uint8_t* s, const uint8_t* e, uint8_t* out) {
  const uint8_t* p = s;
  for (int part = 0; part < 4;) {
    int v = 0;
    int digits = 0;
    while (p < e && isDigit(*p)) {
      v = v * 10 + (*p - 48);
      digits++;
      p++;
      if (digits > 3) return 0;
    }
    if (digits == 0 || v > 255) return 0;
    out[part] = static_cast<uint8_t>(v);
    part++;
    if (part < 4) {
      if (p >= e || *p != 46) return 0;
      p++;
    }
  }
  return p == e ? 4 : 0;
}

int parseV6(const uint8_t* s, const uint8_t* e, uint8_t* out) {
  // Groups before and after "::" are collected separately, then placed. More than 8 groups can
  // never be valid, so collection stops there (as in TS).
  uint16_t groups[2][8];
  int n[2] = {0, 0};
  int cur = 0;
  bool gap = false;
  const uint8_t* p = s;
  if (p + 1 < e && p[0] == 58 && p[1] == 58) {
    gap = true;
    cur = 1;
    p += 2;
    if (p == e) {
      std::memset(out, 0, 16);
      return 6;
    }
  } else if (p < e && *p == 58) {
    return 0;
  }
  for (;;) {
    // One group. TS reads up to the next ':' noting any '.' and non-hex byte; reading hex digits
    // and looking at the byte that stops them decides the same cases.
    const uint8_t* q = p;
    unsigned v = 0;
    int h;
    while (q < e && (h = hexVal(*q)) >= 0) {
      v = (v << 4) | static_cast<unsigned>(h);
      q++;
    }
    if (q < e && *q != 58) {
      // A dotted IPv4 tail ends the address; any other byte makes it invalid.
      if (*q != 46 || std::memchr(q, 58, static_cast<size_t>(e - q)) != nullptr) return 0;
      uint8_t tmp[4];
      if (parseV4(p, e, tmp) != 4) return 0;
      if (n[0] + n[1] + 2 > 8) return 0;
      groups[cur][n[cur]++] = static_cast<uint16_t>((tmp[0] << 8) | tmp[1]);
      groups[cur][n[cur]++] = static_cast<uint16_t>((tmp[2] << 8) | tmp[3]);
      break;
    }
    const ptrdiff_t len = q - p;
    if (len < 1 || len > 4) return 0;
    if (n[0] + n[1] >= 8) return 0;
    groups[cur][n[cur]++] = static_cast<uint16_t>(v);
    p = q;
    if (p == e) break;
    if (p + 1 < e && p[1] == 58) {
      if (gap) return 0;
      gap = true;
      cur = 1;
      p += 2;
      if (p == e) break;
    } else {
      p += 1;
      if (p == e) return 0;
    }
  }
  const int total = n[0] + n[1];
  if (gap ? total > 7 : total != 8) return 0;
  std::memset(out, 0, 16);
  for (int i = 0; i < n[0]; i++) {
    out[2 * i] = static_cast<uint8_t>(groups[0][i] >> 8);
    out[2 * i + 1] = static_cast<uint8_t>(groups[0][i] & 255);
  }
  const int t0 = 8 - n[1];
  for (int i = 0; i < n[1]; i++) {
    out[2 * (t0 + i)] = static_cast<uint8_t>(groups[1][i] >> 8);
    out[2 * (t0 + i) + 1] = static_cast<uint8_t>(groups[1][i] & 255);
  }
  return 6;
}

/**
 * The common dotted quad, without a branch per digit: [s, e) must be four runs of 1..3 digits
 * separated by three dots, each at most 255 (exactly what parseV4 accepts). Needs 18 readable
 * bytes from s (below hi). Returns 4, or 0 when it cannot decide (parseV4 then does).
 */
inline int parseV4Fast(const uint8_t* s, const uint8_t* e, const uint8_t* hi, uint8_t* out) {
#if defined(__SSE2__)
  const ptrdiff_t n = e - s;
  if (n < 7 || n > 15 || hi - s < 18) return 0;
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  const unsigned valid = (1u << n) - 1;
  unsigned dots = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')))) & valid;
  const unsigned digits =
      static_cast<unsigned>(_mm_movemask_epi8(_mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(128 - 48)), _mm_set1_epi8(-128 + 10)))) &
      valid;
  if ((dots | digits) != valid || dots == 0) return 0;
  const int d1 = __builtin_ctz(dots);
  dots &= dots - 1;
  if (dots == 0) return 0;
  const int d2 = __builtin_ctz(dots);
  dots &= dots - 1;
  if (dots == 0) return 0;
  const int d3 = __builtin_ctz(dots);
  if ((dots & (dots - 1)) != 0) return 0;  // a fourth dot
  const unsigned starts[4] = {0, static_cast<unsigned>(d1 + 1), static_cast<unsigned>(d2 + 1), static_cast<unsigned>(d3 + 1)};
  const unsigned lens[4] = {static_cast<unsigned>(d1), static_cast<unsigned>(d2 - d1 - 1), static_cast<unsigned>(d3 - d2 - 1),
                            static_cast<unsigned>(n - d3 - 1)};
  if (lens[0] - 1 > 2 || lens[1] - 1 > 2 || lens[2] - 1 > 2 || lens[3] - 1 > 2) return 0;
  // Weights of the (up to) three bytes of an octet by its length; bytes past it weigh 0.
  static constexpr unsigned W0[4] = {0, 1, 10, 100};
  static constexpr unsigned W1[4] = {0, 0, 1, 10};
  static constexpr unsigned W2[4] = {0, 0, 0, 1};
  unsigned over = 0;
  uint8_t octets[4];
  for (int i = 0; i < 4; i++) {
    const uint8_t* o = s + starts[i];
    const unsigned l = lens[i];
    const unsigned val = (o[0] - 48u) * W0[l] + (o[1] - 48u) * W1[l] + (o[2] - 48u) * W2[l];
    over |= val > 255 ? 1u : 0u;
    octets[i] = static_cast<uint8_t>(val);
  }
  if (over != 0) return 0;
  std::memcpy(out, octets, 4);
  return 4;
#else
  (void)s;
  (void)e;
  (void)hi;
  (void)out;
  return 0;
#endif
}

/**
 * The fully expanded IPv6 form /proc prints: eight groups of exactly four hex digits. Needs 48
 * readable bytes from s (below hi). Returns 6, or 0 when it cannot decide (parseV6 then does).
 */
inline int parseV6Expanded(const uint8_t* s, const uint8_t* e, const uint8_t* hi, uint8_t* out) {
#if defined(__SSE2__)
  if (e - s != 39 || hi - s < 48 || !LITTLE_ENDIAN_CPU) return 0;
  uint64_t colons = 0;
  uint64_t hex = 0;
  for (int i = 0; i < 3; i++) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16 * i));
    const __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
    const __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(128 - 48)), _mm_set1_epi8(-128 + 10));
    const __m128i af = _mm_cmplt_epi8(_mm_add_epi8(lower, _mm_set1_epi8(128 - 97)), _mm_set1_epi8(-128 + 6));
    colons |= static_cast<uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(':'))))) << (16 * i);
    hex |= static_cast<uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(digit, af)))) << (16 * i);
  }
  constexpr uint64_t VALID = (uint64_t{1} << 39) - 1;
  // ':' at 4, 9, 14, ..., 34; hex digits everywhere else.
  constexpr uint64_t COLONS = (uint64_t{1} << 4) | (uint64_t{1} << 9) | (uint64_t{1} << 14) | (uint64_t{1} << 19) |
                              (uint64_t{1} << 24) | (uint64_t{1} << 29) | (uint64_t{1} << 34);
  if ((colons & VALID) != COLONS || (hex & VALID) != (VALID & ~COLONS)) return 0;
  for (int g = 0; g < 8; g++) {
    uint32_t x;
    std::memcpy(&x, s + 5 * g, 4);
    // ASCII hex digit to its value: low nibble, plus 9 for letters (bit 6 set).
    const uint32_t nib = (x & 0x0F0F0F0Fu) + 9 * ((x >> 6) & 0x01010101u);
    const uint32_t t = ((nib & 0x000F000Fu) << 4) | ((nib >> 8) & 0x000F000Fu);
    out[2 * g] = static_cast<uint8_t>(t);
    out[2 * g + 1] = static_cast<uint8_t>(t >> 16);
  }
  return 6;
#else
  (void)s;
  (void)e;
  (void)hi;
  (void)out;
  return 0;
#endif
}

/** IPv4 or IPv6 address in [s, e) into out[0..16). Returns 4, 6, or 0 when invalid. hi bounds the readable bytes. */
int parseAddress(const uint8_t* s, const uint8_t* e, const uint8_t* hi, uint8_t* out) {
  if (parseV4Fast(s, e, hi, out) == 4) {
    std::memset(out + 4, 0, 12);
    return 4;
  }
  if (parseV6Expanded(s, e, hi, out) == 6) return 6;
  // IPv4 first, as in TS: a text that parses as IPv4 has no ':', so it is never IPv6.
  if (parseV4(s, e, out) == 4) {
    std::memset(out + 4, 0, 12);
    return 4;
  }
  if (std::memchr(s, 58, static_cast<size_t>(e - s)) == nullptr) return 0;
  return parseV6(s, e, out);
}

/** Largest i with HIST_EDGES[i] <= t (edges ascend from 0): a count, without a data-dependent loop. */
inline int histBucket(double t) {
  if (t < 0) return HIST_NONE;
  int i = 0;
  for (int k = 1; k < HIST_EDGE_COUNT; k++) i += t >= HIST_EDGES[k] ? 1 : 0;
  return i;
}

constexpr size_t litLen(const char* s) {
  size_t n = 0;
  while (s[n] != 0) n++;
  return n;
}

inline bool eqN(const uint8_t* s, const char* lit, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] != static_cast<uint8_t>(lit[i])) return false;
  }
  return true;
}

struct L4Name {
  const char* name;
  size_t len;
  int num;
};
constexpr L4Name L4_NAMES[] = {{"tcp", 3, P_TCP},     {"udp", 3, P_UDP},   {"udplite", 7, P_UDPLITE},
                               {"icmp", 4, P_ICMP},   {"icmpv6", 6, P_ICMPV6}, {"sctp", 4, P_SCTP},
                               {"gre", 3, P_GRE},     {"dccp", 4, P_DCCP}, {"unknown", 7, -1}};

inline bool knownProto(int n) {
  return n == P_TCP || n == P_UDP || n == P_UDPLITE || n == P_ICMP || n == P_ICMPV6 || n == P_SCTP || n == P_GRE ||
         n == P_DCCP;
}

struct StateLengths {
  uint8_t v[STATE_COUNT];
};

constexpr StateLengths makeStateLengths() {
  StateLengths t{};
  for (int i = 0; i < STATE_COUNT; i++) t.v[i] = static_cast<uint8_t>(litLen(STATE_NAMES[i]));
  return t;
}

constexpr StateLengths STATE_LENGTHS = makeStateLengths();

/** State enum of the name in [s, e), 0 when none. */
inline int stateOf(const uint8_t* s, const uint8_t* e) {
  const ptrdiff_t n = e - s;
  for (int i = 1; i < STATE_COUNT; i++) {
    if (n == STATE_LENGTHS.v[i] && eqN(s, STATE_NAMES[i], static_cast<size_t>(n))) return i;
  }
  return 0;
}

constexpr int X_OTHER = 0;
constexpr int X_META = 1;
constexpr int X_LAYER3 = 2;
constexpr int X_LAYER4 = 3;
constexpr int X_SRC = 4;
constexpr int X_DST = 5;
constexpr int X_SPORT = 6;
constexpr int X_DPORT = 7;
constexpr int X_PACKETS = 8;
constexpr int X_BYTES = 9;
constexpr int X_STATE = 10;
constexpr int X_TIMEOUT = 11;
constexpr int X_UNREPLIED = 12;
constexpr int X_ASSURED = 13;

int xmlName(const uint8_t* s, const uint8_t* e) {
  if (eq(s, e, "meta")) return X_META;
  if (eq(s, e, "layer3")) return X_LAYER3;
  if (eq(s, e, "layer4")) return X_LAYER4;
  if (eq(s, e, "src")) return X_SRC;
  if (eq(s, e, "dst")) return X_DST;
  if (eq(s, e, "sport")) return X_SPORT;
  if (eq(s, e, "dport")) return X_DPORT;
  if (eq(s, e, "packets")) return X_PACKETS;
  if (eq(s, e, "bytes")) return X_BYTES;
  if (eq(s, e, "state")) return X_STATE;
  if (eq(s, e, "timeout")) return X_TIMEOUT;
  if (eq(s, e, "unreplied")) return X_UNREPLIED;
  if (eq(s, e, "assured")) return X_ASSURED;
  return X_OTHER;
}

}  // namespace

bool cidrMatch(const uint8_t* list, size_t len, int family, const uint8_t* addr) {
  for (size_t r = 0; r + CIDR_BYTES <= len; r += CIDR_BYTES) {
    if (list[r] != family) continue;
    int bits = list[r + 1];
    int i = 0;
    bool ok = true;
    while (bits >= 8) {
      if (list[r + 2 + i] != addr[i]) {
        ok = false;
        break;
      }
      i++;
      bits -= 8;
    }
    if (ok && bits > 0) {
      const int mask = (0xff << (8 - bits)) & 0xff;
      if ((list[r + 2 + i] & mask) != (addr[i] & mask)) ok = false;
    }
    if (ok) return true;
  }
  return false;
}

const char* validateFilter(const Filter& f) {
  if (f.protoLen != 0 && f.protoLen != 256) return "protoMask must have 0 or 256 bytes";
  if (f.stateLen != 0 && f.stateLen != static_cast<size_t>(STATE_COUNT)) return "stateMask must have 0 or STATE_COUNT bytes";
  if (f.portLen != 0 && f.portLen != 65536) return "portMask must have 0 or 65536 bytes";
  const uint8_t* lists[2] = {f.src, f.dst};
  const size_t lens[2] = {f.srcLen, f.dstLen};
  for (int l = 0; l < 2; l++) {
    if (lens[l] % CIDR_BYTES != 0) return "src/dst filter lists must be a multiple of 18 bytes";
    for (size_t r = 0; r < lens[l]; r += CIDR_BYTES) {
      const int fam = lists[l][r];
      const int bits = lists[l][r + 1];
      if ((fam != 4 && fam != 6) || bits > (fam == 4 ? 32 : 128)) return "src/dst filter entry has a bad family or prefix length";
    }
  }
  return nullptr;
}

void Scanner::run(const uint8_t* p, const uint8_t* end) {
  lo_ = p;
  hi_ = end;
  while (p < end) {
    const uint8_t* nl = static_cast<const uint8_t*>(std::memchr(p, 10, static_cast<size_t>(end - p)));
    if (nl == nullptr) nl = end;
    const uint8_t* le = nl;
    if (le > p && le[-1] == 13) le--;
    const int r = line(p, le);
    counters[C_LINES]++;
    if (r == R_MALFORMED) {
      counters[C_MALFORMED]++;
      if (malformedCount < MALFORMED_SAMPLES) {
        size_t n = static_cast<size_t>(le - p);
        if (n > static_cast<size_t>(MALFORMED_SAMPLE_BYTES)) n = MALFORMED_SAMPLE_BYTES;
        std::memcpy(malformedText[malformedCount], p, n);
        malformedLen[malformedCount] = static_cast<uint16_t>(n);
        malformedLine[malformedCount] = lineNo_;
        malformedCount++;
      }
    } else if (r == R_BLANK) {
      counters[C_BLANK]++;
    } else if (r == R_IGNORED) {
      counters[C_IGNORED]++;
    }
    lineNo_++;
    if (nl == end) break;
    p = nl + 1;
  }
  commitAll();
}

void Scanner::commitOldest() {
  const Pending& e = pending_[pendingHead_];
  table.add(reinterpret_cast<const uint64_t*>(e.key), e.hash, 1, e.packets, e.bytes, e.timeout);
  pendingHead_ = (pendingHead_ + 1) % PIPELINE;
  pendingCount_--;
}

void Scanner::commitAll() {
  while (pendingCount_ > 0) commitOldest();
}

void Scanner::reset() {
  l3_ = 0;
  proto_ = 0;
  state_ = 0;
  flags_ = 0;
  timeout_ = -1;
  event_ = EV_NONE;
  tuple_ = 0;
  bits1_ = 0;
  bits2_ = 0;
  fam1s_ = fam1d_ = fam2s_ = fam2d_ = 0;
  text1s_ = text1d_ = Span{};
  sport1_ = dport1_ = sport2_ = dport2_ = 0;
  packets1_ = packets2_ = bytes1_ = bytes2_ = 0;
}

int Scanner::line(const uint8_t* ls, const uint8_t* le) {
  const uint8_t* p = skipSpace(ls, le);
  if (p == le) return R_BLANK;
  const uint8_t* e = le;
  while (isSpace(e[-1])) e--;
  reset();
  if (*p == 60) return xml(p, e);
  if (startsWith(p, e, "conntrack v") && e - p >= 16 && startsWith(e - 16, e, "have been shown.")) return R_IGNORED;
  return text(p, e);
}

/**
 * The event prefix, the optional l3 columns and the l4 name and number from p: sets event_, l3_,
 * proto_ and form, and returns the start of the next token (nullptr when malformed).
 */
const uint8_t* Scanner::head(const uint8_t* p, const uint8_t* e, int& form) {
  // Event prefix.
  const uint8_t* q = tokenEnd(p, e);
  if (p < e && *p == 91) {
    if (eq(p, q, "[NEW]") || eq(p, q, "[UPDATE]")) {
      event_ = EV_UPDATE;
    } else if (eq(p, q, "[DESTROY]")) {
      event_ = EV_DESTROY;
    } else {
      return nullptr;
    }
    p = skipSpace(q, e);
    q = tokenEnd(p, e);
  }
  // Optional l3 columns.
  if (eq(p, q, "ipv4") || eq(p, q, "ipv6")) {
    const bool v6 = p[3] == 54;
    form = C_FORM_L3;
    l3_ = v6 ? 6 : 4;
    p = skipSpace(q, e);
    q = tokenEnd(p, e);
    const double n = parseNumIn(lo_, p, q);
    if (n != (v6 ? 10 : 2)) return nullptr;
    p = skipSpace(q, e);
    q = tokenEnd(p, e);
  }
  // l4 name and number.
  int expect = -2;
  for (const L4Name& l4 : L4_NAMES) {
    if (static_cast<size_t>(q - p) == l4.len && eqN(p, l4.name, l4.len)) {
      expect = l4.num;
      break;
    }
  }
  if (expect == -2) return nullptr;
  p = skipSpace(q, e);
  q = tokenEnd(p, e);
  if (q - p > 3) return nullptr;
  const double protoNum = parseNumIn(lo_, p, q);
  if (protoNum < 0 || protoNum > 255) return nullptr;
  const int proto = static_cast<int>(protoNum);
  if (expect == -1 ? knownProto(proto) : proto != expect) return nullptr;
  proto_ = proto;
  return skipSpace(q, e);
}

bool Scanner::sameBytes(const uint8_t* p, const uint8_t* bytes, ptrdiff_t n) const {
#if defined(__SSE2__)
  if (hi_ - p >= 48 && n <= 48) {
    const __m128i* a = reinterpret_cast<const __m128i*>(p);
    const __m128i* b = reinterpret_cast<const __m128i*>(bytes);
    uint64_t same = 0;
    for (int i = 0; i < 3; i++) {
      const __m128i eqv = _mm_cmpeq_epi8(_mm_loadu_si128(a + i), _mm_loadu_si128(b + i));
      same |= static_cast<uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(eqv))) << (16 * i);
    }
    const uint64_t want = (uint64_t{1} << n) - 1;
    return (same & want) == want;
  }
#endif
  return std::memcmp(p, bytes, static_cast<size_t>(n)) == 0;
}

size_t Scanner::headSlot(const uint8_t* p) {
  // The letters of the first 16 bytes: the same header hashes alike whatever numbers follow it.
  uint64_t a;
  uint64_t b;
  std::memcpy(&a, p, 8);
  std::memcpy(&b, p + 8, 8);
  const uint64_t la = ((a >> 6) & 0x0101010101010101ULL) * 0xff;
  const uint64_t lb = ((b >> 6) & 0x0101010101010101ULL) * 0xff;
  const uint64_t h = ((a & la) * 0x9e3779b97f4a7c15ULL) ^ ((b & lb) * 0xbf58476d1ce4e5b9ULL);
  return static_cast<size_t>(h >> 61) % HEAD_MEMOS;
}

int Scanner::text(const uint8_t* p, const uint8_t* e) {
  // "[sec.usec]" timestamp prefix (conntrack -E -o timestamp)
  if (*p == 91 && p + 1 < e && isDigit(p[1])) {
    p++;
    while (p < e && isDigit(*p)) p++;
    if (p >= e || *p != 46) return R_MALFORMED;
    p++;
    const uint8_t* d = p;
    while (p < e && isDigit(*p)) p++;
    if (p == d || p >= e || *p != 93) return R_MALFORMED;
    p++;
    if (p >= e || !isSpace(*p)) return R_MALFORMED;
    p = skipSpace(p, e);
  }
  // The header (event, l3 columns, l4 name and number) repeats from line to line: one read
  // before is recognised by its bytes, which decide everything it sets.
  int form = C_FORM_PLAIN;
  HeadMemo* memo = nullptr;
  if (e - p >= 16) {
    memo = &heads_[headSlot(p)];
    const ptrdiff_t n = memo->len;
    if (n != 0 && e - p > n && sameBytes(p, memo->bytes, n) && !isSpace(p[n])) {
      event_ = memo->event;
      l3_ = memo->l3;
      proto_ = memo->proto;
      form = memo->form;
      p += n;
    } else {
      const uint8_t* h = head(p, e, form);
      if (h == nullptr) return R_MALFORMED;
      if (h - p <= HEAD_BYTES && h < e) {
        memo->len = static_cast<uint8_t>(h - p);
        std::memcpy(memo->bytes, p, static_cast<size_t>(h - p));
        memo->event = static_cast<uint8_t>(event_);
        memo->l3 = static_cast<uint8_t>(l3_);
        memo->proto = static_cast<uint8_t>(proto_);
        memo->form = static_cast<uint8_t>(form);
      }
      p = h;
    }
  } else {
    p = head(p, e, form);
    if (p == nullptr) return R_MALFORMED;
  }
  const int proto = proto_;
  const uint8_t* q = tokenEnd(p, e);
  // Optional remaining timeout.
  if (p < e && isDigit(*p)) {
    const double t = parseNumIn(lo_, p, q);
    if (t < 0 || t > MAX_TIMEOUT) return R_MALFORMED;
    timeout_ = t;
    p = skipSpace(q, e);
    q = tokenEnd(p, e);
  }
  // Optional state word.
  if (p < e && *p >= 65 && *p <= 90) {
    const int st = stateOf(p, q);
    if (st == 0 || !stateAllowed(proto, st)) return R_MALFORMED;
    state_ = st;
    p = q;
  }
  // key=value and [FLAG] tokens.
  const bool icmp = proto == P_ICMP || proto == P_ICMPV6;
  const bool ports = hasPorts(proto);
  const bool gre = proto == P_GRE;
  // Hot per-token state in locals (registers); written back before finish().
  int tuple = 0;
  int bits1 = 0;
  int bits2 = 0;
  int flags = 0;
  // The rest of the line being read for its memo (see below), and the state before it.
  const uint8_t* tailStart = nullptr;
  int tailBits1 = 0;
  int tailBits2 = 0;
  int tailFlags = 0;
  for (;;) {
    if (p >= e) break;
    p = skipSpace(p, e);
    if (*p == 91) {
      q = p + 1;
      while (q < e && *q != 93) q++;
      if (q >= e) return R_MALFORMED;
      const uint8_t* fs = p + 1;
      if (eq(fs, q, "UNREPLIED")) {
        flags |= F_UNREPLIED;
      } else if (eq(fs, q, "ASSURED")) {
        flags |= F_ASSURED;
      } else if (eq(fs, q, "OFFLOAD")) {
        flags |= F_OFFLOAD;
      } else if (eq(fs, q, "HW_OFFLOAD")) {
        flags |= F_HW_OFFLOAD;
      }
      p = q + 1;
      if (p < e && !isSpace(*p)) return R_MALFORMED;
      continue;
    }
    // Key characters up to '=', then a non-empty value up to the next space. (TS finds the first
    // '=' and then checks the key characters: malformed in the same cases.)
    const uint8_t* ks = p;
    const uint8_t* eqPos;
    const uint8_t* vs;
    if (e - ks > 4 && eqWord4(ks, "src=") && !isSpace(ks[4])) {
      // The token that opens each tuple, known at a glance.
      eqPos = ks + 3;
      vs = ks + 4;
      q = tokenEnd(vs + 1, e);
    } else
#if defined(__SSE2__)
    if (hi_ - ks >= 16) {
      // One 16-byte load gives the key's end and, for most tokens, the value's end too. Bytes at
      // or after e count as spaces that are not key characters.
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ks));
      const unsigned valid = e - ks >= 16 ? 0xffffu : (1u << (e - ks)) - 1;
      const unsigned nonKey = (~keyCharMask(v) | ~valid) & 0xffffu;
      eqPos = nonKey != 0 ? ks + __builtin_ctz(nonKey) : keyEnd(ks + 16, e);
      if (eqPos == ks || eqPos >= e || *eqPos != 61) return R_MALFORMED;
      vs = eqPos + 1;
      if (vs >= e || isSpace(*vs)) return R_MALFORMED;
      const unsigned from = static_cast<unsigned>(vs + 1 - ks);
      const unsigned later = from < 16 ? (spaceMask(v) | ~valid) & (0xffffu << from) & 0xffffu : 0;
      q = later != 0 ? ks + __builtin_ctz(later) : tokenEnd(from < 16 ? ks + 16 : vs + 1, e);
    } else
#endif
    {
      eqPos = keyEnd(p, e);
      if (eqPos == ks || eqPos >= e || *eqPos != 61) return R_MALFORMED;
      vs = eqPos + 1;
      if (vs >= e || isSpace(*vs)) return R_MALFORMED;
      q = tokenEnd(vs + 1, e);
    }
    p = q;
    // Known keys, compared as words: the '=' and at least one value byte follow the key, so
    // reading klen + 1 bytes from ks stays inside the token.
    int bit = 0;
    switch (eqPos - ks) {
      case 3:
        if (eqWord4(ks, "src=")) {
          // src= opens the next tuple
          if (tuple == 2) return R_MALFORMED;
          tuple_ = ++tuple;
          if (!setAddr(vs, q, true)) return R_MALFORMED;
          int got = T_SRC;
          // The kernel follows src= with " dst=V sport=N dport=N": read them here, each exactly
          // as the loop below would (a new tuple has none of them yet). Anything else is left to it.
          if (e - q > 5 && q[0] == ' ' && eqWord4(q + 1, "dst=") && !isSpace(q[5])) {
            const uint8_t* dv = q + 5;
            q = tokenEnd(dv + 1, e);
            got |= T_DST;
            if (!setAddr(dv, q, false)) return R_MALFORMED;
            // The two ports are written out rather than shared through a helper: that measured
            // about 8 % slower (q no longer stays in a register).
            if (ports && e - q > 7 && q[0] == ' ' && eqWord4(q + 1, "spor") && q[5] == 't' && q[6] == '=' && !isSpace(q[7])) {
              const uint8_t* sv = q + 7;
              q = tokenEnd(sv + 1, e);
              got |= T_SPORT;
              if (q - sv > 5) return R_MALFORMED;
              const int64_t sp = parseSmallIn(lo_, sv, q);
              if (sp < 0 || sp > 65535) return R_MALFORMED;
              (tuple == 1 ? sport1_ : sport2_) = static_cast<int>(sp);
              if (e - q > 7 && q[0] == ' ' && eqWord4(q + 1, "dpor") && q[5] == 't' && q[6] == '=' && !isSpace(q[7])) {
                const uint8_t* pv = q + 7;
                q = tokenEnd(pv + 1, e);
                got |= T_DPORT;
                if (q - pv > 5) return R_MALFORMED;
                const int64_t dp = parseSmallIn(lo_, pv, q);
                if (dp < 0 || dp > 65535) return R_MALFORMED;
                (tuple == 1 ? dport1_ : dport2_) = static_cast<int>(dp);
              }
            }
            p = q;
          }
          if (tuple == 1) {
            bits1 |= got;
            continue;
          }
          bits2 |= got;
          // The rest of the line ("[ASSURED] mark=0 zone=0 use=2") repeats too. A rest read before
          // from the same protocol and fields only added flags; the same bytes add the same ones.
          const ptrdiff_t n = e - p;
          if (n > 0 && n <= TAIL_BYTES) {
            const TailMemo& t = tails_[static_cast<size_t>(n) % TAIL_MEMOS];
            if (t.len == n && t.proto == proto && t.bits1 == bits1 && t.bits2 == bits2 && sameBytes(p, t.bytes, n)) {
              flags |= t.flags;
              p = e;
            } else {
              tailStart = p;
              tailBits1 = bits1;
              tailBits2 = bits2;
              tailFlags = flags;
              flags = 0;
            }
          }
          continue;
        }
        if (eqWord4(ks, "dst=")) bit = T_DST;
        break;
      case 5:
        if (ports && eqWord4(ks + 1, "port")) {
          if (ks[0] == 's') {
            bit = T_SPORT;
          } else if (ks[0] == 'd') {
            bit = T_DPORT;
          }
        } else if (eqWord4(ks, "byte") && ks[4] == 's') {
          bit = T_BYTES;
        }
        break;
      case 7:
        if (eqWord4(ks, "pack") && eqWord4(ks + 4, "ets=")) bit = T_PACKETS;
        break;
      case 4:
        if (icmp) {
          if (eqWord4(ks, "type")) {
            bit = T_TYPE;
          } else if (eqWord4(ks, "code")) {
            bit = T_CODE;
          }
        }
        break;
      case 2:
        if (icmp && ks[0] == 'i' && ks[1] == 'd') bit = T_ID;
        break;
      case 6:
        if (gre) {
          if (eqN(ks, "srckey", 6)) {
            bit = T_SRCKEY;
          } else if (eqN(ks, "dstkey", 6)) {
            bit = T_DSTKEY;
          }
        }
        break;
      default:
        break;
    }
    if (bit == 0) continue;  // any other key: mark=, use=, zone=, secctx=, labels=, id=, ...
    const int have = tuple == 1 ? bits1 : bits2;
    if (tuple == 0 || (have & bit) != 0) {
      if (bit == T_ID) continue;  // a second id= is the conntrack id (-o id)
      return R_MALFORMED;
    }
    if (tuple == 1) {
      bits1 |= bit;
    } else {
      bits2 |= bit;
    }
    if (bit == T_SPORT || bit == T_DPORT) {
      // The hot case, inline: setField's port branch.
      if (q - vs > 5) return R_MALFORMED;
      const int64_t v = parseSmallIn(lo_, vs, q);  // 1..5 digits
      if (v < 0 || v > 65535) return R_MALFORMED;
      const int port = static_cast<int>(v);
      if (bit == T_SPORT) {
        (tuple == 1 ? sport1_ : sport2_) = port;
      } else {
        (tuple == 1 ? dport1_ : dport2_) = port;
      }
      continue;
    }
    if (!setField(bit, vs, q)) return R_MALFORMED;
  }
  if (tailStart != nullptr) {
    // Fields unchanged: the rest only set flags, which are in flags alone (cleared at its start).
    if (bits1 == tailBits1 && bits2 == tailBits2) {
      TailMemo& t = tails_[static_cast<size_t>(e - tailStart) % TAIL_MEMOS];
      t.len = static_cast<uint8_t>(e - tailStart);
      std::memcpy(t.bytes, tailStart, t.len);
      t.proto = static_cast<uint8_t>(proto);
      t.bits1 = static_cast<uint16_t>(bits1);
      t.bits2 = static_cast<uint16_t>(bits2);
      t.flags = static_cast<uint8_t>(flags);
    }
    flags |= tailFlags;
  }
  // Protocol-specific tuple fields (XML omits ICMP and GRE ones, text always prints them).
  int need = 0;
  if (icmp) {
    need = T_TYPE | T_CODE | T_ID;
  } else if (gre) {
    need = T_SRCKEY | T_DSTKEY;
  }
  if ((bits1 & need) != need || (bits2 & need) != need) return R_MALFORMED;
  bits1_ = bits1;
  bits2_ = bits2;
  flags_ = flags;
  return finish(form);
}

bool Scanner::setAddr(const uint8_t* s, const uint8_t* e, bool isSrc) {
  int fam;
  if (tuple_ == 1) {
    fam = parseAddress(s, e, hi_, key_ + (isSrc ? K_SRC : K_DST));
    (isSrc ? fam1s_ : fam1d_) = fam;
    if (fam != 0) (isSrc ? text1s_ : text1d_) = Span{s, static_cast<size_t>(e - s)};
  } else {
    // The reply tuple usually repeats the original one inverted, byte for byte: the same text
    // parses to the same address, so copy it instead.
    const Span& same = isSrc ? text1d_ : text1s_;
    uint8_t* out = reply_ + (isSrc ? 0 : 16);
    if (same.p != nullptr && same.n == static_cast<size_t>(e - s) && std::memcmp(same.p, s, same.n) == 0) {
      std::memcpy(out, key_ + (isSrc ? K_DST : K_SRC), 16);
      fam = isSrc ? fam1d_ : fam1s_;
    } else {
      fam = parseAddress(s, e, hi_, out);
    }
    (isSrc ? fam2s_ : fam2d_) = fam;
  }
  return fam != 0;
}

bool Scanner::setField(int bit, const uint8_t* s, const uint8_t* e) {
  const bool t1 = tuple_ == 1;
  switch (bit) {
    case T_DST:
      return setAddr(s, e, false);
    case T_SPORT:
    case T_DPORT: {
      if (e - s > 5) return false;
      const double v = parseNumIn(lo_, s, e);
      if (v < 0 || v > 65535) return false;
      const int port = static_cast<int>(v);
      if (bit == T_SPORT) {
        (t1 ? sport1_ : sport2_) = port;
      } else {
        (t1 ? dport1_ : dport2_) = port;
      }
      return true;
    }
    case T_PACKETS:
    case T_BYTES: {
      const double v = parseNumIn(lo_, s, e);
      if (v < 0) return false;
      if (bit == T_PACKETS) {
        (t1 ? packets1_ : packets2_) = v;
      } else {
        (t1 ? bytes1_ : bytes2_) = v;
      }
      return true;
    }
    case T_TYPE:
    case T_CODE: {
      if (e - s > 3) return false;
      const double v = parseNumIn(lo_, s, e);
      return v >= 0 && v <= 255;
    }
    case T_ID: {
      if (e - s > 5) return false;
      const double v = parseNumIn(lo_, s, e);
      return v >= 0 && v <= 65535;
    }
    default: {
      // GRE key: 0x + 1..8 hex digits
      if (e - s < 3 || e - s > 10 || s[0] != 48 || (s[1] != 120 && s[1] != 88)) return false;
      for (const uint8_t* i = s + 2; i < e; i++) {
        if (hexVal(*i) < 0) return false;
      }
      return true;
    }
  }
}

int Scanner::xml(const uint8_t* p, const uint8_t* e) {
  if (startsWith(p, e, "<?xml") && e[-2] == 63 && e[-1] == 62) return R_IGNORED;
  if (eq(p, e, "<conntrack>") || eq(p, e, "</conntrack>")) return R_IGNORED;
  // <flow [type="new|update|destroy"]>
  const uint8_t* q = p + 1;
  while (q < e && isNameChar(*q)) q++;
  if (!eq(p + 1, q, "flow")) return R_MALFORMED;
  const uint8_t* after = attrs(q, e);
  if (after == nullptr) return R_MALFORMED;
  if (attrType_ == 1) {
    event_ = EV_UPDATE;
  } else if (attrType_ == 2) {
    event_ = EV_DESTROY;
  }
  p = after;
  if (attrSelfClosing_) return R_MALFORMED;
  int dir = 0;
  bool done = false;
  while (p < e) {
    if (*p != 60) {
      p++;
      continue;
    }
    // A tag. TS reads one byte past the line end here when '<' is last; either way the tag
    // has an empty name and the line is malformed.
    const bool closing = p + 1 < e && p[1] == 47;
    const uint8_t* ns = closing ? p + 2 : p + 1;
    q = ns;
    while (q < e && isNameChar(*q)) q++;
    const uint8_t* ne = q;
    if (ne == ns) return R_MALFORMED;
    if (closing) {
      if (q >= e || *q != 62) return R_MALFORMED;
      p = q + 1;
      if (eq(ns, ne, "flow")) {
        done = true;
        break;
      }
      if (xmlName(ns, ne) == X_META) dir = 0;
      continue;
    }
    after = attrs(ne, e);
    if (after == nullptr) return R_MALFORMED;
    p = after;
    const int name = xmlName(ns, ne);
    if (name == X_META) {
      if (attrDirection_ == 0) return R_MALFORMED;
      dir = attrDirection_;
      if (dir == 1 || dir == 2) {
        if (tuple_ >= dir) return R_MALFORMED;
        tuple_ = dir;
      }
      continue;
    }
    if (name == X_LAYER3) {
      if (dir != 1 && dir != 2) return R_MALFORMED;
      const int fam = attrProtonum_ == 2 ? 4 : attrProtonum_ == 10 ? 6 : 0;
      if (fam == 0 || (l3_ != 0 && l3_ != fam)) return R_MALFORMED;
      l3_ = fam;
      continue;
    }
    if (name == X_LAYER4) {
      if (dir != 1 && dir != 2) return R_MALFORMED;
      const double n = attrProtonum_;
      if (n < 0 || n > 255) return R_MALFORMED;
      if (dir == 1) {
        proto_ = static_cast<int>(n);
      } else if (n != proto_) {
        return R_MALFORMED;
      }
      continue;
    }
    if (name == X_UNREPLIED || name == X_ASSURED) {
      if (dir != 3 || !attrSelfClosing_) return R_MALFORMED;
      flags_ |= name == X_UNREPLIED ? F_UNREPLIED : F_ASSURED;
      continue;
    }
    if (name == X_OTHER || attrSelfClosing_) continue;
    // A value element: text up to "</name>".
    const uint8_t* vs = p;
    while (p < e && *p != 60) p++;
    const uint8_t* ve = p;
    const ptrdiff_t nlen = ne - ns;
    if (e - p <= 2 + nlen || p[1] != 47) return R_MALFORMED;
    if (std::memcmp(p + 2, ns, static_cast<size_t>(nlen)) != 0) return R_MALFORMED;
    if (p[2 + nlen] != 62) return R_MALFORMED;
    p = p + 3 + nlen;
    if (name == X_STATE || name == X_TIMEOUT) {
      if (dir != 3) return R_MALFORMED;
      if (name == X_TIMEOUT) {
        if (timeout_ >= 0) return R_MALFORMED;
        const double t = parseNumIn(lo_, vs, ve);
        if (t < 0 || t > MAX_TIMEOUT) return R_MALFORMED;
        timeout_ = t;
      } else {
        if (state_ != 0) return R_MALFORMED;
        const int st = stateOf(vs, ve);
        if (st == 0 || !stateAllowed(proto_, st)) return R_MALFORMED;
        state_ = st;
      }
      continue;
    }
    if (dir != 1 && dir != 2) return R_MALFORMED;
    int bit;
    if (name == X_SRC) {
      bit = T_SRC;
    } else if (name == X_DST) {
      bit = T_DST;
    } else if (name == X_SPORT) {
      bit = T_SPORT;
    } else if (name == X_DPORT) {
      bit = T_DPORT;
    } else if (name == X_PACKETS) {
      bit = T_PACKETS;
    } else {
      bit = T_BYTES;
    }
    if ((bit == T_SPORT || bit == T_DPORT) && !hasPorts(proto_)) return R_MALFORMED;
    const int have = dir == 1 ? bits1_ : bits2_;
    if ((have & bit) != 0) return R_MALFORMED;
    if (bit == T_SRC) {
      if (dir == 1) {
        bits1_ |= T_SRC;
      } else {
        bits2_ |= T_SRC;
      }
      if (!setAddr(vs, ve, true)) return R_MALFORMED;
    } else {
      if (dir == 1) {
        bits1_ |= bit;
      } else {
        bits2_ |= bit;
      }
      if (!setField(bit, vs, ve)) return R_MALFORMED;
    }
  }
  if (!done) return R_MALFORMED;
  p = skipSpace(p, e);
  if (p != e) return R_MALFORMED;
  if (tuple_ != 2) return R_MALFORMED;
  return finish(C_FORM_XML);
}

const uint8_t* Scanner::attrs(const uint8_t* p, const uint8_t* e) {
  attrType_ = 0;
  attrDirection_ = 0;
  attrProtonum_ = -1;
  attrSelfClosing_ = false;
  for (;;) {
    p = skipSpace(p, e);
    if (p >= e) return nullptr;
    if (*p == 62) return p + 1;
    if (*p == 47) {
      if (p + 1 < e && p[1] == 62) {
        attrSelfClosing_ = true;
        return p + 2;
      }
      return nullptr;
    }
    const uint8_t* ns = p;
    while (p < e && isNameChar(*p)) p++;
    const uint8_t* ne = p;
    if (ne == ns || p + 1 >= e || *p != 61 || p[1] != 34) return nullptr;
    p += 2;
    const uint8_t* vs = p;
    while (p < e && *p != 34) p++;
    if (p >= e) return nullptr;
    const uint8_t* ve = p;
    p++;
    if (eq(ns, ne, "type")) {
      if (eq(vs, ve, "destroy")) {
        attrType_ = 2;
      } else if (eq(vs, ve, "new") || eq(vs, ve, "update")) {
        attrType_ = 1;
      } else {
        return nullptr;
      }
    } else if (eq(ns, ne, "direction")) {
      if (eq(vs, ve, "original")) {
        attrDirection_ = 1;
      } else if (eq(vs, ve, "reply")) {
        attrDirection_ = 2;
      } else if (eq(vs, ve, "independent")) {
        attrDirection_ = 3;
      } else {
        return nullptr;
      }
    } else if (eq(ns, ne, "protonum")) {
      if (ve - vs > 3) return nullptr;
      attrProtonum_ = parseNumIn(lo_, vs, ve);
      if (attrProtonum_ < 0) return nullptr;
    }
  }
}

int Scanner::finish(int form) {
  if (tuple_ != 2) return R_MALFORMED;
  if ((bits1_ & (T_SRC | T_DST)) != (T_SRC | T_DST) || (bits2_ & (T_SRC | T_DST)) != (T_SRC | T_DST)) return R_MALFORMED;
  const int proto = proto_;
  const bool ports = hasPorts(proto);
  if (ports && ((bits1_ & (T_SPORT | T_DPORT)) != (T_SPORT | T_DPORT) || (bits2_ & (T_SPORT | T_DPORT)) != (T_SPORT | T_DPORT))) {
    return R_MALFORMED;
  }
  const int fam = fam1s_;
  if (fam1d_ != fam || fam2s_ != fam || fam2d_ != fam || (l3_ != 0 && l3_ != fam)) return R_MALFORMED;
  counters[form]++;
  if (event_ == EV_DESTROY) {
    counters[C_DESTROYED]++;
    return R_ENTRY;
  }
  finishKey(key_, fam, proto, state_, flags_, ports, sport1_, dport1_, sport2_, dport2_, reply_, reply_ + 16);
  if (!filterPasses(filter_, key_, ports, sport1_, dport1_)) {
    counters[C_FILTERED]++;
    return R_ENTRY;
  }
  counters[C_ENTRIES]++;
  if (event_ == EV_UPDATE) counters[C_EVENTS]++;
  if (((bits1_ | bits2_) & (T_PACKETS | T_BYTES)) != 0) counters[C_ACCT]++;
  if (pendingCount_ == PIPELINE) commitOldest();
  // Half-way through the queue the slot has arrived: request the entry it points at.
  if (pendingCount_ >= PIPELINE / 2) table.prefetchEntry(pending_[(pendingHead_ + pendingCount_ - PIPELINE / 2) % PIPELINE].hash);
  Pending& pe = pending_[(pendingHead_ + pendingCount_) % PIPELINE];
  pendingCount_++;
  std::memcpy(pe.key, key_, KEY_BYTES);
  pe.hash = FlowTable::hash(reinterpret_cast<const uint64_t*>(pe.key));
  table.prefetch(pe.hash);
  pe.packets = packets1_ + packets2_;
  pe.bytes = bytes1_ + bytes2_;
  pe.timeout = timeout_;
  const int hb = histBucket(timeout_);
  hist[hb]++;
  if (proto == P_TCP && state_ == S_ESTABLISHED) hist[HIST_TCP_ESTABLISHED + hb]++;
  return R_ENTRY;
}

}  // namespace ctscope
