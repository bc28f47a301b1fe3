// SPDX-License-Identifier: Apache-2.0
// The backend-generic cases (backend_cases.hpp) on the CPU backend.
#define METARM_TEST_BACKEND ::metarm::cpu
#include "backend_cases.hpp"

#include <metarm/backend/cuda/device_probe.hpp>

// Long elementwise passes run in blocks spread over the context's threads; each element must come out the
// same whatever the split.
TEST_CASE("cpu: long elementwise passes give the same bits on one and two threads", "[backend][cpu]") {
  using metarm::cpu;
  using metarm::index_t;
  const index_t size = 300001;  // long enough to be split, and not a multiple of the block
  metarm::Rng rng(41);
  std::vector<float> p0(size), g(size), m0(size), v0(size);
  for (index_t i = 0; i < size; ++i) {
    p0[i] = float(rng.normal());
    g[i] = float(rng.normal());
    m0[i] = float(rng.normal()) * 0.1f;
    v0[i] = float(rng.uniform(0.0, 1.0));
  }
  auto view = [](std::vector<float>& x) { return metarm::VectorView<float>{x.data(), index_t(x.size())}; };
  auto cview = [](const std::vector<float>& x) { return metarm::VectorView<const float>{x.data(), index_t(x.size())}; };
  auto run = [&](int threads) {
    cpu::context ctx(threads);
    std::vector<float> p = p0, m = m0, v = v0, w = p0, z(size), c(size);
    // AdamW at learning rate 1e-3, weight decay 1e-2, first step (1 - beta1^t = 0.1, 1 - beta2^t = 0.001).
    const metarm::AdamRule<float, metarm::AdamDecay::decoupled> adam{
        1e-3f / 0.1f, std::sqrt(0.001f), 0.9f, 0.999f, 0.1f, 0.001f, 1e-8f, 1.0f - 1e-3f * 1e-2f, 0.0f};
    metarm::apply_elementwise<cpu>(ctx, adam, view(p), cview(g), view(m), view(v));
    metarm::apply_elementwise<cpu>(ctx, metarm::SgdRule<float>{1e-2f, 1e-3f}, view(w), cview(g));
    cpu::axpy(ctx, 0.5f, cview(g), view(w));
    cpu::add_scaled(ctx, cview(p0), 0.25f, cview(g), view(z));
    cpu::scale(ctx, 3.0f, view(z));
    cpu::copy(ctx, cview(z), view(c));
    return std::vector<std::vector<float>>{p, m, v, w, z, c};
  };
  const int threads_before = Eigen::nbThreads();
  const auto one = run(1);
  const auto two = run(2);
  CHECK(Eigen::nbThreads() == threads_before);  // a context's count is its own, never the process's
  for (std::size_t k = 0; k < one.size(); ++k) {
    INFO("output " << k);
    CHECK(std::memcmp(one[k].data(), two[k].data(), one[k].size() * sizeof(float)) == 0);
  }
  // And the values are the formulas': AdamW (decoupled) and the plain passes, checked in double.
  const float* p = one[0].data();
  const float* w = one[3].data();
  const float* c = one[5].data();
  for (index_t i = 0; i < size; i += 997) {
    const double m = 0.9 * m0[i] + 0.1 * g[i];
    const double v = 0.999 * v0[i] + 0.001 * double(g[i]) * g[i];
    const double expected_p = p0[i] * (1.0 - 1e-3 * 1e-2) - (1e-3 / 0.1) * m / (std::sqrt(v) / std::sqrt(0.001) + 1e-8);
    CHECK(p[i] == Approx(expected_p).epsilon(1e-5).margin(1e-6));
    CHECK(w[i] == Approx(p0[i] - 1e-2 * (g[i] + 1e-3 * p0[i]) + 0.5 * g[i]).epsilon(1e-5).margin(1e-6));
    CHECK(c[i] == Approx(3.0 * (p0[i] + 0.25 * g[i])).epsilon(1e-5).margin(1e-6));
  }
}

