// SPDX-License-Identifier: Apache-2.0
/// \file
/// A progress bar for long fits: on a terminal one line rewritten in place (at most every `interval` seconds)
/// \verbatim
///   [##########..........]  48%  step 1200/2500  epoch 2/5  loss 0.6421  acc 0.612  35.1 step/s  ETA 37s
/// \endverbatim
/// and, when the output is not a terminal (a log file, CI), a plain line every `every` steps and at each epoch
/// end, so logs stay readable. Written with fmt::print only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include <fmt/core.h>
#include <unistd.h>

#include "metarm/callback/duration_text.hpp"
#include "metarm/callback/events.hpp"

namespace metarm {

/// A callback that draws a progress bar on a terminal and prints plain lines elsewhere; see the file's description.
class ProgressBar {
 public:
  /// Writes to `out`: on a terminal at most every `interval` seconds, elsewhere every `every` steps.
  explicit ProgressBar(std::FILE* out = stderr, std::int64_t every = 100, double interval = 0.2, int width = 24)
      : out_(out), every_(every > 0 ? every : 1), interval_(interval), width_(width), terminal_(isatty(fileno(out)) != 0) {}

  /// Draws as on a terminal, or as into a log, whatever isatty says.
  ///
  /// For tests and for programs that know better than isatty.
  ProgressBar& force_terminal(bool terminal) {
    terminal_ = terminal;
    return *this;
  }

  /// The name that a stop reason cites.
  std::string_view name() const { return "ProgressBar"; }

  /// Starts the clock.
  void on_fit_begin(const FitBeginEvent& e) {
    start_ = clock::now();
    start_step_ = e.start_step;
    last_print_ = start_ - std::chrono::hours(1);
    loss_ = accuracy_ = 0.0;
    seen_ = 0;
  }

  /// Updates the shown averages, and redraws or prints when due.
  void on_step(const StepEvent& e) {
    // Exponential moving averages keep the shown loss readable on noisy batches.
    const double a = seen_ == 0 ? 1.0 : 0.05;
    if (!std::isnan(e.stats.loss)) loss_ += a * (e.stats.loss - loss_);
    if (!std::isnan(e.stats.accuracy)) accuracy_ += a * (e.stats.accuracy - accuracy_);
    ++seen_;
    const auto now = clock::now();
    const bool last = e.step == e.total_steps;
    const bool due = terminal_ ? seconds(last_print_, now) >= interval_ || last : e.step % every_ == 0 || last;
    if (!due) return;
    last_print_ = now;
    const double elapsed = seconds(start_, now);
    const double rate = elapsed > 0.0 ? static_cast<double>(e.step - start_step_) / elapsed : 0.0;
    const double left = rate > 0.0 ? static_cast<double>(e.total_steps - e.step) / rate : 0.0;
    const double done = e.total_steps > 0 ? static_cast<double>(e.step) / static_cast<double>(e.total_steps) : 1.0;
    const DurationText duration = format_duration(left);
    if (terminal_) {
      char bar[128];
      const int filled = static_cast<int>(done * width_ + 1e-9);
      int i = 0;
      bar[i++] = '[';
      for (int k = 0; k < width_ && i < 120; ++k) bar[i++] = k < filled ? '#' : '.';
      bar[i++] = ']';
      bar[i] = '\0';
      fmt::print(out_, "\r{} {:3.0f}%  step {}/{}  epoch {}/{}  loss {:.4f}  acc {:.3f}  {:.1f} step/s  ETA {}\033[K", bar,
                 100.0 * done, e.step, e.total_steps, e.epoch, e.epochs, loss_, accuracy_, rate, duration.text);
      pending_newline_ = true;
    } else {
      fmt::print(out_, "step {}/{} ({:.0f}%)  epoch {}/{}  loss {:.4f}  acc {:.3f}  {:.1f} step/s  ETA {}\n", e.step,
                 e.total_steps, 100.0 * done, e.epoch, e.epochs, loss_, accuracy_, rate, duration.text);
    }
    std::fflush(out_);
  }

  /// Prints the epoch's mean loss (and J), and its evaluation's accuracy and loss.
  void on_epoch_end(const EpochEvent& e) {
    end_line();
    fmt::print(out_, "epoch {}/{}  mean loss {:.4f}", e.epoch, e.epochs, e.mean_loss);
    if (!std::isnan(e.mean_objective)) fmt::print(out_, "  mean J {:.4f}", e.mean_objective);
    if (e.eval != nullptr) {
      for (const auto& [metric, value] : e.eval->items()) {
        if (metric == "eval_accuracy" || metric == "eval_loss") fmt::print(out_, "  {} {:.4f}", metric, value);
      }
    }
    std::fputc('\n', out_);
    std::fflush(out_);
  }

  /// Prints why the fit stopped and how long it took.
  void on_fit_end(const StopReason& reason) {
    end_line();
    fmt::print(out_, "training: {} in {:.1f}s\n", reason.describe(), seconds(start_, clock::now()));
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
  std::int64_t every_;
  double interval_;
  int width_;
  bool terminal_;
  bool pending_newline_ = false;
  std::int64_t start_step_ = 0;
  double loss_ = 0.0, accuracy_ = 0.0;
  std::int64_t seen_ = 0;
  clock::time_point start_{};
  clock::time_point last_print_{};
};

}  // namespace metarm
