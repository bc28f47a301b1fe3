// SPDX-License-Identifier: Apache-2.0
/// \file
/// Optimises the policy against a frozen reward model with a KL penalty toward the SFT policy:
/// \verbatim
///   F(policy) = E_c [ E_{y ~ policy(.|c)} r_n(c, y)  -  kl_weight * KL(policy(.|c) || sft(.|c)) ],
/// \endverbatim
/// where r_n is the reward model's normalised reward. The expectation over y is taken by reparameterisation,
/// y = mu(c) + sigma * noise, so its gradient flows through the reward model's input gradient; the KL term of
/// two diagonal Gaussians is exact. Each step draws a fresh batch of prompts and noise and takes one Adam
/// step on -F. Buffers are sized on the first step and reused, so later steps allocate nothing.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "metarm/backend/cpu.hpp"
#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/optim/adam.hpp"
#include "metarm/sim/gaussian_policy.hpp"
#include "metarm/sim/prompts.hpp"
#include "metarm/sim/reward_scorer.hpp"

namespace metarm::sim {

/// How the policy is optimised: batch, learning rate and KL weight.
struct PolicyTrainingOptions {
  index_t batch = 256;         ///< prompts per step, one response each
  double learning_rate = 0.005;  ///< Adam
  /// The weight of the KL penalty toward the reference policy.
  double kl_weight = 0.1;
};

/// What one policy step measured on its batch.
struct PolicyStepStats {
  double objective = 0.0;     ///< F on the step's batch
  double proxy_reward = 0.0;  ///< mean normalised reward of the batch's responses
  double kl = 0.0;            ///< mean KL to the reference policy over the batch's prompts
};

/// Optimises a policy against a frozen reward model with a KL penalty toward a reference policy; see the file's
/// description.
template <class Model>
class PolicyTrainer {
 public:
  /// A trainer that penalises the KL to `reference`; throws when an option is out of range.
  PolicyTrainer(GaussianPolicy reference, PolicyTrainingOptions options)
      : reference_(std::move(reference)), options_(options), adam_{.learning_rate = options.learning_rate} {
    METARM_REQUIRE(options_.batch > 0, "PolicyTrainer", "argument 'batch' must be > 0, got {}", options_.batch);
    METARM_REQUIRE(std::isfinite(options_.kl_weight) && options_.kl_weight >= 0.0, "PolicyTrainer",
                   "argument 'kl_weight' must be finite and >= 0, got {:f}", options_.kl_weight);
    adam_.validate();
  }

  /// The policy that the KL penalty is taken to.
  const GaussianPolicy& reference() const { return reference_; }
  /// The steps taken.
  std::int64_t steps() const { return steps_; }