// A long reduction sums each block on its own and the block sums in order, so the thread count that ran the
// blocks cannot change a bit of the result; and its terms may write their own element as they go.
TEST_CASE("cpu: a long reduction gives the same bits on one and two threads, and may write as it sums",
          "[backend][cpu]") {
  using metarm::cpu;
  using metarm::index_t;
  const index_t size = 300001;
  metarm::Rng rng(43);
  std::vector<float> x(size);
  long double exact = 0.0L;  // the reference, with 11 more bits than the sum it checks
  for (auto& v : x) {
    v = float(rng.normal());
    exact += static_cast<long double>(double(v) * double(v));
  }
  struct SquareAndNegate {
    float* x;
    double operator()(index_t i) const {
      const double v = x[i];
      x[i] = -x[i];
      return v * v;
    }
  };
  const int threads_before = Eigen::nbThreads();
  std::vector<float> once = x, twice = x;
  cpu::context one(1);
  const double by_one = cpu::reduce(one, size, SquareAndNegate{once.data()});
  cpu::context two(2);
  const double by_two = cpu::reduce(two, size, SquareAndNegate{twice.data()});
  CHECK(Eigen::nbThreads() == threads_before);
  CHECK(std::memcmp(&by_one, &by_two, sizeof(double)) == 0);
  CHECK(by_one == Approx(static_cast<double>(exact)).epsilon(1e-13));
  CHECK(once == twice);
  bool negated = true;
  for (index_t i = 0; i < size; ++i) negated = negated && once[i] == -x[i];
  CHECK(negated);
}

// Large products on two threads are split by rows or by columns of C; every transpose, alpha and beta must
// give what one thread gives.
TEST_CASE("cpu: products split over two threads equal the one-thread products", "[backend][cpu]") {
  using metarm::cpu;
  using metarm::index_t;
  using metarm::Trans;
  metarm::Rng rng(43);
  const int threads_before = Eigen::nbThreads();
  // (m, n, k) with m n k above the split threshold: split by rows (m >= n) and by columns, with odd sizes.
  for (const auto& [m, n, k] : {std::tuple<index_t, index_t, index_t>{301, 67, 130}, {67, 301, 130}}) {
    for (const Trans ta : {Trans::no, Trans::yes}) {
      for (const Trans tb : {Trans::no, Trans::yes}) {
        const index_t a_rows = ta == Trans::no ? m : k, a_cols = ta == Trans::no ? k : m;
        const index_t b_rows = tb == Trans::no ? k : n, b_cols = tb == Trans::no ? n : k;
        std::vector<double> a(a_rows * a_cols), b(b_rows * b_cols), c0(m * n);
        for (auto& x : a) x = rng.normal();
        for (auto& x : b) x = rng.normal();
        for (auto& x : c0) x = rng.normal();
        auto run = [&](int threads, double alpha, double beta) {
          cpu::context ctx(threads);
          std::vector<double> c = c0;
          cpu::gemm(ctx, ta, tb, alpha, metarm::MatrixView<const double>{a.data(), a_rows, a_cols, a_rows},
                    metarm::MatrixView<const double>{b.data(), b_rows, b_cols, b_rows}, beta,
                    metarm::MatrixView<double>{c.data(), m, n, m});
          return c;
        };
        for (const auto& [alpha, beta] : {std::pair{1.0, 0.0}, {0.5, 1.0}, {-2.0, 0.25}}) {
          const auto one = run(1, alpha, beta);
          const auto two = run(2, alpha, beta);
          INFO("m " << m << " n " << n << " k " << k << " transposes " << int(ta) << int(tb) << " alpha " << alpha
                    << " beta " << beta);
          double worst = 0;
          for (std::size_t i = 0; i < one.size(); ++i) worst = std::max(worst, std::fabs(one[i] - two[i]));
          CHECK(worst < 1e-11);
          // And one entry against the definition.
          const index_t i = m / 2, j = n - 1;
          double expected = 0;
          for (index_t p = 0; p < k; ++p) {
            const double av = ta == Trans::no ? a[i + p * a_rows] : a[p + i * a_rows];
            const double bv = tb == Trans::no ? b[p + j * b_rows] : b[j + p * b_rows];
            expected += av * bv;
          }
          CHECK(two[i + j * m] == Approx(alpha * expected + beta * c0[i + j * m]).epsilon(1e-10));
        }
      }
    }
  }
  CHECK(Eigen::nbThreads() == threads_before);
}

