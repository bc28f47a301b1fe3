// SPDX-License-Identifier: Apache-2.0
// Host staging memory for uploads. It is page-locked, because a copy from pageable memory makes the stream
// finish all the work queued before it: the learner's batch uploads would then wait for the previous step
// at every step. It carries an event recorded after its last upload, so that it is not rewritten before that
// copy has read it; by the time the next batch is gathered the copy has long finished, and nothing waits.
#pragma once

#include <cuda_runtime.h>

#include <cstring>
#include <string>
#include <utility>

#include "metarm/backend/cuda/check.hpp"
#include "metarm/backend/cuda/context.hpp"
#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"

namespace metarm::detail {

template <class T>
class pinned_staging {
 public:
  pinned_staging() = default;
  pinned_staging(const pinned_staging&) = delete;
  pinned_staging& operator=(const pinned_staging&) = delete;
  pinned_staging(pinned_staging&& other) noexcept { swap(other); }
  pinned_staging& operator=(pinned_staging&& other) noexcept {
    pinned_staging(std::move(other)).swap(*this);
    return *this;
  }
  ~pinned_staging() { release(); }

  void swap(pinned_staging& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(capacity_, other.capacity_);
    std::swap(uploaded_, other.uploaded_);
    std::swap(in_flight_, other.in_flight_);
  }

  // Room for `size` values, keeping the first ones. Growing happens before the steps that use the memory
  // (the learner sizes its buffers for the largest batch first); it waits for the last upload.
  void reserve(index_t size) {
    METARM_REQUIRE(size >= 0, "cuda::pinned_staging", "argument 'size' must be >= 0, got {}", size);
    if (size <= capacity_) return;
    if (in_flight_) {
      METARM_CUDA_CHECK(cudaEventSynchronize(uploaded_));
      in_flight_ = false;
    }
    T* fresh = nullptr;
    METARM_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&fresh), static_cast<std::size_t>(size) * sizeof(T),
                                    cudaHostAllocPortable));
    if (capacity_ > 0) {
      std::memcpy(fresh, data_, static_cast<std::size_t>(capacity_) * sizeof(T));
      cudaFreeHost(data_);
    }
    data_ = fresh;
    capacity_ = size;
  }

  // The memory, for the host to write, once the last upload from it has read it. That copy follows the work
  // queued before it, so this waits only when the device is more than a step behind the host.
  T* writable(const cuda_context&) {
    if (in_flight_) {
      METARM_CUDA_CHECK(cudaEventSynchronize(uploaded_));
      in_flight_ = false;
    }
    return data_;
  }

  // Copies the first `count` values to device memory at `destination`, after the work queued on ctx's
  // stream and before the work queued next; the host does not wait.
  void upload(const cuda_context& ctx, index_t count, T* destination) {
    if (count <= 0) return;
    METARM_REQUIRE(count <= capacity_, "cuda::pinned_staging",
                   "an upload of {} values from staging of {}", count, capacity_);
    ctx.make_current();
    if (uploaded_ == nullptr) {
      METARM_CUDA_CHECK(cudaEventCreateWithFlags(&uploaded_, cudaEventDisableTiming));
    }
    METARM_CUDA_CHECK(cudaMemcpyAsync(destination, data_, static_cast<std::size_t>(count) * sizeof(T),
                                      cudaMemcpyHostToDevice, ctx.stream()));
    METARM_CUDA_CHECK(cudaEventRecord(uploaded_, ctx.stream()));
    in_flight_ = true;
  }

  index_t capacity() const { return capacity_; }

 private:
  void release() noexcept {
    if (in_flight_) cudaEventSynchronize(uploaded_);
    if (data_ != nullptr) cudaFreeHost(data_);
    if (uploaded_ != nullptr) cudaEventDestroy(uploaded_);
    data_ = nullptr;
    uploaded_ = nullptr;
    capacity_ = 0;
    in_flight_ = false;
  }

  T* data_ = nullptr;
  index_t capacity_ = 0;
  cudaEvent_t uploaded_ = nullptr;
  bool in_flight_ = false;
};

}  // namespace metarm::detail
