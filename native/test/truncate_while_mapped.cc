// Truncation under a live mapping, made deterministic: the file is cut right after a window is
// mapped (ScanFileOptions::afterMap), so reading the window raises SIGBUS. scanFileRange must
// turn that into an InputFailure and leave the process healthy; a SIGBUS that is not ours must
// still terminate the process as before. Built and run by test/native-truncation.test.ts.
// Usage: truncate_while_mapped <scratch file path>. Prints one "ok ..." line per check; exit 0.
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../mapped_file.h"
#include "../tokenizer.h"

using ctscope::InputFailure;
using ctscope::ScanFileOptions;
using ctscope::Scanner;

namespace {

struct Cut {
  const char* path;
  int window;      // cut when this window (1-based) has been mapped
  off_t length;    // new file length
  int mapped = 0;  // windows mapped so far
};

void cutAfterMap(void* ctx, int) {
  Cut* c = static_cast<Cut*>(ctx);
  if (++c->mapped == c->window && truncate(c->path, c->length) != 0) {
    std::perror("truncate");
    std::exit(2);
  }
}

[[noreturn]] void bad(const std::string& what) {
  std::printf("FAIL %s\n", what.c_str());
  std::exit(1);
}

size_t writeLines(const char* path, int lines) {
  std::string text;
  for (int i = 0; i < lines; i++) {
    text += "ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0." + std::to_string(i % 250 + 1) +
            " dst=10.0.1.1 sport=" + std::to_string(1024 + i) +
            " dport=443 src=10.0.1.1 dst=10.0.0." + std::to_string(i % 250 + 1) + " sport=443 dport=" + std::to_string(1024 + i) +
            " [ASSURED] mark=0 zone=0 use=2\n";
  }
  FILE* f = std::fopen(path, "wb");
  if (f == nullptr || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0) bad("write");
  return text.size();
}

/** Scan with a cut after the given window; returns the InputFailure message ("" when none). */
std::string scanWithCut(const char* path, size_t size, int window, off_t length) {
  Cut cut{path, window, length};
  ScanFileOptions o;
  o.windowBytes = 8192;
  o.afterMap = cutAfterMap;
  o.ctx = &cut;
  ctscope::Filter f;
  Scanner s(f);
  try {
    ctscope::scanFileRange(path, 0, size, s, o);
  } catch (const InputFailure& e) {
    if (e.path != path) bad("InputFailure.path");
    return e.what();
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <scratch file>\n", argv[0]);
    return 2;
  }
  const char* path = argv[1];
  const std::string expected = [&] {
    const size_t size = writeLines(path, 400);
    return std::string(path) + ": file was truncated while being read (expected " + std::to_string(size) + " bytes)";
  }();

  // 1. Cut to nothing right after the first window is mapped: the first read faults.
  size_t size = writeLines(path, 400);
  std::string msg = scanWithCut(path, size, 1, 0);
  if (msg != expected) bad("cut to 0 after the first map: got \"" + msg + "\"");
  std::printf("ok SIGBUS on the first window became: %s\n", msg.c_str());

  // 2. Cut in the middle of the file while its third window is mapped (fault mid-window).
  size = writeLines(path, 400);
  msg = scanWithCut(path, size, 3, 8192 * 2 + 4096);
  if (msg != expected) bad("cut mid-file after the third map: got \"" + msg + "\"");
  std::printf("ok SIGBUS in the middle of a window became an InputFailure\n");

  // 3. The guard is disarmed afterwards: a normal scan of the same path works and counts right.
  size = writeLines(path, 400);
  if (!scanWithCut(path, size, 1000, 0).empty()) bad("clean scan after the faults");
  {
    ctscope::Filter f;
    Scanner s(f);
    ScanFileOptions o;
    o.windowBytes = 8192;
    ctscope::scanFileRange(path, 0, size, s, o);
    if (s.counters[ctscope::C_LINES] != 400 || s.counters[ctscope::C_ENTRIES] != 400) bad("counts after the faults");
  }
  std::printf("ok later scans are unaffected (400 lines, 400 entries)\n");

  // 4. A SIGBUS that is not in a scan window still kills the process (the handler chains to the
  //    default action): a child maps the file itself, truncates it and reads.
  const pid_t child = fork();
  if (child == 0) {
    const int fd = open(path, O_RDWR);
    void* m = mmap(nullptr, 8192, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED || ftruncate(fd, 0) != 0) _exit(3);
    volatile char c = static_cast<const char*>(m)[100];
    (void)c;
    _exit(0);  // not reached
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGBUS) bad("foreign SIGBUS: child status " + std::to_string(status));
  std::printf("ok a SIGBUS outside the scan windows still terminates the process\n");

  // 5. So does a SIGBUS sent with kill().
  const pid_t child2 = fork();
  if (child2 == 0) {
    raise(SIGBUS);
    _exit(0);
  }
  waitpid(child2, &status, 0);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGBUS) bad("kill(SIGBUS): child status " + std::to_string(status));
  std::printf("ok kill(SIGBUS) still terminates the process\n");
  return 0;
}
