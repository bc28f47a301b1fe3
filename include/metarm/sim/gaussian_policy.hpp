// SPDX-License-Identifier: Apache-2.0
/// \file
/// The policy: given a prompt's context c, a response's features are y ~ N(mu(c), diag(sigma^2)) with
/// \verbatim
///   mu(c) = W c + b,   sigma = exp(log_std)   (one standard deviation per response feature, shared by all prompts)
/// \endverbatim
/// Parameters live in one flat vector with a named layout ("mean.weight", "mean.bias", "log_std"), like a reward
/// model's, so the library's optimisers update them. The SFT policy is a random instance; RL moves a copy of it.
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "metarm/backend/views.hpp"
#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/params/layout.hpp"

namespace metarm::sim {

/// A Gaussian policy over response features whose mean is linear in the prompt's context; see the file's
/// description.
class GaussianPolicy {
 public:
  /// An empty policy, to be assigned a built one.
  GaussianPolicy() = default;

  /// Mean map zero, standard deviation `std` in every response feature.
  GaussianPolicy(index_t context_dim, index_t response_dim, double std = 1.0)
      : context_dim_(context_dim), response_dim_(response_dim) {
    METARM_REQUIRE(context_dim > 0, "GaussianPolicy", "argument 'context_dim' must be > 0, got {}", context_dim);
    METARM_REQUIRE(response_dim > 0, "GaussianPolicy",
                   "argument 'response_dim' must be > 0, got {}", response_dim);
    METARM_REQUIRE(std::isfinite(std) && std > 0.0, "GaussianPolicy",
                   "argument 'std' must be finite and > 0, got {:f}", std);
    weight_offset_ = layout_.add("mean.weight", response_dim, context_dim);
    bias_offset_ = layout_.add("mean.bias", response_dim);
    log_std_offset_ = layout_.add("log_std", response_dim);
    params_.assign(static_cast<std::size_t>(layout_.size()), 0.0);
    for (index_t i = 0; i < response_dim; ++i) {
      params_[static_cast<std::size_t>(log_std_offset_ + i)] = std::log(std);
    }
  }

  /// A random SFT policy: W entries ~ N(0, mean_scale^2 / context_dim), so each mean feature has variance about
  /// mean_scale^2 over prompts; b = 0; the same `std` in every feature.
  static GaussianPolicy random_sft(index_t context_dim, index_t response_dim, double mean_scale, double std, Rng& rng) {
    GaussianPolicy policy(context_dim, response_dim, std);
    const double scale = mean_scale / std::sqrt(static_cast<double>(context_dim));
    for (index_t i = 0; i < response_dim * context_dim; ++i) {
      policy.params_[static_cast<std::size_t>(policy.weight_offset_ + i)] = scale * rng.normal();
    }
    return policy;
  }

  /// The number of context features.
  index_t context_dim() const { return context_dim_; }
  /// The number of response features.
  index_t response_dim() const { return response_dim_; }
  /// The number of parameters.
  index_t parameter_count() const { return layout_.size(); }
  /// The parameters' blocks: "mean.weight", "mean.bias" and "log_std".
  const Layout& layout() const { return layout_; }

  /// The parameters, in layout order.
  std::span<double> parameters() { return params_; }
  /// The parameters, read-only.
  std::span<const double> parameters() const { return params_; }
  /// The parameters as a vector view, for the library's optimisers.
  VectorView<double> parameter_view() { return {params_.data(), parameter_count()}; }

  /// W, the mean map's weight.
  /// Column-major response_dim x context_dim.
  MatrixView<const double> mean_weight() const {
    return {params_.data() + weight_offset_, response_dim_, context_dim_, response_dim_};
  }
  /// b, the mean map's bias (response_dim values).
  const double* mean_bias() const { return params_.data() + bias_offset_; }
  /// log sigma, one value per response feature.
  const double* log_std() const { return params_.data() + log_std_offset_; }
  /// sigma of one response feature.
  double std_of(index_t feature) const { return std::exp(log_std()[feature]); }

  /// Where "mean.weight" starts.
  ///
  /// Offsets of the three blocks in a gradient of this policy's layout.
  index_t weight_offset() const { return weight_offset_; }
  /// Where "mean.bias" starts.
  index_t bias_offset() const { return bias_offset_; }
  /// Where "log_std" starts.
  index_t log_std_offset() const { return log_std_offset_; }

  /// mu(c) into out (response_dim values).
  void mean(const double* context, double* out) const {
    const MatrixView<const double> w = mean_weight();
    const double* b = mean_bias();
    for (index_t i = 0; i < response_dim_; ++i) {
      out[i] = b[i];
    }
    for (index_t j = 0; j < context_dim_; ++j) {
      const double cj = context[j];
      const double* column = w.data + j * w.ld;
      for (index_t i = 0; i < response_dim_; ++i) {
        out[i] += column[i] * cj;
      }
    }
  }

  /// The reparameterised sample y = mu(c) + sigma * noise, noise ~ N(0, I) given.
  void respond(const double* context, const double* noise, double* response) const {
    mean(context, response);
    const double* ls = log_std();
    for (index_t i = 0; i < response_dim_; ++i) {
      response[i] += std::exp(ls[i]) * noise[i];
    }
  }

