// SPDX-License-Identifier: Apache-2.0
/// \file
/// MetaRM (Dou et al.\ 2024, Algorithm 1), first order by default:
/// \verbatim
///   theta' = theta + eta * grad J(theta; meta batch)     ascent on the difference objective
///   g      = grad L(theta'; preference batch)             preference gradient at the adapted point
///   theta <- optimiser_step(theta, g)                      applied to the ORIGINAL parameters
/// \endverbatim
/// The ascent step is plain gradient ascent and touches no optimiser state.
///
/// With order = exact (or finite_difference) the update is the gradient of theta -> L(theta') itself:
/// \verbatim
///   u = (I + eta H_J(theta)) g                              one Hessian-vector product per ascent step
/// \endverbatim
/// (with K ascent steps theta_0 = theta, ..., theta_K = theta', u = prod_{i=K-1..0} (I + eta H_J(theta_i)) g,
/// applied from the adapted end back). docs/strategies.md has each line next to its formula.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/strategy/meta_gradient.hpp"
#include "metarm/metrics/step_stats.hpp"

namespace metarm {

/// MetaRM: an ascent step on J over the meta batch, then the preference gradient taken there, applied to the
/// original parameters.
class MetaRM {
 public:
  /// "metarm", as callbacks and checkpoints give it.
  static constexpr std::string_view name = "metarm";
  /// It reads the meta batch at every step.
  static constexpr bool uses_meta_batch = true;

  /// MetaRM's settings.
  struct Options {
    /// Ascent step size eta, separate from the optimiser's learning rate. The paper's 5e-6 suits a 7B model
    /// trained with a small learning rate; small models on fixed features need far larger values (see
    /// docs/math.md, "Choosing eta").
    double eta = 1e-2;
    /// Ascent steps before the preference gradient is taken; the paper uses 1. Each step re-evaluates grad J
    /// at the current adapted point.
    int inner_steps = 1;
    /// Also evaluate J at the adapted point (one more forward pass over the meta batch) for the statistics.
    bool measure_objective_after = false;
    /// How the update differentiates through the ascent steps.
    ///
    /// first_order: the paper's update. exact: the true gradient of theta -> L(theta'), one exact
    /// Hessian-vector product of J per ascent step. finite_difference: the same with central differences.
    MetaGradient order = MetaGradient::first_order;
    /// Relative step of finite-difference Hessian-vector products; 0 picks it (see HvpOptions).
    double finite_difference_step = 0.0;
  };

  /// MetaRM with the default Options: first order, eta 1e-2, one ascent step.
  MetaRM() : MetaRM(Options{}) {}
  /// First-order MetaRM with ascent step `eta`.
  explicit MetaRM(double eta) : MetaRM(Options{.eta = eta}) {}
  /// MetaRM with `options`; throws when eta is negative or not finite, or inner_steps < 1.
  explicit MetaRM(Options options) : options_(options) {
    METARM_REQUIRE(std::isfinite(options_.eta) && options_.eta >= 0.0, "MetaRM",
                   "argument 'eta' must be finite and >= 0, got {:f}", options_.eta);
    METARM_REQUIRE(options_.inner_steps >= 1, "MetaRM",
                   "argument 'inner_steps' must be >= 1, got {}", options_.inner_steps);
    validate_hvp_options(hvp_options_for(options_.order, options_.finite_difference_step), "MetaRM");
  }

  /// The settings.
  const Options& options() const { return options_; }

  /// One MetaRM update, as the file's description gives it; every statistic is recorded in backend memory.
  template <class Step>
  StepStats step(Step& s) {
    if (options_.order != MetaGradient::first_order) {
      return second_order_step(s);
    }
    using T = typename Step::scalar_type;
    auto adapted = s.scratch("adapted");
    auto grad = s.scratch("gradient");
    // Every value is recorded in backend memory (StepContext::record_*): on a GPU the step never waits.
    for (int i = 0; i < options_.inner_steps; ++i) {
      if (i == 0) {
        // The first ascent step starts from the parameters themselves: no copy of them is made.
        s.record_meta_objective_and_gradient(s.params(), grad, Statistic::objective);
        s.add_scaled(s.params(), static_cast<T>(options_.eta), grad, adapted, Statistic::ascent_norm);
      } else {
        s.meta_objective_gradient(adapted, grad);
        s.axpy(static_cast<T>(options_.eta), grad, adapted);
      }
    }
    if (options_.measure_objective_after) {
      s.record_meta_objective(adapted, Statistic::objective_after);
    }
    s.record_preference_loss_and_gradient(adapted, grad, Statistic::loss);
    s.apply_update(grad, Statistic::grad_norm);
    return {};
  }

 private:
  template <class Step>
  StepStats second_order_step(Step& s) {
    using T = typename Step::scalar_type;
    const T eta = static_cast<T>(options_.eta);
    auto adapted = s.scratch("adapted");
    auto grad = s.scratch("gradient");
    auto hv = s.scratch("hessian-vector product");
    // theta_0 = theta, ..., theta_{K-1}: where the backward sweep takes H_J.
    auto point = [&](int i) { return i == 0 ? s.params() : s.scratch("inner point", static_cast<std::size_t>(i)); };
    for (int i = 0; i < options_.inner_steps; ++i) {
      if (i == 0) {
        // The first ascent step starts from the parameters themselves and writes theta_1 in one pass.
        s.record_meta_objective_and_gradient(s.params(), grad, Statistic::objective);
        // theta_1 = theta_0 + eta grad J(theta_0), with |grad J| in the same pass
        s.add_scaled(s.params(), eta, grad, adapted, Statistic::ascent_norm);
      } else {
        s.copy(adapted, point(i));  // theta_i, where the backward sweep takes H_J
        s.meta_objective_gradient(adapted, grad);
        s.axpy(eta, grad, adapted);  // theta_{i+1} = theta_i + eta grad J(theta_i)
      }
    }
    s.record_preference_loss_and_gradient(adapted, grad, Statistic::loss);  // g = grad L(theta')
    if (options_.eta != 0.0) {
      const HvpOptions hvp = hvp_options_for(options_.order, options_.finite_difference_step);
      for (int i = options_.inner_steps; i-- > 0;) {
        s.meta_hvp(point(i), grad, hv, hvp);  // H_J(theta_i) u
        s.axpy(eta, hv, grad);                      // u <- (I + eta H_J(theta_i)) u
      }
    }
    // After the products: measured first, J(theta') would displace the pass the first product reuses.
    if (options_.measure_objective_after) {
      s.record_meta_objective(adapted, Statistic::objective_after);
    }
    s.apply_update(grad, Statistic::grad_norm);
    return {};
  }

  Options options_;
};

}  // namespace metarm
