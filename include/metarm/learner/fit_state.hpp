// SPDX-License-Identifier: Apache-2.0
/// \file
/// Where a fit stands between two steps: the data order of the current epoch, the generators that will
/// shuffle the next ones, and the position in both the pair order and the meta-set cycle. With the parameters
/// and optimiser state, this is everything a checkpoint needs for a resumed fit to take exactly the steps the
/// uninterrupted one would have taken.
#pragma once

#include <cstdint>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/rng.hpp"

namespace metarm {

/// Where a fit stands between two steps; see the file's description.
struct FitState {
  std::uint64_t fit_index = 0;  ///< which fit of its learner this is; it seeds the data-order streams
  int epoch = 0;                ///< the epoch under way (1-based), or the last one finished; 0 before the first
  index_t next_batch = 0;       ///< batches of `epoch` already taken; equal to the batch count once it is done
  std::int64_t steps = 0;       ///< steps taken in this fit
  Rng order_rng{0};             ///< reshuffles `order` at the start of each epoch
  Rng meta_rng{0};              ///< reshuffles `meta_order` at the start of each pass over the meta set
  std::vector<index_t> order;       ///< this epoch's permutation of the training pairs
  std::vector<index_t> meta_order;  ///< this pass's permutation of the meta prompts (empty without a meta set)
  std::int64_t meta_cursor = 0;     ///< prompts of meta_order already used

  /// Whether the fit has begun its first epoch.
  bool started() const { return epoch > 0; }
};

}  // namespace metarm
