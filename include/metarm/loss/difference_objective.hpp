// SPDX-License-Identifier: Apache-2.0
/// \file
/// MetaRM's difference objective J of docs/math.md, to be maximised:
/// \verbatim
///   J = (1/m) sum_p (2 / k_p^2) sum_{i<j} sigma(|r(s_i) - r(s_j)|)
/// \endverbatim
/// over m prompts whose k_p >= 2 responses occupy rewards[offsets[p] .. offsets[p+1]).
#pragma once

#include <string_view>

#include "metarm/core/config.hpp"
#include "metarm/core/scalar_math.hpp"
#include "metarm/loss/prompt_objective.hpp"

namespace metarm {

/// One prompt's term of J: 2 / k^2 times the sum of sigma(|r_i - r_j|) over its pairs of responses.
struct DifferenceTerm {
  /// The name objective_name() reports.
  static constexpr std::string_view name = "difference_objective";
  /// The class that error messages name.
  static constexpr std::string_view class_name = "DifferenceObjective";
  /// J compares responses, so a prompt needs at least two.
  static constexpr index_t min_responses = 2;

  /// The prompt's term, and unless out is null its reward gradient times `scale` in out.
  ///
  /// d sigma(|d|) / d d = sigma(|d|) (1 - sigma(|d|)) sign(d), with sign(0) = 0.
  template <class T>
  METARM_HOST_DEVICE double value_and_gradient(const T* r, index_t k, T scale, T* out) const {
    const T weight = T(2) / static_cast<T>(k * k);
    if (out != nullptr) {
      for (index_t i = 0; i < k; ++i) out[i] = T(0);
    }
    double sum = 0.0;
    bool finite = true;
    for (index_t i = 0; i < k; ++i) {
      finite = finite && is_finite(r[i]);
      for (index_t j = i + 1; j < k; ++j) {
        const T d = r[i] - r[j];
        const T s = sigmoid(d < T(0) ? -d : d);
        sum += static_cast<double>(s);
        if (out != nullptr) {
          const T g = weight * scale * s * (T(1) - s) * sign_of(d);
          out[i] += g;
          out[j] -= g;
        }
      }
    }
    return finite ? static_cast<double>(weight) * sum : quiet_nan();
  }

  /// Overwrites out with `scale` times the term's reward Hessian applied to t.
  ///
  /// Each pair i < j adds c (t_i - t_j) to out_i and subtracts it from out_j, where, with s = sigma(|d|),
  /// c = weight s (1 - s) (1 - 2 s) is the second derivative of sigma(|d|) for d != 0. At d = 0, where |d|
  /// has its kink, c = 0, consistent with the zero subgradient there.
  template <class T>
  METARM_HOST_DEVICE void hessian_product(const T* r, const T* t, index_t k, T scale, T* out) const {
    const T weight = T(2) / static_cast<T>(k * k) * scale;
    for (index_t i = 0; i < k; ++i) out[i] = T(0);
    for (index_t i = 0; i < k; ++i) {
      for (index_t j = i + 1; j < k; ++j) {
        const T d = r[i] - r[j];
        if (d == T(0)) continue;
        const T s = sigmoid(d < T(0) ? -d : d);
        const T c = weight * s * (T(1) - s) * (T(1) - T(2) * s) * (t[i] - t[j]);
        out[i] += c;
        out[j] -= c;
      }
    }
  }
};

/// J, the meta objective MetaRM ascends (docs/math.md).
using DifferenceObjective = PromptObjective<DifferenceTerm>;

}  // namespace metarm
