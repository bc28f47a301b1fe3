// SPDX-License-Identifier: Apache-2.0
/// \file
/// Writing a file so that readers see either the old file or the complete new one, never a partial write:
/// the bytes go to a temporary file in the target's directory, are flushed to disk, and the temporary file is
/// renamed over the target (rename is atomic within a file system).
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metarm/core/error.hpp"

namespace metarm {

/// Writes `bytes` to `path` so that readers see the old file or the complete new one; throws, naming the path,
/// on failure.
inline void write_file_atomically(const std::string& path, std::span<const unsigned char> bytes) {
  std::string temporary = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) {
    throw Error(path, std::string("cannot create a temporary file beside it: ") + std::strerror(errno));
  }
  const auto fail = [&](const char* what) {
    const int code = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    throw Error(path, std::string(what) + ": " + std::strerror(code));
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
    throw Error(path, std::string("closing failed: ") + std::strerror(code));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int code = errno;
    ::unlink(temporary.c_str());
    throw Error(path, std::string("cannot rename the temporary file over it: ") + std::strerror(code));
  }
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
