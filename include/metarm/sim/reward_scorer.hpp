// SPDX-License-Identifier: Apache-2.0
/// \file
/// A trained reward model, frozen: scores joint features [context; response] and gives the gradient of its
/// reward with respect to them, which is how the policy follows it (the model's backward pass with an input
/// gradient). It also carries the normalisation r_n = (r - offset) / scale that the policy optimises and the
/// reward-difference statistics use, so that reward models of different scales are compared on equal terms.
/// Buffers grow to the largest batch seen and are reused: scoring a batch of a size seen before allocates nothing.
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "metarm/backend/cpu.hpp"
#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/model/reward_model.hpp"

namespace metarm::sim {

/// A trained reward model, frozen, that scores joint features and gives its reward's input gradient; see the
/// file's description.
template <class Model>
class RewardScorer {
  static_assert(std::is_same_v<typename Model::scalar_type, double>, "metarm::sim runs its reward models in double");
  static_assert(check_reward_model<Model, cpu>());

 public:
  /// The model with its trained parameters, which are copied.
  RewardScorer(Model model, std::span<const double> params)
      : model_(std::move(model)), params_(params.begin(), params.end()), workspace_(model_.template make_workspace<cpu>(0)) {
    METARM_REQUIRE(static_cast<index_t>(params_.size()) == model_.layout().size(), "RewardScorer",
                   "argument 'params' has {} values, the model has {}", params_.size(), model_.layout().size());
  }

  /// The model.
  const Model& model() const { return model_; }
  /// The width of a joint feature column.
  index_t input_dim() const { return model_.input_dim(); }
  /// The trained parameters.
  std::span<const double> parameters() const { return params_; }

  /// Sets the normalisation of the rewards that the policy optimises.
  ///
  /// normalised reward = (reward - offset) / scale; scale > 0.
  void set_normalization(double offset, double scale) {
    METARM_REQUIRE(std::isfinite(offset) && std::isfinite(scale) && scale > 0.0, "RewardScorer::set_normalization",
                   "arguments 'offset' and 'scale' must be finite with scale > 0, got {:f} and {:f}", offset, scale);
    offset_ = offset;
    scale_ = scale;
  }
  /// The normalisation's offset.
  double offset() const { return offset_; }
  /// The normalisation's scale.
  double scale() const { return scale_; }

  /// Raw rewards of the columns of x (input_dim() x n) into out (n values).
  void score(MatrixView<const double> x, std::span<double> out) {
    METARM_REQUIRE(static_cast<index_t>(out.size()) == x.cols, "RewardScorer::score",
                   "argument 'out' has {} values for {} columns", out.size(), x.cols);
    const VectorView<const double> r = forward(x);
    for (index_t j = 0; j < x.cols; ++j) out[static_cast<std::size_t>(j)] = r[j];
  }

  /// Raw rewards of `count` columns of column-major features.
  std::vector<double> score(std::span<const double> features, index_t count) {
    METARM_REQUIRE(static_cast<index_t>(features.size()) == input_dim() * count, "RewardScorer::score",
                   "argument 'features' has {} values, expected {} x {}", features.size(), input_dim(), count);
    std::vector<double> out(static_cast<std::size_t>(count));
    score(MatrixView<const double>{features.data(), input_dim(), count, input_dim()}, out);
    return out;
  }

  /// Normalised rewards of the columns of x into `rewards`, and input_grad (input_dim() x n) = the gradient of
  /// sum_j weights[j] * normalised_reward_j with respect to x.
  void normalized_rewards_and_input_gradient(MatrixView<const double> x, VectorView<const double> weights,
                                             VectorView<double> rewards, MatrixView<double> input_grad) {
    const index_t n = x.cols;
    METARM_REQUIRE(weights.size == n && rewards.size == n, "RewardScorer::normalized_rewards_and_input_gradient",
                   "arguments 'weights' and 'rewards' must hold one value per column ({})", n);
    METARM_REQUIRE(input_grad.rows == input_dim() && input_grad.cols == n,
                   "RewardScorer::normalized_rewards_and_input_gradient",
                   "argument 'input_grad' must be {} x {}", input_dim(), n);
    const VectorView<const double> r = forward(x);
    if (d_rewards_.size() < n) d_rewards_.resize(n);
    for (index_t j = 0; j < n; ++j) {
      rewards[j] = (r[j] - offset_) / scale_;
      d_rewards_.data()[j] = weights[j] / scale_;
    }
    // The backward pass also accumulates the parameter gradient; the scorer has no use for it.
    if (param_grad_.size() < model_.layout().size()) param_grad_.resize(model_.layout().size());
    model_.template backward<cpu>(ctx_, params(), x, workspace_, VectorView<const double>{d_rewards_.data(), n},
                                  param_grad_.view(), input_grad);
  }

 private:
  VectorView<const double> params() const { return {params_.data(), static_cast<index_t>(params_.size())}; }

  VectorView<const double> forward(MatrixView<const double> x) {
    METARM_REQUIRE(x.rows == input_dim(), "RewardScorer",
                   "input has {} features per column, the model expects {}", x.rows, input_dim());
    return model_.template forward<cpu>(ctx_, params(), x, workspace_);
  }

  Model model_;
  std::vector<double> params_;
  cpu::context ctx_;
  typename Model::template workspace<cpu> workspace_;
  cpu::buffer<double> d_rewards_;
  cpu::buffer<double> param_grad_;
  double offset_ = 0.0;
  double scale_ = 1.0;
};

}  // namespace metarm::sim
