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

TEST_CASE("cuda: TF32 mode is opt-in and switchable", "[cuda]") {
  metarm::cuda::context ctx;
  CHECK_FALSE(ctx.tf32());
  metarm::cuda::context fast({.device = 0, .tf32 = true});
  CHECK(fast.tf32());
  fast.set_tf32(false);
  CHECK_FALSE(fast.tf32());
}