  /// KL(this(.|c) || reference(.|c)) in nats, exactly (both are diagonal Gaussians):
  /// \verbatim
  ///   sum_i  log(s0_i / s_i) + (s_i^2 + (mu_i - mu0_i)^2) / (2 s0_i^2) - 1/2
  /// \endverbatim
  double kl_to(const GaussianPolicy& reference, const double* context) const {
    check_same_shape(reference, "GaussianPolicy::kl_to");
    double kl = 0.0;
    for (index_t i = 0; i < response_dim_; ++i) {
      const double gap = mean_feature(context, i) - reference.mean_feature(context, i);
      const double ls = log_std()[i], ls0 = reference.log_std()[i];
      const double var_ratio = std::exp(2.0 * (ls - ls0));
      kl += (ls0 - ls) + 0.5 * (var_ratio + gap * gap * std::exp(-2.0 * ls0)) - 0.5;
    }
    return kl;
  }

  /// Mean KL over the prompts in `contexts` (context_dim x n).
  double mean_kl_to(const GaussianPolicy& reference, MatrixView<const double> contexts) const {
    METARM_REQUIRE(contexts.rows == context_dim_ && contexts.cols > 0, "GaussianPolicy::mean_kl_to",
                   "argument 'contexts' must be {} x n with n > 0", context_dim_);
    double total = 0.0;
    for (index_t j = 0; j < contexts.cols; ++j) {
      total += kl_to(reference, contexts.data + j * contexts.ld);
    }
    return total / static_cast<double>(contexts.cols);
  }

  /// Adds weight * d KL(this(.|c) || reference(.|c)) / d params to grad (this policy's layout).
  void accumulate_kl_gradient(const GaussianPolicy& reference, const double* context, double weight,
                              std::span<double> grad) const {
    check_same_shape(reference, "GaussianPolicy::accumulate_kl_gradient");
    for (index_t i = 0; i < response_dim_; ++i) {
      const double inv_var0 = std::exp(-2.0 * reference.log_std()[i]);
      // d/d mu_i = (mu_i - mu0_i) / s0_i^2, and mu_i = b_i + sum_j W_ij c_j.
      const double d_mean = weight * (mean_feature(context, i) - reference.mean_feature(context, i)) * inv_var0;
      grad[static_cast<std::size_t>(bias_offset_ + i)] += d_mean;
      for (index_t j = 0; j < context_dim_; ++j) {
        grad[static_cast<std::size_t>(weight_offset_ + i + j * response_dim_)] += d_mean * context[j];
      }
      // d/d log s_i = s_i^2 / s0_i^2 - 1
      grad[static_cast<std::size_t>(log_std_offset_ + i)] +=
          weight * (std::exp(2.0 * (log_std()[i] - reference.log_std()[i])) - 1.0);
    }
  }

  /// Adds the pathwise gradient of sum_j <g_j, y_j> to grad, where y_j = mu(c_j) + sigma * noise_j and g_j is
  /// d objective / d y_j (column j of response_grad). contexts, noise and response_grad have n columns.
  void accumulate_response_gradient(MatrixView<const double> contexts, MatrixView<const double> noise,
                                    MatrixView<const double> response_grad, std::span<double> grad) const {
    METARM_REQUIRE(contexts.rows == context_dim_ && noise.rows == response_dim_ && response_grad.rows == response_dim_ &&
                       noise.cols == contexts.cols && response_grad.cols == contexts.cols,
                   "GaussianPolicy::accumulate_response_gradient",
                   "arguments must be context_dim x n, response_dim x n and response_dim x n");
    METARM_REQUIRE(static_cast<index_t>(grad.size()) == parameter_count(), "GaussianPolicy::accumulate_response_gradient",
                   "argument 'grad' has {} values, the policy has {}", grad.size(), parameter_count());
    for (index_t n = 0; n < contexts.cols; ++n) {
      const double* c = contexts.data + n * contexts.ld;
      const double* e = noise.data + n * noise.ld;
      const double* g = response_grad.data + n * response_grad.ld;
      for (index_t i = 0; i < response_dim_; ++i) {
        grad[static_cast<std::size_t>(bias_offset_ + i)] += g[i];
        grad[static_cast<std::size_t>(log_std_offset_ + i)] += g[i] * std::exp(log_std()[i]) * e[i];
      }
      for (index_t j = 0; j < context_dim_; ++j) {
        double* column = grad.data() + weight_offset_ + j * response_dim_;
        for (index_t i = 0; i < response_dim_; ++i) {
          column[i] += g[i] * c[j];
        }
      }
    }
  }

 private:
  double mean_feature(const double* context, index_t i) const {
    const MatrixView<const double> w = mean_weight();
    double value = mean_bias()[i];
    for (index_t j = 0; j < context_dim_; ++j) {
      value += w(i, j) * context[j];
    }
    return value;
  }

  void check_same_shape(const GaussianPolicy& other, const char* where) const {
    METARM_REQUIRE(other.context_dim_ == context_dim_ && other.response_dim_ == response_dim_, where,
                   "the two policies differ in shape: {} x {} vs {} x {}", response_dim_, context_dim_,
                   other.response_dim_, other.context_dim_);
  }

  index_t context_dim_ = 0;
  index_t response_dim_ = 0;
  Layout layout_;
  index_t weight_offset_ = 0;
  index_t bias_offset_ = 0;
  index_t log_std_offset_ = 0;
  std::vector<double> params_;
};

}  // namespace metarm::sim
