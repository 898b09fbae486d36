// Scanning a byte range of a regular file through bounded mmap windows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tokenizer.h"

namespace ctscope {

/** The input cannot be read; the message is "<path>: <reason>" (becomes the TS InputError). */
class InputFailure : public std::runtime_error {
 public:
  InputFailure(const std::string& message, const std::string& path) : std::runtime_error(message), path(path) {}
  std::string path;
};

struct ScanFileOptions {
  /** Bytes mapped at a time; a line longer than this doubles the window until it fits. */
  size_t windowBytes = size_t{64} << 20;
  /** Called after each window is mapped, before it is read (tests truncate the file here). */
  void (*afterMap)(void* ctx, int fd) = nullptr;
  void* ctx = nullptr;
};

/**
 * Scan the whole lines of bytes [start, end) of the regular file at path into scanner.
 * Throws InputFailure when the file cannot be opened, is not a regular file, or is shorter than
 * end (including when it is truncated while mapped: the SIGBUS is caught on this thread).
 */
void scanFileRange(const std::string& path, uint64_t start, uint64_t end, Scanner& scanner, const ScanFileOptions& options = {});

/** Node-style reason for an errno value ("no such file or directory", ...), as src/errors.ts words it. */
std::string describeErrno(int err);

}  // namespace ctscope
