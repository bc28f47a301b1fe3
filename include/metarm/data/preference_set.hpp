// SPDX-License-Identifier: Apache-2.0
/// \file
/// Labelled preference pairs in host memory: for pair i, the chosen and rejected responses' feature columns
/// and an optional margin (how strongly chosen is preferred; 0 when the data has none).
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

/// Labelled preference pairs of dense features in host memory, each with an optional margin.
template <class T>
class PreferenceSet {
 public:
  /// The feature type.
  using scalar_type = T;

  /// A set without a feature dimension, to be assigned one that has it.
  PreferenceSet() = default;
  /// An empty set of pairs of `dim` features each.
  explicit PreferenceSet(index_t dim) : dim_(dim) {
    METARM_REQUIRE(dim > 0, "PreferenceSet", "argument 'dim' must be > 0, got {}", dim);
  }

  /// Reserves memory for `pairs` pairs.
  void reserve(index_t pairs) {
    chosen_.reserve(static_cast<std::size_t>(pairs * dim_));
    rejected_.reserve(static_cast<std::size_t>(pairs * dim_));
    margins_.reserve(static_cast<std::size_t>(pairs));
  }

  /// Adds one pair; both feature spans hold dim() values, all finite.
  void add(std::span<const T> chosen, std::span<const T> rejected, T margin = T(0)) {
    const std::string pair = fmt::format("pair {}", size());
    check_column(chosen, "chosen", pair);
    check_column(rejected, "rejected", pair);
    METARM_REQUIRE(std::isfinite(margin), "PreferenceSet::add", "{}: argument 'margin' is not finite", pair);
    chosen_.insert(chosen_.end(), chosen.begin(), chosen.end());
    rejected_.insert(rejected_.end(), rejected.begin(), rejected.end());
    margins_.push_back(margin);
    has_margins_ = has_margins_ || margin != T(0);
  }

  /// The number of features of each response.
  index_t dim() const { return dim_; }
  /// The number of pairs.
  index_t size() const { return static_cast<index_t>(margins_.size()); }
  /// Whether the set holds no pair.
  bool empty() const { return margins_.empty(); }
  /// Whether any pair has a margin other than 0.
  bool has_margins() const { return has_margins_; }

  /// Pair i's chosen features, dim() values.
  const T* chosen(index_t i) const { return chosen_.data() + i * dim_; }
  /// Pair i's rejected features, dim() values.
  const T* rejected(index_t i) const { return rejected_.data() + i * dim_; }
  /// Pair i's margin.
  T margin(index_t i) const { return margins_[static_cast<std::size_t>(i)]; }

  /// The chosen responses' features.
  ///
  /// Column-major dim x size() matrices.
  const std::vector<T>& chosen_features() const { return chosen_; }
  /// The rejected responses' features, a column-major dim x size() matrix.
  const std::vector<T>& rejected_features() const { return rejected_; }
  /// The pairs' margins, one per pair.
  const std::vector<T>& margins() const { return margins_; }

 private:
  void check_column(std::span<const T> column, const char* side, const std::string& pair) const {
    METARM_REQUIRE(dim_ > 0, "PreferenceSet::add", "the set was created without a feature dimension");
    METARM_REQUIRE(static_cast<index_t>(column.size()) == dim_, "PreferenceSet::add",
                   "{}: argument '{}' has {} features, expected {}", pair, side, column.size(), dim_);
    for (std::size_t i = 0; i < column.size(); ++i) {
      METARM_REQUIRE(std::isfinite(column[i]), "PreferenceSet::add",
                     "{}: argument '{}' feature {} is not finite", pair, side, i);
    }
  }

  index_t dim_ = 0;
  std::vector<T> chosen_;
  std::vector<T> rejected_;
  std::vector<T> margins_;
  bool has_margins_ = false;
};

}  // namespace metarm
