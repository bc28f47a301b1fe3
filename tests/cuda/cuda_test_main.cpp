// SPDX-License-Identifier: Apache-2.0
// Test runner for the CUDA backend. Without a GPU every run exits 77, which ctest reports as skipped; a GPU
// that the runtime finds but cannot use (a driver too old, say) fails the run with the runtime's message
// (metarm/backend/cuda/device_probe.hpp has the rule). Listing the tests (how ctest discovers them) works on
// any machine.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <string_view>

#include <metarm/backend/cuda/probe_devices.hpp>

int main(int argc, char* argv[]) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) {
    listing = listing || std::string_view(argv[i]).starts_with("--list");
  }
  if (!listing) {
    const metarm::DeviceProbe probe = metarm::probe_cuda_devices();
    if (probe.verdict != metarm::DeviceProbe::Verdict::run) {
      std::fprintf(probe.verdict == metarm::DeviceProbe::Verdict::skip ? stdout : stderr, "%s\n",
                   probe.message.c_str());
      return probe.exit_status();
    }
  }
  return Catch::Session().run(argc, argv);
}
