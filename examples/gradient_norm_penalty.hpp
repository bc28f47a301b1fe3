// SPDX-License-Identifier: Apache-2.0
// A strategy written outside the library, in one header: preference training with a gradient-norm penalty,
//   minimise  F(theta) = L(theta) + (lambda / 2) ||grad L(theta)||^2,
// which favours flat minima of the preference loss (Drucker and LeCun's double backpropagation, taken with
// respect to the parameters). Its gradient needs one Hessian-vector product:
//   grad F = grad L + lambda H_L grad L.
// The StepContext provides everything: the gradient, the Hessian-vector product (exact for the built-in
// models, central differences for a model of your own), scratch vectors and the optimiser.
#pragma once

#include <string_view>

#include <metarm/metarm.hpp>

struct GradientNormPenalty {
  static constexpr std::string_view name = "gradient-norm-penalty";
  static constexpr bool uses_meta_batch = false;  // the learner need not gather meta batches
  double lambda = 1.0;
  metarm::HvpOptions hvp{};  // automatic: exact when the model has hvp

  template <class Step>
  metarm::StepStats step(Step& s) {
    using T = typename Step::scalar_type;
    metarm::StepStats stats;
    auto grad = s.scratch("gradient"), hv = s.scratch("H_L grad L");             // parameter-sized, reused
    stats.loss = s.preference_loss_and_gradient(s.params(), grad);             // grad L
    s.preference_hvp(s.params(), grad, hv, hvp);                               // H_L grad L
    s.axpy(T(lambda), hv, grad);                                               // grad L + lambda H_L grad L
    stats.grad_norm = s.apply_update(grad);                                    // clip, schedule, optimiser
    return stats;
  }
};
