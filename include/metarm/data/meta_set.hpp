// SPDX-License-Identifier: Apache-2.0
/// \file
/// Unlabelled responses from the shifted distribution in host memory, grouped by prompt: prompt p owns
/// columns offsets[p] .\. offsets[p+1] of a dim x total feature matrix, k_p >= 2 of them.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/data/preference_set.hpp"

namespace metarm {

/// Unlabelled responses of dense features in host memory, grouped by prompt.
template <class T>
class MetaSet {
 public:
  /// The feature type.
  using scalar_type = T;

  /// A set without a feature dimension, to be assigned one that has it.
  MetaSet() = default;
  /// An empty set of responses of `dim` features each.
  explicit MetaSet(index_t dim) : dim_(dim) {
    METARM_REQUIRE(dim > 0, "MetaSet", "argument 'dim' must be > 0, got {}", dim);
  }

  /// A preference set with its labels dropped: each pair becomes a prompt with k = 2 responses.
  static MetaSet from_pairs(const PreferenceSet<T>& pairs) {
    MetaSet set(pairs.dim());
    std::vector<T> both(static_cast<std::size_t>(2 * pairs.dim()));
    for (index_t i = 0; i < pairs.size(); ++i) {
      std::copy(pairs.chosen(i), pairs.chosen(i) + pairs.dim(), both.begin());
      std::copy(pairs.rejected(i), pairs.rejected(i) + pairs.dim(), both.begin() + pairs.dim());
      set.add_prompt(both);
    }
    return set;
  }

  /// Adds one prompt's k responses: a column-major dim x k block, k >= 2, all values finite.
  void add_prompt(std::span<const T> responses) {
    const std::string prompt = fmt::format("prompt {}", prompts());
    METARM_REQUIRE(dim_ > 0, "MetaSet::add_prompt", "the set was created without a feature dimension");
    METARM_REQUIRE(responses.size() % static_cast<std::size_t>(dim_) == 0, "MetaSet::add_prompt",
                   "{}: argument 'responses' has {} values, not a multiple of the feature dimension {}", prompt,
                   responses.size(), dim_);
    const index_t k = static_cast<index_t>(responses.size()) / dim_;
    METARM_REQUIRE(k >= 2, "MetaSet::add_prompt",
                   "{}: argument 'responses' holds k = {} responses; the difference objective needs k >= 2", prompt, k);
    for (std::size_t i = 0; i < responses.size(); ++i) {
      METARM_REQUIRE(std::isfinite(responses[i]), "MetaSet::add_prompt",
                     "{}: response {} feature {} is not finite", prompt, i / static_cast<std::size_t>(dim_),
                     i % static_cast<std::size_t>(dim_));
    }
    features_.insert(features_.end(), responses.begin(), responses.end());
    offsets_.push_back(offsets_.back() + k);
  }

  /// The number of features of each response.
  index_t dim() const { return dim_; }
  /// The number of prompts.
  index_t prompts() const { return static_cast<index_t>(offsets_.size()) - 1; }
  /// Whether the set holds no prompt.
  bool empty() const { return prompts() == 0; }
  /// The number of responses, all prompts together.
  index_t responses() const { return offsets_.back(); }
  /// The number of responses k_p of prompt p.
  index_t responses_of(index_t p) const { return offsets_[p + 1] - offsets_[p]; }
  /// Prompt p's responses, a column-major dim x k_p block.
  const T* prompt_features(index_t p) const { return features_.data() + offsets_[p] * dim_; }

  /// All responses' features, a column-major dim x responses() matrix.
  const std::vector<T>& features() const { return features_; }
  /// prompts() + 1 offsets: prompt p owns the columns from offsets[p] up to offsets[p+1].
  const std::vector<index_t>& offsets() const { return offsets_; }

 private:
  index_t dim_ = 0;
  std::vector<T> features_;
  std::vector<index_t> offsets_{0};
};

}  // namespace metarm
