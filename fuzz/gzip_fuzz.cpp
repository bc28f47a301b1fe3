// SPDX-License-Identifier: Apache-2.0
// The line reader of plain and gzip-compressed files: every line, to the end or to the error that names the
// file (a truncated or corrupt gzip stream).
#include <cstdint>
#include <string>

#include "metarm/io/line_reader.hpp"

#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = fuzz::ScratchFile::write(data, size);
  fuzz::expect_error_or_success([&] {
    metarm::LineReader reader(path);
    std::string line;
    std::int64_t lines = 0;
    while (reader.next(line)) {
      fuzz::require(reader.line_number() == ++lines, "lines are numbered 1, 2, ...");
      fuzz::require(line.find('\n') == std::string::npos, "a line holds no newline");
    }
  });
  return 0;
}
