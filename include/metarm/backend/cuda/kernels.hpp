// SPDX-License-Identifier: Apache-2.0
// Device kernels of the CUDA backend: the generic loops that run the library's functors (grid-stride loops,
// and reductions in two passes whose sums are added in a fixed order, so that every run gives the same
// bits), and the few fixed kernels of the backend's own algebra.
#pragma once

#include <cuda_runtime.h>

#include "metarm/backend/cuda/context.hpp"
#include "metarm/core/config.hpp"

namespace metarm::detail::kernels {

inline constexpr int block_size = 256;
inline constexpr int reduction_block = 256;
static_assert((reduction_block & (reduction_block - 1)) == 0, "block_sum adds in a tree: a power of two");
static_assert(block_size % 32 == 0, "column_sum_tiles splits a block into warps");

inline int blocks_for(index_t n) {
  const index_t blocks = (n + block_size - 1) / block_size;
  return static_cast<int>(blocks < 1 ? 1 : (blocks > 65535 ? 65535 : blocks));
}

// Blocks of the first pass of a reduction over n terms: one per reduction_block terms, at most
// cuda_context::max_partials. It depends on n alone, never on the GPU, so the order in which the terms are
// added, and with it the result, is the same on every device.
inline int reduction_blocks_for(index_t n) {
  const index_t blocks = (n + reduction_block - 1) / reduction_block;
  return static_cast<int>(blocks < 1 ? 1 : (blocks > cuda_context::max_partials ? cuda_context::max_partials : blocks));
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

// Adds up one value per thread of a block in a fixed tree order and gives every thread the sum. `shared`
// holds blockDim.x values (a power of two); it may be used again as soon as this returns.
template <class V>
__device__ inline V block_sum(V value, V* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) {
      shared[threadIdx.x] += shared[threadIdx.x + stride];
    }
    __syncthreads();
  }
  const V sum = shared[0];
  __syncthreads();
  return sum;
}

// out[i] += sum over j of m[i + j ld], for matrices of few rows (the head bias has one): one block per row,
// its threads striding over the columns, their sums added in block_sum's tree.
template <class T>
__global__ void column_sum_by_row(const T* m, index_t rows, index_t cols, index_t ld, T* out) {
  __shared__ T shared[block_size];
  for (index_t i = blockIdx.x; i < rows; i += gridDim.x) {
    T sum = T(0);
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) {
      sum += m[i + j * ld];
    }
    sum = block_sum(sum, shared);
    if (threadIdx.x == 0) {
      out[i] += sum;
    }
  }
}

// The same for many rows: a block takes 32 consecutive rows (one per lane, so a warp reads a column's
// rows in one transaction) and splits the columns into block_size / 32 interleaved slices (one per warp);
// the slices' sums are then added in slice order.
template <class T>
__global__ void column_sum_tiles(const T* m, index_t rows, index_t cols, index_t ld, T* out) {
  constexpr int lanes = 32, slices = block_size / lanes;
  __shared__ T partial[slices][lanes];
  const int lane = static_cast<int>(threadIdx.x) % lanes, slice = static_cast<int>(threadIdx.x) / lanes;
  for (index_t first = static_cast<index_t>(blockIdx.x) * lanes; first < rows;
       first += static_cast<index_t>(gridDim.x) * lanes) {
    const index_t i = first + lane;
    T sum = T(0);
    if (i < rows) {
      for (index_t j = slice; j < cols; j += slices) {
        sum += m[i + j * ld];
      }
    }
    partial[slice][lane] = sum;
    __syncthreads();
    if (slice == 0 && i < rows) {
      T total = partial[0][lane];
      for (int s = 1; s < slices; ++s) {
        total += partial[s][lane];
      }
      out[i] += total;
    }
    __syncthreads();
  }
}

// See cpu::for_each.
template <class F>
__global__ void for_each(index_t n, F f) {
  for (index_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    f(i);
  }
}

// See cpu::reduce. First pass: block b adds, in a fixed order, the terms its threads take in a grid-stride
// loop and writes the sum to out[b]. Launch with reduction_blocks_for(n) blocks of reduction_block threads.
template <class F>
__global__ void reduce_partials(index_t n, F f, double* out) {
  __shared__ double shared[reduction_block];
  double total = 0.0;
  for (index_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    total += static_cast<double>(f(i));
  }
  const double sum = block_sum(total, shared);
  if (threadIdx.x == 0) {
    out[blockIdx.x] = sum;
  }
}

// See cpu::reduce_segments; the first pass over segments, as reduce_partials.
template <class F>
__global__ void reduce_segment_partials(const index_t* offsets, index_t segments, F f, double* out) {
  __shared__ double shared[reduction_block];
  double total = 0.0;
  for (index_t p = blockIdx.x * blockDim.x + threadIdx.x; p < segments; p += gridDim.x * blockDim.x) {
    total += static_cast<double>(f(p, offsets[p], offsets[p + 1]));
  }
  const double sum = block_sum(total, shared);
  if (threadIdx.x == 0) {
    out[blockIdx.x] = sum;
  }
}

// Second pass: one block adds the `count` partial sums in a fixed order and writes the sum divided by
// `divisor`. Launch with one block of reduction_block threads. (A template only so that the header may be
// included in several translation units.)
template <class V>
__global__ void add_partials(const V* partials, int count, V* out, V divisor) {
  __shared__ V shared[reduction_block];
  V total = V(0);
  for (int b = static_cast<int>(threadIdx.x); b < count; b += static_cast<int>(blockDim.x)) {
    total += partials[b];
  }
  const V sum = block_sum(total, shared);
  if (threadIdx.x == 0) {
    *out = sum / divisor;
  }
}

// See cpu::for_each_segment; one thread per segment.
template <class F>
__global__ void for_each_segment(const index_t* offsets, index_t segments, F f) {
  for (index_t p = blockIdx.x * blockDim.x + threadIdx.x; p < segments; p += gridDim.x * blockDim.x) {
    f(p, offsets[p], offsets[p + 1]);
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
