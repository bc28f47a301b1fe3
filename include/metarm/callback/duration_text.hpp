// SPDX-License-Identifier: Apache-2.0
/// \file
/// A duration as progress output prints it: "42s", "3m07s", "2h15m".
#pragma once

#include <algorithm>
#include <cmath>
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
  constexpr std::size_t room = sizeof d.text - 1;  // the last byte stays the terminating NUL
  if (total >= 3600) {
    fmt::format_to_n(d.text, room, "{}h{:02}m", total / 3600, (total % 3600) / 60);
  } else if (total >= 60) {
    fmt::format_to_n(d.text, room, "{}m{:02}s", total / 60, total % 60);
  } else {
    fmt::format_to_n(d.text, room, "{}s", total);
  }
  return d;
}

}  // namespace metarm
