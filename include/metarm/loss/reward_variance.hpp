// SPDX-License-Identifier: Apache-2.0
// The within-prompt reward variance as a meta objective, to be maximised:
//   V = (1/m) sum_p (1/k_p) sum_i (r_i - rbar_p)^2,    rbar_p the mean reward of prompt p's responses
// Like J it rewards a model that tells a prompt's responses apart, but it grows without bound with the
// reward scale instead of saturating as J's sigmoid does. Its reward Hessian is constant,
// (2/k)(I - 1 1^T / k) per prompt.
#pragma once

#include <string_view>

#include "metarm/core/config.hpp"
#include "metarm/core/scalar_math.hpp"
#include "metarm/loss/prompt_objective.hpp"

namespace metarm {

struct RewardVarianceTerm {
  static constexpr std::string_view name = "reward_variance";
  static constexpr std::string_view class_name = "RewardVarianceObjective";
  static constexpr index_t min_responses = 2;

  // dV/dr_i = (2/k)(r_i - rbar)
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

using RewardVarianceObjective = PromptObjective<RewardVarianceTerm>;

}  // namespace metarm
