// SPDX-License-Identifier: Apache-2.0
/// \file
/// The gold reward r*(c, y): a fixed, seeded two-layer tanh network of the joint features x = [c; y],
/// \verbatim
///   r*(x) = scale * sum_h v_h tanh(w_h . x + b_h),
/// \endverbatim
/// that the learner never sees; annotators label pairs with it. `normalize_on` sets `scale` so that the
/// difference r*(y_1) - r*(y_2) between two responses to the same prompt has standard deviation 1 on a given
/// sample (the SFT policy's), which makes the label temperature beta mean the same thing in every world.
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/sim/response_set.hpp"

namespace metarm::sim {

/// The hidden gold reward r*, a seeded tanh network of prompt and response features; see the file's description.
class GoldReward {
 public:
  /// An empty reward, to be assigned a drawn one.
  GoldReward() = default;

  /// Draws a network of `hidden` tanh units from rng.
  ///
  /// w_h ~ N(0, (1.5^2 / dim) I) puts pre-activations of typical inputs where tanh bends; b_h ~ N(0, 0.5^2);
  /// v_h ~ N(0, 1 / hidden).
  GoldReward(index_t context_dim, index_t response_dim, index_t hidden, Rng& rng)
      : context_dim_(context_dim), response_dim_(response_dim), hidden_(hidden) {
    METARM_REQUIRE(context_dim > 0 && response_dim > 0 && hidden > 0, "GoldReward",
                   "arguments 'context_dim', 'response_dim' and 'hidden' must be > 0");
    const index_t dim = context_dim + response_dim;
    weight_.resize(static_cast<std::size_t>(hidden * dim));
    bias_.resize(static_cast<std::size_t>(hidden));
    head_.resize(static_cast<std::size_t>(hidden));
    const double w_scale = 1.5 / std::sqrt(static_cast<double>(dim));
    for (double& w : weight_) w = w_scale * rng.normal();
    for (double& b : bias_) b = 0.5 * rng.normal();
    const double v_scale = 1.0 / std::sqrt(static_cast<double>(hidden));
    for (double& v : head_) v = v_scale * rng.normal();
  }

  /// The number of prompt features.
  index_t context_dim() const { return context_dim_; }
  /// The number of response features.
  index_t response_dim() const { return response_dim_; }
  /// The factor that normalize_on set.
  double scale() const { return scale_; }

  /// r* of one response to one prompt, each given as a pointer to its features.
  double operator()(const double* context, const double* response) const {
    const index_t dim = context_dim_ + response_dim_;
    double total = 0.0;
    for (index_t h = 0; h < hidden_; ++h) {
      const double* w = weight_.data() + h * dim;
      double z = bias_[static_cast<std::size_t>(h)];
      for (index_t i = 0; i < context_dim_; ++i) z += w[i] * context[i];
      for (index_t i = 0; i < response_dim_; ++i) z += w[context_dim_ + i] * response[i];
      total += head_[static_cast<std::size_t>(h)] * std::tanh(z);
    }
    return scale_ * total;
  }

  /// r* of every response column of `set`.
  std::vector<double> score(const ResponseSet& set) const {
    METARM_REQUIRE(set.context_dim == context_dim_ && set.response_dim == response_dim_, "GoldReward::score",
                   "the response set has {} + {} features, the gold reward expects {} + {}", set.context_dim,
                   set.response_dim, context_dim_, response_dim_);
    std::vector<double> out(static_cast<std::size_t>(set.size()));
    for (index_t q = 0; q < set.size(); ++q) out[static_cast<std::size_t>(q)] = (*this)(set.context_of(q), set.response(q));
    return out;
  }

  /// Rescales r* so that differences between responses to the same prompt in `set` (k >= 2) have standard
  /// deviation 1 (the mean difference is 0 by symmetry; the second moment is used).
  void normalize_on(const ResponseSet& set) {
    METARM_REQUIRE(set.k >= 2, "GoldReward::normalize_on", "the set needs k >= 2 responses per prompt");
    scale_ = 1.0;
    const std::vector<double> r = score(set);
    double squares = 0.0;
    index_t count = 0;
    for (index_t p = 0; p < set.prompts; ++p) {
      for (index_t i = 0; i < set.k; ++i) {
        for (index_t j = i + 1; j < set.k; ++j) {
          const double d = r[static_cast<std::size_t>(p * set.k + i)] - r[static_cast<std::size_t>(p * set.k + j)];
          squares += d * d;
          ++count;
        }
      }
    }
    const double spread = std::sqrt(squares / static_cast<double>(count));
    METARM_REQUIRE(spread > 0.0, "GoldReward::normalize_on", "the gold reward does not vary between responses");
    scale_ = 1.0 / spread;
  }

 private:
  index_t context_dim_ = 0;
  index_t response_dim_ = 0;
  index_t hidden_ = 0;
  std::vector<double> weight_;  // hidden x dim, row h contiguous
  std::vector<double> bias_;
  std::vector<double> head_;
  double scale_ = 1.0;
};

}  // namespace metarm::sim
