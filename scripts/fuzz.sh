#!/usr/bin/env bash
# Fuzz the native tokenizer with libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer.
# Usage: scripts/fuzz.sh [seconds]   (default 60). Exits non-zero when the fuzzer finds a crash,
# a sanitizer report or a broken invariant; the input that did it is kept (path printed).
# Needs clang++ with libFuzzer; installs clang with apt-get when missing and running as root,
# otherwise skips with a message.
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")/.."

if ! command -v clang++ >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "fuzz: installing clang"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang >/dev/null
  else
    echo "fuzz: skipped, clang++ is not installed (and cannot be installed here: not root or no apt-get)"
    exit 0
  fi
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/ctscope-fuzz.XXXXXX")"
artifacts="${CTSCOPE_FUZZ_ARTIFACTS:-${TMPDIR:-/tmp}/ctscope-fuzz-artifacts}"
mkdir -p "$artifacts"
trap 'rm -rf "$work"' EXIT

build() {
  clang++ -std=c++17 -O1 -g -fno-omit-frame-pointer -ffp-contract=off \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    native/fuzz/fuzz_tokenizer.cc native/tokenizer.cc native/mapped_file.cc -o "$work/fuzz_tokenizer" 2>"$work/build.log"
}
no_runtime() { grep -qiE "libclang_rt|cannot find -l|fsanitize=fuzzer" "$work/build.log"; }

echo "fuzz: building native/fuzz/fuzz_tokenizer.cc"
if ! build && no_runtime && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  # Debian ships clang's sanitizer and libFuzzer runtimes apart from clang.
  echo "fuzz: installing libclang-rt-dev"
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libclang-rt-dev >/dev/null || true
fi
if [ ! -x "$work/fuzz_tokenizer" ] && ! build; then
  if no_runtime; then
    cat "$work/build.log" >&2
    echo "fuzz: skipped, this clang has no libFuzzer runtime (install libclang-rt-dev)"
    exit 0
  fi
  cat "$work/build.log" >&2
  echo "fuzz: build failed" >&2
  exit 1
fi

npx --no-install tsx scripts/fuzz-corpus.ts "$work/corpus" "$work/dict" "${CTSCOPE_SEED:-1}"

echo "fuzz: running for ${secs}s (artifacts in $artifacts)"
set +e
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
  "$work/fuzz_tokenizer" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -dict="$work/dict" -artifact_prefix="$artifacts/" -print_final_stats=1 "$work/corpus" 2>&1 | tail -n 40
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED (exit $status); reproduce with the input saved in $artifacts" >&2
  exit "$status"
fi
echo "fuzz: ok, no crash in ${secs}s"
