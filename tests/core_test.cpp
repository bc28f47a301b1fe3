// SPDX-License-Identifier: Apache-2.0
// core/, backend/ and params/: errors, the generator, the CPU backend's ops and the flat parameter layout.
#include "test_support.hpp"

#include <algorithm>
#include <set>

using namespace metarm;
using test::index_t;

namespace core_test {

TEST_CASE("Error keeps context and message apart", "[core]") {
  const Error e("BradleyTerryLoss", "argument 'centering' must be >= 0");
  CHECK(e.context() == "BradleyTerryLoss");
  CHECK(e.message() == "argument 'centering' must be >= 0");
  CHECK(std::string(e.what()) == "BradleyTerryLoss: argument 'centering' must be >= 0");
}

TEST_CASE("METARM_REQUIRE formats its message with fmt, and only when the check fails", "[core]") {
  int formatted = 0;
  const auto counted = [&] {
    ++formatted;
    return 7;
  };
  METARM_REQUIRE(true, "Check", "never formatted: {}", counted());
  CHECK(formatted == 0);
  try {
    METARM_REQUIRE(false, "Check", "argument 'n' must be > 0, got {}; rate {:f}", counted(), 0.25);
    FAIL("METARM_REQUIRE did not throw");
  } catch (const Error& e) {
    CHECK(e.context() == "Check");
    CHECK(e.message() == "argument 'n' must be > 0, got 7; rate 0.250000");
  }
  CHECK(formatted == 1);
  const std::string text = "a runtime {text}";
  test::require_error_naming([&] { METARM_REQUIRE(false, "Check", "{}", text); }, {"Check", "a runtime {text}"});
  test::require_error_naming([&] { METARM_REQUIRE(false, "Check", "no arguments"); }, {"Check: no arguments"});
}

TEST_CASE("version macros agree with the version string", "[core]") {
  CHECK(std::string(metarm::version) ==
        std::to_string(version_major) + "." + std::to_string(version_minor) + "." + std::to_string(version_patch));
}

TEST_CASE("Rng is xoshiro256** seeded by splitmix64", "[core]") {
  // Reference values from an independent implementation of the published algorithm, seed 42.
  Rng rng(42);
  CHECK(rng.next() == 0x15780b2e0c2ec716ULL);
  CHECK(rng.next() == 0x6104d9866d113a7eULL);
  CHECK(rng.next() == 0xae17533239e499a1ULL);
}

TEST_CASE("Rng distributions have the right moments and ranges", "[core]") {
  Rng rng(3);
  const int n = 200000;
  double sum = 0, sq = 0, usum = 0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    sum += z;
    sq += z * z;
    const double u = rng.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    usum += u;
  }
  CHECK(std::fabs(sum / n) < 0.01);
  CHECK(std::fabs(sq / n - 1.0) < 0.02);
  CHECK(std::fabs(usum / n - 0.5) < 0.005);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) counts[rng.below(7)]++;
  for (int c : counts) CHECK(std::abs(c - 10000) < 500);
}

TEST_CASE("Rng shuffle is a reproducible permutation and streams are independent", "[core]") {
  std::vector<int> a(100), b(100);
  std::iota(a.begin(), a.end(), 0);
  b = a;
  Rng r1(9), r2(9);
  r1.shuffle(a.begin(), a.end());
  r2.shuffle(b.begin(), b.end());
  CHECK(a == b);
  CHECK(std::set<int>(a.begin(), a.end()).size() == 100);
  std::vector<int> sorted(100);
  std::iota(sorted.begin(), sorted.end(), 0);
  CHECK(a != sorted);
  Rng base(5);
  CHECK(base.stream(1).next() != base.stream(2).next());
  CHECK(base.stream(1).next() == Rng(5).stream(1).next());
}

TEMPLATE_TEST_CASE("cpu::gemm matches a naive product for every transpose combination", "[backend]", float, double) {
  using T = TestType;
  Rng rng(11);
  cpu::context ctx;
  const index_t m = 7, k = 5, n = 4;
  for (Trans ta : {Trans::no, Trans::yes}) {
    for (Trans tb : {Trans::no, Trans::yes}) {
      const auto a = test::random_vector<T>(rng, m * k);
      const auto b = test::random_vector<T>(rng, k * n);
      auto c = test::random_vector<T>(rng, m * n);
      const auto c0 = c;
      const index_t a_rows = ta == Trans::yes ? k : m, a_cols = ta == Trans::yes ? m : k;
      const index_t b_rows = tb == Trans::yes ? n : k, b_cols = tb == Trans::yes ? k : n;
      const T alpha = T(0.5), beta = T(2);
      cpu::gemm<T>(ctx, ta, tb, alpha, test::matrix(a, a_rows, a_cols), test::matrix(b, b_rows, b_cols), beta,
                   test::matrix(c, m, n));
      for (index_t i = 0; i < m; ++i) {
        for (index_t j = 0; j < n; ++j) {
          double expected = 0;
          for (index_t p = 0; p < k; ++p) {
            const double av = ta == Trans::yes ? a[p + i * a_rows] : a[i + p * a_rows];
            const double bv = tb == Trans::yes ? b[j + p * b_rows] : b[p + j * b_rows];
            expected += av * bv;
          }
          expected = alpha * expected + beta * c0[i + j * m];
          CHECK(c[i + j * m] == Approx(expected).epsilon(1e-5));
        }
      }
    }
  }
}

