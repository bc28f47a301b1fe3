// SPDX-License-Identifier: Apache-2.0
/// \file
/// Human-like labels. For two responses a, b to the same prompt an annotator prefers a with probability
/// \verbatim
///   P(a > b) = sigmoid(beta * (r*(a) - r*(b))),
/// \endverbatim
/// drawn independently per pair, so labels are noisy the way real annotators' are: near-ties are coin flips,
/// clear differences are labelled right almost always. Every within-prompt pair of a response set is labelled.
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/core/scalar_math.hpp"
#include "metarm/data/preference_set.hpp"
#include "metarm/sim/response_set.hpp"

namespace metarm::sim {

/// Labelled pairs of a response set: which responses, the sampled label and the gold margin of each.
struct LabelledPairs {
  std::vector<index_t> first;               ///< response columns of the set the pairs were drawn from
  /// The other response of each pair.
  std::vector<index_t> second;
  std::vector<unsigned char> first_preferred;  ///< the sampled label
  std::vector<double> gold_margin;          ///< r*(first) - r*(second)
  /// The label temperature the labels were drawn with.
  double beta = 0.0;

  /// The number of pairs.
  index_t size() const { return static_cast<index_t>(first.size()); }

  /// Share of labels that agree with the gold reward's order (a gold tie counts one half).
  double agreement() const {
    double agree = 0.0;
    for (std::size_t i = 0; i < first.size(); ++i) {
      agree += gold_margin[i] == 0.0 ? 0.5 : ((gold_margin[i] > 0.0) == (first_preferred[i] != 0) ? 1.0 : 0.0);
    }
    return agree / static_cast<double>(first.size());
  }

  /// The agreement the label model predicts for these pairs: the mean of sigmoid(beta |r*(a) - r*(b)|).
  double expected_agreement() const {
    double total = 0.0;
    for (double margin : gold_margin) total += sigmoid(beta * std::fabs(margin));
    return total / static_cast<double>(gold_margin.size());
  }
};

/// Labels every pair i < j of responses to the same prompt of `set`, given the gold rewards of its columns.
inline LabelledPairs label_pairs(const ResponseSet& set, std::span<const double> gold, double beta, Rng& rng) {
  METARM_REQUIRE(static_cast<index_t>(gold.size()) == set.size(), "label_pairs",
                 "argument 'gold' has {} rewards, the set has {} responses", gold.size(), set.size());
  METARM_REQUIRE(set.k >= 2, "label_pairs", "the set needs k >= 2 responses per prompt to form pairs");
  METARM_REQUIRE(std::isfinite(beta) && beta >= 0.0, "label_pairs",
                 "argument 'beta' must be finite and >= 0, got {:f}", beta);
  LabelledPairs pairs;
  pairs.beta = beta;
  const std::size_t count = static_cast<std::size_t>(set.prompts * set.k * (set.k - 1) / 2);
  pairs.first.reserve(count);
  pairs.second.reserve(count);
  pairs.first_preferred.reserve(count);
  pairs.gold_margin.reserve(count);
  for (index_t p = 0; p < set.prompts; ++p) {
    for (index_t i = 0; i < set.k; ++i) {
      for (index_t j = i + 1; j < set.k; ++j) {
        const index_t a = p * set.k + i, b = p * set.k + j;
        const double margin = gold[static_cast<std::size_t>(a)] - gold[static_cast<std::size_t>(b)];
        pairs.first.push_back(a);
        pairs.second.push_back(b);
        pairs.gold_margin.push_back(margin);
        pairs.first_preferred.push_back(rng.uniform() < sigmoid(beta * margin) ? 1 : 0);
      }
    }
  }
  return pairs;
}

/// The labelled pairs as training data for a reward model: chosen and rejected joint features.
inline PreferenceSet<double> to_preference_set(const ResponseSet& set, const LabelledPairs& pairs) {
  PreferenceSet<double> out(set.feature_dim());
  out.reserve(pairs.size());
  std::vector<double> a(static_cast<std::size_t>(set.feature_dim())), b(a.size());
  auto fill = [&](std::vector<double>& x, index_t column) {
    const double* c = set.context_of(column);
    const double* y = set.response(column);
    for (index_t i = 0; i < set.context_dim; ++i) x[static_cast<std::size_t>(i)] = c[i];
    for (index_t i = 0; i < set.response_dim; ++i) x[static_cast<std::size_t>(set.context_dim + i)] = y[i];
  };
  for (index_t i = 0; i < pairs.size(); ++i) {
    const auto s = static_cast<std::size_t>(i);
    fill(a, pairs.first[s]);
    fill(b, pairs.second[s]);
    if (pairs.first_preferred[s] != 0) {
      out.add(a, b);
    } else {
      out.add(b, a);
    }
  }
  return out;
}

}  // namespace metarm::sim
