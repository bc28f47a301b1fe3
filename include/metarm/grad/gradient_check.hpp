// SPDX-License-Identifier: Apache-2.0
/// \file
/// Central finite differences to check an analytic gradient, in double. Used by the tests for every layer
/// and loss, and available to anyone writing a layer of their own.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "metarm/core/config.hpp"

namespace metarm {

/// The outcome of check_gradient: the largest error over the coordinates, and where it occurred.
struct GradientCheckResult {
  /// Per coordinate, |analytic - numeric| / max(1, |analytic|, |numeric|): relative for large entries,
  /// absolute for small ones. The worst coordinate is reported.
  double max_error = 0.0;
  /// The coordinate with the largest error (-1 before any is compared).
  index_t worst_index = -1;
  /// The analytic gradient at that coordinate.
  double analytic_at_worst = 0.0;
  /// The numeric gradient at that coordinate.
  double numeric_at_worst = 0.0;
};

/// |analytic - numeric| / max(1, |analytic|, |numeric|), the error that check_gradient reports.
inline double gradient_error(double analytic, double numeric) {
  return std::fabs(analytic - numeric) / std::max({1.0, std::fabs(analytic), std::fabs(numeric)});
}

/// Numeric gradient of f at x by central differences with step h: (f(x + h e_i) - f(x - h e_i)) / 2h.
/// x is restored afterwards.
template <class F>
std::vector<double> numeric_gradient(F&& f, std::span<double> x, double h = 1e-5) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double up = f(std::span<const double>(x.data(), x.size()));
    x[i] = saved - h;
    const double down = f(std::span<const double>(x.data(), x.size()));
    x[i] = saved;
    g[i] = (up - down) / (2.0 * h);
  }
  return g;
}

/// Compares `analytic` with the central-difference gradient of f at x, coordinate by coordinate.
template <class F>
GradientCheckResult check_gradient(F&& f, std::span<double> x, std::span<const double> analytic, double h = 1e-5) {
  const std::vector<double> numeric = numeric_gradient(f, x, h);
  GradientCheckResult result;
  for (std::size_t i = 0; i < numeric.size(); ++i) {
    const double error = gradient_error(analytic[i], numeric[i]);
    if (error > result.max_error || result.worst_index < 0) {
      result.max_error = error;
      result.worst_index = static_cast<index_t>(i);
      result.analytic_at_worst = analytic[i];
      result.numeric_at_worst = numeric[i];
    }
  }
  return result;
}

}  // namespace metarm
