// SPDX-License-Identifier: Apache-2.0
/// \file
/// Whether a program that needs a GPU should run, report itself skipped, or fail, decided from what
/// cudaGetDeviceCount returned. This header needs no CUDA runtime, so the decision is tested on machines
/// without one; probe_devices.hpp asks the runtime.
///
/// Skipped (exit status 77, which ctest reports as skipped): the runtime finds no device
/// (cudaErrorNoDevice, or a count of 0), or there is no NVIDIA driver on the machine at all (the runtime
/// then says cudaErrorInsufficientDriver, and libcuda.so.1 cannot be loaded). Failed (status 1): any other
/// error, such as a driver too old for the runtime, so that a GPU machine that cannot use its GPU reports
/// a failure, not a skip.
#pragma once

#include <string>
#include <string_view>

namespace metarm {

/// What a program that needs a GPU should do on this machine: run, report itself skipped, or fail.
struct DeviceProbe {
  /// The three outcomes of a device probe.
  enum class Verdict { run, skip, fail };
  /// The outcome; fail unless decided otherwise.
  Verdict verdict = Verdict::fail;
  int devices = 0;      ///< the devices found, when the verdict is run
  std::string message;  ///< "skipped: no CUDA device (...)" or "failed: ..."; empty when the verdict is run

  /// The exit status that tells ctest the verdict.
  ///
  /// 0 to go on, 77 to report the program skipped, 1 for a failure.
  int exit_status() const { return verdict == Verdict::run ? 0 : (verdict == Verdict::skip ? 77 : 1); }
};

/// \namespace metarm::cuda_status
///
/// The values of cudaError_t the decision reads (probe_devices.hpp checks them against the runtime's).
namespace cuda_status {
/// cudaSuccess.
inline constexpr int success = 0;
/// cudaErrorInsufficientDriver: the driver is missing or older than the runtime.
inline constexpr int insufficient_driver = 35;
/// cudaErrorNoDevice.
inline constexpr int no_device = 100;
}  // namespace cuda_status

/// Decides the verdict from what cudaGetDeviceCount returned, without calling the CUDA runtime.
///
/// status and devices: what cudaGetDeviceCount returned; driver_found: whether libcuda.so.1 can be loaded;
/// name and text: cudaGetErrorName and cudaGetErrorString of the status.
inline DeviceProbe decide_device_probe(int status, int devices, bool driver_found, std::string_view name,
                                       std::string_view text) {
  using Verdict = DeviceProbe::Verdict;
  const std::string error = std::string(name) + " (" + std::string(text) + ")";
  if (status == cuda_status::success) {
    if (devices > 0) return {Verdict::run, devices, ""};
    return {Verdict::skip, 0, "skipped: no CUDA device (the CUDA runtime counts 0 devices)"};
  }
  if (status == cuda_status::no_device) {
    return {Verdict::skip, 0, "skipped: no CUDA device (cudaGetDeviceCount: " + error + ")"};
  }
  if (status == cuda_status::insufficient_driver && !driver_found) {
    return {Verdict::skip, 0,
            "skipped: no CUDA device (no NVIDIA driver: libcuda.so.1 cannot be loaded; cudaGetDeviceCount: " + error +
                ")"};
  }
  return {Verdict::fail, 0, "failed: cudaGetDeviceCount: " + error + "; the GPU cannot be used"};
}

}  // namespace metarm
