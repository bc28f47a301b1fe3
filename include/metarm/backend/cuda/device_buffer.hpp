// SPDX-License-Identifier: Apache-2.0
// Owning device memory with the same interface as cpu::buffer: zero-initialised, grows keeping its prefix,
// never shrinks its storage, move-only. Its first allocation goes to the calling thread's current device
// (the device of the context whose op ran last in this thread, or that was built or made current last);
// it grows on that same device, whichever device is current then.
#pragma once

#include <cuda_runtime.h>

#include <string>
#include <utility>

#include "metarm/backend/cuda/check.hpp"
#include "metarm/backend/cuda/context.hpp"
#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"

namespace metarm::detail {

template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  explicit device_buffer(index_t size) { resize(size); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& other) noexcept { swap(other); }
  device_buffer& operator=(device_buffer&& other) noexcept {
    device_buffer(std::move(other)).swap(*this);
    return *this;
  }
  ~device_buffer() { release(); }

  void swap(device_buffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
    std::swap(device_, other.device_);
  }

  // Allocation happens outside training steps; it synchronises the device so the copy of the old prefix
  // has finished before the old storage is freed.
  void resize(index_t size) {
    METARM_REQUIRE(size >= 0, "cuda::buffer", "argument 'size' must be >= 0, got {}", size);
    if (size > capacity_) {
      int device = device_;
      if (data_ == nullptr) {
        METARM_CUDA_CHECK(cudaGetDevice(&device));
      }
      const device_scope on(device);
      T* fresh = nullptr;
      const std::size_t bytes = static_cast<std::size_t>(size) * sizeof(T);
      METARM_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&fresh), bytes));
      try {
        METARM_CUDA_CHECK(cudaMemset(fresh, 0, bytes));
        if (size_ > 0) {
          METARM_CUDA_CHECK(
              cudaMemcpy(fresh, data_, static_cast<std::size_t>(size_) * sizeof(T), cudaMemcpyDeviceToDevice));
        }
        METARM_CUDA_CHECK(cudaDeviceSynchronize());
      } catch (...) {
        cudaFree(fresh);
        throw;
      }
      release();
      data_ = fresh;
      capacity_ = size;
      device_ = device;
    }
    size_ = size;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  index_t size() const { return size_; }
  index_t capacity() const { return capacity_; }
  // The device that holds the storage; -1 before the first allocation.
  int device() const { return device_; }

  VectorView<T> view() { return {data_, size_}; }
  VectorView<const T> view() const { return {data_, size_}; }
  MatrixView<T> matrix(index_t rows, index_t cols) {
    METARM_REQUIRE(rows * cols <= size_, "cuda::buffer", "a {} x {} view does not fit in {} elements", rows, cols,
                                                         size_);
    return {data_, rows, cols, rows};
  }

 private:
  void release() noexcept {
    if (data_ != nullptr) {
      cudaFree(data_);  // cannot throw from here; a failing free leaves nothing to recover
    }
    data_ = nullptr;
    size_ = capacity_ = 0;
    device_ = -1;
  }

  T* data_ = nullptr;
  index_t size_ = 0;
  index_t capacity_ = 0;
  int device_ = -1;
};

}  // namespace metarm::detail