TEST_CASE("cpu::gemm with beta = 0 ignores what C held, even NaN", "[backend]") {
  cpu::context ctx;
  std::vector<double> a{1, 2, 3, 4}, b{1, 0, 0, 1}, c(4, std::nan(""));
  cpu::gemm<double>(ctx, Trans::no, Trans::no, 1.0, test::matrix(a, 2, 2), test::matrix(b, 2, 2), 0.0,
                    test::matrix(c, 2, 2));
  CHECK(c == a);
}

TEST_CASE("cpu::gemm rejects shapes that do not agree", "[backend]") {
  cpu::context ctx;
  std::vector<double> a(6), b(6), c(4);
  test::require_error_naming(
      [&] {
        cpu::gemm<double>(ctx, Trans::no, Trans::no, 1.0, test::matrix(a, 2, 3), test::matrix(b, 2, 3), 0.0,
                          test::matrix(c, 2, 2));
      },
      {"cpu::gemm", "shapes do not agree"});
}

TEMPLATE_TEST_CASE("cpu column broadcasts, reductions and vector algebra", "[backend]", float, double) {
  using T = TestType;
  cpu::context ctx;
  std::vector<T> m{1, 2, 3, 4, 5, 6};  // 2 x 3
  const std::vector<T> bias{10, 20};
  cpu::add_to_columns<T>(ctx, test::view(bias), test::matrix(m, 2, 3));
  CHECK(m == std::vector<T>{11, 22, 13, 24, 15, 26});
  std::vector<T> sums{1, 1};
  cpu::accumulate_column_sum<T>(ctx, test::matrix(std::as_const(m), 2, 3), test::view(sums));
  CHECK(sums == std::vector<T>{40, 73});

  std::vector<T> x{1, 2, 3}, y{4, 5, 6};
  cpu::axpy<T>(ctx, T(2), test::view(std::as_const(x)), test::view(y));
  CHECK(y == std::vector<T>{6, 9, 12});
  CHECK(cpu::dot<T>(ctx, test::view(std::as_const(x)), test::view(std::as_const(y))) == T(60));
  CHECK(cpu::squared_norm<T>(ctx, test::view(std::as_const(x))) == T(14));
  cpu::scale<T>(ctx, T(-1), test::view(x));
  CHECK(x == std::vector<T>{-1, -2, -3});
  cpu::copy<T>(ctx, test::view(std::as_const(y)), test::view(x));
  CHECK(x == y);
  cpu::fill<T>(ctx, test::view(x), T(7));
  CHECK(x == std::vector<T>{7, 7, 7});
  std::vector<T> shorter(2);
  test::require_error_naming([&] { cpu::axpy<T>(ctx, T(1), test::view(std::as_const(x)), test::view(shorter)); },
                             {"cpu::axpy", "sizes differ"});
}

TEST_CASE("cpu::buffer is aligned, zeroed, keeps its prefix when growing and never shrinks its storage", "[backend]") {
  cpu::buffer<float> b(5);
  CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % 64 == 0);
  for (index_t i = 0; i < 5; ++i) CHECK(b.data()[i] == 0.0f);
  for (index_t i = 0; i < 5; ++i) b.data()[i] = float(i);
  b.resize(100);
  CHECK(b.size() == 100);
  for (index_t i = 0; i < 5; ++i) CHECK(b.data()[i] == float(i));
  const float* storage = b.data();
  b.resize(10);
  CHECK(b.size() == 10);
  CHECK(b.capacity() == 100);
  b.resize(100);
  CHECK(b.data() == storage);
  cpu::buffer<float> moved(std::move(b));
  CHECK(moved.data() == storage);
  CHECK(b.data() == nullptr);
  test::require_error_naming([&] { moved.matrix(11, 10); }, {"cpu::buffer", "does not fit"});
}

TEST_CASE("Layout places named blocks back to back and rejects duplicates", "[params]") {
  Layout layout;
  CHECK(layout.add("w", 3, 2) == 0);
  CHECK(layout.add("b", 3) == 6);
  CHECK(layout.size() == 9);
  CHECK(layout.block("b").offset == 6);
  CHECK(layout.block("w").rows == 3);
  CHECK(layout.block("w").cols == 2);
  test::require_error_naming([&] { layout.add("w", 1); }, {"Layout::add", "'w'", "already used"});
  test::require_error_naming([&] { (void)layout.block("missing"); }, {"no block named 'missing'"});
}

TEST_CASE("Layout and ParamBlock format with fmt: the size, then each block's name, shape and offset", "[params]") {
  Layout layout;
  CHECK(fmt::format("{}", layout) == "0 values");
  layout.add("0.weight", 4, 3);
  layout.add("0.bias", 4);
  layout.add("head.weight", 1, 4);
  CHECK(fmt::format("{}", layout.blocks()[0]) == "0.weight 4x3 at 0");
  CHECK(fmt::format("{}", layout.block("0.bias")) == "0.bias 4 at 12");
  CHECK(fmt::format("{}", layout) == "20 values: 0.weight 4x3 at 0, 0.bias 4 at 12, head.weight 1x4 at 16");
}

TEST_CASE("FlatParams blocks are views into one buffer", "[params]") {
  Layout layout;
  layout.add("w", 2, 2);
  layout.add("b", 2);
  FlatParams<double, cpu> params(layout);
  CHECK(params.size() == 6);
  auto w = params.block("w");
  w(1, 1) = 5.0;
  params.block("b")(0, 0) = 7.0;
  CHECK(params.view()[3] == 5.0);
  CHECK(params.view()[4] == 7.0);
}

}  // namespace core_test
