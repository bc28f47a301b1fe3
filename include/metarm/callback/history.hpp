// SPDX-License-Identifier: Apache-2.0
// Records every step's statistics and every evaluation, for plotting or inspection after a fit.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "metarm/callback/events.hpp"

namespace metarm {

class History {
 public:
  struct Evaluation {
    std::int64_t step;
    Metrics metrics;
  };

  std::string_view name() const { return "History"; }

  void on_fit_begin(const FitBeginEvent& e) { steps_.reserve(steps_.size() + static_cast<std::size_t>(e.total_steps)); }
  void on_step(const StepEvent& e) { steps_.push_back(e.stats); }
  void on_eval(const EvalEvent& e) { evaluations_.push_back({e.step, e.metrics}); }

  const std::vector<StepStats>& steps() const { return steps_; }
  const std::vector<Evaluation>& evaluations() const { return evaluations_; }

 private:
  std::vector<StepStats> steps_;
  std::vector<Evaluation> evaluations_;
};

}  // namespace metarm
