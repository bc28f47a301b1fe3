// SPDX-License-Identifier: Apache-2.0
/// \file
/// How well rewards separate responses to the same prompt: the difference objective J and the distribution
/// of |r_i - r_j| over pairs of responses to one prompt.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "metarm/backend/host.hpp"
#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/scalar_math.hpp"
#include "metarm/loss/difference_objective.hpp"

namespace metarm {

namespace detail {
inline void check_offsets(std::span<const index_t> offsets, std::size_t rewards, const char* where) {
  METARM_REQUIRE(offsets.size() >= 2, where, "argument 'offsets' must describe at least one prompt");
  METARM_REQUIRE(offsets.front() == 0 && static_cast<std::size_t>(offsets.back()) == rewards, where,
                 "argument 'offsets' must run from 0 to the number of rewards ({})", rewards);
  for (std::size_t p = 0; p + 1 < offsets.size(); ++p) {
    METARM_REQUIRE(offsets[p + 1] - offsets[p] >= 2, where,
                   "argument 'offsets': prompt {} has fewer than 2 responses", p);
  }
}
}  // namespace detail

/// J in double on host rewards: DifferenceObjective itself, run on the host.
template <class T>
double difference_objective_value(std::span<const T> rewards, std::span<const index_t> offsets) {
  detail::check_offsets(offsets, rewards.size(), "difference_objective_value");
  const std::vector<double> r(rewards.begin(), rewards.end());
  host::context ctx;
  return DifferenceObjective().value<host, double>(ctx, {r.data(), static_cast<index_t>(r.size())},
                                                   {offsets.data(), static_cast<index_t>(offsets.size())});
}

/// Every |r_i - r_j|, i < j, within each prompt.
template <class T>
std::vector<double> reward_differences(std::span<const T> rewards, std::span<const index_t> offsets) {
  detail::check_offsets(offsets, rewards.size(), "reward_differences");
  std::vector<double> out;
  for (std::size_t p = 0; p + 1 < offsets.size(); ++p) {
    for (index_t i = offsets[p]; i < offsets[p + 1]; ++i) {
      for (index_t j = i + 1; j < offsets[p + 1]; ++j) {
        out.push_back(std::fabs(static_cast<double>(rewards[i]) - static_cast<double>(rewards[j])));
      }
    }
  }
  return out;
}

/// Counts of values in equal-width bins, with the values that fell outside them.
struct Histogram {
  std::vector<double> edges;         ///< bins + 1 ascending edges
  std::vector<std::size_t> counts;   ///< values in [edges[b], edges[b+1]); the last bin also holds edges.back()
  std::size_t underflow = 0;         ///< values below edges.front()
  std::size_t overflow = 0;          ///< values above edges.back()

  /// Every value counted: the bins, the underflow and the overflow.
  std::size_t total() const {
    std::size_t t = underflow + overflow;
    for (auto c : counts) {
      t += c;
    }
    return t;
  }
};

/// Equal-width histogram of `values` over [low, high].
inline Histogram histogram(std::span<const double> values, std::size_t bins, double low, double high) {
  METARM_REQUIRE(bins > 0, "histogram", "argument 'bins' must be > 0");
  METARM_REQUIRE(std::isfinite(low) && std::isfinite(high) && high > low, "histogram",
                 "arguments 'low' and 'high' must be finite with high > low");
  Histogram h;
  h.edges.resize(bins + 1);
  for (std::size_t b = 0; b <= bins; ++b) {
    h.edges[b] = low + (high - low) * static_cast<double>(b) / static_cast<double>(bins);
  }
  h.counts.assign(bins, 0);
  for (double v : values) {
    METARM_REQUIRE(std::isfinite(v), "histogram", "argument 'values' contains a value that is not finite");
    if (v > high) {
      ++h.overflow;
      continue;
    }
    if (v < low) {
      ++h.underflow;
      continue;
    }
    auto b = static_cast<std::size_t>((v - low) / (high - low) * static_cast<double>(bins));
    h.counts[std::min(b, bins - 1)] += 1;
  }
  return h;
}

}  // namespace metarm
