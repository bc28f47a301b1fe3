// SPDX-License-Identifier: Apache-2.0
/// \file
/// Means with Student-t confidence intervals over independent runs (seeds), and the paired difference of two
/// arms that shared each seed. The t distribution is metrics/confidence_interval.hpp's.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "metarm/core/error.hpp"
#include "metarm/metrics/confidence_interval.hpp"

namespace metarm::sim {

using metarm::student_t_cdf;
using metarm::student_t_quantile;

/// The mean of n independent values with a two-sided confidence interval mean +- half_width from Student's t
/// with n - 1 degrees of freedom. With one value the spread is unknown: sd and half_width are NaN.
struct Estimate {
  /// The number of values.
  std::size_t n = 0;
  /// Their mean.
  double mean = 0.0;
  double sd = 0.0;  ///< sample standard deviation (n - 1 in the denominator)
  /// The interval's half width: mean +- half_width.
  double half_width = 0.0;
  /// The interval's confidence level.
  double level = 0.95;

  /// mean - half_width.
  double low() const { return mean - half_width; }
  /// mean + half_width.
  double high() const { return mean + half_width; }
};

/// The mean of independent values with its `level` confidence interval.
inline Estimate estimate_mean(std::span<const double> values, double level = 0.95) {
  METARM_REQUIRE(!values.empty(), "estimate_mean", "argument 'values' is empty");
  const MeanInterval interval = mean_confidence_interval(values, level);
  return {interval.n, interval.mean, interval.stddev, interval.half_width, level};
}

/// treatment[i] - control[i] over runs that shared everything but the arm: the paired estimate, whose interval
/// is far narrower than the two arms' intervals when the runs' common noise dominates.
inline Estimate estimate_paired_difference(std::span<const double> treatment, std::span<const double> control,
                                           double level = 0.95) {
  METARM_REQUIRE(treatment.size() == control.size(), "estimate_paired_difference",
                 "arguments 'treatment' and 'control' differ in size: {} vs {}", treatment.size(), control.size());
  std::vector<double> differences(treatment.size());
  for (std::size_t i = 0; i < differences.size(); ++i) differences[i] = treatment[i] - control[i];
  return estimate_mean(differences, level);
}

}  // namespace metarm::sim
