// SPDX-License-Identifier: Apache-2.0
/// \file
/// Bradley-Terry with label smoothing (as in conservative DPO): each label is taken to be flipped with
/// probability epsilon, so a pair's loss is the expected negative log-likelihood
/// \verbatim
///   l(delta) = (1 - epsilon) softplus(-delta) + epsilon softplus(delta),   delta = r_w - r_l - m
/// \endverbatim
/// plus the same reward centering as BradleyTerryLoss. With epsilon > 0 the loss is bounded below away from
/// zero and stops pushing pairs apart once sigma(delta) reaches 1 - epsilon. epsilon = 0 is Bradley-Terry.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/scalar_math.hpp"
#include "metarm/loss/pairwise_loss.hpp"

namespace metarm {

/// Bradley-Terry's term with each label flipped with probability epsilon.
struct LabelSmoothedBradleyTerryTerm {
  /// The name loss_name() reports.
  static constexpr std::string_view name = "label_smoothed_bradley_terry";
  /// The class that error messages name.
  static constexpr std::string_view class_name = "LabelSmoothedBradleyTerryLoss";

  double epsilon = 0.1;  ///< probability that a label is flipped

  /// Throws unless 0 <= epsilon < 0.5.
  void validate() const {
    METARM_REQUIRE(epsilon >= 0.0 && epsilon < 0.5, "LabelSmoothedBradleyTerryLoss",
                   "argument 'epsilon' must be in [0, 0.5), got {:f}", epsilon);
  }

  /// (1 - epsilon) softplus(-delta) + epsilon softplus(delta).
  template <class T>
  METARM_HOST_DEVICE T value(T delta) const {
    const T e = static_cast<T>(epsilon);
    return (T(1) - e) * softplus(-delta) + e * softplus(delta);
  }
  /// -(1 - epsilon) sigma(-delta) + epsilon sigma(delta).
  template <class T>
  METARM_HOST_DEVICE T derivative(T delta) const {
    const T e = static_cast<T>(epsilon);
    return -(T(1) - e) * sigmoid(-delta) + e * sigmoid(delta);
  }
  /// Both softplus terms have the curvature sigma(delta) sigma(-delta); their weights add to 1.
  template <class T>
  METARM_HOST_DEVICE T second_derivative(T delta) const {
    return sigmoid(delta) * sigmoid(-delta);
  }
};

/// Bradley-Terry with label smoothing, as in conservative DPO: see the file.
class LabelSmoothedBradleyTerryLoss : public PairwiseLoss<LabelSmoothedBradleyTerryTerm> {
 public:
  /// A loss with flip probability `epsilon` and reward-centering coefficient `centering`.
  explicit LabelSmoothedBradleyTerryLoss(double epsilon = 0.1, double centering = 0.0)
      : PairwiseLoss<LabelSmoothedBradleyTerryTerm>(LabelSmoothedBradleyTerryTerm{epsilon}, centering) {}
};

}  // namespace metarm
