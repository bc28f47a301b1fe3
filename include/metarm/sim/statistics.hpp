// Means with Student-t confidence intervals over independent runs (seeds), and the paired difference of two
// arms that shared each seed. Self-contained: the t quantile comes from the regularised incomplete beta
// function, evaluated by its continued fraction.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "metarm/core/error.hpp"

namespace metarm::sim {

namespace detail {

// log Gamma(x) for x > 0: shift to x >= 8 with the recurrence, then Stirling's series (error below 1e-13).
inline double log_gamma(double x) {
  double shift = 0.0;
  while (x < 8.0) {
    shift -= std::log(x);
    x += 1.0;
  }
  const double inv = 1.0 / x, inv2 = inv * inv;
  const double series = inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)));
  return shift + (x - 0.5) * std::log(x) - x + 0.5 * std::log(2.0 * std::numbers::pi) + series;
}

// Continued fraction of the incomplete beta function (modified Lentz), valid for x < (a + 1) / (a + b + 2).
inline double beta_continued_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  d = 1.0 / (std::fabs(d) < tiny ? tiny : d);
  double h = d;
  for (int m = 1; m <= 500; ++m) {
    const double m2 = 2.0 * m;
    double numerator = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    for (int half = 0; half < 2; ++half) {
      d = 1.0 + numerator * d;
      d = 1.0 / (std::fabs(d) < tiny ? tiny : d);
      c = 1.0 + numerator / c;
      if (std::fabs(c) < tiny) c = tiny;
      const double factor = c * d;
      h *= factor;
      if (half == 1 && std::fabs(factor - 1.0) < 1e-15) return h;
      numerator = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    }
  }
  return h;
}

}  // namespace detail

// The regularised incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1.
inline double incomplete_beta(double a, double b, double x) {
  METARM_REQUIRE(a > 0.0 && b > 0.0 && x >= 0.0 && x <= 1.0, "incomplete_beta",
                 "needs a > 0, b > 0 and 0 <= x <= 1");
  if (x == 0.0 || x == 1.0) return x;
  const double log_front = detail::log_gamma(a + b) - detail::log_gamma(a) - detail::log_gamma(b) + a * std::log(x) +
                           b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) {
    return std::exp(log_front) * detail::beta_continued_fraction(a, b, x) / a;
  }
  return 1.0 - std::exp(log_front) * detail::beta_continued_fraction(b, a, 1.0 - x) / b;
}

// P(T <= t) for Student's t with `df` > 0 degrees of freedom.
inline double student_t_cdf(double t, double df) {
  METARM_REQUIRE(df > 0.0, "student_t_cdf", "argument 'df' must be > 0, got " + std::to_string(df));
  const double tail = 0.5 * incomplete_beta(0.5 * df, 0.5, df / (df + t * t));
  return t >= 0.0 ? 1.0 - tail : tail;
}

// The t with P(T <= t) = p, by bisection on the CDF (to about 1e-12).
inline double student_t_quantile(double p, double df) {
  METARM_REQUIRE(p > 0.0 && p < 1.0, "student_t_quantile", "argument 'p' must be in (0, 1), got " + std::to_string(p));
  METARM_REQUIRE(df > 0.0, "student_t_quantile", "argument 'df' must be > 0, got " + std::to_string(df));
  if (p < 0.5) return -student_t_quantile(1.0 - p, df);
  double low = 0.0, high = 1.0;
  while (student_t_cdf(high, df) < p) high *= 2.0;
  for (int i = 0; i < 200 && high - low > 1e-12 * (1.0 + high); ++i) {
    const double mid = 0.5 * (low + high);
    (student_t_cdf(mid, df) < p ? low : high) = mid;
  }
  return 0.5 * (low + high);
}

// The mean of n independent values with a two-sided confidence interval mean +- half_width from Student's t
// with n - 1 degrees of freedom. With one value the spread is unknown: sd and half_width are NaN.
struct Estimate {
  std::size_t n = 0;
  double mean = 0.0;
  double sd = 0.0;  // sample standard deviation (n - 1 in the denominator)
  double half_width = 0.0;
  double level = 0.95;

  double low() const { return mean - half_width; }
  double high() const { return mean + half_width; }
};

inline Estimate estimate_mean(std::span<const double> values, double level = 0.95) {
  METARM_REQUIRE(!values.empty(), "estimate_mean", "argument 'values' is empty");
  METARM_REQUIRE(level > 0.0 && level < 1.0, "estimate_mean",
                 "argument 'level' must be in (0, 1), got " + std::to_string(level));
  Estimate e;
  e.n = values.size();
  e.level = level;
  for (double v : values) {
    METARM_REQUIRE(std::isfinite(v), "estimate_mean", "argument 'values' contains a value that is not finite");
    e.mean += v;
  }
  e.mean /= static_cast<double>(e.n);
  if (e.n < 2) {
    e.sd = e.half_width = std::numeric_limits<double>::quiet_NaN();
    return e;
  }
  double squares = 0.0;
  for (double v : values) squares += (v - e.mean) * (v - e.mean);
  e.sd = std::sqrt(squares / static_cast<double>(e.n - 1));
  const double t = student_t_quantile(0.5 + 0.5 * level, static_cast<double>(e.n - 1));
  e.half_width = t * e.sd / std::sqrt(static_cast<double>(e.n));
  return e;
}

// treatment[i] - control[i] over runs that shared everything but the arm: the paired estimate, whose interval
// is far narrower than the two arms' intervals when the runs' common noise dominates.
inline Estimate estimate_paired_difference(std::span<const double> treatment, std::span<const double> control,
                                           double level = 0.95) {
  METARM_REQUIRE(treatment.size() == control.size(), "estimate_paired_difference",
                 "arguments 'treatment' and 'control' differ in size: " + std::to_string(treatment.size()) + " vs " +
                     std::to_string(control.size()));
  std::vector<double> differences(treatment.size());
  for (std::size_t i = 0; i < differences.size(); ++i) differences[i] = treatment[i] - control[i];
  return estimate_mean(differences, level);
}

}  // namespace metarm::sim
