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

TEST_CASE("cuda: TF32 mode is opt-in and switchable", "[cuda]") {
  metarm::cuda::context ctx;
  CHECK_FALSE(ctx.tf32());
  metarm::cuda::context fast({.device = 0, .tf32 = true});
  CHECK(fast.tf32());
  fast.set_tf32(false);
  CHECK_FALSE(fast.tf32());
}
