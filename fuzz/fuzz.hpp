// SPDX-License-Identifier: Apache-2.0
// What every fuzz target shares: the libFuzzer entry point it defines, a scratch file for the readers that take
// a path, and the one outcome a target accepts besides success, a metarm::Error (the library's documented
// refusal). Anything else that escapes a target (another exception, a crash, a sanitizer report) is a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <unistd.h>

#include "metarm/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fuzz {

// Counted so that the replay of a seed corpus can require both kinds of input: files a reader accepts and
// files it refuses.
inline std::size_t accepted = 0;
inline std::size_t refused = 0;

// Runs `parse`; a metarm::Error is a refusal, counted, and anything else propagates to the fuzzer.
template <class Parse>
void expect_error_or_success(Parse&& parse) {
  try {
    parse();
    ++accepted;
  } catch (const metarm::Error&) {
    ++refused;
  }
}

// An invariant of a reader's result; a broken one is a bug like a crash, so it aborts, saying which.
inline void require(bool holds, const char* what) {
  if (!holds) {
    std::fprintf(stderr, "fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

// One file per process, rewritten with each input and removed at exit: the readers under test take a path.
class ScratchFile {
 public:
  static const std::string& path() {
    static ScratchFile file;
    return file.path_;
  }

  static const std::string& write(const std::uint8_t* data, std::size_t size) {
    const std::string& p = path();
    std::FILE* f = std::fopen(p.c_str(), "wb");
    if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
      std::perror(p.c_str());
      std::abort();  // the harness's own failure, not the reader's
    }
    return p;
  }

 private:
  ScratchFile() {
    const char* dir = std::getenv("TMPDIR");
    std::string pattern = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/metarm-fuzz-XXXXXX";
    const int fd = mkstemp(pattern.data());
    if (fd < 0) {
      std::perror("mkstemp");
      std::abort();
    }
    close(fd);
    path_ = pattern;
  }
  ~ScratchFile() { std::remove(path_.c_str()); }

  std::string path_;
};

}  // namespace fuzz
