// SPDX-License-Identifier: Apache-2.0
/// \file
/// Prompts of the simulated world: each prompt is a vector of context features drawn from a standard normal.
/// The policy's responses and the gold reward both depend on it, so "responses to the same prompt" share it.
#pragma once

#include <span>
#include <string>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"

namespace metarm::sim {

/// Fills `out` (context_dim x count, column-major) with fresh prompts.
inline void sample_contexts(index_t context_dim, std::span<double> out, Rng& rng) {
  METARM_REQUIRE(context_dim > 0 && out.size() % static_cast<std::size_t>(context_dim) == 0, "sample_contexts",
                 "argument 'out' holds {} values, not a multiple of context_dim {}", out.size(), context_dim);
  for (double& value : out) {
    value = rng.normal();
  }
}

}  // namespace metarm::sim
