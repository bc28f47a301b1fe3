// SPDX-License-Identifier: Apache-2.0
/// \file
/// UTF-8 validation, so that text readers can name the byte where a file stops being valid text.
#pragma once

#include <cstddef>
#include <string_view>

namespace metarm {

/// Offset of the first byte that does not belong to a well-formed UTF-8 sequence (overlong forms, surrogates
/// and code points above U+10FFFF included), or npos when the whole text is valid.
inline std::size_t invalid_utf8_offset(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;   // overlong
      if (c == 0xED) high = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;   // overlong
      if (c == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (i + length > n) {
      return i;
    }
    if (s[i + 1] < low || s[i + 1] > high) {
      return i;
    }
    for (std::size_t k = 2; k < length; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) {
        return i;
      }
    }
    i += length;
  }
  return std::string_view::npos;
}

}  // namespace metarm
