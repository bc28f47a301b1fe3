// SPDX-License-Identifier: Apache-2.0
/// \file
/// Progress of a fit on one line: epoch, step, loss, J, rate and time left. On a terminal the line is
/// rewritten in place at most every `interval` seconds; elsewhere (a log file, CI) a plain line is printed
/// every `every` steps and at each epoch end.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/core.h>
#include <unistd.h>

#include "metarm/callback/duration_text.hpp"
#include "metarm/callback/events.hpp"

namespace metarm {

/// A callback that prints a fit's progress on one line; see the file's description.
class ProgressLine {
 public:
  /// Writes to `out`: on a terminal at most every `interval` seconds, elsewhere every `every` steps.
  explicit ProgressLine(std::FILE* out = stderr, std::int64_t every = 50, double interval = 0.1)
      : out_(out), every_(every > 0 ? every : 1), interval_(interval), terminal_(isatty(fileno(out)) != 0) {}

  /// The name that a stop reason cites.
  std::string_view name() const { return "ProgressLine"; }

  /// Prints the fit's plan: strategy, pairs, meta prompts, epochs and batches.
  void on_fit_begin(const FitBeginEvent& e) {
    start_ = clock::now();
    start_step_ = e.start_step;
    last_print_ = start_ - std::chrono::hours(1);
    fmt::print(out_, "fit: strategy {}, {} pairs, {} meta prompts, {} epoch(s) x {} batches\n", e.strategy, e.pairs,
               e.meta_prompts, e.epochs, e.batches_per_epoch);
  }

  /// Rewrites or prints the line when due.
  void on_step(const StepEvent& e) {
    const auto now = clock::now();
    const bool due = terminal_ ? seconds(last_print_, now) >= interval_ || e.step == e.total_steps
                               : e.step % every_ == 0;
    if (!due) {
      return;
    }
    last_print_ = now;
    const double elapsed = seconds(start_, now);
    const double rate = elapsed > 0.0 ? static_cast<double>(e.step - start_step_) / elapsed : 0.0;
    const double left = rate > 0.0 ? static_cast<double>(e.total_steps - e.step) / rate : 0.0;
    // One write per line, so that a terminal never shows half of it.
    line_.clear();
    line_ += fmt::format("{}epoch {}/{}  step {}/{}  loss {:.4f}", terminal_ ? "\r" : "", e.epoch, e.epochs, e.step,
                         e.total_steps, e.stats.loss);
    if (!std::isnan(e.stats.objective)) {
      line_ += fmt::format("  J {:.4f}", e.stats.objective);
    }
    line_ += fmt::format("  lr {:.2e}  {:.1f} step/s  ETA {}{}", e.stats.learning_rate, rate,
                         format_duration(left).text, terminal_ ? "\033[K" : "\n");
    std::fwrite(line_.data(), 1, line_.size(), out_);
    std::fflush(out_);
    pending_newline_ = terminal_;
  }

  /// Prints the epoch's mean loss (and J), and its evaluation's accuracy, loss and J.
  void on_epoch_end(const EpochEvent& e) {
    end_line();
    fmt::print(out_, "epoch {}/{} done  mean loss {:.4f}", e.epoch, e.epochs, e.mean_loss);
    if (!std::isnan(e.mean_objective)) {
      fmt::print(out_, "  mean J {:.4f}", e.mean_objective);
    }
    if (e.eval != nullptr) {
      for (const auto& [metric, value] : e.eval->items()) {
        if (metric == "eval_accuracy" || metric == "eval_loss" || metric == "eval_difference_objective") {
          fmt::print(out_, "  {} {:.4f}", metric, value);
        }
      }
    }
    std::fputc('\n', out_);
    std::fflush(out_);
  }

  /// Prints why the fit stopped and how long it took.
  void on_fit_end(const StopReason& reason) {
    end_line();
    fmt::print(out_, "fit: {} after {:.1f}s\n", reason.describe(), seconds(start_, clock::now()));
    std::fflush(out_);
  }

 private:
  using clock = std::chrono::steady_clock;

  static double seconds(clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

  void end_line() {
    if (pending_newline_) {
      std::fputc('\n', out_);
      pending_newline_ = false;
    }
  }

  std::FILE* out_;
  std::string line_;  // the step line being built; its capacity is kept from line to line
  std::int64_t every_;
  double interval_;
  bool terminal_;
  bool pending_newline_ = false;
  std::int64_t start_step_ = 0;
  clock::time_point start_{};
  clock::time_point last_print_{};
};

}  // namespace metarm
