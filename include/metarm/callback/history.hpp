// SPDX-License-Identifier: Apache-2.0
/// \file
/// Records every step's statistics and every evaluation, for plotting or inspection after a fit.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "metarm/callback/events.hpp"

namespace metarm {

/// A callback that keeps every step's statistics and every evaluation in memory.
class History {
 public:
  /// One evaluation and the step it followed.
  struct Evaluation {
    /// The step after which it ran.
    std::int64_t step;
    /// Its metrics, named with the eval_ prefix.
    Metrics metrics;
  };

  /// The name that a stop reason cites.
  std::string_view name() const { return "History"; }

  /// Reserves room for the fit's planned steps.
  void on_fit_begin(const FitBeginEvent& e) { steps_.reserve(steps_.size() + static_cast<std::size_t>(e.total_steps)); }
  /// Keeps the step's statistics.
  void on_step(const StepEvent& e) { steps_.push_back(e.stats); }
  /// Keeps the evaluation.
  void on_eval(const EvalEvent& e) { evaluations_.push_back({e.step, e.metrics}); }

  /// The statistics of every step the callbacks were shown, in order.
  const std::vector<StepStats>& steps() const { return steps_; }
  /// Every evaluation, in order.
  const std::vector<Evaluation>& evaluations() const { return evaluations_; }

 private:
  std::vector<StepStats> steps_;
  std::vector<Evaluation> evaluations_;
};

}  // namespace metarm
