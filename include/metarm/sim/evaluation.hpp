// SPDX-License-Identifier: Apache-2.0
/// \file
/// How well a reward model's rewards on a labelled response set agree with the labels and with the gold
/// reward, and how far apart it puts responses to the same prompt.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "metarm/core/error.hpp"
#include "metarm/metrics/difference_metrics.hpp"
#include "metarm/sim/preference_labels.hpp"

namespace metarm::sim {

namespace detail {
inline void check_rewards(std::span<const double> rewards, const LabelledPairs& pairs, const char* where) {
  METARM_REQUIRE(pairs.size() > 0, where, "argument 'pairs' is empty");
  for (index_t i = 0; i < pairs.size(); ++i) {
    const auto s = static_cast<std::size_t>(i);
    METARM_REQUIRE(pairs.first[s] >= 0 && pairs.second[s] >= 0 &&
                       static_cast<std::size_t>(std::max(pairs.first[s], pairs.second[s])) < rewards.size(),
                   where, "pair {} refers to a response outside the {} rewards given", i, rewards.size());
  }
}
}  // namespace detail

/// Share of pairs whose sampled label the rewards reproduce (a reward tie counts one half).
inline double label_accuracy(std::span<const double> rewards, const LabelledPairs& pairs) {
  detail::check_rewards(rewards, pairs, "label_accuracy");
  double right = 0.0;
  for (index_t i = 0; i < pairs.size(); ++i) {
    const auto s = static_cast<std::size_t>(i);
    const double d = rewards[static_cast<std::size_t>(pairs.first[s])] - rewards[static_cast<std::size_t>(pairs.second[s])];
    right += d == 0.0 ? 0.5 : ((d > 0.0) == (pairs.first_preferred[s] != 0) ? 1.0 : 0.0);
  }
  return right / static_cast<double>(pairs.size());
}

/// Share of pairs the rewards order as the gold reward does (ties on either side count one half).
inline double gold_order_accuracy(std::span<const double> rewards, const LabelledPairs& pairs) {
  detail::check_rewards(rewards, pairs, "gold_order_accuracy");
  double right = 0.0;
  for (index_t i = 0; i < pairs.size(); ++i) {
    const auto s = static_cast<std::size_t>(i);
    const double d = rewards[static_cast<std::size_t>(pairs.first[s])] - rewards[static_cast<std::size_t>(pairs.second[s])];
    const double g = pairs.gold_margin[s];
    right += (d == 0.0 || g == 0.0) ? 0.5 : ((d > 0.0) == (g > 0.0) ? 1.0 : 0.0);
  }
  return right / static_cast<double>(pairs.size());
}

/// Mean and population standard deviation, for normalising a reward model's scale.
struct MeanAndSpread {
  /// The mean.
  double mean = 0.0;
  /// The population standard deviation.
  double spread = 0.0;
};

/// The mean and population standard deviation of `values`.
inline MeanAndSpread mean_and_spread(std::span<const double> values) {
  METARM_REQUIRE(!values.empty(), "mean_and_spread", "argument 'values' is empty");
  MeanAndSpread out;
  for (double v : values) out.mean += v;
  out.mean /= static_cast<double>(values.size());
  for (double v : values) out.spread += (v - out.mean) * (v - out.mean);
  out.spread = std::sqrt(out.spread / static_cast<double>(values.size()));
  return out;
}

/// Every |r_i - r_j| / scale between responses to the same prompt (k responses per prompt, in order).
inline std::vector<double> normalized_reward_gaps(std::span<const double> rewards, std::span<const index_t> offsets,
                                                  double scale) {
  METARM_REQUIRE(std::isfinite(scale) && scale > 0.0, "normalized_reward_gaps",
                 "argument 'scale' must be finite and > 0, got {:f}", scale);
  std::vector<double> gaps = reward_differences<double>(rewards, offsets);
  for (double& g : gaps) g /= scale;
  return gaps;
}

}  // namespace metarm::sim
