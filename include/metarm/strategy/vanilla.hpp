// SPDX-License-Identifier: Apache-2.0
/// \file
/// Plain Bradley-Terry training: theta <- optimiser_step(theta, grad L(theta)).
#pragma once

#include <string_view>

#include "metarm/metrics/step_stats.hpp"

namespace metarm {

/// Plain preference-loss training: the gradient of L at the parameters, handed to the optimiser.
struct Vanilla {
  /// "vanilla", as callbacks and checkpoints give it.
  static constexpr std::string_view name = "vanilla";
  /// The learner skips gathering meta batches for strategies that declare they do not read them.
  static constexpr bool uses_meta_batch = false;

  /// One update; every statistic is recorded in backend memory (StepContext::record_*).
  template <class Step>
  StepStats step(Step& s) {
    auto grad = s.scratch("gradient");
    s.record_preference_loss_and_gradient(s.params(), grad, Statistic::loss);
    s.apply_update(grad, Statistic::grad_norm);
    return {};  // every statistic is recorded (see StepContext::record_*)
  }
};

}  // namespace metarm
