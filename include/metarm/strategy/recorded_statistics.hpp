// SPDX-License-Identifier: Apache-2.0
/// \file
/// Step statistics a strategy leaves in backend memory (StepContext's record_* members) until the learner
/// reads them. On a GPU, reading a value on the host makes the host wait until the device has finished all the
/// work queued before it; recording the step's values instead lets a whole step, or many steps, run without a
/// wait, with one read of a few bytes when the statistics are wanted.
///
/// Backend memory holds, per Statistic, the value of the current step and the sum of the values recorded
/// since the last read (squared norms for the norms), so that means over steps whose values were never read
/// one by one (FitOptions::statistics_every) are still exact.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "metarm/backend/views.hpp"
#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/metrics/step_stats.hpp"

namespace metarm {

namespace detail {

// Adds the statistics recorded in this step (bit k of `recorded` for Statistic k) to their sums.
struct AccumulateStatistics {
  double* slots;  // statistic_count values, then statistic_count sums
  unsigned recorded;
  METARM_HOST_DEVICE void operator()(index_t) const {
    for (int k = 0; k < statistic_count; ++k) {
      if ((recorded >> k) & 1u) {
        slots[statistic_count + k] += slots[k];
      }
    }
  }
};

struct CopyStatistic {
  double* slots;
  int from, to;
  METARM_HOST_DEVICE void operator()(index_t) const { slots[to] = slots[from]; }
};

}  // namespace detail

/// What one read returns besides the last step's values (written into its StepStats): the sums and counts of
/// the values recorded since the read before.
struct StatisticsReading {
  /// The sum of each statistic's values since the read before (squared norms for the norms).
  std::array<double, statistic_count> sum{};
  /// The number of values of each statistic in those sums.
  std::array<std::int64_t, statistic_count> count{};
  std::int64_t steps = 0;  ///< steps ended since the read before
};

/// The step statistics a strategy leaves in backend memory until the learner reads them; see the file's
/// description.
template <class Backend>
class RecordedStatistics {
 public:
  /// The slots of every statistic, zeroed.
  RecordedStatistics() : slots_(2 * statistic_count + 1) {}

  /// Where a statistic of the current step is to be written: one double of backend memory.
  double* slot(Statistic s) {
    recorded_this_step_ |= bit(s);
    return slots_.data() + index(s);
  }
  /// Where a value nobody reads is written (an objective taken for its gradient alone).
  double* discard_slot() { return slots_.data() + 2 * statistic_count; }
  /// Records statistic `to` of this step as the value recorded for `from`, which must be recorded already.
  void copy(typename Backend::context& ctx, Statistic from, Statistic to) {
    METARM_REQUIRE(recorded(from), "RecordedStatistics::copy",
                   "statistic '{}' is not recorded in this step", statistic_name(from));
    Backend::for_each(ctx, 1, detail::CopyStatistic{slots_.data(), static_cast<int>(from), static_cast<int>(to)});
    recorded_this_step_ |= bit(to);
  }
  /// Whether statistic s was recorded in the current step.
  bool recorded(Statistic s) const { return (recorded_this_step_ & bit(s)) != 0; }

  /// A step begins: nothing is recorded in it yet.
  void begin_step() { recorded_this_step_ = 0; }

  /// The step ends: its recorded values are added to their sums by one small pass in backend memory.
  void end_step(typename Backend::context& ctx) {
    if (recorded_this_step_ != 0) {
      Backend::for_each(ctx, 1, detail::AccumulateStatistics{slots_.data(), recorded_this_step_});
      for (int k = 0; k < statistic_count; ++k) {
        if ((recorded_this_step_ >> k) & 1u) {
          ++counts_[static_cast<std::size_t>(k)];
        }
      }
      pending_mask_ |= recorded_this_step_;
      last_recorded_ = recorded_this_step_;
    }
    ++steps_;
  }

  /// Reads the values and sums to the host (on a GPU, the one wait), writes the recorded values of the last
  /// step into `stats` (norms as norms), and starts the sums again. Throws when a loss or objective recorded
  /// since the read before was not finite, naming the steps it may come from: `last_step` is the number of the
  /// last step ended.
  StatisticsReading read(typename Backend::context& ctx, StepStats& stats, std::int64_t last_step) {
    StatisticsReading reading;
    reading.steps = steps_;
    if (pending_mask_ != 0) {
      std::array<double, 2 * statistic_count> host{};
      Backend::copy_to_host(ctx, VectorView<const double>{slots_.data(), 2 * statistic_count}, host.data());
      for (int k = 0; k < statistic_count; ++k) {
        const auto i = static_cast<std::size_t>(k);
        reading.sum[i] = host[statistic_count + i];
        reading.count[i] = counts_[i];
      }
      check_finite(reading, last_step);
      for (int k = 0; k < statistic_count; ++k) {
        if ((last_recorded_ >> k) & 1u) {
          const auto s = static_cast<Statistic>(k);
          const double v = host[static_cast<std::size_t>(k)];
          field_of(stats, s) = is_norm(s) ? std::sqrt(v) : v;
        }
      }
      Backend::fill(ctx, VectorView<double>{slots_.data() + statistic_count, statistic_count}, 0.0);
    }
    counts_.fill(0);
    pending_mask_ = 0;
    last_recorded_ = 0;
    steps_ = 0;
    return reading;
  }

 private:
  static constexpr unsigned bit(Statistic s) { return 1u << static_cast<unsigned>(s); }
  static constexpr index_t index(Statistic s) { return static_cast<index_t>(s); }

  void check_finite(const StatisticsReading& r, std::int64_t last_step) const {
    const std::string steps = steps_ <= 1 ? fmt::format("step {}", last_step)
                                          : fmt::format("one of steps {} to {}", last_step - steps_ + 1, last_step);
    for (int k = 0; k < statistic_count; ++k) {
      const auto s = static_cast<Statistic>(k);
      const auto i = static_cast<std::size_t>(k);
      if (!((pending_mask_ >> k) & 1u) || is_norm(s)) continue;
      // A sum that is NaN or infinite has a non-finite term (+infinity marks a prompt with wrong offsets).
      if (!std::isfinite(r.sum[i])) {
        const bool meta = s == Statistic::objective || s == Statistic::objective_after;
        throw Error("step statistics",
                    fmt::format("the recorded {} was {} in {}: a reward was NaN or infinite{}", statistic_name(s),
                                (std::isnan(r.sum[i]) ? "NaN" : "infinite"), steps,
                                (meta ? ", or a meta batch's offsets in device memory were wrong" : "")));
      }
    }
  }

  typename Backend::template buffer<double> slots_;
  std::array<std::int64_t, statistic_count> counts_{};
  unsigned recorded_this_step_ = 0;
  unsigned pending_mask_ = 0;
  unsigned last_recorded_ = 0;
  std::int64_t steps_ = 0;
};

}  // namespace metarm
