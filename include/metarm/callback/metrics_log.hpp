// SPDX-License-Identifier: Apache-2.0
/// \file
/// Metrics as JSON lines, one object per logging step and per evaluation, with TRL's names: "loss",
/// "accuracy", "margin", "rewards/chosen", "rewards/rejected", "grad_norm", "learning_rate", "epoch" (fractional)
/// and "step" for training (means over the steps since the previous line), "eval_"-prefixed names for
/// evaluations, and a last line with "train_runtime" and the stop reason. Strategies that measure them add
/// "difference_objective" (J before the step) and "ascent_norm" (|grad J|, for choosing eta); null otherwise.
/// Each line is formatted into a buffer with fmt and written in one piece.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/core.h>

#include "metarm/callback/events.hpp"

namespace metarm {

/// A callback that writes a fit's metrics as JSON lines with TRL's names; see the file's description.
class MetricsLog {
 public:
  /// Writes to `out` (not closed here) every `every` steps.
  explicit MetricsLog(std::FILE* out, std::int64_t every = 10) : out_(out), every_(every > 0 ? every : 1) {}

  /// The name that a stop reason cites.
  std::string_view name() const { return "MetricsLog"; }

  /// Starts the clock.
  void on_fit_begin(const FitBeginEvent& e) {
    start_ = clock::now();
    batches_ = e.batches_per_epoch;
    start_step_ = e.start_step;
  }

  /// Adds the step to the current window; writes the window's means every `every` steps and at the last step.
  void on_step(const StepEvent& e) {
    window_.add(e.stats);
    if (e.step % every_ != 0 && e.step != e.total_steps) return;
    begin_line(e.step, e.epoch, e.batch);
    field("loss", window_.mean(0));
    field("accuracy", window_.mean(1));
    field("margin", window_.mean(2));
    field("rewards/chosen", window_.mean(3));
    field("rewards/rejected", window_.mean(4));
    field("grad_norm", window_.mean(5));
    field("difference_objective", window_.mean(6));
    field("ascent_norm", window_.mean(7));
    field("learning_rate", e.stats.learning_rate);
    end_line();
    window_ = {};
  }

  /// Writes the evaluation's metrics as one line.
  void on_eval(const EvalEvent& e) {
    begin_line(e.step, e.epoch, -1);
    for (const auto& [metric, value] : e.metrics.items()) field(metric, value);
    end_line();
  }

  /// Writes the last line: the run time and the stop reason.
  void on_fit_end(const StopReason& reason) {
    const double runtime = std::chrono::duration<double>(clock::now() - start_).count();
    line_.clear();
    line_ += fmt::format("{{\"train_runtime\": {:.3f}, \"stop\": ", runtime);
    string(reason.describe());
    end_line();
  }

 private:
  using clock = std::chrono::steady_clock;

  // Sums of the step statistics since the last line; NaN values (not measured) are skipped.
  struct Window {
    double sum[8]{};
    std::int64_t count[8]{};
    void add(const StepStats& s) {
      const double v[8] = {s.loss,      s.accuracy,  s.margin,   s.rewards_chosen, s.rewards_rejected,
                           s.grad_norm, s.objective, s.ascent_norm};
      for (int i = 0; i < 8; ++i) {
        if (!std::isnan(v[i])) {
          sum[i] += v[i];
          ++count[i];
        }
      }
    }
    double mean(int i) const { return count[i] > 0 ? sum[i] / static_cast<double>(count[i]) : std::nan(""); }
  };

  void begin_line(std::int64_t step, int epoch, index_t batch) {
    // TRL's fractional epoch: completed epochs plus the share of this one's batches done.
    const double fraction = batch >= 0 && batches_ > 0 ? static_cast<double>(batch) / static_cast<double>(batches_) : 1.0;
    line_.clear();
    line_ += fmt::format("{{\"step\": {}, \"epoch\": {:.4f}", step, (epoch - 1) + fraction);
  }

  void field(std::string_view key, double value) {
    line_.append(std::string_view(", "));
    string(key);
    if (std::isfinite(value)) {
      line_ += fmt::format(": {:.9g}", value);
    } else {
      line_.append(std::string_view(": null"));
    }
  }

  void string(std::string_view text) {
    line_.push_back('"');
    for (char c : text) {
      if (c == '"' || c == '\\') {
        line_.push_back('\\');
        line_.push_back(c);
      } else if (static_cast<unsigned char>(c) < 0x20) {
        line_ += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
      } else {
        line_.push_back(c);
      }
    }
    line_.push_back('"');
  }

  void end_line() {
    line_.append(std::string_view("}\n"));
    std::fwrite(line_.data(), 1, line_.size(), out_);
    std::fflush(out_);
  }

  std::FILE* out_;
  std::string line_;  // the line being built; its capacity is kept from line to line
  std::int64_t every_;
  index_t batches_ = 0;
  std::int64_t start_step_ = 0;
  Window window_{};
  clock::time_point start_{};
};

}  // namespace metarm
