// SPDX-License-Identifier: Apache-2.0
/// \file
/// Named scalar metrics in insertion order, with TRL-style names ("accuracy", "rewards/chosen", an
/// "eval_" prefix for held-out sets).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metarm/core/error.hpp"

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
