// SPDX-License-Identifier: Apache-2.0
/// \file
/// Stops a fit when an evaluation metric has not improved for `patience` evaluations in a row.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "metarm/callback/events.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

/// A callback that stops a fit when an evaluation metric has not improved for `patience` evaluations in a row.
class EarlyStopping {
 public:
  /// Whether larger or smaller values of the metric are better.
  enum class Mode { maximize, minimize };

  /// Watches `metric`, eval_ prefix included; an improvement must exceed `min_delta`.
  explicit EarlyStopping(std::string metric = "eval_accuracy", int patience = 3, Mode mode = Mode::maximize,
                         double min_delta = 0.0)
      : metric_(std::move(metric)), patience_(patience), mode_(mode), min_delta_(min_delta) {
    METARM_REQUIRE(patience >= 1, "EarlyStopping", "argument 'patience' must be >= 1, got {}", patience);
    METARM_REQUIRE(min_delta >= 0.0, "EarlyStopping",
                   "argument 'min_delta' must be >= 0, got {:f}", min_delta);
  }

  /// The name that a stop reason cites.
  std::string_view name() const { return "EarlyStopping"; }

  /// Records the evaluation; true (stop) after `patience` evaluations without improvement.
  bool on_eval(const EvalEvent& e) {
    const auto value = e.metrics.find(metric_);
    METARM_REQUIRE(value.has_value(), "EarlyStopping",
                   "the evaluation has no metric '{}' (argument 'metric'); check the eval_ prefix", metric_);
    const double v = *value;
    const bool improved = std::isnan(best_) || (mode_ == Mode::maximize ? v > best_ + min_delta_ : v < best_ - min_delta_);
    if (improved) {
      best_ = v;
      best_step_ = e.step;
      stale_ = 0;
      return false;
    }
    ++stale_;
    return stale_ >= patience_;
  }

  /// Why it stopped the fit: the metric, the evaluations without improvement, the best value and its step.
  std::string stop_reason() const {
    return fmt::format("{} did not improve for {} evaluation(s); best {:f} at step {}", metric_, stale_, best_,
                       best_step_);
  }

  /// The best value seen (NaN before the first evaluation).
  double best() const { return best_; }
  /// The step of the best value.
  std::int64_t best_step() const { return best_step_; }

 private:
  std::string metric_;
  int patience_;
  Mode mode_;
  double min_delta_;
  double best_ = std::numeric_limits<double>::quiet_NaN();
  std::int64_t best_step_ = 0;
  int stale_ = 0;
};

}  // namespace metarm
