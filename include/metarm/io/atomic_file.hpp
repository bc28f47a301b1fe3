// SPDX-License-Identifier: Apache-2.0
/// \file
/// Writing a file so that readers see either the old file or the complete new one, never a partial write:
/// the bytes go to a temporary file in the target's directory, are flushed to disk, and the temporary file is
/// renamed over the target (rename is atomic within a file system). A write that was interrupted (a killed
/// process) leaves its temporary file behind; the next successful write to the same target removes it.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <span>
#include <string>
#include <vector>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metarm/core/error.hpp"

namespace metarm {

namespace detail {

// Whether `name` is one of the temporary names write_file_atomically gives files for the target named
// `target`: the target's name, ".tmp-", then the six letters or digits mkstemp puts in place of XXXXXX.
inline bool is_temporary_of(std::string_view name, std::string_view target) {
  constexpr std::string_view infix = ".tmp-";
  constexpr std::size_t suffix = 6;
  if (name.size() != target.size() + infix.size() + suffix || name.substr(0, target.size()) != target ||
      name.substr(target.size(), infix.size()) != infix) {
    return false;
  }
  for (const char c : name.substr(target.size() + infix.size())) {
    const bool letter_or_digit = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!letter_or_digit) return false;
  }
  return true;
}

// Removes the temporary files that interrupted writes to `path` left beside it: regular files of exactly
// that name pattern, nothing else (not a link, not another target's). Called once a write has replaced the
// target, so a failure here costs only disk space, and is ignored. Two writers to one path at once are not
// supported: one may remove the other's file before its rename, which then fails with an error.
inline void remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string name = target.filename().string();
  const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code error;
  fs::directory_iterator entries(directory, error);
  if (error) return;
  for (const fs::directory_entry& entry : entries) {
    std::error_code ignored;
    if (is_temporary_of(entry.path().filename().string(), name) && entry.is_regular_file(ignored) &&
        !entry.is_symlink(ignored)) {
      fs::remove(entry.path(), ignored);
    }
  }
}

}  // namespace detail

/// Writes `bytes` to `path` so that readers see the old file or the complete new one; throws, naming the path,
/// on failure. Once written, removes the temporary files (`path.tmp-` and six letters or digits) that
/// interrupted writes to the same path left.
inline void write_file_atomically(const std::string& path, std::span<const unsigned char> bytes) {
  std::string temporary = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) {
    throw Error(path, fmt::format("cannot create a temporary file beside it: {}", std::strerror(errno)));
  }
  const auto fail = [&](const char* what) {
    const int code = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    throw Error(path, fmt::format("{}: {}", what, std::strerror(code)));
  };
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ::ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed");
    }
    written += static_cast<std::size_t>(n);
  }
  // mkstemp creates the file 0600; checkpoints are meant to be shared like any output file (rw-r--r--).
  ::fchmod(fd, 0644);
  if (::fsync(fd) != 0) fail("flushing to disk failed");
  if (::close(fd) != 0) {
    const int code = errno;
    ::unlink(temporary.c_str());
    throw Error(path, fmt::format("closing failed: {}", std::strerror(code)));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int code = errno;
    ::unlink(temporary.c_str());
    throw Error(path, fmt::format("cannot rename the temporary file over it: {}", std::strerror(code)));
  }
  detail::remove_stale_temporaries(path);
}

/// write_file_atomically for a byte vector.
inline void write_file_atomically(const std::string& path, const std::vector<unsigned char>& bytes) {
  write_file_atomically(path, std::span<const unsigned char>(bytes.data(), bytes.size()));
}

/// write_file_atomically for text.
inline void write_file_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

}  // namespace metarm
