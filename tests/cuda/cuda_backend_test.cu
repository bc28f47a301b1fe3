// SPDX-License-Identifier: Apache-2.0
// The backend-generic cases (../backend_cases.hpp) on the CUDA backend.
#define METARM_TEST_BACKEND ::metarm::cuda
#include "../backend_cases.hpp"

TEST_CASE("cuda: the default backend of a CUDA translation unit is metarm::cuda", "[cuda]") {
  STATIC_REQUIRE(std::is_same_v<metarm::default_backend, metarm::cuda>);
  CHECK(metarm::default_backend::name == "cuda");
}

TEST_CASE("cuda: failures name the call, the status and the place", "[cuda]") {
  try {
    metarm::cuda::buffer<double> huge(metarm::index_t{1} << 50);  // 8 PiB
    FAIL("allocating 8 PiB should have failed");
  } catch (const metarm::Error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("cudaMalloc") != std::string::npos);
    CHECK(what.find("cudaErrorMemoryAllocation") != std::string::npos);
    CHECK(what.find("device_buffer.hpp:") != std::string::npos);
  }
}

namespace {

// out[i] = 3 x[i]
struct Triple {
  const double* x;
  double* out;
  METARM_HOST_DEVICE void operator()(metarm::index_t i) const { out[i] = 3.0 * x[i]; }
};

struct Identity {
  const double* x;
  METARM_HOST_DEVICE double operator()(metarm::index_t i) const { return x[i]; }
};

}  // namespace

// All in one process, as benchmarks/gpu/run.sh runs the cases and as a program that catches an
// out-of-memory error goes on: the failed call must not fail the next launch.
TEST_CASE("cuda: a failed call leaves no error behind for the next kernel launch", "[cuda]") {
  using metarm::cuda;
  using backend_cases::Device;
  using backend_cases::download;
  cuda::context ctx;
  CHECK_THROWS_AS(cuda::buffer<double>(metarm::index_t{1} << 50), metarm::Error);  // 8 PiB
  Device<double> x(ctx, {1.0, 2.0, 3.0}), y(ctx, {0.0, 0.0, 0.0});
  cuda::for_each(ctx, 3, Triple{x.buffer.data(), y.buffer.data()});
  CHECK(download<double>(ctx, y.cview()) == std::vector<double>{3.0, 6.0, 9.0});
  cuda::fill(ctx, y.view(), 7.0);
  CHECK(download<double>(ctx, y.cview()) == std::vector<double>{7.0, 7.0, 7.0});

  // A failed runtime call whose status nobody checked (a cudaFree in a destructor, say) leaves its error as
  // the thread's last error; the next launch must still report only its own.
  void* never = nullptr;
  REQUIRE(cudaMalloc(&never, std::size_t{1} << 53) != cudaSuccess);
  cuda::fill(ctx, y.view(), 5.0);
  CHECK(cuda::reduce(ctx, 3, Identity{y.buffer.data()}) == 15.0);
}

