// SPDX-License-Identifier: Apache-2.0
/// \file
/// Unlabelled responses from the shifted distribution with sparse features, grouped by prompt: the sparse
/// counterpart of MetaSet. Prompt p owns columns offsets[p] .. offsets[p+1], k_p >= 2 of them.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/data/sparse_columns.hpp"
#include "metarm/data/sparse_preference_set.hpp"

namespace metarm {

/// Unlabelled responses of sparse features in host memory, grouped by prompt.
template <class T>
class SparseMetaSet {
 public:
  /// The value type.
  using scalar_type = T;

  /// A set without a feature dimension, to be assigned one that has it.
  SparseMetaSet() = default;
  /// An empty set of responses of `dim` features each.
  explicit SparseMetaSet(index_t dim) : features_(checked(dim)) {}

  /// A preference set with its labels dropped: each pair becomes a prompt with k = 2 responses.
  static SparseMetaSet from_pairs(const SparsePreferenceSet<T>& pairs) {
    SparseMetaSet set(pairs.dim());
    SparseColumns<T> both(pairs.dim());
    for (index_t i = 0; i < pairs.size(); ++i) {
      both = SparseColumns<T>(pairs.dim());
      both.add(pairs.chosen_features().column_rows(i), pairs.chosen_features().column_values(i));
      both.add(pairs.rejected_features().column_rows(i), pairs.rejected_features().column_values(i));
      set.add_prompt(both);
    }
    return set;
  }

  /// Adds one prompt's k >= 2 responses, one column each.
  void add_prompt(const SparseColumns<T>& responses) {
    METARM_REQUIRE(dim() > 0, "SparseMetaSet::add_prompt", "the set was created without a feature dimension");
    METARM_REQUIRE(responses.rows() == dim(), "SparseMetaSet::add_prompt",
                   "prompt {}: argument 'responses' has {} features per response, expected {}", prompts(),
                   responses.rows(), dim());
    METARM_REQUIRE(responses.cols() >= 2, "SparseMetaSet::add_prompt",
                   "prompt {}: argument 'responses' holds k = {} responses; the difference objective needs k >= 2",
                   prompts(), responses.cols());
    features_.append(responses);
    offsets_.push_back(offsets_.back() + responses.cols());
  }

  /// The number of features of each response.
  index_t dim() const { return features_.rows(); }
  /// The number of prompts.
  index_t prompts() const { return static_cast<index_t>(offsets_.size()) - 1; }
  /// Whether the set holds no prompt.
  bool empty() const { return prompts() == 0; }
  /// The number of responses, all prompts together.
  index_t responses() const { return offsets_.back(); }
  /// The number of responses k_p of prompt p.
  index_t responses_of(index_t p) const { return offsets_[p + 1] - offsets_[p]; }
  /// Stored values of prompt p's responses together.
  index_t nonzeros_of(index_t p) const {
    index_t total = 0;
    for (index_t j = offsets_[p]; j < offsets_[p + 1]; ++j) {
      total += features_.nonzeros_of(j);
    }
    return total;
  }

  /// All responses' features, one column per response.
  const SparseColumns<T>& features() const { return features_; }
  /// prompts() + 1 offsets: prompt p owns the columns from offsets[p] up to offsets[p+1].
  const std::vector<index_t>& offsets() const { return offsets_; }

 private:
  static index_t checked(index_t dim) {
    METARM_REQUIRE(dim > 0, "SparseMetaSet", "argument 'dim' must be > 0, got {}", dim);
    return dim;
  }

  SparseColumns<T> features_;
  std::vector<index_t> offsets_{0};
};

/// The listed prompts of `set`, in the order given.
template <class T>
SparseMetaSet<T> select_prompts(const SparseMetaSet<T>& set, std::span<const index_t> prompts) {
  SparseMetaSet<T> out(set.dim());
  for (index_t p : prompts) {
    METARM_REQUIRE(p >= 0 && p < set.prompts(), "select_prompts",
                   "prompt index {} is outside the set of {}", p, set.prompts());
    SparseColumns<T> responses(set.dim());
    for (index_t c = set.offsets()[static_cast<std::size_t>(p)]; c < set.offsets()[static_cast<std::size_t>(p) + 1]; ++c) {
      responses.add(set.features().column_rows(c), set.features().column_values(c));
    }
    out.add_prompt(responses);
  }
  return out;
}

}  // namespace metarm
