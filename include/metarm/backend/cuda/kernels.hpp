// Device kernels of the CUDA backend: the generic loops that run the library's functors (grid-stride loops;
// reductions in one block, so that their sums are added in a fixed order and every run gives the same
// bits), and the few fixed kernels of the backend's own algebra.
#pragma once

#include <cuda_runtime.h>

#include "metarm/backend/cuda/context.hpp"
#include "metarm/core/config.hpp"

namespace metarm::detail::kernels {

inline constexpr int block_size = 256;
inline constexpr int reduction_block = 256;

inline int blocks_for(index_t n) {
  const index_t blocks = (n + block_size - 1) / block_size;
  return static_cast<int>(blocks < 1 ? 1 : (blocks > 65535 ? 65535 : blocks));
}

template <class T>
__global__ void fill(T* x, index_t n, T value) {
  for (index_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    x[i] = value;
  }
}

// destination[i] = source[i] for i < n where the two ranges overlap: one block walks the range in tiles,
// reading a whole tile before writing it, front to back when the destination lies before the source and
// back to front otherwise. No tile then reads an element that an earlier tile wrote, which is what
// memmove guarantees. Launch with one block.
template <class T>
__global__ void overlapping_copy(const T* source, T* destination, index_t n, bool front_to_back) {
  constexpr int per_thread = 4;
  const index_t tile = static_cast<index_t>(blockDim.x) * per_thread;
  const index_t tiles = (n + tile - 1) / tile;
  for (index_t step = 0; step < tiles; ++step) {
    const index_t first = (front_to_back ? step : tiles - 1 - step) * tile;
    T held[per_thread];
    for (int k = 0; k < per_thread; ++k) {
      const index_t i = first + k * static_cast<index_t>(blockDim.x) + threadIdx.x;
      if (i < n) held[k] = source[i];
    }
    __syncthreads();
    for (int k = 0; k < per_thread; ++k) {
      const index_t i = first + k * static_cast<index_t>(blockDim.x) + threadIdx.x;
      if (i < n) destination[i] = held[k];
    }
    __syncthreads();
  }
}

template <class T>
__global__ void add_to_columns(const T* bias, T* c, index_t rows, index_t cols, index_t ld) {
  const index_t n = rows * cols;
  for (index_t e = blockIdx.x * blockDim.x + threadIdx.x; e < n; e += gridDim.x * blockDim.x) {
    const index_t i = e % rows, j = e / rows;
    c[i + j * ld] += bias[i];
  }
}

// One thread per row adds up its row over the columns in order.
template <class T>
__global__ void accumulate_column_sum(const T* m, index_t rows, index_t cols, index_t ld, T* out) {
  for (index_t i = blockIdx.x * blockDim.x + threadIdx.x; i < rows; i += gridDim.x * blockDim.x) {
    T sum = T(0);
    for (index_t j = 0; j < cols; ++j) {
      sum += m[i + j * ld];
    }
    out[i] += sum;
  }
}

// Adds up per-thread partial sums of a single block in a fixed tree order.
__device__ inline double block_sum(double value, double* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) {
      shared[threadIdx.x] += shared[threadIdx.x + stride];
    }
    __syncthreads();
  }
  return shared[0];
}

// See cpu::for_each.
template <class F>
__global__ void for_each(index_t n, F f) {
  for (index_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    f(i);
  }
}

// See cpu::reduce. Launch with one block of reduction_block threads.
template <class F>
__global__ void reduce(index_t n, F f, cuda_context::Result* result) {
  __shared__ double partial[reduction_block];
  double total = 0.0;
  for (index_t i = threadIdx.x; i < n; i += blockDim.x) {
    total += static_cast<double>(f(i));
  }
  const double sum = block_sum(total, partial);
  if (threadIdx.x == 0) {
    result->value = sum;
  }
}

// See cpu::for_each_segment; one thread per segment.
template <class F>
__global__ void for_each_segment(const index_t* offsets, index_t segments, F f) {
  for (index_t p = blockIdx.x * blockDim.x + threadIdx.x; p < segments; p += gridDim.x * blockDim.x) {
    f(p, offsets[p], offsets[p + 1]);
  }
}

// See cpu::reduce_segments. Launch with one block of reduction_block threads.
template <class F>
__global__ void reduce_segments(const index_t* offsets, index_t segments, F f, cuda_context::Result* result) {
  __shared__ double partial[reduction_block];
  double total = 0.0;
  for (index_t p = threadIdx.x; p < segments; p += blockDim.x) {
    total += static_cast<double>(f(p, offsets[p], offsets[p + 1]));
  }
  const double sum = block_sum(total, partial);
  if (threadIdx.x == 0) {
    result->value = sum;
  }
}

// Sets result->differs when any element's bits differ; the flag must be cleared before the launch.
template <class Bits>
__global__ void bitwise_differ(const Bits* x, const Bits* y, index_t n, cuda_context::Result* result) {
  int differs = 0;
  for (index_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    differs |= x[i] != y[i];
  }
  if (differs) atomicOr(&result->differs, 1);
}

}  // namespace metarm::detail::kernels
