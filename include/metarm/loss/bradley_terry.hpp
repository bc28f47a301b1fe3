// SPDX-License-Identifier: Apache-2.0
/// \file
/// The Bradley-Terry preference loss of docs/math.md, with margins and reward centering:
/// \verbatim
///   L = (1/n) sum_i softplus(-(r_w,i - r_l,i - m_i)) + c (1/n) sum_i (r_w,i + r_l,i)^2
/// \endverbatim
/// Rewards come laid out [chosen (n) | rejected (n)], as one forward pass over [X_chosen | X_rejected] gives.
#pragma once

#include <string_view>

#include "metarm/core/config.hpp"
#include "metarm/core/scalar_math.hpp"
#include "metarm/loss/pairwise_loss.hpp"

namespace metarm {

/// -log sigma(delta) = softplus(-delta): the negative log-likelihood that the chosen response wins.
struct BradleyTerryTerm {
  /// The name loss_name() reports.
  static constexpr std::string_view name = "bradley_terry";
  /// The class that error messages name.
  static constexpr std::string_view class_name = "BradleyTerryLoss";

  /// softplus(-delta).
  template <class T>
  METARM_HOST_DEVICE T value(T delta) const {
    return softplus(-delta);
  }
  /// -sigma(-delta).
  template <class T>
  METARM_HOST_DEVICE T derivative(T delta) const {
    return -sigmoid(-delta);
  }
  /// sigma(delta) sigma(-delta)
  template <class T>
  METARM_HOST_DEVICE T second_derivative(T delta) const {
    return sigmoid(delta) * sigmoid(-delta);
  }
};

/// The Bradley-Terry preference loss, -log sigma(r_w - r_l - m) per pair, with optional reward centering.
class BradleyTerryLoss : public PairwiseLoss<BradleyTerryTerm> {
 public:
  /// `centering` is the reward-centering coefficient c; it must be finite and >= 0.
  explicit BradleyTerryLoss(double centering = 0.0) : PairwiseLoss<BradleyTerryTerm>(BradleyTerryTerm{}, centering) {}
};

}  // namespace metarm
