// SPDX-License-Identifier: Apache-2.0
/// \file
/// NumPy's .npy format (version 1.0, 2.0 or 3.0): the magic "\x93NUMPY", a version, a header length, a Python
/// dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (n, d), } and the raw data. Reads float32 and
/// float64 arrays of either byte order and either memory order; everything else is refused with a clear error.
#pragma once

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "metarm/core/error.hpp"
#include "metarm/io/atomic_file.hpp"

namespace metarm {

/// An array read from a .npy file, as doubles in row-major order.
struct NpyArray {
  /// The dimensions, outermost first.
  std::vector<std::int64_t> shape;
  std::vector<double> values;  ///< row-major (C order), whatever the file's order
  /// Whether the file stored float64 (else float32).
  bool was_float64 = false;
  /// Whether the file stored the array in Fortran (column-major) order.
  bool was_fortran_order = false;

  /// The number of elements, the product of the dimensions.
  std::int64_t elements() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

namespace detail {

class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  void parse(std::string& descr, bool& fortran, std::vector<std::int64_t>& shape) {
    bool saw_descr = false, saw_order = false, saw_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        descr = quoted();
        saw_descr = true;
      } else if (key == "fortran_order") {
        skip_space();
        if (text_.substr(at_, 4) == "True") {
          fortran = true;
          at_ += 4;
        } else if (text_.substr(at_, 5) == "False") {
          fortran = false;
          at_ += 5;
        } else {
          fail("'fortran_order' must be True or False");
        }
        saw_order = true;
      } else if (key == "shape") {
        expect('(');
        while (true) {
          skip_space();
          if (peek() == ')') break;
          std::int64_t d = 0;
          std::size_t digits = 0;
          while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') {
            if (d > (std::int64_t{1} << 48)) fail("a dimension of 'shape' is too large");
            d = d * 10 + (text_[at_++] - '0');
            ++digits;
          }
          if (digits == 0) fail("'shape' must be a tuple of non-negative integers");
          shape.push_back(d);
          skip_space();
          if (peek() == ',') ++at_;
        }
        ++at_;
        saw_shape = true;
      } else {
        fail(fmt::format("unknown header key '{}'", key));
      }
      skip_space();
      if (peek() == ',') ++at_;
    }
    if (!saw_descr || !saw_order || !saw_shape) fail("header needs 'descr', 'fortran_order' and 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(path_, fmt::format("invalid .npy header: {}", message));
  }
  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n')) ++at_;
  }
  char peek() {
    if (at_ >= text_.size()) fail("header ends early");
    return text_[at_];
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    ++at_;
  }
  std::string quoted() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const std::size_t end = text_.find(quote, at_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string s(text_.substr(at_ + 1, end - at_ - 1));
    at_ = end + 1;
    return s;
  }

  std::string_view text_;
  const std::string& path_;
  std::size_t at_ = 0;
};

}  // namespace detail

