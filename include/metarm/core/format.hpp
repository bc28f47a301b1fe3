// SPDX-License-Identifier: Apache-2.0
/// \file
/// What the `fmt::formatter` specialisations of the library's types share: the format spec of a type whose
/// values are numbers, checked as a double's spec and applied to each value (`fmt::print("{:.4f}", metrics)`),
/// the "{name: value, ...}" text of named numbers, and the copy of a formatted text to a formatter's output.
///
/// The library formats with fmt::format and fmt::print only, never fmt::format_to: with fmt 9 the function
/// that format_to calls in the compiled libfmt is mangled differently by g++ (which builds Debian's libfmt)
/// and clang, so a program built by clang would not link.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace metarm::detail {

/// The spec between ':' and '}' of a formatter for a type made of numbers, kept from parse to format.
///
/// parse() checks it as the spec of a double (at compile time, under fmt's checked format strings);
/// format_number() writes one value with it, or as `{}` writes a double when there is none.
class NumberSpec {
 public:
  /// Reads and checks the spec; returns the position of its closing '}'.
  constexpr auto parse(fmt::format_parse_context& ctx) -> fmt::format_parse_context::iterator {
    const auto begin = ctx.begin();
#if FMT_USE_CONSTEXPR
    fmt::formatter<double> check;
    const auto end = check.parse(ctx);
#else
    // Without fmt's constexpr (nvcc, unless the build sets FMT_USE_CONSTEXPR=1 as metarm::cuda does) a
    // formatter<double> cannot be a variable here; fmt then checks the spec when format_number() applies it.
    auto end = begin;
    while (end != ctx.end() && *end != '}') ++end;
#endif
    size_ = static_cast<std::size_t>(end - begin);
    if (size_ > max_size) ctx.on_error("metarm: a number's format spec is at most 24 characters");
    for (std::size_t i = 0; i < size_; ++i) spec_[i] = begin[i];
    return end;
  }

  /// `value` formatted with the spec.
  std::string format_number(double value) const {
    if (size_ == 0) return fmt::format("{}", value);
    char text[max_size + 3] = {'{', ':'};
    for (std::size_t i = 0; i < size_; ++i) text[2 + i] = spec_[i];
    text[2 + size_] = '}';
    return fmt::format(fmt::runtime(std::string_view(text, size_ + 3)), value);
  }

 private:
  static constexpr std::size_t max_size = 24;
  char spec_[max_size]{};
  std::size_t size_ = 0;
};

/// "{name: value, ...}" of (name, value) pairs in their order, each value with `spec`; with `skip_nan`, NaN
/// values (quantities not measured) are left out. "{}" when none is written.
template <class Fields>
std::string braced_fields(const Fields& fields, const NumberSpec& spec, bool skip_nan) {
  std::string text = "{";
  const char* separator = "";
  for (const auto& [name, value] : fields) {
    if (skip_nan && std::isnan(value)) continue;
    text += separator;
    text += name;
    text += ": ";
    text += spec.format_number(value);
    separator = ", ";
  }
  text += '}';
  return text;
}

/// Copies `text` to a formatter's output and returns the position after it.
template <class Out>
Out write_text(Out out, std::string_view text) {
  return std::copy(text.begin(), text.end(), out);
}

}  // namespace metarm::detail
