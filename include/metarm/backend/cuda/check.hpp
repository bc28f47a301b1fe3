// Every CUDA runtime and cuBLAS call goes through these checks; a failure throws metarm::Error with the
// call, the status name and the file:line.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "metarm/core/error.hpp"

namespace metarm::detail {

inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) [[unlikely]] {
    throw Error(std::string(file) + ":" + std::to_string(line),
                std::string(call) + " failed: " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
  }
}

inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) [[unlikely]] {
    throw Error(std::string(file) + ":" + std::to_string(line),
                std::string(call) + " failed: " + cublasGetStatusName(status) + " (" +
                    cublasGetStatusString(status) + ")");
  }
}

}  // namespace metarm::detail

#define METARM_CUDA_CHECK(call) ::metarm::detail::check_cuda((call), #call, __FILE__, __LINE__)
#define METARM_CUBLAS_CHECK(call) ::metarm::detail::check_cublas((call), #call, __FILE__, __LINE__)
// A kernel launch reports configuration errors only through the next runtime call.
#define METARM_CUDA_CHECK_LAUNCH(what) ::metarm::detail::check_cuda(cudaGetLastError(), what, __FILE__, __LINE__)
