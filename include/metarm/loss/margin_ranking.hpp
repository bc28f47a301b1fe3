// SPDX-License-Identifier: Apache-2.0
/// \file
/// The margin-ranking (hinge) preference loss, as PyTorch's MarginRankingLoss with target +1:
/// \verbatim
///   L = (1/n) sum_i max(0, gamma - (r_w,i - r_l,i - m_i)) + c (1/n) sum_i (r_w,i + r_l,i)^2
/// \endverbatim
/// A pair stops contributing once the chosen reward leads by gamma (plus its margin m_i). Its second
/// derivative is zero wherever it exists, so Hessian-vector products see only the centering term and the
/// model's own curvature.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/loss/pairwise_loss.hpp"

namespace metarm {

/// max(0, gamma - delta): the hinge on one pair's reward difference.
struct HingeTerm {
  /// The name loss_name() reports.
  static constexpr std::string_view name = "margin_ranking";
  /// The class that error messages name.
  static constexpr std::string_view class_name = "MarginRankingLoss";

  double gamma = 1.0;  ///< the lead below which a pair is penalised

  /// Throws when gamma is negative or not finite.
  void validate() const {
    METARM_REQUIRE(std::isfinite(gamma) && gamma >= 0.0, "MarginRankingLoss",
                   "argument 'gamma' must be finite and >= 0, got {:f}", gamma);
  }

  /// max(0, gamma - delta).
  template <class T>
  METARM_HOST_DEVICE T value(T delta) const {
    const T shortfall = static_cast<T>(gamma) - delta;
    return shortfall > T(0) ? shortfall : T(0);
  }
  /// -1 while the lead is short of gamma, 0 beyond it (and at the kink, as PyTorch's subgradient).
  template <class T>
  METARM_HOST_DEVICE T derivative(T delta) const {
    return delta < static_cast<T>(gamma) ? T(-1) : T(0);
  }
  /// 0: the hinge is piecewise linear.
  template <class T>
  METARM_HOST_DEVICE T second_derivative(T) const {
    return T(0);
  }
};

/// The margin-ranking (hinge) preference loss: a pair is penalised until the chosen reward leads by gamma.
class MarginRankingLoss : public PairwiseLoss<HingeTerm> {
 public:
  /// A loss with lead `gamma` and reward-centering coefficient `centering`.
  explicit MarginRankingLoss(double gamma = 1.0, double centering = 0.0)
      : PairwiseLoss<HingeTerm>(HingeTerm{gamma}, centering) {}
};

}  // namespace metarm
