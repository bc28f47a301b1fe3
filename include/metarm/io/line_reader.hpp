// SPDX-License-Identifier: Apache-2.0
/// \file
/// Lines of a text file that may be gzip-compressed (zlib reads plain files through the same calls), with the
/// line number of each, and a clear error for a missing, unreadable or truncated file.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <zlib.h>

#include "metarm/core/error.hpp"

namespace metarm {

/// Reads the lines of a plain or gzip-compressed text file one by one, counting them for error messages.
class LineReader {
 public:
  /// Opens `path`; throws, naming it, when it cannot be opened.
  explicit LineReader(std::string path) : path_(std::move(path)) {
    errno = 0;
    file_ = gzopen(path_.c_str(), "rb");
    if (file_ == nullptr) {
      throw Error(path_, fmt::format("cannot open for reading: {}",
                                     (errno != 0 ? std::strerror(errno) : "not enough memory for the decompressor")));
    }
    gzbuffer(file_, 1 << 17);
    buffer_.resize(1 << 16);
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  /// Closes the file.
  ~LineReader() {
    if (file_ != nullptr) {
      gzclose_r(file_);
    }
  }

  /// The next line without its end-of-line ("\n" or "\r\n"); false at the end of the file. A final line without
  /// a newline is still a line. Throws when the file is a gzip stream cut short or unreadable.
  bool next(std::string& line) {
    line.clear();
    while (true) {
      if (begin_ == end_) {
        if (!fill()) {
          if (line.empty() && !pending_) {
            return false;
          }
          pending_ = false;
          break;
        }
      }
      const char* start = buffer_.data() + begin_;
      const void* newline = std::memchr(start, '\n', end_ - begin_);
      if (newline == nullptr) {
        line.append(start, end_ - begin_);
        begin_ = end_;
        pending_ = true;
        continue;
      }
      const std::size_t length = static_cast<std::size_t>(static_cast<const char*>(newline) - start);
      line.append(start, length);
      begin_ += length + 1;
      pending_ = false;
      break;
    }
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    ++line_number_;
    return true;
  }

  /// 1-based number of the line last returned by next().
  std::int64_t line_number() const { return line_number_; }
  /// The file's path.
  const std::string& path() const { return path_; }
  /// "path:line" of the line last returned, for error messages.
  std::string where() const { return fmt::format("{}:{}", path_, line_number_); }

 private:
  bool fill() {
    if (eof_) {
      return false;
    }
    const int got = gzread(file_, buffer_.data(), static_cast<unsigned>(buffer_.size()));
    if (got < 0) {
      int code = Z_OK;
      const char* message = gzerror(file_, &code);
      throw Error(path_, fmt::format("read failed: {}", (code == Z_ERRNO ? std::strerror(errno) : message)));
    }
    if (got == 0) {
      eof_ = true;
      int code = Z_OK;
      const char* message = gzerror(file_, &code);
      if (code == Z_BUF_ERROR) {
        throw Error(path_, fmt::format("the gzip stream ends early (the file is truncated) after line {}",
                                       line_number_));
      }
      if (code != Z_OK) {
        throw Error(path_, fmt::format("read failed: {}", message));
      }
      return false;
    }
    begin_ = 0;
    end_ = static_cast<std::size_t>(got);
    return true;
  }

  std::string path_;
  gzFile file_ = nullptr;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool eof_ = false;
  bool pending_ = false;  // part of a line read before the buffer ran out
  std::int64_t line_number_ = 0;
};

}  // namespace metarm
