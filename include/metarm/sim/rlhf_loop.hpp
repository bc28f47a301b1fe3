// SPDX-License-Identifier: Apache-2.0
/// \file
/// The iterative RLHF loop in miniature (docs/simulation.md). For one seed and a list of reward-model arms:
///
/// \verbatim
///   world (gold reward r*, SFT policy), labelled preference pairs from the SFT policy
///   for round r = 1..R, for every arm:
///     1. meta set: k responses to each of meta_prompts fresh prompts from the arm's current policy (unlabelled)
///     2. reward model: trained from the same initialisation on the preference pairs (and, for strategies that
///        read one, the meta set), with the same budget and data order whatever the strategy
///     3. policy: policy_steps Adam steps on E[r_n] - kl_weight * KL(policy || SFT) against that reward model
///     4. measure on fresh samples of the new policy: the reward model's accuracy against the sampled labels
///        and against the gold order, its reward differences and J; the policy's gold reward and KL to SFT;
///        and the reward model's accuracy on held-out SFT pairs and on fresh samples of the policy that produced
///        its meta set.
/// \endverbatim
///
/// With options.shared_policy the first arm's reward model drives a single policy; every arm then trains on the
/// same meta sets and is measured on the same samples, which compares reward models on one shifted distribution.
///
/// Every random draw comes from a stream of the seed named by its purpose, and each arm's draws of a round use
/// copies of the same streams, so arms see the same world, preference data, initialisation, prompts and noise:
/// their differences are paired.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/learner/options.hpp"
#include "metarm/metrics/difference_metrics.hpp"
#include "metarm/layer/activation.hpp"
#include "metarm/model/mlp.hpp"
#include "metarm/sim/evaluation.hpp"
#include "metarm/sim/options.hpp"
#include "metarm/sim/policy_trainer.hpp"
#include "metarm/sim/preference_labels.hpp"
#include "metarm/sim/response_set.hpp"
#include "metarm/sim/reward_model_arm.hpp"
#include "metarm/sim/reward_scorer.hpp"
#include "metarm/sim/world.hpp"

namespace metarm::sim {

/// One arm's measurements after one round.
struct RoundRecord {
  /// The round number.
  int round = 0;  ///< 1-based
  /// \name The reward model on the shifted distribution
  /// The round's reward model on fresh samples of the policy it produced (the shifted distribution).
  ///@{
  double shifted_accuracy = 0.0;         ///< against the sampled labels
  double shifted_gold_accuracy = 0.0;    ///< against the gold reward's order
  double shifted_label_agreement = 0.0;  ///< how often the sampled labels follow the gold order there
  double difference_objective = 0.0;     ///< J of the raw rewards, k responses per prompt
  double reward_gap = 0.0;               ///< mean normalised |r_i - r_j| within a prompt
  ///@}
  /// \name The reward model in distribution
  /// The same reward model in distribution (fresh SFT samples), and on fresh samples of the policy whose
  /// responses formed its meta set.
  ///@{

  /// Accuracy against the sampled labels of fresh SFT samples.
  double sft_accuracy = 0.0;
  /// Accuracy against the gold order of fresh SFT samples.
  double sft_gold_accuracy = 0.0;
  /// Accuracy against the sampled labels of fresh samples of the policy whose responses formed the meta set.
  double meta_accuracy = 0.0;
  ///@}
  /// \name The policy after the round
  ///@{
  double gold_reward = 0.0;   ///< mean r* of its responses
  double proxy_reward = 0.0;  ///< mean normalised reward the round's reward model gives them
  double kl_to_sft = 0.0;     ///< mean over prompts, exact
  double policy_std = 0.0;    ///< mean standard deviation over response features
  ///@}
  /// \name Reward-model training
  /// Reward-model training, averaged over its steps (NaN where the strategy does not measure it).
  ///@{

