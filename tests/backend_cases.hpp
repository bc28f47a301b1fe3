// SPDX-License-Identifier: Apache-2.0
// Test cases that every backend must pass, written once against the backend policy and instantiated per
// backend: by backend_cpu_test.cpp for metarm::cpu and by cuda/cuda_backend_test.cu for metarm::cuda.
// Data start in host vectors, go to the backend's memory, and results come back for checking on the host.
//
// The including file defines METARM_TEST_BACKEND (the backend type) before including this header.
#pragma once

#include "test_support.hpp"

#include <metarm/testing/check_layer.hpp>

#include <cstring>
#include <tuple>

namespace backend_cases {

using metarm::index_t;
using Backend = METARM_TEST_BACKEND;

template <class T>
struct Device {
  typename Backend::template buffer<T> buffer;

  Device(typename Backend::context& ctx, const std::vector<T>& host) : buffer(static_cast<index_t>(host.size())) {
    Backend::copy_from_host(ctx, host.data(), buffer.view());
  }
  metarm::VectorView<T> view() { return buffer.view(); }
  metarm::VectorView<const T> cview() const { return buffer.view(); }
  metarm::MatrixView<T> matrix(index_t rows, index_t cols) { return buffer.matrix(rows, cols); }
  metarm::MatrixView<const T> cmatrix(index_t rows, index_t cols) { return buffer.matrix(rows, cols); }
};

template <class T>
std::vector<T> download(typename Backend::context& ctx, metarm::VectorView<const T> view) {
  std::vector<T> host(static_cast<std::size_t>(view.size));
  Backend::copy_to_host(ctx, view, host.data());
  return host;
}

inline bool same_bits(const auto& a, const auto& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0;
}

// Tolerance by scalar type for results that are not finite-difference checks.
template <class T>
constexpr double tolerance() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

}  // namespace backend_cases

#define METARM_BACKEND_NAME(text) "backend: " text

