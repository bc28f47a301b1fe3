// SPDX-License-Identifier: Apache-2.0
// The quickstart on the GPU: the same program, compiled by nvcc with CUDA enabled, where the default backend
// is metarm::cuda. Parameters, gradients and optimiser state live on the device. Without a GPU it says so
// and exits 77 before main runs (metarm/backend/cuda/device_probe.hpp has the rule).
#include <cstdio>
#include <cstdlib>

#include <metarm/backend/cuda.hpp>

#include <fmt/core.h>

namespace {
const bool gpu_usable = [] {
  const metarm::DeviceProbe probe = metarm::probe_cuda_devices();
  if (probe.verdict != metarm::DeviceProbe::Verdict::run) {
    fmt::print("{}\n", probe.message);
    std::exit(probe.exit_status());
  }
  return true;
}();
}  // namespace

#include "quickstart.cpp"
