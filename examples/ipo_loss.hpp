// SPDX-License-Identifier: Apache-2.0
// A preference loss written outside the library, in one header: the squared loss of IPO (identity
// preference optimisation, Azar et al. 2023) applied to reward differences,
//   l(delta) = (delta - 1 / (2 tau))^2,   delta = r_chosen - r_rejected - margin
// which pulls every pair's reward gap toward the fixed target 1 / (2 tau) instead of pushing it to infinity
// as Bradley-Terry does, so rewards stay on a bounded scale however separable the data.
//
// The library's PairwiseLoss turns the three scalar functions below into a preference loss (value, reward
// gradient, reward-space Hessian product, reward centering) on every backend; they are METARM_HOST_DEVICE so
// that a .cu file runs them on the GPU.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include <metarm/metarm.hpp>

namespace example {

struct IpoTerm {
  static constexpr std::string_view name = "ipo";
  static constexpr std::string_view class_name = "IpoLoss";

  double tau = 0.1;  // the target gap is 1 / (2 tau)

  void validate() const {
    METARM_REQUIRE(std::isfinite(tau) && tau > 0.0, "IpoLoss", "argument 'tau' must be finite and > 0, got {:f}", tau);
  }

  template <class T>
  METARM_HOST_DEVICE T value(T delta) const {
    const T gap = delta - target<T>();
    return gap * gap;
  }
  template <class T>
  METARM_HOST_DEVICE T derivative(T delta) const {
    return T(2) * (delta - target<T>());
  }
  template <class T>
  METARM_HOST_DEVICE T second_derivative(T) const {
    return T(2);
  }

 private:
  template <class T>
  METARM_HOST_DEVICE T target() const {
    return static_cast<T>(0.5 / tau);
  }
};

class IpoLoss : public metarm::PairwiseLoss<IpoTerm> {
 public:
  explicit IpoLoss(double tau = 0.1, double centering = 0.0) : metarm::PairwiseLoss<IpoTerm>(IpoTerm{tau}, centering) {}
};

}  // namespace example