  /// F and its gradient with respect to the policy's parameters (written into grad) on the given prompts
  /// (context_dim x n) and standard-normal noise (response_dim x n). Deterministic given its arguments.
  PolicyStepStats objective_and_gradient(const GaussianPolicy& policy, RewardScorer<Model>& rm,
                                         MatrixView<const double> contexts, MatrixView<const double> noise,
                                         std::span<double> grad) {
    const index_t dc = policy.context_dim(), dr = policy.response_dim(), dim = dc + dr, n = contexts.cols;
    METARM_REQUIRE(rm.input_dim() == dim, "PolicyTrainer",
                   "the reward model reads {} features, the policy produces {} + {}", rm.input_dim(), dc, dr);
    METARM_REQUIRE(contexts.rows == dc && noise.rows == dr && noise.cols == n && n > 0, "PolicyTrainer",
                   "arguments 'contexts' and 'noise' must be context_dim x n and response_dim x n with n > 0");
    METARM_REQUIRE(static_cast<index_t>(grad.size()) == policy.parameter_count(), "PolicyTrainer",
                   "argument 'grad' has {} values, the policy has {}", grad.size(), policy.parameter_count());
    grow(features_, dim * n);
    grow(input_grad_, dim * n);
    grow(rewards_, n);
    grow(weights_, n);
    for (index_t j = 0; j < n; ++j) {
      double* x = features_.data() + j * dim;
      const double* c = contexts.data + j * contexts.ld;
      for (index_t i = 0; i < dc; ++i) x[i] = c[i];
      policy.respond(c, noise.data + j * noise.ld, x + dc);
      weights_.data()[j] = 1.0 / static_cast<double>(n);
    }
    const MatrixView<double> input_grad{input_grad_.data(), dim, n, dim};
    rm.normalized_rewards_and_input_gradient(MatrixView<const double>{features_.data(), dim, n, dim},
                                             VectorView<const double>{weights_.data(), n},
                                             VectorView<double>{rewards_.data(), n}, input_grad);
    PolicyStepStats stats;
    for (index_t j = 0; j < n; ++j) stats.proxy_reward += rewards_.data()[j];
    stats.proxy_reward /= static_cast<double>(n);

    std::fill(grad.begin(), grad.end(), 0.0);
    // The response rows of the input gradient are dF/dy for each sample.
    policy.accumulate_response_gradient(contexts, noise, MatrixView<const double>{input_grad_.data() + dc, dr, n, dim},
                                        grad);
    const double kl_scale = -options_.kl_weight / static_cast<double>(n);
    for (index_t j = 0; j < n; ++j) {
      const double* c = contexts.data + j * contexts.ld;
      stats.kl += policy.kl_to(reference_, c);
      if (options_.kl_weight > 0.0) policy.accumulate_kl_gradient(reference_, c, kl_scale, grad);
    }
    stats.kl /= static_cast<double>(n);
    stats.objective = stats.proxy_reward - options_.kl_weight * stats.kl;
    return stats;
  }

  /// One Adam ascent step on F with a fresh batch of prompts and noise from rng.
  PolicyStepStats step(GaussianPolicy& policy, RewardScorer<Model>& rm, Rng& rng) {
    const index_t dc = policy.context_dim(), dr = policy.response_dim(), n = options_.batch;
    const index_t count = policy.parameter_count();
    METARM_REQUIRE(steps_ == 0 || count == grad_.size(), "PolicyTrainer::step",
                   "the policy has {} parameters, the trainer's state was built for {}", count, grad_.size());
    grow(contexts_, dc * n);
    grow(noise_, dr * n);
    sample_contexts(dc, std::span<double>(contexts_.data(), static_cast<std::size_t>(dc * n)), rng);
    for (index_t i = 0; i < dr * n; ++i) noise_.data()[i] = rng.normal();
    grow(grad_, count);
    for (auto& state : state_) grow(state, count);

    const PolicyStepStats stats = objective_and_gradient(
        policy, rm, MatrixView<const double>{contexts_.data(), dc, n, dc}, MatrixView<const double>{noise_.data(), dr, n, dr},
        std::span<double>(grad_.data(), static_cast<std::size_t>(count)));
    // Adam descends; ascend on F by descending on -F.
    for (index_t i = 0; i < count; ++i) grad_.data()[i] = -grad_.data()[i];
    const std::array<VectorView<double>, 2> state{state_[0].view(), state_[1].view()};
    ++steps_;
    adam_.update<cpu, double>(ctx_, policy.parameter_view(), as_const(grad_.view()),
                              std::span<const VectorView<double>>(state.data(), state.size()), options_.learning_rate,
                              steps_);
    return stats;
  }

 private:
  static void grow(cpu::buffer<double>& buffer, index_t size) {
    if (buffer.size() != size) buffer.resize(size);
  }

  GaussianPolicy reference_;
  PolicyTrainingOptions options_;
  Adam adam_;
  cpu::context ctx_;
  cpu::buffer<double> contexts_, noise_, features_, input_grad_, rewards_, weights_, grad_;
  std::array<cpu::buffer<double>, 2> state_;
  std::int64_t steps_ = 0;
};

}  // namespace metarm::sim
