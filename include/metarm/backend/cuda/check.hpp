// SPDX-License-Identifier: Apache-2.0
/// \file
/// Every CUDA runtime and cuBLAS call goes through these checks; a failure throws metarm::Error with the
/// call, the status name and the "file:line".
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "metarm/core/error.hpp"

namespace metarm::detail {

// The runtime also records a failed call's status as the thread's "last error", which the next
// cudaGetLastError() returns, whichever call it follows. A failure that throws here clears it first, so
// that a program that catches the error (an allocation too large, say) and goes on does not see it again
// at its next kernel launch. Errors that a fault inside a kernel leaves behind are sticky: no call clears
// them, and every later call reports them.
inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) [[unlikely]] {
    (void)cudaGetLastError();
    throw Error(fmt::format("{}:{}", file, line),
                fmt::format("{} failed: {} ({})", call, cudaGetErrorName(status), cudaGetErrorString(status)));
  }
}

inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) [[unlikely]] {
    (void)cudaGetLastError();  // a runtime call that failed inside cuBLAS
    throw Error(fmt::format("{}:{}", file, line),
                fmt::format("{} failed: {} ({})", call, cublasGetStatusName(status), cublasGetStatusString(status)));
  }
}

}  // namespace metarm::detail

/// Calls a CUDA runtime function and throws metarm::Error, naming the call and its "file:line", when it fails.
#define METARM_CUDA_CHECK(call) ::metarm::detail::check_cuda((call), #call, __FILE__, __LINE__)
/// Calls a cuBLAS function and throws metarm::Error, naming the call and its "file:line", when it fails.
#define METARM_CUBLAS_CHECK(call) ::metarm::detail::check_cublas((call), #call, __FILE__, __LINE__)
/// Checks a kernel launch: throws metarm::Error naming `what` when the launch expression fails to start.
///
/// Launches a kernel (the launch expression, <<<...>>> and all, is the second argument) and checks it. A
/// launch reports its configuration errors only through cudaGetLastError(), which returns the last error of
/// any earlier runtime call as well; so the last error is read and dropped before the launch (an error left
/// by a call whose status was not checked, such as a cudaFree in a destructor), and what is read after it
/// is the launch's own.
#define METARM_CUDA_LAUNCH(what, ...)                                                 \
  do {                                                                                \
    (void)cudaGetLastError();                                                         \
    __VA_ARGS__;                                                                      \
    ::metarm::detail::check_cuda(cudaGetLastError(), what, __FILE__, __LINE__);       \
  } while (false)
