// SPDX-License-Identifier: Apache-2.0
// Per-run execution state of the CUDA backend: the device, one stream, one cuBLAS handle bound to it, and
// the small device and pinned host slots through which reductions return their scalar results.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include "metarm/backend/cuda/check.hpp"

namespace metarm::detail {

// Makes `device` the calling thread's current device for as long as it lives, then restores the one that
// was current before. Errors are ignored: it runs in destructors and on the way out of failed calls.
class device_scope {
 public:
  explicit device_scope(int device) {
    if (cudaGetDevice(&previous_) != cudaSuccess) {
      (void)cudaGetLastError();
      previous_ = -1;
    }
    if (previous_ != device && cudaSetDevice(device) != cudaSuccess) {
      (void)cudaGetLastError();
    }
    switched_ = previous_ >= 0 && previous_ != device;
  }
  device_scope(const device_scope&) = delete;
  device_scope& operator=(const device_scope&) = delete;
  ~device_scope() {
    if (switched_ && cudaSetDevice(previous_) != cudaSuccess) {
      (void)cudaGetLastError();
    }
  }

 private:
  int previous_ = -1;
  bool switched_ = false;
};

class cuda_context {
 public:
  struct Options {
    int device = 0;
    // Let cuBLAS run float32 products on tensor cores in TF32 (10-bit mantissa inputs). Faster on Ampere and
    // later, and no longer equal to the CPU backend to 1e-5; doubles are unaffected.
    bool tf32 = false;
  };

  // The most per-block partial sums a reduction writes (see kernels::reduce_partials): enough blocks to
  // fill a large GPU, few enough for one block to add them up.
  static constexpr int max_partials = 1024;

  cuda_context() : cuda_context(Options{}) {}
  // Makes the device current (and leaves it so) and creates the stream, the cuBLAS handle and the
  // reduction slots on it.
  explicit cuda_context(Options options) : options_(options) {
    METARM_CUDA_CHECK(cudaSetDevice(options_.device));
    // A blocking stream orders its work after allocations and memsets issued on the legacy default stream.
    METARM_CUDA_CHECK(cudaStreamCreate(&stream_));
    METARM_CUBLAS_CHECK(cublasCreate(&blas_));
    METARM_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
    METARM_CUBLAS_CHECK(cublasSetPointerMode(blas_, CUBLAS_POINTER_MODE_HOST));
    set_tf32(options_.tf32);
    METARM_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&device_result_), sizeof(Result)));
    METARM_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&partials_), max_partials * sizeof(double)));
    METARM_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&host_result_), sizeof(Result)));
  }

  cuda_context(const cuda_context&) = delete;
  cuda_context& operator=(const cuda_context&) = delete;
  cuda_context(cuda_context&& other) noexcept { swap(other); }
  cuda_context& operator=(cuda_context&& other) noexcept {
    cuda_context(std::move(other)).swap(*this);
    return *this;
  }
  ~cuda_context() {
    if (stream_ == nullptr && blas_ == nullptr && device_result_ == nullptr && partials_ == nullptr &&
        host_result_ == nullptr) {
      return;  // moved from
    }
    const device_scope on(options_.device);
    if (blas_ != nullptr) cublasDestroy(blas_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    if (device_result_ != nullptr) cudaFree(device_result_);
    if (partials_ != nullptr) cudaFree(partials_);
    if (host_result_ != nullptr) cudaFreeHost(host_result_);
  }

  void swap(cuda_context& other) noexcept {
    std::swap(options_, other.options_);
    std::swap(stream_, other.stream_);
    std::swap(blas_, other.blas_);
    std::swap(device_result_, other.device_result_);
    std::swap(partials_, other.partials_);
    std::swap(host_result_, other.host_result_);
    std::swap(host_waits_, other.host_waits_);
  }

  void set_tf32(bool on) {
    options_.tf32 = on;
    METARM_CUBLAS_CHECK(cublasSetMathMode(blas_, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  }
  bool tf32() const { return options_.tf32; }
  int device() const { return options_.device; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t blas() const { return blas_; }

  // Makes this context's device the calling thread's current device. Every op of the backend calls it
  // first (a cudaGetDevice, and a cudaSetDevice only when another device is current), so contexts on
  // different devices can take turns in one thread. The device stays current afterwards: it is not
  // restored, so that buffers allocated next, which go to the current device, land beside the work that
  // preceded them.
  void make_current() const {
    int current = -1;
    METARM_CUDA_CHECK(cudaGetDevice(&current));
    if (current != options_.device) {
      METARM_CUDA_CHECK(cudaSetDevice(options_.device));
    }
  }

  // Waits for all the work queued on the stream. Every such wait of the backend goes through here and is
  // counted: a training step that records its statistics makes none (a test checks it).
  void synchronize() const {
    ++host_waits_;
    METARM_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  // How many times the host has waited for all the work queued on the stream.
  std::int64_t host_waits() const { return host_waits_; }

  // What a reduction kernel leaves for the host: its value, or, for a comparison, whether two elements
  // differed.
  struct Result {
    double value;
    int differs;
  };
  Result* device_result() const { return device_result_; }
  // Device scratch of max_partials doubles for the first pass of a reduction. The context's ops run in
  // order on its one stream, so one scratch serves them all.
  double* partials() const { return partials_; }

  // Copies the device result to pinned host memory and waits for it: the one host-device transfer of a
  // reduction.
  Result read_result() const {
    METARM_CUDA_CHECK(cudaMemcpyAsync(host_result_, device_result_, sizeof(Result), cudaMemcpyDeviceToHost, stream_));
    synchronize();
    return *host_result_;
  }

 private:
  Options options_{};
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  Result* device_result_ = nullptr;
  double* partials_ = nullptr;
  Result* host_result_ = nullptr;
  mutable std::int64_t host_waits_ = 0;
};

}  // namespace metarm::detail
