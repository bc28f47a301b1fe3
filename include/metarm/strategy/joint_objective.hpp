// SPDX-License-Identifier: Apache-2.0
/// \file
/// The joint objective: descend on the preference loss minus lambda times the meta objective, both at theta,
/// \verbatim
///   theta <- optimiser_step(theta, grad L(theta) - lambda grad J(theta)),
/// \endverbatim
/// L on the preference batch and J on the meta batch. Where MetaRM raises J only through the point at which it
/// takes L's gradient, this adds J to the loss outright: two gradients a step, no Hessian-vector product.
/// lambda = 0 is Vanilla (it still reads the meta batch and records J).
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/metrics/step_stats.hpp"

namespace metarm {

/// Descends on L(theta) - lambda J(theta): the preference loss and the meta objective traded off at theta.
class JointObjective {
 public:
  /// "joint", as callbacks and checkpoints give it.
  static constexpr std::string_view name = "joint";
  /// It reads the meta batch at every step.
  static constexpr bool uses_meta_batch = true;

  /// The strategy's settings.
  struct Options {
    double lambda = 0.5;  ///< weight of the meta objective; finite and >= 0
  };

  /// The default Options: lambda 0.5.
  JointObjective() : JointObjective(Options{}) {}
  /// `lambda` as given.
  explicit JointObjective(double lambda) : JointObjective(Options{.lambda = lambda}) {}
  /// The strategy with `options`; throws when lambda is negative or not finite.
  explicit JointObjective(Options options) : options_(options) {
    METARM_REQUIRE(std::isfinite(options_.lambda) && options_.lambda >= 0.0, "JointObjective",
                   "argument 'lambda' must be finite and >= 0, got {:f}", options_.lambda);
  }

  /// The settings.
  const Options& options() const { return options_; }

  /// One update: grad L and grad J at theta, each on its own batch; every statistic recorded in backend memory.
  template <class Step>
  StepStats step(Step& s) {
    using T = typename Step::scalar_type;
    auto grad = s.scratch("gradient");
    auto grad_j = s.scratch("grad J");
    s.record_meta_objective_and_gradient(s.params(), grad_j, Statistic::objective);
    s.record_norm(as_const(grad_j), Statistic::ascent_norm);
    s.record_preference_loss_and_gradient(s.params(), grad, Statistic::loss);
    s.axpy(static_cast<T>(-options_.lambda), as_const(grad_j), grad);  // grad L - lambda grad J
    s.apply_update(grad, Statistic::grad_norm);
    return {};  // every statistic is recorded (see StepContext::record_*)
  }

 private:
  Options options_;
};

}  // namespace metarm