// Every transpose pair and beta, on shapes where C is one row or one column (the BLAS path runs gemv there),
// with every operand a block of rows of a taller matrix, so that each leading dimension exceeds its rows.
TEMPLATE_TEST_CASE(METARM_BACKEND_NAME("gemm matches a naive product for every transpose, beta and thin shape"),
                   "[backend]", float, double) {
  using namespace backend_cases;
  using T = TestType;
  typename Backend::context ctx;
  metarm::Rng rng(11);
  constexpr index_t pad = 3;  // rows above and below each operand's block
  struct Shape {
    index_t m, k, n;
  };
  for (const Shape shape : {Shape{7, 5, 4}, Shape{1, 5, 4}, Shape{7, 5, 1}, Shape{1, 5, 1}, Shape{7, 1, 4}}) {
    const index_t m = shape.m, k = shape.k, n = shape.n;
    for (metarm::Trans ta : {metarm::Trans::no, metarm::Trans::yes}) {
      for (metarm::Trans tb : {metarm::Trans::no, metarm::Trans::yes}) {
        for (T beta : {T(0), T(1), T(2)}) {
          const index_t a_rows = ta == metarm::Trans::yes ? k : m, a_cols = ta == metarm::Trans::yes ? m : k;
          const index_t b_rows = tb == metarm::Trans::yes ? n : k, b_cols = tb == metarm::Trans::yes ? k : n;
          const index_t a_ld = a_rows + 2 * pad, b_ld = b_rows + 2 * pad, c_ld = m + 2 * pad;
          const auto a = test::random_vector<T>(rng, a_ld * a_cols), b = test::random_vector<T>(rng, b_ld * b_cols);
          const auto c0 = test::random_vector<T>(rng, c_ld * n);
          Device<T> da(ctx, a), db(ctx, b), dc(ctx, c0);
          const T alpha = T(0.5);
          Backend::gemm(ctx, ta, tb, alpha, da.cmatrix(a_ld, a_cols).row_block(pad, a_rows),
                        db.cmatrix(b_ld, b_cols).row_block(pad, b_rows), beta, dc.matrix(c_ld, n).row_block(pad, m));
          const auto c = download<T>(ctx, dc.cview());
          for (index_t j = 0; j < n; ++j) {
            for (index_t r = 0; r < c_ld; ++r) {
              const index_t i = r - pad;
              if (i < 0 || i >= m) {
                CHECK(c[r + j * c_ld] == c0[r + j * c_ld]);  // outside C's block: untouched
                continue;
              }
              double expected = 0;
              for (index_t p = 0; p < k; ++p) {
                const double av = ta == metarm::Trans::yes ? a[pad + p + i * a_ld] : a[pad + i + p * a_ld];
                const double bv = tb == metarm::Trans::yes ? b[pad + j + p * b_ld] : b[pad + p + j * b_ld];
                expected += av * bv;
              }
              expected = alpha * expected + beta * c0[r + j * c_ld];
              INFO("m " << m << " k " << k << " n " << n << " ta " << int(ta) << " tb " << int(tb) << " beta " << beta);
              CHECK(c[r + j * c_ld] == Approx(expected).epsilon(1e-5).margin(1e-6));
            }
          }
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE(METARM_BACKEND_NAME("column broadcast, column sums and vector algebra"), "[backend]", float, double) {
  using namespace backend_cases;
  using T = TestType;
  typename Backend::context ctx;
  Device<T> m(ctx, {1, 2, 3, 4, 5, 6});  // 2 x 3
  Device<T> bias(ctx, {10, 20});
  Backend::add_to_columns(ctx, bias.cview(), m.matrix(2, 3));
  CHECK(download<T>(ctx, m.cview()) == std::vector<T>{11, 22, 13, 24, 15, 26});
  Device<T> sums(ctx, {1, 1});
  Backend::accumulate_column_sum(ctx, m.cmatrix(2, 3), sums.view());
  CHECK(download<T>(ctx, sums.cview()) == std::vector<T>{40, 73});

  Device<T> x(ctx, {1, 2, 3}), y(ctx, {4, 5, 6});
  Backend::axpy(ctx, T(2), x.cview(), y.view());
  CHECK(download<T>(ctx, y.cview()) == std::vector<T>{6, 9, 12});
  CHECK(Backend::dot(ctx, x.cview(), y.cview()) == Approx(60));
  CHECK(Backend::squared_norm(ctx, x.cview()) == Approx(14).epsilon(tolerance<T>()));
  Backend::scale(ctx, T(-1), x.view());
  CHECK(download<T>(ctx, x.cview()) == std::vector<T>{-1, -2, -3});
  Backend::copy(ctx, y.cview(), x.view());
  CHECK(download<T>(ctx, x.cview()) == std::vector<T>{6, 9, 12});
  Backend::fill(ctx, x.view(), T(7));
  CHECK(download<T>(ctx, x.cview()) == std::vector<T>{7, 7, 7});
  Backend::fill(ctx, x.view(), T(0));
  CHECK(download<T>(ctx, x.cview()) == std::vector<T>{0, 0, 0});
  Device<T> shorter(ctx, {1, 2});
  test::require_error_naming([&] { Backend::axpy(ctx, T(1), x.cview(), shorter.view()); }, {"axpy", "sizes differ"});
}

TEMPLATE_TEST_CASE(METARM_BACKEND_NAME("fill keeps the sign of zero"), "[backend]", float, double) {
  using namespace backend_cases;
  using T = TestType;
  typename Backend::context ctx;
  Device<T> x(ctx, {1, 2, 3});
  Backend::fill(ctx, x.view(), T(-0.0));
  for (T v : download<T>(ctx, x.cview())) {
    CHECK(v == T(0));
    CHECK(std::signbit(v));
  }
  Backend::fill(ctx, x.view(), T(0));
  for (T v : download<T>(ctx, x.cview())) {
    CHECK_FALSE(std::signbit(v));
  }
}

TEST_CASE(METARM_BACKEND_NAME("copy of overlapping ranges moves them as memmove does, in both directions"),
          "[backend]") {
  using namespace backend_cases;
  typename Backend::context ctx;
  // Lengths below, at and well above one tile of the CUDA kernel (1024 values); shifts shorter and longer
  // than a tile.
  for (index_t n : {index_t{5}, index_t{1024}, index_t{5000}}) {
    for (index_t shift : {index_t{1}, index_t{3}, index_t{700}, index_t{1500}}) {
      if (shift >= n) continue;
      std::vector<double> initial(static_cast<std::size_t>(n + shift));
      for (std::size_t i = 0; i < initial.size(); ++i) initial[i] = static_cast<double>(i) + 0.5;
      for (bool forward : {true, false}) {
        Device<double> d(ctx, initial);
        const index_t from = forward ? shift : 0, to = forward ? 0 : shift;  // forward: the destination comes first
        Backend::copy(ctx, metarm::VectorView<const double>{d.buffer.data() + from, n},
                      metarm::VectorView<double>{d.buffer.data() + to, n});
        std::vector<double> expected = initial;
        std::memmove(expected.data() + to, expected.data() + from, static_cast<std::size_t>(n) * sizeof(double));
        INFO("n = " << n << ", shift = " << shift << (forward ? ", destination first" : ", source first"));
        CHECK(download<double>(ctx, d.cview()) == expected);
      }
    }
  }
}

TEST_CASE(METARM_BACKEND_NAME("column sums of one row, a few rows and many rows, with a leading dimension"),
          "[backend]") {
  using namespace backend_cases;
  typename Backend::context ctx;
  // Shapes for each kernel of the CUDA backend: one row (the head bias), fewer than 32 rows, many rows; in a
  // matrix whose leading dimension exceeds its rows (a view of its top rows). Small integers add exactly.
  for (auto [rows, cols] : {std::pair<index_t, index_t>{1, 1}, {1, 3000}, {5, 700}, {31, 40}, {33, 9}, {300, 257}}) {
    const index_t ld = rows + 3;
    std::vector<double> m(static_cast<std::size_t>(ld * cols));
    for (std::size_t i = 0; i < m.size(); ++i) m[i] = static_cast<double>(static_cast<index_t>(i) % 7 - 3);
    std::vector<double> expected(static_cast<std::size_t>(rows), 1.0);
    for (index_t i = 0; i < rows; ++i) {
      for (index_t j = 0; j < cols; ++j) expected[static_cast<std::size_t>(i)] += m[static_cast<std::size_t>(i + j * ld)];
    }
    Device<double> dm(ctx, m), out(ctx, std::vector<double>(static_cast<std::size_t>(rows), 1.0));
    Backend::accumulate_column_sum(ctx, metarm::MatrixView<const double>{dm.buffer.data(), rows, cols, ld}, out.view());
    INFO(rows << " x " << cols);
    CHECK(download<double>(ctx, out.cview()) == expected);
  }
}

TEST_CASE(METARM_BACKEND_NAME("buffers start zeroed and keep their prefix when they grow"), "[backend]") {
  using namespace backend_cases;
  typename Backend::context ctx;
  typename Backend::template buffer<double> b(4);
  CHECK(download<double>(ctx, b.view()) == std::vector<double>(4, 0.0));
  const std::vector<double> values{1, 2, 3, 4};
  Backend::copy_from_host(ctx, values.data(), b.view());
  b.resize(1000);
  const auto grown = download<double>(ctx, b.view());
  CHECK(std::vector<double>(grown.begin(), grown.begin() + 4) == values);
  CHECK(grown[999] == 0.0);
  b.resize(2);
  CHECK(b.capacity() == 1000);
}

namespace backend_cases {

template <class L>
void check_layer_on_backend(L layer) {
  const auto report = metarm::testing::check_layer<Backend>(std::move(layer));
  INFO(report.describe());
  CHECK(report.passed());
}

}  // namespace backend_cases

TEST_CASE(METARM_BACKEND_NAME("every built-in layer passes check_layer"), "[backend][gradient][hvp]") {
  using backend_cases::check_layer_on_backend;
  check_layer_on_backend(metarm::Dense<double>(4));
  check_layer_on_backend(metarm::ScalarHead<double>());
  check_layer_on_backend(metarm::Identity{});
  check_layer_on_backend(metarm::ReLU{});
  check_layer_on_backend(metarm::Tanh{});
  check_layer_on_backend(metarm::GELU{});
  check_layer_on_backend(metarm::SiLU{});
  check_layer_on_backend(metarm::Sigmoid{});
  check_layer_on_backend(metarm::LayerNorm<double>());
  check_layer_on_backend(metarm::Residual(metarm::Dense<double>(6), metarm::Tanh{}));
  check_layer_on_backend(metarm::Chain(metarm::Dense<double>(5), metarm::GELU{}, metarm::Dense<double>(3)));
}

namespace backend_cases {

// out[i] = 2 x[i] + i, a map over indices that reads and writes its own index only.
struct TwiceXPlusIndex {
  const double* x;
  double* out;
  METARM_HOST_DEVICE void operator()(index_t i) const { out[i] = 2.0 * x[i] + static_cast<double>(i); }
};

struct SquareOf {
  const double* x;
  METARM_HOST_DEVICE double operator()(index_t i) const { return x[i] * x[i]; }
};

// Each segment's values become their position within it; the sum is the segment's length squared.
struct SegmentPositions {
  double* out;
  METARM_HOST_DEVICE double operator()(index_t, index_t begin, index_t end) const {
    for (index_t i = begin; i < end; ++i) out[i] = static_cast<double>(i - begin);
    return static_cast<double>((end - begin) * (end - begin));
  }
};

}  // namespace backend_cases

TEST_CASE(METARM_BACKEND_NAME("generic loops: for_each, reduce and their segmented forms"), "[backend]") {
  using namespace backend_cases;
  typename Backend::context ctx;
  for (index_t n : {index_t{0}, index_t{1}, index_t{7}, index_t{300000}}) {
    std::vector<double> x(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = 0.5 * static_cast<double>(i % 13) - 3.0;
    Device<double> dx(ctx, x), dout(ctx, std::vector<double>(x.size()));
    Backend::for_each(ctx, n, TwiceXPlusIndex{dx.buffer.data(), dout.buffer.data()});
    const auto out = download<double>(ctx, dout.cview());
    bool all = true;
    double sum = 0;
    for (index_t i = 0; i < n; ++i) {
      all = all && out[static_cast<std::size_t>(i)] == 2.0 * x[static_cast<std::size_t>(i)] + static_cast<double>(i);
      sum += x[static_cast<std::size_t>(i)] * x[static_cast<std::size_t>(i)];
    }
    INFO("n = " << n);
    CHECK(all);
    const double reduced = Backend::reduce(ctx, n, SquareOf{dx.buffer.data()});
    CHECK(reduced == Approx(sum).epsilon(1e-12));
    const double again = Backend::reduce(ctx, n, SquareOf{dx.buffer.data()});
    CHECK(std::memcmp(&reduced, &again, sizeof(double)) == 0);  // a fixed order of addition
  }
  // Many segments (the reduction then spans many blocks), twice: the same bits each time.
  {
    const index_t segments = 100000;
    std::vector<index_t> many(static_cast<std::size_t>(segments + 1));
    for (index_t p = 0; p <= segments; ++p) many[static_cast<std::size_t>(p)] = 3 * p;
    Device<index_t> dmany(ctx, many);
    Device<double> scratch(ctx, std::vector<double>(static_cast<std::size_t>(3 * segments)));
    const double first = Backend::reduce_segments(ctx, dmany.cview(), SegmentPositions{scratch.buffer.data()});
    const double second = Backend::reduce_segments(ctx, dmany.cview(), SegmentPositions{scratch.buffer.data()});
    CHECK(first == 9.0 * segments);
    CHECK(std::memcmp(&first, &second, sizeof(double)) == 0);
  }
  const std::vector<index_t> offsets{0, 2, 2, 7, 10};  // an empty segment too
  Device<index_t> doffsets(ctx, offsets);
  Device<double> dout(ctx, std::vector<double>(10, -1.0));
  CHECK(Backend::reduce_segments(ctx, doffsets.cview(), SegmentPositions{dout.buffer.data()}) == 4 + 0 + 25 + 9);
  CHECK(download<double>(ctx, dout.cview()) == std::vector<double>{0, 1, 0, 1, 2, 3, 4, 0, 1, 2});
  Device<double> again(ctx, std::vector<double>(10, -1.0));
  Backend::for_each_segment(ctx, doffsets.cview(), SegmentPositions{again.buffer.data()});
  CHECK(download<double>(ctx, again.cview()) == download<double>(ctx, dout.cview()));
}

TEST_CASE(METARM_BACKEND_NAME("reductions left in backend memory equal the returned ones, and so do the objectives"),
          "[backend][statistics]") {
  using namespace backend_cases;
  typename Backend::context ctx;
  Device<double> slot(ctx, {-1.0});
  for (index_t n : {index_t{0}, index_t{1}, index_t{7}, index_t{300000}}) {
    std::vector<double> x(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = 0.25 * static_cast<double>(i % 11) - 1.0;
    Device<double> dx(ctx, x);
    INFO("n = " << n);
    Backend::reduce_into(ctx, n, SquareOf{dx.buffer.data()}, slot.buffer.data(), 4.0);
    const double returned = Backend::reduce(ctx, n, SquareOf{dx.buffer.data()}) / 4.0;
    CHECK(download<double>(ctx, slot.cview())[0] == returned);
  }
  const std::vector<index_t> offsets{0, 2, 2, 7, 10};
  Device<index_t> doffsets(ctx, offsets);
  Device<double> positions(ctx, std::vector<double>(10));
  Backend::reduce_segments_into(ctx, doffsets.cview(), SegmentPositions{positions.buffer.data()}, slot.buffer.data(), 2.0);
  CHECK(download<double>(ctx, slot.cview())[0] == (4 + 0 + 25 + 9) / 2.0);

  // The objectives' values, left in backend memory, with the same gradients.
  Device<double> rewards(ctx, {0.1, 0.7, -0.3, 1.2, 0.4, -0.8}), grad(ctx, std::vector<double>(6)),
      grad_into(ctx, std::vector<double>(6));
  Device<index_t> prompts(ctx, {0, 2, 6});
  const metarm::DifferenceObjective j;
  const double j_value = j.value_and_gradient<Backend, double>(ctx, rewards.cview(), prompts.cview(), grad.view());
  j.value_and_gradient_into<Backend, double>(ctx, rewards.cview(), prompts.cview(), grad_into.view(), slot.buffer.data());
  CHECK(download<double>(ctx, slot.cview())[0] == j_value);
  CHECK(download<double>(ctx, grad_into.cview()) == download<double>(ctx, grad.cview()));
  const metarm::BradleyTerryLoss loss;
  const double l_value = loss.value_and_gradient<Backend, double>(ctx, rewards.cview(), {}, grad.view());
  loss.value_and_gradient_into<Backend, double>(ctx, rewards.cview(), {}, grad_into.view(), slot.buffer.data());
  CHECK(download<double>(ctx, slot.cview())[0] == l_value);
  CHECK(download<double>(ctx, grad_into.cview()) == download<double>(ctx, grad.cview()));

  // Wrong offsets: checked at once where the host can read them; in device memory their prompts leave
  // +infinity for whoever reads the value (the learner reports it).
  Device<index_t> wrong(ctx, {0, 4, 2, 6});
  if constexpr (Backend::host_accessible) {
    test::require_error_naming(
        [&] {
          j.value_and_gradient_into<Backend, double>(ctx, rewards.cview(), wrong.cview(), grad.view(),
                                                     slot.buffer.data());
        },
        {"'offsets'", "prompt 1 has k = -2"});
  } else {
    j.value_and_gradient_into<Backend, double>(ctx, rewards.cview(), wrong.cview(), grad.view(), slot.buffer.data());
    CHECK(std::isinf(download<double>(ctx, slot.cview())[0]));
  }

  // Clipping decided in backend memory.
  std::vector<double> g(1000);
  double squared = 0.0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    g[i] = std::sin(static_cast<double>(i));
    squared += g[i] * g[i];
  }
  const double norm = std::sqrt(squared);
  for (const double bound : {0.0, norm / 4, 2 * norm}) {
    Device<double> dg(ctx, g);
    metarm::clip_by_global_norm_into<Backend>(ctx, dg.view(), bound, slot.buffer.data());
    const auto clipped = download<double>(ctx, dg.cview());
    INFO("bound " << bound);
    CHECK(std::sqrt(download<double>(ctx, slot.cview())[0]) == Approx(norm).epsilon(1e-13));
    const double factor = bound > 0.0 && bound < norm ? bound / (norm + 1e-6) : 1.0;
    for (std::size_t i = 0; i < g.size(); ++i) {
      REQUIRE(clipped[i] == Approx(g[i] * factor).epsilon(1e-13).margin(1e-300));
    }
  }
}

TEST_CASE(METARM_BACKEND_NAME("loss kernels: closed forms and reward gradients match finite differences"),
          "[backend][gradient]") {
  using namespace backend_cases;
  typename Backend::context ctx;
  metarm::Rng rng(51);
  const index_t n = 5;
  auto rewards = test::random_vector<double>(rng, 2 * n, 2.0);
  const auto margins = test::random_vector<double>(rng, n, 0.5);
  Device<double> dm(ctx, margins), dd(ctx, std::vector<double>(rewards.size()));
  const metarm::BradleyTerryLoss loss(0.1);
  auto bt = [&](std::span<const double> r, bool gradient) {
    Device<double> dr(ctx, std::vector<double>(r.begin(), r.end()));
    return loss.value_and_gradient<Backend, double>(ctx, dr.cview(), dm.cview(),
                                                    gradient ? dd.view() : metarm::VectorView<double>{});
  };
  const double value = bt(rewards, true);
  double expected = 0;
  for (index_t i = 0; i < n; ++i) {
    const double delta = rewards[i] - rewards[n + i] - margins[i], s = rewards[i] + rewards[n + i];
    expected += std::log1p(std::exp(-delta)) + 0.1 * s * s;
  }
  CHECK(value == Approx(expected / n).epsilon(1e-12));
  const auto bt_grad = download<double>(ctx, dd.cview());
  CHECK(metarm::check_gradient([&](std::span<const double> r) { return bt(r, false); }, std::span<double>(rewards), bt_grad)
            .max_error < test::gradient_tolerance);

  const std::vector<index_t> offsets{0, 2, 5, 10};  // k = 2, 3, 5
  Device<index_t> doff(ctx, offsets);
  auto r = test::random_vector<double>(rng, 10, 1.5);
  Device<double> dj(ctx, std::vector<double>(r.size()));
  const metarm::DifferenceObjective objective;
  auto j = [&](std::span<const double> rr, bool gradient) {
    Device<double> dr(ctx, std::vector<double>(rr.begin(), rr.end()));
    return objective.value_and_gradient<Backend, double>(ctx, dr.cview(), doff.cview(),
                                                         gradient ? dj.view() : metarm::VectorView<double>{});
  };
  const double jv = j(r, true);
  const double jref = metarm::difference_objective_value<double>(r, offsets);
  CHECK(jv == Approx(jref).epsilon(1e-12));
  const auto j_grad = download<double>(ctx, dj.cview());
  CHECK(metarm::check_gradient([&](std::span<const double> rr) { return j(rr, false); }, std::span<double>(r), j_grad)
            .max_error < test::gradient_tolerance);
  // equal rewards: J = (k-1)/(2k) for k = 5 and zero gradient
  const std::vector<index_t> five{0, 5};
  Device<index_t> dfive(ctx, five);
  Device<double> flat(ctx, std::vector<double>(5, 0.3)), dflat(ctx, std::vector<double>(5, 9.0));
  CHECK(objective.value_and_gradient<Backend, double>(ctx, flat.cview(), dfive.cview(), dflat.view()) ==
        Approx(0.4).epsilon(1e-15));
  CHECK(download<double>(ctx, dflat.cview()) == std::vector<double>(5, 0.0));
  // non-finite rewards are reported, naming the argument
  Device<double> broken(ctx, {1.0, std::nan("")});
  test::require_error_naming([&] { loss.value<Backend, double>(ctx, broken.cview(), {}); }, {"'rewards'", "NaN"});
}

TEST_CASE(METARM_BACKEND_NAME("prompt objectives reject wrong offsets, also in device memory"), "[backend]") {
  using namespace backend_cases;
  typename Backend::context ctx;
  Device<double> rewards(ctx, {0.1, 0.7, -0.3, 1.2, 0.4, -0.8}), grad(ctx, std::vector<double>(6)),
      tangent(ctx, std::vector<double>(6, 1.0)), out(ctx, std::vector<double>(6));
  const metarm::DifferenceObjective j;
  const metarm::RewardVarianceObjective variance;
  const std::vector<std::pair<std::vector<index_t>, const char*>> wrong{
      {{1, 3, 6}, "must run from 0"},          // does not start at 0
      {{0, 3, 5}, "must run from 0"},          // stops short of the rewards
      {{0, 3, 7}, "must run from 0"},          // runs past them
      {{0, 4, 2, 6}, "prompt 1 has k = -2"},   // decreases
      {{0, 1, 6}, "prompt 0 has k = 1"},       // a prompt of one response
  };
  for (const auto& [offsets, fragment] : wrong) {
    Device<index_t> doffsets(ctx, offsets);
    INFO("offsets " << ::Catch::Detail::stringify(offsets));
    test::require_error_naming(
        [&] { j.value_and_gradient<Backend, double>(ctx, rewards.cview(), doffsets.cview(), grad.view()); },
        {"'offsets'", fragment});
    test::require_error_naming([&] { variance.value<Backend, double>(ctx, rewards.cview(), doffsets.cview()); },
                               {"'offsets'", fragment});
    test::require_error_naming(
        [&] {
          j.hessian_product<Backend, double>(ctx, rewards.cview(), doffsets.cview(), tangent.cview(), out.view());
        },
        {"'offsets'", fragment});
  }
  // Right offsets still work after the errors, and non-finite rewards are still reported as such.
  Device<index_t> good(ctx, {0, 2, 6});
  CHECK(std::isfinite(j.value_and_gradient<Backend, double>(ctx, rewards.cview(), good.cview(), grad.view())));
  Device<double> broken(ctx, {0.1, 0.7, -0.3, std::nan(""), 0.4, -0.8});
  test::require_error_naming([&] { j.value<Backend, double>(ctx, broken.cview(), good.cview()); }, {"'rewards'", "NaN"});
}

TEST_CASE(METARM_BACKEND_NAME("3-layer MLP gradients match finite differences"), "[backend][gradient]") {
  using namespace backend_cases;
  typename Backend::context ctx;
  metarm::Rng rng(41);
  const index_t d = 5, n = 6;
  const metarm::Mlp<metarm::GELU, double> model(d, {7, 4});
  std::vector<double> params(static_cast<std::size_t>(model.parameter_count()));
  metarm::Rng init(1);
  model.initialize(params, init);
  const auto x = test::random_vector<double>(rng, d * n);
  const auto c = test::random_vector<double>(rng, n);
  Device<double> dx(ctx, x), dc(ctx, c), dgrad(ctx, std::vector<double>(params.size())),
      dinput(ctx, std::vector<double>(x.size()));
  auto ws = model.make_workspace<Backend>(n);
  auto objective = [&](std::span<const double> p) {
    Device<double> dp(ctx, std::vector<double>(p.begin(), p.end()));
    const auto rewards = model.forward<Backend>(ctx, dp.cview(), dx.cmatrix(d, n), ws);
    return test::dot(download<double>(ctx, rewards), c);
  };
  {
    Device<double> dp(ctx, params);
    model.forward<Backend>(ctx, dp.cview(), dx.cmatrix(d, n), ws);
    model.backward<Backend>(ctx, dp.cview(), dx.cmatrix(d, n), ws, dc.cview(), dgrad.view(), dinput.matrix(d, n));
  }
  const auto grad = download<double>(ctx, dgrad.cview());
  CHECK(metarm::check_gradient(objective, std::span<double>(params), grad).max_error < test::gradient_tolerance);
  const auto input_grad = download<double>(ctx, dinput.cview());
  auto by_input = [&](std::span<const double> xx) {
    Device<double> dp(ctx, params), dxx(ctx, std::vector<double>(xx.begin(), xx.end()));
    return test::dot(download<double>(ctx, model.forward<Backend>(ctx, dp.cview(), dxx.cmatrix(d, n), ws)), c);
  };
  auto xs = x;
  CHECK(metarm::check_gradient(by_input, std::span<double>(xs), input_grad).max_error < test::gradient_tolerance);
}

TEST_CASE(METARM_BACKEND_NAME("optimiser kernels match updates computed by hand"), "[backend][optim]") {
  using namespace backend_cases;
  typename Backend::context ctx;
  auto run = [&](const auto& optimizer, std::vector<double> p, const std::vector<std::vector<double>>& grads) {
    using O = std::decay_t<decltype(optimizer)>;
    Device<double> dp(ctx, p);
    std::vector<Device<double>> state;
    for ([[maybe_unused]] auto name : O::state_names) state.emplace_back(ctx, std::vector<double>(p.size()));
    std::vector<metarm::VectorView<double>> views;
    for (auto& s : state) views.push_back(s.view());
    std::int64_t step = 0;
    for (const auto& g : grads) {
      Device<double> dg(ctx, g);
      optimizer.template update<Backend, double>(ctx, dp.view(), dg.cview(),
                                                 std::span<const metarm::VectorView<double>>(views), 0.1, ++step);
    }
    return download<double>(ctx, dp.cview());
  };
  CHECK(run(metarm::Sgd{.weight_decay = 0.01}, {1.0}, {{0.5}})[0] == Approx(1.0 - 0.1 * (0.5 + 0.01)).epsilon(1e-15));
  CHECK(run(metarm::Momentum{.momentum = 0.9}, {1.0}, {{2.0}, {1.0}})[0] == Approx(0.52).epsilon(1e-14));
  CHECK(run(metarm::Momentum{.momentum = 0.9, .nesterov = true}, {1.0}, {{2.0}, {1.0}})[0] ==
        Approx(0.268).epsilon(1e-13));
  const double eps = 1e-8;
  CHECK(run(metarm::Adam{}, {0.5}, {{0.2}})[0] == Approx(0.5 - 0.1 * 0.2 / (0.2 + eps)).epsilon(1e-14));
  const double m = 0.008, v = 4.996e-5, p1 = 0.5 - 0.1 * 0.2 / (0.2 + eps);
  CHECK(run(metarm::Adam{}, {0.5}, {{0.2}, {-0.1}})[0] ==
        Approx(p1 - (0.1 / 0.19) * m / (std::sqrt(v) / std::sqrt(1 - 0.998001) + eps)).epsilon(1e-12));
  CHECK(run(metarm::Adam{.weight_decay = 0.5}, {2.0}, {{0.5}})[0] == Approx(2.0 - 0.1 * 1.5 / (1.5 + eps)).epsilon(1e-14));
  CHECK(run(metarm::AdamW{.weight_decay = 0.5}, {2.0}, {{0.5}})[0] ==
        Approx(2.0 * (1 - 0.05) - 0.1 * 0.5 / (0.5 + eps)).epsilon(1e-14));
  // Without weight decay a parameter that is already infinite stays so, on every backend; 0 * inf would
  // have made it NaN.
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(run(metarm::Sgd{}, {inf}, {{0.5}})[0] == inf);
  CHECK(run(metarm::Momentum{}, {-inf}, {{0.5}})[0] == -inf);
  CHECK(run(metarm::Adam{}, {inf}, {{0.5}})[0] == inf);
}

namespace backend_cases {

struct SmallProblem {
  static constexpr index_t dim = 6;
  metarm::PreferenceSet<double> pairs;
  metarm::MetaSet<double> meta;
  explicit SmallProblem(std::uint64_t seed) {
    metarm::Rng rng(seed);
    const auto w = test::random_vector<double>(rng, dim);
    pairs = test::separable_pairs<double>(rng, dim, 96, w);
    meta = test::random_meta<double>(rng, dim, 40, {2, 3, 5});
  }
};

}  // namespace backend_cases

TEST_CASE(METARM_BACKEND_NAME("MetaRM with eta = 0 equals Vanilla bit for bit over 50 steps"), "[backend][strategy]") {
  using namespace backend_cases;
  const SmallProblem data(1);
  const metarm::Mlp<metarm::Tanh, double> model(SmallProblem::dim, {8, 8});
  const metarm::FitOptions<double> fit{.epochs = 100, .batch_size = 8, .meta_batch_size = 4, .max_steps = 50};
  metarm::MetaLearner<decltype(model), metarm::Vanilla, metarm::Adam, Backend> vanilla(
      model, metarm::Vanilla{}, metarm::Adam{.learning_rate = 0.01}, metarm::LearnerOptions{.seed = 3});
  metarm::MetaLearner<decltype(model), metarm::MetaRM, metarm::Adam, Backend> meta(
      model, metarm::MetaRM(0.0), metarm::Adam{.learning_rate = 0.01}, metarm::LearnerOptions{.seed = 3});
  REQUIRE(vanilla.fit(data.pairs, &data.meta, fit).steps == 50);
  REQUIRE(meta.fit(data.pairs, &data.meta, fit).steps == 50);
  CHECK(same_bits(vanilla.parameters(), meta.parameters()));
  metarm::MetaLearner<decltype(model), metarm::Vanilla, metarm::Adam, Backend> untouched(
      model, metarm::Vanilla{}, metarm::Adam{}, metarm::LearnerOptions{.seed = 3});
  CHECK_FALSE(same_bits(untouched.parameters(), meta.parameters()));
}

TEST_CASE(METARM_BACKEND_NAME("MetaRM step equals the hand-written sequence"), "[backend][strategy]") {
  using namespace backend_cases;
  const SmallProblem data(2);
  const metarm::Mlp<metarm::ReLU, double> model(SmallProblem::dim, {5});
  const double eta = 0.3;
  metarm::MetaLearner<decltype(model), metarm::MetaRM, metarm::Sgd, Backend> learner(
      model, metarm::MetaRM(eta), metarm::Sgd{.learning_rate = 0.05}, metarm::LearnerOptions{.seed = 4});
  typename Backend::context ctx;
  metarm::PreferenceBatchBuffer<double, Backend> pb;
  metarm::MetaBatchBuffer<double, Backend> mb;
  const std::vector<index_t> pairs_idx{0, 1, 2, 3, 4, 5, 6, 7}, prompts_idx{0, 1, 2, 3};
  const auto pairs = pb.gather(ctx, data.pairs, pairs_idx);
  const auto meta = mb.gather(ctx, data.meta, prompts_idx);
  std::vector<double> theta = learner.parameters();
  const metarm::StepStats stats = learner.step(pairs, meta);

  auto ws = model.make_workspace<Backend>(64);
  Device<double> dtheta(ctx, theta), grad(ctx, theta), d_rewards(ctx, std::vector<double>(64));
  const double j = metarm::difference_objective_and_gradient<Backend>(ctx, model, metarm::DifferenceObjective{},
                                                                      dtheta.cview(), meta, ws, d_rewards.view(),
                                                                      grad.view());
  const auto grad_j = download<double>(ctx, grad.cview());
  std::vector<double> adapted = theta;
  for (std::size_t i = 0; i < theta.size(); ++i) adapted[i] += eta * grad_j[i];
  Device<double> dadapted(ctx, adapted);
  const double l = metarm::preference_loss_and_gradient<Backend>(ctx, model, metarm::BradleyTerryLoss{},
                                                                 dadapted.cview(), pairs, ws, d_rewards.view(),
                                                                 grad.view());
  const auto grad_l = download<double>(ctx, grad.cview());
  CHECK(stats.objective == Approx(j).epsilon(1e-14));
  CHECK(stats.loss == Approx(l).epsilon(1e-14));
  const auto after = learner.parameters();
  for (std::size_t i = 0; i < theta.size(); ++i) {
    CHECK(after[i] == Approx(theta[i] - 0.05 * grad_l[i]).epsilon(1e-12).margin(1e-14));
  }
}

TEST_CASE(METARM_BACKEND_NAME("training converges on a separable problem and repeats bit for bit"),
          "[backend][learner]") {
  using namespace backend_cases;
  metarm::Rng rng(100);
  const index_t d = 10;
  const auto w = test::random_vector<double>(rng, d);
  const auto train = test::separable_pairs<float>(rng, d, 2000, w);
  const auto held_out = test::separable_pairs<float>(rng, d, 1000, w);
  const auto meta = test::random_meta<float>(rng, d, 200, {4});
  const metarm::Mlp<metarm::ReLU, float> model(d, {16});
  const metarm::FitOptions<float> fit{.epochs = 10, .batch_size = 32, .meta_batch_size = 8};
  auto train_once = [&] {
    metarm::MetaLearner<decltype(model), metarm::MetaRM, metarm::Adam, Backend> learner(
        model, metarm::MetaRM(0.5), metarm::Adam{.learning_rate = 3e-3}, metarm::LearnerOptions{.seed = 1});
    learner.fit(train, &meta, fit);
    return std::pair(learner.evaluate(held_out).at("accuracy"), learner.parameters());
  };
  const auto [accuracy, params] = train_once();
  INFO("held-out accuracy " << accuracy);
  CHECK(accuracy > 0.95);
  CHECK(same_bits(params, train_once().second));
}

// ---- second order: the tangent kernels and Hessian-vector products -------------------------------------------

TEST_CASE(METARM_BACKEND_NAME("identical compares sizes and bits"), "[backend][hvp]") {
  using namespace backend_cases;
  typename Backend::context ctx;
  Device<double> a(ctx, {1.0, -0.0, 3.0}), b(ctx, {1.0, -0.0, 3.0}), c(ctx, {1.0, 0.0, 3.0}), d(ctx, {1.0, -0.0});
  CHECK(Backend::identical(ctx, a.cview(), b.cview()));
  CHECK(Backend::identical(ctx, a.cview(), a.cview()));
  CHECK_FALSE(Backend::identical(ctx, a.cview(), c.cview()));  // -0 and +0 differ in their bits
  CHECK_FALSE(Backend::identical(ctx, a.cview(), d.cview()));
  Device<float> e(ctx, {1.5f, 2.5f}), f(ctx, {1.5f, 2.5000002f});
  CHECK_FALSE(Backend::identical(ctx, e.cview(), f.cview()));
}

namespace backend_cases {

// Central difference of a vector-valued function along a direction, in double.
template <class F>
std::vector<double> directional_difference(F&& f, const std::vector<double>& x, const std::vector<double>& t,
                                           double h = 1e-5) {
  std::vector<double> up = x, down = x;
  for (std::size_t i = 0; i < x.size(); ++i) {
    up[i] += h * t[i];
    down[i] -= h * t[i];
  }
  const auto fu = f(up), fd = f(down);
  std::vector<double> out(fu.size());
  for (std::size_t i = 0; i < fu.size(); ++i) out[i] = (fu[i] - fd[i]) / (2 * h);
  return out;
}

inline double relative_error(const std::vector<double>& exact, const std::vector<double>& numeric) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    diff += (exact[i] - numeric[i]) * (exact[i] - numeric[i]);
    norm += numeric[i] * numeric[i];
  }
  return std::sqrt(diff) / std::max(1e-300, std::sqrt(norm));
}

}  // namespace backend_cases

TEST_CASE(METARM_BACKEND_NAME("loss Hessian products match finite differences of the reward gradients"),
          "[backend][hvp]") {
  using namespace backend_cases;
  typename Backend::context ctx;
  metarm::Rng rng(52);
  const index_t n = 6;
  const auto rewards = test::random_vector<double>(rng, 2 * n, 2.0), tangent = test::random_vector<double>(rng, 2 * n);
  const auto margins = test::random_vector<double>(rng, n, 0.5);
  Device<double> dm(ctx, margins), dt(ctx, tangent), out(ctx, std::vector<double>(2 * n));
  const metarm::BradleyTerryLoss loss(0.2);
  auto bt_gradient = [&](const std::vector<double>& r) {
    Device<double> dr(ctx, r), g(ctx, std::vector<double>(r.size()));
    loss.value_and_gradient<Backend, double>(ctx, dr.cview(), dm.cview(), g.view());
    return download<double>(ctx, g.cview());
  };
  {
    Device<double> dr(ctx, rewards);
    loss.hessian_product<Backend, double>(ctx, dr.cview(), dm.cview(), dt.cview(), out.view());
  }
  CHECK(relative_error(download<double>(ctx, out.cview()), directional_difference(bt_gradient, rewards, tangent)) < 1e-6);

  const std::vector<index_t> offsets{0, 2, 5, 10, 14};
  Device<index_t> doff(ctx, offsets);
  const auto r = test::random_vector<double>(rng, 14, 1.5), t = test::random_vector<double>(rng, 14);
  Device<double> dtj(ctx, t), outj(ctx, std::vector<double>(14, 7.0));
  const metarm::DifferenceObjective objective;
  auto j_gradient = [&](const std::vector<double>& rr) {
    Device<double> dr(ctx, rr), g(ctx, std::vector<double>(rr.size()));
    objective.value_and_gradient<Backend, double>(ctx, dr.cview(), doff.cview(), g.view());
    return download<double>(ctx, g.cview());
  };
  {
    Device<double> dr(ctx, r);
    objective.hessian_product<Backend, double>(ctx, dr.cview(), doff.cview(), dtj.cview(), outj.view());
  }
  CHECK(relative_error(download<double>(ctx, outj.cview()), directional_difference(j_gradient, r, t)) < 1e-6);
}

TEST_CASE(METARM_BACKEND_NAME("exact Hessian-vector products of both objectives through an MLP"), "[backend][hvp]") {
  using namespace backend_cases;
  typename Backend::context ctx;
  metarm::Rng rng(42);
  const index_t d = 5, n = 4;
  const metarm::Mlp<metarm::Tanh, double> model(d, {7, 4});
  std::vector<double> params(static_cast<std::size_t>(model.parameter_count()));
  metarm::Rng init(3);
  model.initialize(params, init);
  const auto v = test::random_vector<double>(rng, model.parameter_count());
  const auto pair_x = test::random_vector<double>(rng, d * 2 * n), meta_x = test::random_vector<double>(rng, d * 9);
  const std::vector<index_t> offsets{0, 2, 5, 9};
  Device<double> dpx(ctx, pair_x), dmx(ctx, meta_x), dv(ctx, v), hv(ctx, std::vector<double>(params.size())),
      d_rewards(ctx, std::vector<double>(16)), grad(ctx, std::vector<double>(params.size()));
  Device<index_t> doff(ctx, offsets);
  const metarm::PreferenceBatch<double> pairs{dpx.cmatrix(d, 2 * n), {}};
  const metarm::MetaBatch<double> meta{dmx.cmatrix(d, 9), doff.cview()};
  const metarm::BradleyTerryLoss loss(0.05);
  const metarm::DifferenceObjective objective;
  auto ws = model.make_workspace<Backend>(16);

  auto pair_gradient = [&](const std::vector<double>& p) {
    Device<double> dp(ctx, p);
    metarm::preference_loss_and_gradient<Backend>(ctx, model, loss, dp.cview(), pairs, ws, d_rewards.view(), grad.view());
    return download<double>(ctx, grad.cview());
  };
  auto meta_gradient = [&](const std::vector<double>& p) {
    Device<double> dp(ctx, p);
    metarm::difference_objective_and_gradient<Backend>(ctx, model, objective, dp.cview(), meta, ws, d_rewards.view(),
                                                       grad.view());
    return download<double>(ctx, grad.cview());
  };
  Device<double> dp(ctx, params);
  metarm::preference_loss_hvp<Backend>(ctx, model, loss, dp.cview(), pairs, ws, d_rewards.view(), dv.cview(), hv.view());
  const double pair_error =
      relative_error(download<double>(ctx, hv.cview()), directional_difference(pair_gradient, params, v));
  metarm::difference_objective_hvp<Backend>(ctx, model, objective, dp.cview(), meta, ws, d_rewards.view(), dv.cview(),
                                            hv.view());
  const double meta_error =
      relative_error(download<double>(ctx, hv.cview()), directional_difference(meta_gradient, params, v));
  INFO("relative error: Bradley-Terry " << pair_error << ", J " << meta_error);
  CHECK(pair_error < 1e-6);
  CHECK(meta_error < 1e-6);
}

TEST_CASE(METARM_BACKEND_NAME("exact MetaRM differs from first order by O(eta)"), "[backend][hvp][strategy]") {
  using namespace backend_cases;
  const SmallProblem data(5);
  const metarm::Mlp<metarm::GELU, double> model(SmallProblem::dim, {6});
  typename Backend::context ctx;
  metarm::PreferenceBatchBuffer<double, Backend> pb;
  metarm::MetaBatchBuffer<double, Backend> mb;
  const std::vector<index_t> idx{0, 1, 2, 3, 4, 5};
  const auto pairs = pb.gather(ctx, data.pairs, idx);
  const auto meta = mb.gather(ctx, data.meta, idx);
  auto update = [&](double eta, metarm::MetaGradient order) {
    metarm::MetaLearner<decltype(model), metarm::MetaRM, metarm::Sgd, Backend> learner(
        model, metarm::MetaRM({.eta = eta, .order = order}), metarm::Sgd{.learning_rate = 1.0},
        metarm::LearnerOptions{.seed = 9});
    const auto before = learner.parameters();
    learner.step(pairs, meta);
    auto after = learner.parameters();
    for (std::size_t i = 0; i < after.size(); ++i) after[i] -= before[i];
    return after;
  };
  double previous = 0;
  for (double eta : {0.2, 0.1, 0.05}) {
    const auto first = update(eta, metarm::MetaGradient::first_order);
    const auto exact = update(eta, metarm::MetaGradient::exact);
    double gap = 0;
    for (std::size_t i = 0; i < first.size(); ++i) gap += (first[i] - exact[i]) * (first[i] - exact[i]);
    gap = std::sqrt(gap);
    INFO("eta " << eta << ": |exact - first order| = " << gap);
    CHECK(gap > 0);
    if (previous > 0) CHECK(previous / gap == Approx(2.0).epsilon(0.1));
    previous = gap;
  }
}