  /// The mean preference loss.
  double train_loss = 0.0;
  double train_objective = 0.0;  ///< J of the meta batch before each step
  double ascent_norm = 0.0;      ///< ||grad J|| of the ascent step
  double meta_objective = 0.0;   ///< J of the scored reward model on the round's whole meta set
  double reward_scale = 0.0;     ///< standard deviation of the raw rewards on SFT responses (the normaliser)
  std::vector<double> reward_gaps;  ///< every normalised |r_i - r_j| on the shifted set (the histogram's data)
  ///@}
};

/// One arm's run on one seed.
struct SeedResult {
  /// The seed.
  std::uint64_t seed = 0;
  /// The arm's name.
  std::string arm;
  double sft_gold_reward = 0.0;         ///< mean r* of the SFT policy's responses
  double sft_label_agreement = 0.0;     ///< how often labels of the SFT training pairs follow the gold order
  double sft_expected_agreement = 0.0;  ///< what the label model predicts for those pairs
  /// One record per round, in order.
  std::vector<RoundRecord> rounds;
};

namespace detail {

struct LabelledSet {
  ResponseSet responses;
  std::vector<double> gold;
  LabelledPairs pairs;
  std::vector<double> features;
};

inline LabelledSet labelled_sample(const World& world, const GaussianPolicy& policy, index_t prompts, index_t k,
                                   double beta, Rng rng) {
  Rng response_rng = rng.stream(0), label_rng = rng.stream(1);
  LabelledSet set;
  set.responses = sample_responses(policy, prompts, k, response_rng);
  set.gold = world.gold.score(set.responses);
  set.pairs = label_pairs(set.responses, set.gold, beta, label_rng);
  set.features = set.responses.features();
  return set;
}

inline double mean_of(std::span<const double> values) {
  double total = 0.0;
  for (double v : values) total += v;
  return total / static_cast<double>(values.size());
}

}  // namespace detail

/// Runs the loop for one seed; returns one result per arm, in the arms' order. on_round(arm index, record) is
/// called as each arm finishes a round.
template <class Activation, class OnRound>
std::vector<SeedResult> simulate_rlhf(const SimulationOptions& options, std::uint64_t seed,
                                      std::span<const RewardModelArm<Activation>> arms, OnRound&& on_round) {
  options.validate();
  METARM_REQUIRE(!arms.empty(), "simulate_rlhf", "argument 'arms' is empty");
  using Model = Mlp<Activation, double>;
  const Rng root(seed);
  const World world = World::create(options, seed);
  const index_t dim = options.context_dim + options.response_dim;
  const std::size_t arm_count = arms.size();
  const std::size_t policy_count = options.shared_policy ? 1 : arm_count;
  auto policy_of = [&](std::size_t arm) { return options.shared_policy ? std::size_t{0} : arm; };

  // Labelled preference data from the SFT policy (one pair per prompt) and a held-out SFT evaluation set.
  const detail::LabelledSet preference =
      detail::labelled_sample(world, world.sft, options.preference_pairs, 2, options.label_beta, root.stream(4));
  const PreferenceSet<double> train = to_preference_set(preference.responses, preference.pairs);
  const detail::LabelledSet sft_eval =
      detail::labelled_sample(world, world.sft, options.eval_prompts, options.k, options.label_beta, root.stream(5));

  std::vector<SeedResult> results(arm_count);
  for (std::size_t a = 0; a < arm_count; ++a) {
    results[a].seed = seed;
    results[a].arm = arms[a].name();
    results[a].sft_gold_reward = detail::mean_of(sft_eval.gold);
    results[a].sft_label_agreement = preference.pairs.agreement();
    results[a].sft_expected_agreement = preference.pairs.expected_agreement();
  }

  const Model model(dim, options.rm_hidden);
  RewardModelTraining training;
  training.pairs = &train;
  training.fit.epochs = options.rm_epochs;
  training.fit.batch_size = options.rm_batch;
  training.fit.meta_batch_size = options.meta_batch;
  training.learning_rate = options.rm_learning_rate;
  training.init_seed = root.stream(6).next();

  std::vector<GaussianPolicy> policies(policy_count, world.sft);
  // Fresh samples of each policy before this round (the distribution its next meta set comes from).
  std::vector<detail::LabelledSet> previous_eval(policy_count, sft_eval);
  for (int r = 1; r <= options.rounds; ++r) {
    const Rng round_rng = root.stream(100 + static_cast<std::uint64_t>(r));
    // 1. The unlabelled meta set of each policy; every policy draws from a copy of the same stream.
    std::vector<MetaSet<double>> meta;
    for (std::size_t p = 0; p < policy_count; ++p) {
      Rng meta_rng = round_rng.stream(0);
      meta.push_back(sample_responses(policies[p], options.meta_prompts, options.k, meta_rng).to_meta_set());
    }
    // 2. The reward models, from the same initialisation every round, normalised on SFT responses.
    std::vector<RewardScorer<Model>> scorers;
    std::vector<TrainedRewardModel> trained;
    std::vector<std::vector<double>> sft_rewards;
    for (std::size_t a = 0; a < arm_count; ++a) {
      training.meta = &meta[policy_of(a)];
      trained.push_back(arms[a].train(model, training));
      scorers.emplace_back(model, trained.back().parameters);
      sft_rewards.push_back(scorers.back().score(sft_eval.features, sft_eval.responses.size()));
      const MeanAndSpread spread = mean_and_spread(sft_rewards.back());
      scorers.back().set_normalization(spread.mean, spread.spread > 0.0 ? spread.spread : 1.0);
    }
    // 3. Each policy against its driver's reward model (arm p, or the first arm when the policy is shared).
    for (std::size_t p = 0; p < policy_count; ++p) {
      PolicyTrainer<Model> trainer(world.sft, {.batch = options.policy_batch,
                                               .learning_rate = options.policy_learning_rate,
                                               .kl_weight = options.kl_weight});
      Rng policy_rng = round_rng.stream(1);
      for (int s = 0; s < options.policy_steps; ++s) trainer.step(policies[p], scorers[p], policy_rng);
    }
    // 4. Measurements on fresh samples of the new policies.
    std::vector<detail::LabelledSet> eval;
    for (std::size_t p = 0; p < policy_count; ++p) {
      eval.push_back(detail::labelled_sample(world, policies[p], options.eval_prompts, options.k, options.label_beta,
                                             round_rng.stream(2)));
    }
    for (std::size_t a = 0; a < arm_count; ++a) {
      const std::size_t p = policy_of(a);
      RewardScorer<Model>& rm = scorers[a];
      const detail::LabelledSet& shifted = eval[p];
      const std::vector<double> rewards = rm.score(shifted.features, shifted.responses.size());
      const std::vector<index_t> offsets = shifted.responses.offsets();
      RoundRecord record;
      record.round = r;
      record.shifted_accuracy = label_accuracy(rewards, shifted.pairs);
      record.shifted_gold_accuracy = gold_order_accuracy(rewards, shifted.pairs);
      record.shifted_label_agreement = shifted.pairs.agreement();
      record.difference_objective = difference_objective_value<double>(rewards, offsets);
      record.reward_gaps = normalized_reward_gaps(rewards, offsets, rm.scale());
      record.reward_gap = detail::mean_of(record.reward_gaps);
      record.sft_accuracy = label_accuracy(sft_rewards[a], sft_eval.pairs);
      record.sft_gold_accuracy = gold_order_accuracy(sft_rewards[a], sft_eval.pairs);
      const detail::LabelledSet& before = previous_eval[p];
      record.meta_accuracy = label_accuracy(rm.score(before.features, before.responses.size()), before.pairs);
      record.gold_reward = detail::mean_of(shifted.gold);
      double proxy = 0.0;
      for (double reward : rewards) proxy += (reward - rm.offset()) / rm.scale();
      record.proxy_reward = proxy / static_cast<double>(rewards.size());
      record.kl_to_sft = policies[p].mean_kl_to(
          world.sft, MatrixView<const double>{shifted.responses.contexts.data(), options.context_dim,
                                              shifted.responses.prompts, options.context_dim});
      double std_sum = 0.0;
      for (index_t i = 0; i < options.response_dim; ++i) std_sum += policies[p].std_of(i);
      record.policy_std = std_sum / static_cast<double>(options.response_dim);
      record.train_loss = trained[a].loss;
      record.train_objective = trained[a].objective;
      record.ascent_norm = trained[a].ascent_norm;
      record.meta_objective = trained[a].meta_objective;
      record.reward_scale = rm.scale();
      on_round(a, static_cast<const RoundRecord&>(record));
      results[a].rounds.push_back(std::move(record));
    }
    previous_eval = std::move(eval);
  }
  return results;
}

/// simulate_rlhf without a per-round callback.
template <class Activation>
std::vector<SeedResult> simulate_rlhf(const SimulationOptions& options, std::uint64_t seed,
                                      std::span<const RewardModelArm<Activation>> arms) {
  return simulate_rlhf(options, seed, arms, [](std::size_t, const RoundRecord&) {});
}

/// One arm alone: the loop with a single reward-model strategy.
template <class Activation = ReLU, class Strategy>
SeedResult simulate_rlhf(const SimulationOptions& options, std::uint64_t seed, std::string name, Strategy strategy) {
  const RewardModelArm<Activation> arm(std::move(name), std::move(strategy));
  return simulate_rlhf(options, seed, std::span<const RewardModelArm<Activation>>(&arm, 1)).front();
}

}  // namespace metarm::sim
