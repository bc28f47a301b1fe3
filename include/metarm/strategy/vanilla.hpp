// Plain Bradley-Terry training: theta <- optimiser_step(theta, grad L(theta)).
#pragma once

#include <string_view>

#include "metarm/metrics/step_stats.hpp"

namespace metarm {

struct Vanilla {
  static constexpr std::string_view name = "vanilla";
  // The learner skips gathering meta batches for strategies that declare they do not read them.
  static constexpr bool uses_meta_batch = false;

  template <class Step>
  StepStats step(Step& s) {
    StepStats stats;
    auto grad = s.scratch("gradient");
    stats.loss = static_cast<double>(s.preference_loss_and_gradient(s.params(), grad));
    stats.grad_norm = s.apply_update(grad);
    return stats;
  }
};

}  // namespace metarm
