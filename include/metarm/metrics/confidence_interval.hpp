// SPDX-License-Identifier: Apache-2.0
/// \file
/// Means over repeated runs (seeds) with Student-t confidence intervals, for reports that compare strategies.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>

#include "metarm/core/error.hpp"

namespace metarm {

namespace detail {

// Continued fraction of the regularised incomplete beta function (modified Lentz).
inline double incomplete_beta_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 300; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double step = d * c;
    h *= step;
    if (std::fabs(step - 1.0) < 1e-15) break;
  }
  return h;
}

// I_x(a, b).
inline double regularized_incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1.0) / (a + b + 2.0)) return front * incomplete_beta_fraction(a, b, x) / a;
  return 1.0 - front * incomplete_beta_fraction(b, a, 1.0 - x) / b;
}

}  // namespace detail

/// P(T <= t) for Student's t with `df` degrees of freedom.
inline double student_t_cdf(double t, double df) {
  const double tail = 0.5 * detail::regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
  return t >= 0.0 ? 1.0 - tail : tail;
}

/// The q-quantile of Student's t (0 < q < 1), by bisection on the CDF to 1e-12.
inline double student_t_quantile(double q, double df) {
  METARM_REQUIRE(q > 0.0 && q < 1.0, "student_t_quantile", "argument 'q' must be in (0, 1), got {:f}", q);
  METARM_REQUIRE(df > 0.0, "student_t_quantile", "argument 'df' must be > 0, got {:f}", df);
  if (q < 0.5) return -student_t_quantile(1.0 - q, df);
  double low = 0.0, high = 1.0;
  while (student_t_cdf(high, df) < q) high *= 2.0;
  for (int i = 0; i < 200 && high - low > 1e-12 * std::max(1.0, high); ++i) {
    const double mid = 0.5 * (low + high);
    (student_t_cdf(mid, df) < q ? low : high) = mid;
  }
  return 0.5 * (low + high);
}

/// A mean over independent runs with its confidence interval.
struct MeanInterval {
  /// The sample mean.
  double mean = 0.0;
  double stddev = 0.0;      ///< sample standard deviation (n - 1)
  double half_width = 0.0;  ///< t_{(1+level)/2, n-1} * stddev / sqrt(n); NaN for n < 2
  /// The number of values.
  std::size_t n = 0;

  /// The interval's lower end, mean - half_width.
  double low() const { return mean - half_width; }
  /// The interval's upper end, mean + half_width.
  double high() const { return mean + half_width; }
};

/// Mean and `level` confidence interval of the mean of independent runs.
inline MeanInterval mean_confidence_interval(std::span<const double> values, double level = 0.95) {
  METARM_REQUIRE(!values.empty(), "mean_confidence_interval", "argument 'values' is empty");
  METARM_REQUIRE(level > 0.0 && level < 1.0, "mean_confidence_interval",
                 "argument 'level' must be in (0, 1), got {:f}", level);
  MeanInterval r;
  r.n = values.size();
  for (double v : values) {
    METARM_REQUIRE(std::isfinite(v), "mean_confidence_interval", "argument 'values' holds a value that is not finite");
    r.mean += v;
  }
  r.mean /= static_cast<double>(r.n);
  if (r.n < 2) {
    r.stddev = r.half_width = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  double squares = 0.0;
  for (double v : values) squares += (v - r.mean) * (v - r.mean);
  r.stddev = std::sqrt(squares / static_cast<double>(r.n - 1));
  r.half_width = student_t_quantile(0.5 + level / 2.0, static_cast<double>(r.n - 1)) * r.stddev /
                 std::sqrt(static_cast<double>(r.n));
  return r;
}

}  // namespace metarm
