// SPDX-License-Identifier: Apache-2.0
/// \file
/// A duration as progress output prints it: "42s", "3m07s", "2h15m".
#pragma once

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/core.h>

namespace metarm {

/// A formatted duration in a fixed buffer, so that printing it allocates nothing.
struct DurationText {
  /// The text, NUL-terminated.
  char text[32];
};

/// `seconds` rounded to whole seconds and written as "42s", "3m07s" or "2h15m".
inline DurationText format_duration(double seconds) {
  DurationText d{};
  const auto total = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  // Short enough for std::string's own storage, so no allocation either.
  const std::string text = total >= 3600 ? fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60)
                           : total >= 60 ? fmt::format("{}m{:02}s", total / 60, total % 60)
                                         : fmt::format("{}s", total);
  text.copy(d.text, sizeof d.text - 1);  // the last byte stays the terminating NUL
  return d;
}

}  // namespace metarm
