// SPDX-License-Identifier: Apache-2.0
/// \file
/// Labelled preference pairs with sparse features (hashed text features, say): the sparse counterpart of
/// PreferenceSet, with the same members the learner reads.
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/data/sparse_columns.hpp"

namespace metarm {

/// Labelled preference pairs of sparse features in host memory, each with an optional margin.
template <class T>
class SparsePreferenceSet {
 public:
  /// The value type.
  using scalar_type = T;

  /// A set without a feature dimension, to be assigned one that has it.
  SparsePreferenceSet() = default;
  /// An empty set of pairs of `dim` features each.
  explicit SparsePreferenceSet(index_t dim) : chosen_(checked(dim)), rejected_(dim) {}

  /// Adds one pair given as (row indices, values) of each side; rows strictly increasing, values finite.
  void add(std::span<const index_t> chosen_rows, std::span<const T> chosen_values, std::span<const index_t> rejected_rows,
           std::span<const T> rejected_values, T margin = T(0)) {
    const std::string pair = fmt::format("pair {}", size());
    METARM_REQUIRE(dim() > 0, "SparsePreferenceSet::add", "the set was created without a feature dimension");
    METARM_REQUIRE(std::isfinite(margin), "SparsePreferenceSet::add", "{}: argument 'margin' is not finite", pair);
    // Both sides are checked before either is stored, so a refused pair leaves the set as it was.
    chosen_.check(chosen_rows, chosen_values, pair + ": argument 'chosen'");
    rejected_.check(rejected_rows, rejected_values, pair + ": argument 'rejected'");
    chosen_.add(chosen_rows, chosen_values);
    rejected_.add(rejected_rows, rejected_values);
    margins_.push_back(margin);
    has_margins_ = has_margins_ || margin != T(0);
  }

  /// Reserves memory for `pairs` pairs of about `nonzeros_per_response` stored values per response.
  void reserve(index_t pairs, index_t nonzeros_per_response) {
    chosen_.reserve(pairs, pairs * nonzeros_per_response);
    rejected_.reserve(pairs, pairs * nonzeros_per_response);
    margins_.reserve(static_cast<std::size_t>(pairs));
  }

  /// The number of features of each response.
  index_t dim() const { return chosen_.rows(); }
  /// The number of pairs.
  index_t size() const { return static_cast<index_t>(margins_.size()); }
  /// Whether the set holds no pair.
  bool empty() const { return margins_.empty(); }
  /// Whether any pair has a margin other than 0.
  bool has_margins() const { return has_margins_; }
  /// Pair i's margin.
  T margin(index_t i) const { return margins_[static_cast<std::size_t>(i)]; }

  /// The chosen responses' features, one column per pair.
  ///
  /// Column i of each is pair i's side.
  const SparseColumns<T>& chosen_features() const { return chosen_; }
  /// The rejected responses' features, one column per pair.
  const SparseColumns<T>& rejected_features() const { return rejected_; }
  /// The pairs' margins, one per pair.
  const std::vector<T>& margins() const { return margins_; }

 private:
  static index_t checked(index_t dim) {
    METARM_REQUIRE(dim > 0, "SparsePreferenceSet", "argument 'dim' must be > 0, got {}", dim);
    return dim;
  }

  SparseColumns<T> chosen_;
  SparseColumns<T> rejected_;
  std::vector<T> margins_;
  bool has_margins_ = false;
};

/// The listed pairs of `set`, in the order given (a split, a bootstrap sample, ...).
template <class T>
SparsePreferenceSet<T> select_pairs(const SparsePreferenceSet<T>& set, std::span<const index_t> pairs) {
  SparsePreferenceSet<T> out(set.dim());
  for (index_t i : pairs) {
    METARM_REQUIRE(i >= 0 && i < set.size(), "select_pairs",
                   "pair index {} is outside the set of {}", i, set.size());
    out.add(set.chosen_features().column_rows(i), set.chosen_features().column_values(i),
            set.rejected_features().column_rows(i), set.rejected_features().column_values(i), set.margin(i));
  }
  return out;
}

}  // namespace metarm
