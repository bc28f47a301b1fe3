// SPDX-License-Identifier: Apache-2.0
/// \file
/// Reptile (Nichol et al.\ 2018): K descent steps on the step's preference batch, then a move of the original
/// parameters toward where they ended:
/// \verbatim
///   phi_0 = theta,  phi_{i+1} = phi_i - alpha grad L(phi_i)      K inner steps
///   theta <- optimiser_step(theta, theta - phi_K)
/// \endverbatim
/// The difference theta - phi_K is handed to the optimiser as the gradient, so with Sgd{.learning_rate =
/// epsilon} the update is exactly theta + epsilon (phi_K - theta); Adam gives the Adam-outer-loop variant of
/// the paper, and schedules and clipping apply as for every strategy. No second derivatives.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include "metarm/core/error.hpp"
#include "metarm/metrics/step_stats.hpp"

namespace metarm {

/// Reptile: K descent steps on the preference batch, then the optimiser moves the parameters toward where they
/// ended.
class Reptile {
 public:
  /// "reptile", as callbacks and checkpoints give it.
  static constexpr std::string_view name = "reptile";
  /// It never reads the meta batch, so the learner gathers none.
  static constexpr bool uses_meta_batch = false;

  /// Reptile's settings.
  struct Options {
    /// K, the descent steps on the preference batch before each move.
    int inner_steps = 5;               // K
    double inner_learning_rate = 0.1;  ///< alpha of the inner descent
  };

  /// The default Options: five inner steps of 0.1.
  Reptile() : Reptile(Options{}) {}
  /// Reptile with `options`; throws unless inner_steps >= 1 and inner_learning_rate > 0.
  explicit Reptile(Options options) : options_(options) {
    METARM_REQUIRE(options_.inner_steps >= 1, "Reptile",
                   "argument 'inner_steps' must be >= 1, got {}", options_.inner_steps);
    METARM_REQUIRE(std::isfinite(options_.inner_learning_rate) && options_.inner_learning_rate > 0.0, "Reptile",
                   "argument 'inner_learning_rate' must be finite and > 0, got {:f}", options_.inner_learning_rate);
  }

  /// The settings.
  const Options& options() const { return options_; }

  /// One update, as the file's description gives it; every statistic is recorded in backend memory.
  template <class Step>
  StepStats step(Step& s) {
    using T = typename Step::scalar_type;
    auto adapted = s.scratch("adapted");
    auto grad = s.scratch("gradient");
    s.copy(s.params(), adapted);
    for (int i = 0; i < options_.inner_steps; ++i) {
      if (i == 0) {
        s.record_preference_loss_and_gradient(adapted, grad, Statistic::inner_loss);
        s.record_copy(Statistic::inner_loss, Statistic::loss);  // the loss before adaptation
      } else {
        s.preference_gradient(adapted, grad);
      }
      s.axpy(static_cast<T>(-options_.inner_learning_rate), grad, adapted);  // phi_{i+1} = phi_i - alpha grad L
    }
    s.copy(s.params(), grad);  // theta - phi_K
    s.axpy(T(-1), adapted, grad);
    s.apply_update(grad, Statistic::grad_norm);
    return {};  // every statistic is recorded (see StepContext::record_*)
  }

 private:
  Options options_;
};

}  // namespace metarm
