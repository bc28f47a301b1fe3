// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the test translation units.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include <metarm/metarm.hpp>

namespace test {

using metarm::index_t;

// Tolerance for central-difference gradient checks in double with h = 1e-5: truncation error is
// O(h^2 f''') ~ 1e-10 and rounding O(eps f / h) ~ 1e-11, so errors above 1e-7 mean a wrong derivative.
inline constexpr double gradient_tolerance = 1e-7;

template <class T>
std::vector<T> random_vector(metarm::Rng& rng, index_t n, double scale = 1.0) {
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<T>(scale * rng.normal());
  return v;
}

template <class T>
metarm::MatrixView<const T> matrix(const std::vector<T>& v, index_t rows, index_t cols) {
  return {v.data(), rows, cols, rows};
}

template <class T>
metarm::MatrixView<T> matrix(std::vector<T>& v, index_t rows, index_t cols) {
  return {v.data(), rows, cols, rows};
}

template <class T>
metarm::VectorView<const T> view(const std::vector<T>& v) {
  return {v.data(), static_cast<index_t>(v.size())};
}

template <class T>
metarm::VectorView<T> view(std::vector<T>& v) {
  return {v.data(), static_cast<index_t>(v.size())};
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Asserts that `call` throws metarm::Error whose message contains every fragment.
template <class F>
void require_error_naming(F&& call, std::initializer_list<const char*> fragments) {
  try {
    call();
  } catch (const metarm::Error& e) {
    const std::string what = e.what();
    for (const char* fragment : fragments) {
      INFO("error message: " << what);
      CHECK(what.find(fragment) != std::string::npos);
    }
    return;
  }
  FAIL("expected metarm::Error naming the problem, but nothing was thrown");
}

// Linearly separable pairs: the chosen response is the one with the larger w* . x.
template <class T>
metarm::PreferenceSet<T> separable_pairs(metarm::Rng& rng, index_t dim, index_t count, const std::vector<double>& w) {
  metarm::PreferenceSet<T> set(dim);
  for (index_t i = 0; i < count; ++i) {
    auto a = random_vector<T>(rng, dim), b = random_vector<T>(rng, dim);
    double sa = 0, sb = 0;
    for (index_t j = 0; j < dim; ++j) {
      sa += w[j] * a[j];
      sb += w[j] * b[j];
    }
    if (sa >= sb) set.add(a, b); else set.add(b, a);
  }
  return set;
}

template <class T>
metarm::MetaSet<T> random_meta(metarm::Rng& rng, index_t dim, index_t prompts, std::initializer_list<index_t> ks) {
  metarm::MetaSet<T> set(dim);
  std::vector<index_t> sizes(ks);
  for (index_t p = 0; p < prompts; ++p) {
    const index_t k = sizes[static_cast<std::size_t>(p) % sizes.size()];
    set.add_prompt(random_vector<T>(rng, dim * k));
  }
  return set;
}

}  // namespace test
