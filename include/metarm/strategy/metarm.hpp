// MetaRM, first order (Dou et al. 2024, Algorithm 1):
//   theta' = theta + eta * grad J(theta; meta batch)     ascent on the difference objective
//   g      = grad L(theta'; preference batch)             preference gradient at the adapted point
//   theta <- optimiser_step(theta, g)                      applied to the ORIGINAL parameters
// The ascent step is plain gradient ascent and touches no optimiser state.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include "metarm/core/error.hpp"
#include "metarm/strategy/step_stats.hpp"

namespace metarm {

class MetaRM {
 public:
  static constexpr std::string_view name = "metarm";
  static constexpr bool uses_meta_batch = true;

  struct Options {
    // Ascent step size eta, separate from the optimiser's learning rate. The paper's 5e-6 suits a 7B model
    // trained with a small learning rate; small models on fixed features need far larger values (see
    // docs/math.md, "Choosing eta").
    double eta = 1e-2;
    // Ascent steps before the preference gradient is taken; the paper uses 1. Each step re-evaluates grad J
    // at the current adapted point.
    int inner_steps = 1;
    // Also evaluate J at the adapted point (one more forward pass over the meta batch) for the statistics.
    bool measure_objective_after = false;
  };

  MetaRM() : MetaRM(Options{}) {}
  explicit MetaRM(double eta) : MetaRM(Options{.eta = eta}) {}
  explicit MetaRM(Options options) : options_(options) {
    METARM_REQUIRE(std::isfinite(options_.eta) && options_.eta >= 0.0, "MetaRM",
                   "argument 'eta' must be finite and >= 0, got " + std::to_string(options_.eta));
    METARM_REQUIRE(options_.inner_steps >= 1, "MetaRM",
                   "argument 'inner_steps' must be >= 1, got " + std::to_string(options_.inner_steps));
  }

  const Options& options() const { return options_; }

  template <class Step>
  StepStats step(Step& s) {
    using T = typename Step::scalar_type;
    StepStats stats;
    auto adapted = s.scratch(0);
    auto grad = s.scratch(1);
    s.copy(s.params(), adapted);
    for (int i = 0; i < options_.inner_steps; ++i) {
      const double objective = static_cast<double>(s.difference_objective_and_gradient(adapted, grad));
      if (i == 0) {
        stats.objective = objective;
        stats.ascent_norm = s.norm(grad);
      }
      s.axpy(static_cast<T>(options_.eta), grad, adapted);
    }
    if (options_.measure_objective_after) {
      stats.objective_after = static_cast<double>(s.difference_objective(adapted));
    }
    stats.loss = static_cast<double>(s.preference_loss_and_gradient(adapted, grad));
    stats.grad_norm = s.apply_update(grad);
    return stats;
  }

 private:
  Options options_;
};

}  // namespace metarm
