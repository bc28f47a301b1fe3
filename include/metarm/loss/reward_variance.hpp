// SPDX-License-Identifier: Apache-2.0
/// \file
/// The within-prompt reward variance as a meta objective, to be maximised:
/// \verbatim
///   V = (1/m) sum_p (1/k_p) sum_i (r_i - rbar_p)^2,    rbar_p the mean reward of prompt p's responses
/// \endverbatim
/// Like J it rewards a model that tells a prompt's responses apart, but it grows without bound with the
/// reward scale instead of saturating as J's sigmoid does. Its reward Hessian is constant,
/// (2/k)(I - 1 1^T / k) per prompt.
#pragma once

#include <string_view>

#include "metarm/core/config.hpp"
#include "metarm/core/scalar_math.hpp"
#include "metarm/loss/prompt_objective.hpp"

namespace metarm {

/// One prompt's reward variance, (1/k) sum_i (r_i - rbar)^2.
struct RewardVarianceTerm {
  /// The name objective_name() reports.
  static constexpr std::string_view name = "reward_variance";
  /// The class that error messages name.
  static constexpr std::string_view class_name = "RewardVarianceObjective";
  /// A variance over one response is always zero, so a prompt needs at least two.
  static constexpr index_t min_responses = 2;

  /// The prompt's variance, and unless out is null its reward gradient times `scale` in out.
  ///
  /// dV/dr_i = (2/k)(r_i - rbar)
  template <class T>
  METARM_HOST_DEVICE double value_and_gradient(const T* r, index_t k, T scale, T* out) const {
    const T inv_k = T(1) / static_cast<T>(k);
    T mean = T(0);
    bool finite = true;
    for (index_t i = 0; i < k; ++i) {
      mean += r[i];
      finite = finite && is_finite(r[i]);
    }
    mean *= inv_k;
    double sum = 0.0;
    for (index_t i = 0; i < k; ++i) {
      const T centred = r[i] - mean;
      sum += static_cast<double>(centred) * static_cast<double>(centred);
      if (out != nullptr) {
        out[i] = T(2) * inv_k * scale * centred;
      }
    }
    return finite ? sum / static_cast<double>(k) : quiet_nan();
  }

  /// Overwrites out with scale (2/k)(t - mean(t)), the constant reward Hessian applied to t.
  template <class T>
  METARM_HOST_DEVICE void hessian_product(const T*, const T* t, index_t k, T scale, T* out) const {
    const T inv_k = T(1) / static_cast<T>(k);
    T mean = T(0);
    for (index_t i = 0; i < k; ++i) mean += t[i];
    mean *= inv_k;
    for (index_t i = 0; i < k; ++i) {
      out[i] = T(2) * inv_k * scale * (t[i] - mean);
    }
  }
};

/// The within-prompt reward variance V as a meta objective: see the file.
using RewardVarianceObjective = PromptObjective<RewardVarianceTerm>;

}  // namespace metarm