/// Parses the bytes of a .npy file; `path` only names it in errors.
inline NpyArray parse_npy(const std::string& path, const std::vector<unsigned char>& bytes) {
  const auto fail = [&](const std::string& message) { throw Error(path, message); };
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) fail("not a .npy file (no \\x93NUMPY magic)");
  const int major = bytes[6];
  std::size_t header_length = 0, header_start = 0;
  if (major == 1) {
    header_length = bytes[8] | (std::size_t{bytes[9]} << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail("file ends inside the .npy preamble");
    header_length = bytes[8] | (std::size_t{bytes[9]} << 8) | (std::size_t{bytes[10]} << 16) | (std::size_t{bytes[11]} << 24);
    header_start = 12;
  } else {
    fail(fmt::format(".npy format version {} is not supported (1, 2 or 3)", major));
  }
  if (header_length > bytes.size() - header_start) {
    fail(fmt::format("header length {} exceeds the file", header_length));
  }
  const std::string_view header(reinterpret_cast<const char*>(bytes.data() + header_start), header_length);
  std::string descr;
  NpyArray array;
  detail::NpyHeaderParser(header, path).parse(descr, array.was_fortran_order, array.shape);
  std::size_t item = 0;
  bool big_endian = false;
  if (descr == "<f4" || descr == "=f4" || descr == ">f4") {
    item = 4;
    big_endian = descr[0] == '>';
  } else if (descr == "<f8" || descr == "=f8" || descr == ">f8") {
    item = 8;
    big_endian = descr[0] == '>';
  } else {
    fail(fmt::format("dtype '{}' is not supported (float32 or float64)", descr));
  }
  array.was_float64 = item == 8;
  std::uint64_t elements = 1;
  for (auto d : array.shape) {
    if (d != 0 && elements > (std::uint64_t{1} << 60) / static_cast<std::uint64_t>(d)) fail("shape is too large");
    elements *= static_cast<std::uint64_t>(d);
  }
  const std::size_t data_start = header_start + header_length;
  const std::uint64_t need = elements * item;
  if (bytes.size() - data_start != need) {
    fail(fmt::format("data holds {} bytes, shape and dtype need {}{}", bytes.size() - data_start, need,
                     (bytes.size() - data_start < need ? " (truncated)" : "")));
  }
  std::vector<double> raw(static_cast<std::size_t>(elements));
  const unsigned char* p = bytes.data() + data_start;
  for (std::size_t i = 0; i < raw.size(); ++i, p += item) {
    unsigned char b[8];
    std::memcpy(b, p, item);
    if (big_endian) std::reverse(b, b + item);
    if (item == 4) {
      float f;
      std::memcpy(&f, b, 4);
      raw[i] = f;
    } else {
      std::memcpy(&raw[i], b, 8);
    }
  }
  if (!array.was_fortran_order || array.shape.size() < 2) {
    array.values = std::move(raw);
    return array;
  }
  // Fortran order: the first index varies fastest. Reorder to C order.
  const std::size_t rank = array.shape.size();
  array.values.resize(raw.size());
  std::vector<std::int64_t> index(rank, 0);
  for (std::size_t f = 0; f < raw.size(); ++f) {
    std::size_t c = 0;
    for (std::size_t k = 0; k < rank; ++k) c = c * static_cast<std::size_t>(array.shape[k]) + static_cast<std::size_t>(index[k]);
    array.values[c] = raw[f];
    for (std::size_t k = 0; k < rank; ++k) {
      if (++index[k] < array.shape[k]) break;
      index[k] = 0;
    }
  }
  return array;
}

/// Reads and parses a .npy file; throws, naming it, when it cannot be read or holds no supported array.
inline NpyArray read_npy(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw Error(path, fmt::format("cannot open for reading: {}", std::strerror(errno)));
  std::vector<unsigned char> bytes;
  unsigned char chunk[1 << 16];
  std::size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw Error(path, "read failed");
  return parse_npy(path, bytes);
}

/// Writes a C-order little-endian float32 or float64 array (version 1.0).
template <class T>
void write_npy(const std::string& path, const std::vector<std::int64_t>& shape, const std::vector<T>& values) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "metarm: write_npy takes float or double");
  static_assert(std::endian::native == std::endian::little, "metarm: write_npy assumes a little-endian host");
  std::string header = std::string("{'descr': '<f") + (sizeof(T) == 4 ? "4" : "8") + "', 'fortran_order': False, 'shape': (";
  for (auto d : shape) header += std::to_string(d) + ", ";
  header += "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::vector<unsigned char> bytes{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<unsigned char>(header.size() & 0xFF),
                                   static_cast<unsigned char>(header.size() >> 8)};
  bytes.insert(bytes.end(), header.begin(), header.end());
  const auto* data = reinterpret_cast<const unsigned char*>(values.data());
  bytes.insert(bytes.end(), data, data + values.size() * sizeof(T));
  write_file_atomically(path, bytes);
}

}  // namespace metarm
