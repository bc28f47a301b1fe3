// SPDX-License-Identifier: Apache-2.0
/// \file
/// How well rewards order labelled pairs, and how the rewards are spread.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>

#include "metarm/core/error.hpp"
#include "metarm/metrics/metric_map.hpp"

namespace metarm {

/// How rewards order a set of labelled pairs, and how they are spread.
struct PreferenceSummary {
  double accuracy = 0.0;  ///< share of pairs with r_chosen > r_rejected; a tie counts one half
  double margin = 0.0;    ///< mean of r_chosen - r_rejected
  /// Mean reward of the chosen responses.
  double chosen_mean = 0.0;
  /// Mean reward of the rejected responses.
  double rejected_mean = 0.0;
  double reward_mean = 0.0;  ///< over both sides
  double reward_std = 0.0;   ///< population standard deviation over both sides
  /// Smallest reward, over both sides.
  double reward_min = 0.0;
  /// Largest reward, over both sides.
  double reward_max = 0.0;
  /// The number of pairs.
  double pairs = 0.0;

  /// The summary under TRL's names: accuracy, margin, and rewards/chosen, /rejected, /mean, /std, /min, /max.
  Metrics to_metrics() const {
    Metrics m;
    m.set("accuracy", accuracy);
    m.set("margin", margin);
    m.set("rewards/chosen", chosen_mean);
    m.set("rewards/rejected", rejected_mean);
    m.set("rewards/mean", reward_mean);
    m.set("rewards/std", reward_std);
    m.set("rewards/min", reward_min);
    m.set("rewards/max", reward_max);
    return m;
  }
};

/// Summarises the rewards of n pairs, chosen[i] against rejected[i]; throws on empty or non-finite input.
template <class T>
PreferenceSummary summarize_preferences(std::span<const T> chosen, std::span<const T> rejected) {
  METARM_REQUIRE(chosen.size() == rejected.size(), "summarize_preferences",
                 "arguments 'chosen' and 'rejected' differ in size: {} vs {}", chosen.size(), rejected.size());
  METARM_REQUIRE(!chosen.empty(), "summarize_preferences", "argument 'chosen' is empty");
  const double n = static_cast<double>(chosen.size());
  PreferenceSummary s;
  s.pairs = n;
  double wins = 0.0, margin = 0.0, sum_c = 0.0, sum_r = 0.0;
  s.reward_min = std::numeric_limits<double>::infinity();
  s.reward_max = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    const double c = static_cast<double>(chosen[i]);
    const double r = static_cast<double>(rejected[i]);
    METARM_REQUIRE(std::isfinite(c) && std::isfinite(r), "summarize_preferences",
                   "reward of pair {} is not finite", i);
    wins += c > r ? 1.0 : (c == r ? 0.5 : 0.0);
    margin += c - r;
    sum_c += c;
    sum_r += r;
    s.reward_min = std::min({s.reward_min, c, r});
    s.reward_max = std::max({s.reward_max, c, r});
  }
  s.accuracy = wins / n;
  s.margin = margin / n;
  s.chosen_mean = sum_c / n;
  s.rejected_mean = sum_r / n;
  s.reward_mean = (sum_c + sum_r) / (2.0 * n);
  double squares = 0.0;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    const double dc = static_cast<double>(chosen[i]) - s.reward_mean;
    const double dr = static_cast<double>(rejected[i]) - s.reward_mean;
    squares += dc * dc + dr * dr;
  }
  s.reward_std = std::sqrt(squares / (2.0 * n));
  return s;
}

}  // namespace metarm
