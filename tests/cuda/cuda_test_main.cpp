// Test runner for the CUDA backend. Without a usable GPU every run exits 77, which ctest reports as
// skipped; listing the tests (how ctest discovers them) works on any machine.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cuda_runtime.h>

#include <cstdio>
#include <string_view>

int main(int argc, char* argv[]) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) {
    listing = listing || std::string_view(argv[i]).starts_with("--list");
  }
  if (!listing) {
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    if (status != cudaSuccess || devices == 0) {
      std::printf("skipped: no usable CUDA device (%s)\n",
                  status != cudaSuccess ? cudaGetErrorString(status) : "the device count is 0");
      return 77;
    }
  }
  return Catch::Session().run(argc, argv);
}