// Contexts on two devices (devices 0 and 1, or device 0 twice on a one-GPU machine) taking
// turns in one thread: every op runs on its own context's device, and buffers made after a context's work
// land on its device.
TEST_CASE("cuda: two contexts on different devices take turns in one thread", "[cuda]") {
  using metarm::cuda;
  using metarm::index_t;
  int count = 0;
  REQUIRE(cudaGetDeviceCount(&count) == cudaSuccess);
  const int second = count > 1 ? 1 : 0;
  INFO("devices " << count << ", contexts on 0 and " << second);
  cuda::context a({.device = 0}), b({.device = second});
  const index_t n = 5000;
  std::vector<double> host(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) host[static_cast<std::size_t>(i)] = 0.25 * static_cast<double>(i % 17);
  // Each buffer is made right after work of its context (make_current is what the learner calls).
  a.make_current();
  cuda::buffer<double> xa(n), ya(n);
  b.make_current();
  cuda::buffer<double> xb(n), yb(n);
  CHECK(xa.device() == 0);
  CHECK(ya.device() == 0);
  CHECK(xb.device() == second);
  CHECK(yb.device() == second);
  // Interleaved: every op of b follows one of a, and the other way round.
  cuda::copy_from_host(a, host.data(), xa.view());
  cuda::copy_from_host(b, host.data(), xb.view());
  cuda::for_each(a, n, Triple{xa.data(), ya.data()});
  cuda::for_each(b, n, Triple{xb.data(), yb.data()});
  cuda::axpy(a, 2.0, as_const(xa.view()), ya.view());
  cuda::axpy(b, -1.0, as_const(xb.view()), yb.view());
  double expected_a = 0, expected_b = 0;
  for (double v : host) {
    expected_a += 5.0 * v;
    expected_b += 2.0 * v;
  }
  CHECK(cuda::reduce(a, n, Identity{ya.data()}) == Approx(expected_a).epsilon(1e-14));
  CHECK(cuda::reduce(b, n, Identity{yb.data()}) == Approx(expected_b).epsilon(1e-14));
  // A buffer grows on its own device, whichever device is current.
  a.make_current();
  yb.resize(2 * n);
  CHECK(yb.device() == second);
  CHECK(cuda::reduce(b, n, Identity{yb.data()}) == Approx(expected_b).epsilon(1e-14));

  // Two learners, one per context, stepping in turns: each equals a learner that ran alone.
  metarm::Rng rng(3);
  const index_t d = 6;
  const auto w = test::random_vector<double>(rng, d);
  const auto pairs = test::separable_pairs<double>(rng, d, 64, w);
  const auto meta = test::random_meta<double>(rng, d, 16, {3});
  const metarm::Mlp<metarm::Tanh, double> model(d, {8});
  const metarm::FitOptions<double> fit{.epochs = 1, .batch_size = 16, .meta_batch_size = 4};
  using Learner = metarm::MetaLearner<metarm::Mlp<metarm::Tanh, double>, metarm::MetaRM, metarm::Adam, cuda>;
  Learner alone(model, metarm::MetaRM(0.3), metarm::Adam{}, {.seed = 5});
  alone.fit(pairs, &meta, fit);
  Learner on_a(model, metarm::MetaRM(0.3), metarm::Adam{}, {.seed = 5}, cuda::context({.device = 0}));
  Learner on_b(model, metarm::MetaRM(0.3), metarm::Adam{}, {.seed = 5}, cuda::context({.device = second}));
  on_a.fit(pairs, &meta, fit);
  on_b.fit(pairs, &meta, fit);
  on_a.fit(pairs, &meta, fit);
  on_b.fit(pairs, &meta, fit);
  alone.fit(pairs, &meta, fit);
  const auto reference = alone.parameters(), from_a = on_a.parameters(), from_b = on_b.parameters();
  REQUIRE(reference.size() == from_a.size());
  REQUIRE(reference.size() == from_b.size());
  double worst = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    worst = std::max({worst, std::abs(reference[i] - from_a[i]), std::abs(reference[i] - from_b[i])});
  }
  INFO("largest difference from the learner that ran alone: " << worst);
  CHECK(worst < 1e-12);
}

TEST_CASE("cuda: TF32 mode is opt-in and switchable", "[cuda]") {
  metarm::cuda::context ctx;
  CHECK_FALSE(ctx.tf32());
  metarm::cuda::context fast({.device = 0, .tf32 = true});
  CHECK(fast.tf32());
  fast.set_tf32(false);
  CHECK_FALSE(fast.tf32());
}

TEST_CASE("cuda: a fit waits for the device only where it reads the step statistics", "[cuda][statistics]") {
  using metarm::cuda;
  metarm::Rng rng(4);
  const metarm::index_t d = 6;
  const auto w = test::random_vector<double>(rng, d);
  const auto pairs = test::separable_pairs<double>(rng, d, 64, w);
  const auto meta = test::random_meta<double>(rng, d, 16, {3});
  const metarm::Mlp<metarm::Tanh, double> model(d, {8});
  metarm::FitOptions<double> fit{.epochs = 1, .batch_size = 8, .meta_batch_size = 4};
  using Learner = metarm::MetaLearner<metarm::Mlp<metarm::Tanh, double>, metarm::MetaRM, metarm::Adam, cuda>;
  Learner learner(model, metarm::MetaRM(0.3), metarm::Adam{}, {.seed = 5, .step = {.clip_norm = 0.5}});
  learner.fit(pairs, &meta, fit);  // sizes every buffer
  const auto& ctx = learner.step_context().backend_context();

  // Eight steps, the statistics read at the last one only: one wait.
  fit.statistics_every = 100;
  std::int64_t before = ctx.host_waits();
  metarm::History history;
  learner.fit(pairs, &meta, fit, history);
  CHECK(ctx.host_waits() - before == 1);
  REQUIRE(history.steps().size() == 1);
  CHECK(std::isfinite(history.steps().back().loss));
  CHECK(std::isfinite(history.steps().back().grad_norm));

  // Read at every step: one wait per step, and none inside the step.
  fit.statistics_every = 1;
  before = ctx.host_waits();
  learner.fit(pairs, &meta, fit);
  CHECK(ctx.host_waits() - before == 8);
}
