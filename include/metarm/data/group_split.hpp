// SPDX-License-Identifier: Apache-2.0
/// \file
/// Deterministic splitting by group: rows that share a key (the same prompt, or the same opening request)
/// always land on the same side, so no test prompt was seen in training. The split depends only on the set of
/// keys, the fraction and the seed, never on the order of the rows.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"

namespace metarm {

/// The two parts of a split by group: their rows, in row order, and how many groups each part received.
struct GroupSplit {
  std::vector<index_t> first;   ///< rows of the groups drawn into the first part, in row order
  std::vector<index_t> second;  ///< rows of the other groups, in row order
  /// The number of distinct keys in the first part.
  index_t first_groups = 0;
  /// The number of distinct keys in the second part.
  index_t second_groups = 0;
};

/// Puts round(fraction x groups) of the distinct keys, chosen by a seeded shuffle of the sorted keys, into
/// the first part. fraction must be in [0, 1].
inline GroupSplit split_by_group(std::span<const std::string> keys, double fraction, std::uint64_t seed) {
  METARM_REQUIRE(std::isfinite(fraction) && fraction >= 0.0 && fraction <= 1.0, "split_by_group",
                 "argument 'fraction' must be in [0, 1], got {:f}", fraction);
  std::vector<std::string_view> distinct(keys.begin(), keys.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  Rng rng(seed);
  rng.shuffle(distinct.begin(), distinct.end());
  const auto take = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(distinct.size())));
  std::unordered_map<std::string_view, bool> in_first;
  in_first.reserve(distinct.size());
  for (std::size_t g = 0; g < distinct.size(); ++g) {
    in_first.emplace(distinct[g], g < take);
  }
  GroupSplit split;
  split.first_groups = static_cast<index_t>(take);
  split.second_groups = static_cast<index_t>(distinct.size() - take);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    (in_first.at(keys[i]) ? split.first : split.second).push_back(static_cast<index_t>(i));
  }
  return split;
}

}  // namespace metarm
