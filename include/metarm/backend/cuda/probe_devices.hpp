// SPDX-License-Identifier: Apache-2.0
/// \file
/// Asks the CUDA runtime whether this machine has a usable GPU (the decision is in device_probe.hpp). Test
/// programs and examples start with it:
/// \code
///   const metarm::DeviceProbe probe = metarm::probe_cuda_devices();
///   if (probe.verdict != metarm::DeviceProbe::Verdict::run) { std::puts(probe.message.c_str()); return probe.exit_status(); }
/// \endcode
#pragma once

#include <cuda_runtime.h>

#if __has_include(<dlfcn.h>)
#include <dlfcn.h>
#endif

#include "metarm/backend/cuda/device_probe.hpp"

namespace metarm {

static_assert(static_cast<int>(cudaSuccess) == cuda_status::success);
static_assert(static_cast<int>(cudaErrorInsufficientDriver) == cuda_status::insufficient_driver);
static_assert(static_cast<int>(cudaErrorNoDevice) == cuda_status::no_device);

/// Whether the NVIDIA driver library can be loaded (the runtime loads it the same way).
inline bool cuda_driver_found() {
#if __has_include(<dlfcn.h>)
  void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (driver == nullptr) return false;
  dlclose(driver);
  return true;
#else
  return true;  // cannot tell: a failure is reported as one
#endif
}

/// Asks the CUDA runtime for its devices and decides what the program should do (decide_device_probe).
inline DeviceProbe probe_cuda_devices() {
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  (void)cudaGetLastError();  // leave no error behind for a later launch check
  const bool driver = status == cudaSuccess || cuda_driver_found();
  return decide_device_probe(static_cast<int>(status), devices, driver, cudaGetErrorName(status),
                             cudaGetErrorString(status));
}

}  // namespace metarm
