// SPDX-License-Identifier: Apache-2.0
// What the learner tells callbacks, and why a fit stopped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "metarm/core/config.hpp"
#include "metarm/metrics/metric_map.hpp"
#include "metarm/metrics/step_stats.hpp"

namespace metarm {

struct FitBeginEvent {
  std::string_view strategy;
  int epochs = 0;
  index_t batches_per_epoch = 0;
  std::int64_t total_steps = 0;  // planned, before any early stop
  index_t pairs = 0;
  index_t meta_prompts = 0;
  std::int64_t start_step = 0;  // steps already taken when the fit began (non-zero when it resumes one)
};

struct StepEvent {
  std::int64_t step = 0;  // 1-based count of steps in this fit
  int epoch = 0;          // 1-based
  int epochs = 0;
  index_t batch = 0;      // 1-based within the epoch
  index_t batches_per_epoch = 0;
  std::int64_t total_steps = 0;
  const StepStats& stats;
};

struct EvalEvent {
  std::int64_t step = 0;
  int epoch = 0;
  const Metrics& metrics;  // names carry the "eval_" prefix
};

struct EpochEvent {
  int epoch = 0;
  int epochs = 0;
  std::int64_t step = 0;
  double mean_loss = 0.0;       // mean preference loss over the epoch's steps
  double mean_objective = 0.0;  // mean J over the epoch's steps (NaN when the strategy does not measure it)
  const Metrics* eval = nullptr;  // this epoch's evaluation, when one ran at its end
};

struct StopReason {
  enum class Kind { completed, max_steps, callback };

  Kind kind = Kind::completed;
  std::string source;  // the callback that stopped the fit
  std::string detail;

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
