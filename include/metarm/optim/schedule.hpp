// SPDX-License-Identifier: Apache-2.0
/// \file
/// Learning-rate schedules as a multiplier of the optimiser's base rate, as a function of the number of
/// updates already applied (t = 0 for the first update).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

#include "metarm/core/error.hpp"

namespace metarm {

/// A learning-rate schedule: the factor by which update t multiplies the optimiser's base rate.
class Schedule {
 public:
  /// The schedule's shape.
  enum class Kind { constant, warmup_cosine, warmup_linear };

  /// factor(t) = 1
  static Schedule constant() { return Schedule(Kind::constant, 0, 0, 0.0); }

  /// Linear warm-up from 1/warmup to 1 over the first `warmup` updates (the first update already moves,
  /// unlike schedules that start at exactly 0), then a half cosine from 1 down to `floor` at update
  /// `total` and `floor` after it.
  static Schedule warmup_cosine(std::int64_t warmup, std::int64_t total, double floor = 0.0) {
    return Schedule(Kind::warmup_cosine, warmup, total, floor);
  }

  /// The same warm-up, then a straight line from 1 down to `floor` at update `total`.
  static Schedule warmup_linear(std::int64_t warmup, std::int64_t total, double floor = 0.0) {
    return Schedule(Kind::warmup_linear, warmup, total, floor);
  }

  /// The multiplier of the base rate for update t (t = 0 for the first update).
  double factor(std::int64_t t) const {
    if (kind_ == Kind::constant) {
      return 1.0;
    }
    if (t < warmup_) {
      return static_cast<double>(t + 1) / static_cast<double>(warmup_);
    }
    const double span = static_cast<double>(std::max<std::int64_t>(1, total_ - warmup_));
    const double progress = std::min(1.0, static_cast<double>(t - warmup_) / span);
    const double decay =
        kind_ == Kind::warmup_cosine ? 0.5 * (1.0 + std::cos(std::numbers::pi * progress)) : 1.0 - progress;
    return floor_ + (1.0 - floor_) * decay;
  }

  /// The schedule's shape.
  Kind kind() const { return kind_; }
  /// The number of warm-up updates.
  std::int64_t warmup() const { return warmup_; }
  /// The update at which the decay reaches `floor`.
  std::int64_t total() const { return total_; }
  /// The factor at the end of the decay and after it.
  double floor() const { return floor_; }

 private:
  Schedule(Kind kind, std::int64_t warmup, std::int64_t total, double floor)
      : kind_(kind), warmup_(warmup), total_(total), floor_(floor) {
    METARM_REQUIRE(warmup >= 0, "Schedule", "argument 'warmup' must be >= 0, got {}", warmup);
    METARM_REQUIRE(kind == Kind::constant || total >= warmup, "Schedule",
                   "argument 'total' ({}) must be >= 'warmup' ({})", total, warmup);
    METARM_REQUIRE(floor >= 0.0 && floor <= 1.0, "Schedule",
                   "argument 'floor' must be in [0, 1], got {:f}", floor);
  }

  Kind kind_ = Kind::constant;
  std::int64_t warmup_ = 0;
  std::int64_t total_ = 0;
  double floor_ = 0.0;
};

}  // namespace metarm
