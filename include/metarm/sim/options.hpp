// SPDX-License-Identifier: Apache-2.0
/// \file
/// Every knob of the simulated RLHF loop (docs/simulation.md explains each one), with checks that name the
/// offending field.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"

namespace metarm::sim {

/// Every knob of the simulated RLHF loop; docs/simulation.md explains each one.
struct SimulationOptions {
  // ---- the world -------------------------------------------------------------------------------------------
  index_t context_dim = 8;      ///< features of a prompt
  index_t response_dim = 8;     ///< features of a response; the reward model sees [context; response]
  index_t gold_hidden = 16;     ///< width of the gold reward's hidden tanh layer
  double label_beta = 2.0;      ///< annotators prefer a over b with probability sigmoid(beta (r*(a) - r*(b)))
  double sft_mean_scale = 1.0;  ///< spread of the SFT policy's mean map (per response feature)
  double sft_std = 1.0;         ///< the SFT policy's standard deviation per response feature

  // ---- data ------------------------------------------------------------------------------------------------
  index_t preference_pairs = 1000;  ///< labelled pairs from the SFT policy, one per prompt
  index_t meta_prompts = 256;       ///< unlabelled prompts per round, k responses each, from the current policy
  index_t k = 4;                    ///< responses per prompt in the meta set and in the evaluation sets
  index_t eval_prompts = 1000;      ///< prompts (k responses each, all pairs labelled) per evaluation set

  // ---- the reward model (retrained from the same initialisation every round) -------------------------------
  std::vector<index_t> rm_hidden{64};  ///< hidden widths of the ReLU MLP
  double rm_learning_rate = 1e-3;      ///< Adam
  /// Epochs of reward-model training per round.
  int rm_epochs = 4;
  index_t rm_batch = 32;    ///< preference pairs per step
  index_t meta_batch = 32;  ///< meta prompts per step

  // ---- the policy --------------------------------------------------------------------------------------------
  /// Rounds of reward-model training and policy optimisation.
  int rounds = 4;
  int policy_steps = 100;             ///< Adam steps per round against the round's reward model
  /// The policy's Adam learning rate.
  double policy_learning_rate = 0.005;
  index_t policy_batch = 256;         ///< prompts per policy step, one reparameterised response each
  double kl_weight = 0.1;             ///< weight of KL(policy || SFT) in the policy's objective
  /// Whether every reward model is measured on the first one's policy.
  ///
  /// false: every reward model drives a policy of its own (the loop as RLHF runs it). true: the first reward
  /// model drives one policy, and every reward model is trained on its meta sets and measured on its samples,
  /// so the reward models are compared on exactly the same shifted distribution.
  bool shared_policy = false;

  /// Throws, naming the field, when one is out of range.
  void validate() const {
    const char* where = "SimulationOptions";
    auto positive = [&](index_t value, const char* field) {
      METARM_REQUIRE(value > 0, where, "field '{}' must be > 0, got {}", field, value);
    };
    auto finite_at_least = [&](double value, double low, bool strict, const char* field) {
      const bool ok = std::isfinite(value) && (strict ? value > low : value >= low);
      METARM_REQUIRE(ok, where,
                     "field '{}' must be finite and {}{:f}, got {:f}", field, (strict ? "> " : ">= "), low, value);
    };
    positive(context_dim, "context_dim");
    positive(response_dim, "response_dim");
    positive(gold_hidden, "gold_hidden");
    finite_at_least(label_beta, 0.0, false, "label_beta");
    finite_at_least(sft_mean_scale, 0.0, false, "sft_mean_scale");
    finite_at_least(sft_std, 0.0, true, "sft_std");
    positive(preference_pairs, "preference_pairs");
    positive(meta_prompts, "meta_prompts");
    METARM_REQUIRE(k >= 2, where, "field 'k' must be >= 2 (the difference objective compares responses), got {}", k);
    positive(eval_prompts, "eval_prompts");
    for (std::size_t l = 0; l < rm_hidden.size(); ++l) {
      METARM_REQUIRE(rm_hidden[l] > 0, where,
                     "field 'rm_hidden[{}]' must be > 0, got {}", l, rm_hidden[l]);
    }
    finite_at_least(rm_learning_rate, 0.0, true, "rm_learning_rate");
    positive(rm_epochs, "rm_epochs");
    positive(rm_batch, "rm_batch");
    positive(meta_batch, "meta_batch");
    positive(rounds, "rounds");
    METARM_REQUIRE(policy_steps >= 0, where, "field 'policy_steps' must be >= 0, got {}", policy_steps);
    finite_at_least(policy_learning_rate, 0.0, false, "policy_learning_rate");
    positive(policy_batch, "policy_batch");
    finite_at_least(kl_weight, 0.0, false, "kl_weight");
  }
};

}  // namespace metarm::sim
