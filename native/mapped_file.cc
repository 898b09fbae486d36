// mmap windows over a regular file, released as the scan advances so RSS stays bounded by the
// window size, whatever the file size. A window ends at its last newline; the partial line left
// over starts the next window (windows overlap by less than one page plus one line).
//
// Truncation: fstat before every window turns the common case into a clean error. A file cut
// while a window is being read raises SIGBUS on the reading thread; a process-wide handler
// (installed once, chaining to the previous one) jumps back to the guarded scan of that thread
// when the fault address is inside its current window.
#include "mapped_file.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace ctscope {

namespace {

struct BusGuard {
  sigjmp_buf env;
  uintptr_t lo;
  uintptr_t hi;
};

// The signal disposition is process-wide by nature: these two are written once (under the
// once_flag) and only read afterwards. The guard pointer is per thread.
struct sigaction previousBusAction;
std::once_flag busHandlerOnce;
thread_local BusGuard* currentGuard = nullptr;

void onBus(int sig, siginfo_t* info, void* uctx) {
  BusGuard* g = currentGuard;
  const uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  if (g != nullptr && info->si_code > 0 && addr >= g->lo && addr < g->hi) siglongjmp(g->env, 1);
  // Not a fault in one of our windows: behave as if this handler had never been installed.
  const struct sigaction& prev = previousBusAction;
  if ((prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
    prev.sa_sigaction(sig, info, uctx);
    return;
  }
  if (prev.sa_handler == SIG_IGN && info->si_code <= 0) return;  // an ignored kill(SIGBUS)
  if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
    // Default action: terminate with SIGBUS (delivered once this handler returns).
    signal(SIGBUS, SIG_DFL);
    raise(SIGBUS);
    return;
  }
  prev.sa_handler(sig);
}

void installBusHandler() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = onBus;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, &previousBusAction);
}

/**
 * Scan the lines of [a, b) under the SIGBUS guard. Unless last, stops after the last newline.
 * Returns the bytes consumed, 0 when there is no newline (the window must grow), -1 on SIGBUS.
 * Nothing with a destructor may live between here and the reads of the mapping.
 */
__attribute__((noinline)) ptrdiff_t guardedScan(Scanner& scanner, const uint8_t* a, const uint8_t* b, bool last, BusGuard& guard) {
  if (sigsetjmp(guard.env, 1) != 0) {
    currentGuard = nullptr;
    return -1;
  }
  currentGuard = &guard;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  const uint8_t* stop = b;
  if (!last) {
    const void* nl = memrchr(a, '\n', static_cast<size_t>(b - a));
    if (nl == nullptr) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
      currentGuard = nullptr;
      return 0;
    }
    stop = static_cast<const uint8_t*>(nl) + 1;
  }
  scanner.run(a, stop);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  currentGuard = nullptr;
  return stop - a;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void truncated(const std::string& path, uint64_t end) {
  throw InputFailure(path + ": file was truncated while being read (expected " + std::to_string(end) + " bytes)", path);
}

}  // namespace

std::string describeErrno(int err) {
  switch (err) {
    case ENOENT:
      return "no such file or directory";
    case EACCES:
    case EPERM:
      return "permission denied";
    case EISDIR:
      return "is a directory";
    case ENOTDIR:
      return "a path component is not a directory";
    case ELOOP:
      return "too many symbolic links";
    case EMFILE:
    case ENFILE:
      return "too many open files";
    default: {
      std::string s = std::strerror(err);
      if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
      return s;
    }
  }
}

void scanFileRange(const std::string& path, uint64_t start, uint64_t end, Scanner& scanner, const ScanFileOptions& options) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) throw InputFailure(path + ": " + describeErrno(errno), path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) throw InputFailure(path + ": " + describeErrno(errno), path);
  if (S_ISDIR(st.st_mode)) throw InputFailure(path + ": is a directory", path);
  // /proc files report size 0 and pipes have none: never map them (the TS side streams those).
  if (!S_ISREG(st.st_mode)) throw InputFailure(path + ": not a regular file", path);
  if (start >= end) return;
  std::call_once(busHandlerOnce, installBusHandler);

  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const size_t window = options.windowBytes < 2 * page ? 2 * page : options.windowBytes;
  size_t want = window;
  uint64_t off = start;
  while (off < end) {
    if (fstat(fd.get(), &st) != 0) throw InputFailure(path + ": " + describeErrno(errno), path);
    if (static_cast<uint64_t>(st.st_size) < end) truncated(path, end);
    const uint64_t mapStart = off & ~(page - 1);
    const uint64_t mapEnd = end - mapStart > want ? mapStart + want : end;
    const size_t len = static_cast<size_t>(mapEnd - mapStart);
    void* addr = mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd.get(), static_cast<off_t>(mapStart));
    if (addr == MAP_FAILED) throw InputFailure(path + ": " + describeErrno(errno), path);
    Mapping mapping(addr, len);
    madvise(addr, len, MADV_SEQUENTIAL);
    if (options.afterMap != nullptr) options.afterMap(options.ctx, fd.get());
    const uint8_t* base = static_cast<const uint8_t*>(addr);
    BusGuard guard;
    guard.lo = reinterpret_cast<uintptr_t>(base);
    guard.hi = reinterpret_cast<uintptr_t>(base) + ((len + page - 1) & ~(page - 1));
    ptrdiff_t used;
    try {
      used = guardedScan(scanner, base + (off - mapStart), base + len, mapEnd == end, guard);
    } catch (...) {
      currentGuard = nullptr;  // e.g. bad_alloc from the flow table: the guard dies with this frame
      throw;
    }
    if (used < 0) truncated(path, end);
    if (used == 0) {
      want *= 2;  // one line longer than the window
      continue;
    }
    off += static_cast<uint64_t>(used);
    want = window;
  }
}

}  // namespace ctscope
