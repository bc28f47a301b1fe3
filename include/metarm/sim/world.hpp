// SPDX-License-Identifier: Apache-2.0
/// \file
/// One simulated world, fixed by a seed: the gold reward and the SFT policy. The gold reward is normalised on
/// the SFT policy's responses (see GoldReward::normalize_on), so label_beta sets the same label noise in every
/// world.
#pragma once

#include <cstdint>

#include "metarm/core/rng.hpp"
#include "metarm/sim/gaussian_policy.hpp"
#include "metarm/sim/gold_reward.hpp"
#include "metarm/sim/options.hpp"
#include "metarm/sim/response_set.hpp"

namespace metarm::sim {

/// One simulated world: the gold reward and the SFT policy, fixed by a seed.
struct World {
  /// The hidden reward that labels pairs.
  GoldReward gold;
  /// The policy before RLHF, from which the labelled pairs come.
  GaussianPolicy sft;

  /// Streams 1-3 of `seed` draw the gold reward, the SFT policy and the normalisation sample.
  static World create(const SimulationOptions& options, std::uint64_t seed) {
    const Rng root(seed);
    Rng gold_rng = root.stream(1), sft_rng = root.stream(2), normalization_rng = root.stream(3);
    World world;
    world.gold = GoldReward(options.context_dim, options.response_dim, options.gold_hidden, gold_rng);
    world.sft = GaussianPolicy::random_sft(options.context_dim, options.response_dim, options.sft_mean_scale,
                                           options.sft_std, sft_rng);
    world.gold.normalize_on(sample_responses(world.sft, normalization_sample_prompts, 2, normalization_rng));
    return world;
  }

  /// The prompts of the sample on which the gold reward is normalised, two responses each.
  static constexpr index_t normalization_sample_prompts = 4096;
};

}  // namespace metarm::sim