// PyTorch forms 1 - beta2 in double and rounds once; in float, 1 - 0.999f is 1.3e-5 off. After one step
// from zero moments with g = 1, exp_avg_sq holds exactly that coefficient.
TEST_CASE("Adam's moment coefficients are rounded once, as PyTorch's are", "[optim][cpu]") {
  metarm::cpu::context ctx;
  std::vector<float> p{0.5f}, g{1.0f}, m{0.0f}, v{0.0f};
  std::array<metarm::VectorView<float>, 2> state{metarm::VectorView<float>{m.data(), 1}, {v.data(), 1}};
  metarm::Adam adam;
  adam.update<metarm::cpu, float>(ctx, {p.data(), 1}, {g.data(), 1},
                                  std::span<const metarm::VectorView<float>>(state.data(), 2), 1e-3, 1);
  CHECK(v[0] == static_cast<float>(1.0 - 0.999));
  CHECK(m[0] == static_cast<float>(1.0 - 0.9));
  CHECK(v[0] != 1.0f - 0.999f);  // the two roundings do differ, so the first check means something
}

// The rule by which the CUDA test programs and examples run, skip or fail (backend/cuda/device_probe.hpp):
// decided without the CUDA runtime, so it is checked here, where no GPU is needed.
TEST_CASE("cuda probe: only a missing device or driver skips, any other runtime error fails", "[backend][cuda]") {
  using metarm::DeviceProbe;
  using metarm::decide_device_probe;
  namespace status = metarm::cuda_status;
  const auto run = decide_device_probe(status::success, 2, true, "cudaSuccess", "no error");
  CHECK(run.verdict == DeviceProbe::Verdict::run);
  CHECK(run.devices == 2);
  CHECK(run.exit_status() == 0);

  const auto none_counted = decide_device_probe(status::success, 0, true, "cudaSuccess", "no error");
  CHECK(none_counted.verdict == DeviceProbe::Verdict::skip);
  CHECK(none_counted.exit_status() == 77);

  const auto no_device =
      decide_device_probe(status::no_device, 0, true, "cudaErrorNoDevice", "no CUDA-capable device is detected");
  CHECK(no_device.verdict == DeviceProbe::Verdict::skip);
  CHECK(no_device.exit_status() == 77);
  CHECK(no_device.message.starts_with("skipped: no CUDA device"));
  CHECK(no_device.message.find("cudaErrorNoDevice") != std::string::npos);

  // No driver at all (a machine without a GPU): the runtime says its driver is insufficient.
  const auto no_driver = decide_device_probe(status::insufficient_driver, 0, false, "cudaErrorInsufficientDriver",
                                             "CUDA driver version is insufficient for CUDA runtime version");
  CHECK(no_driver.verdict == DeviceProbe::Verdict::skip);
  CHECK(no_driver.exit_status() == 77);
  CHECK(no_driver.message.starts_with("skipped: no CUDA device (no NVIDIA driver"));

  // A driver that is there but too old: a GPU machine that cannot use its GPU fails.
  const auto old_driver = decide_device_probe(status::insufficient_driver, 0, true, "cudaErrorInsufficientDriver",
                                              "CUDA driver version is insufficient for CUDA runtime version");
  CHECK(old_driver.verdict == DeviceProbe::Verdict::fail);
  CHECK(old_driver.exit_status() == 1);
  CHECK(old_driver.message.find("cudaErrorInsufficientDriver") != std::string::npos);
  CHECK(old_driver.message.find("driver version is insufficient") != std::string::npos);

  // Any other error fails, driver or not (3: cudaErrorInitializationError, 999: cudaErrorUnknown).
  for (bool driver : {true, false}) {
    for (int other : {3, 999}) {
      const auto failed = decide_device_probe(other, 0, driver, "cudaErrorSomething", "what the runtime said");
      CHECK(failed.verdict == DeviceProbe::Verdict::fail);
      CHECK(failed.exit_status() == 1);
      CHECK(failed.message.find("cudaErrorSomething (what the runtime said)") != std::string::npos);
    }
  }
}
