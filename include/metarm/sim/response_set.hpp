// SPDX-License-Identifier: Apache-2.0
/// \file
/// Responses sampled from a policy, k per prompt: the unit every part of the loop works on (preference data,
/// meta sets, evaluation sets). Response column q belongs to prompt q / k. The reward models see the joint
/// features [context; response] of each column.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/data/meta_set.hpp"
#include "metarm/sim/gaussian_policy.hpp"
#include "metarm/sim/prompts.hpp"

namespace metarm::sim {

/// Responses sampled from a policy, k per prompt; response column q belongs to prompt q / k.
struct ResponseSet {
  /// The number of context features of a prompt.
  index_t context_dim = 0;
  /// The number of features of a response.
  index_t response_dim = 0;
  /// The number of prompts.
  index_t prompts = 0;
  /// Responses per prompt.
  index_t k = 0;
  std::vector<double> contexts;   ///< context_dim x prompts
  std::vector<double> noise;      ///< response_dim x prompts * k: the standard-normal draws behind each response
  std::vector<double> responses;  ///< response_dim x prompts * k

  /// The number of responses, prompts * k.
  index_t size() const { return prompts * k; }
  /// The reward model's input width, context_dim + response_dim.
  index_t feature_dim() const { return context_dim + response_dim; }
  /// The context features of the prompt of response `column`.
  const double* context_of(index_t column) const { return contexts.data() + (column / k) * context_dim; }
  /// The features of response `column`.
  const double* response(index_t column) const { return responses.data() + column * response_dim; }

  /// The reward model's input: feature_dim() x size(), column-major.
  std::vector<double> features() const {
    std::vector<double> x(static_cast<std::size_t>(feature_dim() * size()));
    for (index_t q = 0; q < size(); ++q) {
      double* column = x.data() + q * feature_dim();
      const double* c = context_of(q);
      const double* y = response(q);
      for (index_t i = 0; i < context_dim; ++i) column[i] = c[i];
      for (index_t i = 0; i < response_dim; ++i) column[context_dim + i] = y[i];
    }
    return x;
  }

  /// Prompt boundaries: offsets[p] = p * k, prompts + 1 values.
  std::vector<index_t> offsets() const {
    std::vector<index_t> out(static_cast<std::size_t>(prompts + 1));
    for (index_t p = 0; p <= prompts; ++p) out[static_cast<std::size_t>(p)] = p * k;
    return out;
  }

  /// The unlabelled meta set MetaRM trains on.
  MetaSet<double> to_meta_set() const {
    MetaSet<double> set(feature_dim());
    const std::vector<double> x = features();
    for (index_t p = 0; p < prompts; ++p) {
      set.add_prompt(std::span<const double>(x.data() + p * k * feature_dim(), static_cast<std::size_t>(k * feature_dim())));
    }
    return set;
  }
};

/// Draws `prompts` fresh prompts and k responses to each from `policy`.
inline ResponseSet sample_responses(const GaussianPolicy& policy, index_t prompts, index_t k, Rng& rng) {
  METARM_REQUIRE(prompts > 0, "sample_responses", "argument 'prompts' must be > 0, got {}", prompts);
  METARM_REQUIRE(k >= 1, "sample_responses", "argument 'k' must be >= 1, got {}", k);
  ResponseSet set;
  set.context_dim = policy.context_dim();
  set.response_dim = policy.response_dim();
  set.prompts = prompts;
  set.k = k;
  set.contexts.resize(static_cast<std::size_t>(set.context_dim * prompts));
  sample_contexts(set.context_dim, set.contexts, rng);
  set.noise.resize(static_cast<std::size_t>(set.response_dim * set.size()));
  for (double& e : set.noise) e = rng.normal();
  set.responses.resize(set.noise.size());
  for (index_t q = 0; q < set.size(); ++q) {
    policy.respond(set.context_of(q), set.noise.data() + q * set.response_dim, set.responses.data() + q * set.response_dim);
  }
  return set;
}

}  // namespace metarm::sim
