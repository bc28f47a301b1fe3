// SPDX-License-Identifier: Apache-2.0
/// \file
/// What the learner tells callbacks, and why a fit stopped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "metarm/core/config.hpp"
#include "metarm/metrics/metric_map.hpp"
#include "metarm/metrics/step_stats.hpp"

namespace metarm {

/// Sent once when a fit begins.
struct FitBeginEvent {
  /// The strategy's name.
  std::string_view strategy;
  /// The planned number of epochs.
  int epochs = 0;
  /// Preference batches per epoch.
  index_t batches_per_epoch = 0;
  std::int64_t total_steps = 0;  ///< planned, before any early stop
  /// The number of labelled pairs.
  index_t pairs = 0;
  /// The number of meta prompts (0 without a meta set).
  index_t meta_prompts = 0;
  std::int64_t start_step = 0;  ///< steps already taken when the fit began (non-zero when it resumes one)
};

/// Sent after each step whose statistics were read (FitOptions::statistics_every).
struct StepEvent {
  std::int64_t step = 0;  ///< 1-based count of steps in this fit
  int epoch = 0;          ///< 1-based
  /// The planned number of epochs.
  int epochs = 0;
  index_t batch = 0;      ///< 1-based within the epoch
  /// Preference batches per epoch.
  index_t batches_per_epoch = 0;
  /// The planned number of steps.
  std::int64_t total_steps = 0;
  /// The step's statistics.
  const StepStats& stats;
};

/// Sent after each evaluation on held-out data.
struct EvalEvent {
  /// The step after which the evaluation ran.
  std::int64_t step = 0;
  /// The epoch it ran in, 1-based.
  int epoch = 0;
  const Metrics& metrics;  ///< names carry the "eval_" prefix
};

/// Sent at the end of each epoch.
struct EpochEvent {
  /// The epoch that ended, 1-based.
  int epoch = 0;
  /// The planned number of epochs.
  int epochs = 0;
  /// The steps taken so far.
  std::int64_t step = 0;
  double mean_loss = 0.0;       ///< mean preference loss over the epoch's steps
  double mean_objective = 0.0;  ///< mean J over the epoch's steps (NaN when the strategy does not measure it)
  const Metrics* eval = nullptr;  ///< this epoch's evaluation, when one ran at its end
};

/// Why a fit stopped, as the learner reports it.
struct StopReason {
  /// Completed every epoch, reached FitOptions::max_steps, or stopped by a callback.
  enum class Kind { completed, max_steps, callback };

  /// Why the fit stopped.
  Kind kind = Kind::completed;
  std::string source;  ///< the callback that stopped the fit
  /// The callback's stop_reason(), when it has one.
  std::string detail;

  /// The reason as a sentence, such as "stopped by EarlyStopping: ...".
  std::string describe() const {
    switch (kind) {
      case Kind::completed:
        return "completed all epochs";
      case Kind::max_steps:
        return "reached max_steps";
      case Kind::callback:
        return "stopped by " + source + (detail.empty() ? std::string() : ": " + detail);
    }
    return "unknown";
  }
};

}  // namespace metarm
