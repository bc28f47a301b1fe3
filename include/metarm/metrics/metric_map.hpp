// SPDX-License-Identifier: Apache-2.0
/// \file
/// Named scalar metrics in insertion order, with TRL-style names ("accuracy", "rewards/chosen", an
/// "eval_" prefix for held-out sets), and their fmt formatter: `fmt::print("{:.4f}", m)` prints
/// "{accuracy: 0.7500, loss: 0.5312}".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "metarm/core/error.hpp"
#include "metarm/core/format.hpp"

namespace metarm {

/// Named scalar metrics in insertion order; setting a name again replaces its value.
class Metrics {
 public:
  /// Sets `name` to `value`, keeping its place when the name is already there.
  void set(std::string name, double value) {
    for (auto& item : items_) {
      if (item.first == name) {
        item.second = value;
        return;
      }
    }
    items_.emplace_back(std::move(name), value);
  }

  /// The value of `name`, or nothing when there is none.
  std::optional<double> find(std::string_view name) const {
    for (const auto& item : items_) {
      if (item.first == name) {
        return item.second;
      }
    }
    return std::nullopt;
  }

  /// The value of `name`; throws when there is none.
  double at(std::string_view name) const {
    const auto value = find(name);
    METARM_REQUIRE(value.has_value(), "Metrics::at", "no metric named '{}'", name);
    return *value;
  }

  /// Copies every metric of `other` with `prefix` in front of its name.
  void merge(const Metrics& other, std::string_view prefix = {}) {
    for (const auto& [name, value] : other.items_) {
      set(std::string(prefix) + name, value);
    }
  }

  /// The (name, value) pairs in insertion order.
  const std::vector<std::pair<std::string, double>>& items() const { return items_; }
  /// Whether there is no metric.
  bool empty() const { return items_.empty(); }

 private:
  std::vector<std::pair<std::string, double>> items_;
};

}  // namespace metarm

// Formatters for fmt, which looks them up in its own namespace.
namespace fmt {

/// Formats Metrics as "{name: value, ...}" in insertion order ("{}" when empty); a spec applies to each value
/// as to a double ("{:.3f}"), and without one a value prints as fmt prints a double.
template <>
struct formatter<metarm::Metrics> {
  /// The spec of each value, as of a double.
  metarm::detail::NumberSpec spec;

  /// Reads the spec, which must be a double's.
  constexpr auto parse(fmt::format_parse_context& ctx) { return spec.parse(ctx); }

  /// Writes the text.
  template <class FormatContext>
  auto format(const metarm::Metrics& metrics, FormatContext& ctx) const {
    return metarm::detail::write_text(ctx.out(), metarm::detail::braced_fields(metrics.items(), spec, false));
  }
};

}  // namespace fmt
