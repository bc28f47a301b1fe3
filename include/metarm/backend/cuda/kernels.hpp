// Device kernels of the CUDA backend. Elementwise kernels use grid-stride loops; the two loss reductions
// run in one block so that their sums are added in a fixed order and every run gives the same bits.
#pragma once

#include <cuda_runtime.h>

#include "metarm/backend/cuda/context.hpp"
#include "metarm/core/config.hpp"
#include "metarm/core/scalar_math.hpp"

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

template <class Activation, class T>
__global__ void activation_forward(const T* z, index_t ldz, T* a, index_t lda, index_t rows, index_t cols) {
  const index_t n = rows * cols;
  for (index_t e = blockIdx.x * blockDim.x + threadIdx.x; e < n; e += gridDim.x * blockDim.x) {
    const index_t i = e % rows, j = e / rows;
    a[i + j * lda] = Activation::value(z[i + j * ldz]);
  }
}

template <class Activation, class T>
__global__ void activation_backward(const T* z, index_t ldz, const T* a, index_t lda, const T* da, index_t ldda, T* dz,
                                    index_t lddz, index_t rows, index_t cols) {
  const index_t n = rows * cols;
  for (index_t e = blockIdx.x * blockDim.x + threadIdx.x; e < n; e += gridDim.x * blockDim.x) {
    const index_t i = e % rows, j = e / rows;
    dz[i + j * lddz] = da[i + j * ldda] * Activation::derivative(z[i + j * ldz], a[i + j * lda]);
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

__device__ inline int block_any(int flag, int* shared) {
  if (threadIdx.x == 0) *shared = 0;
  __syncthreads();
  if (flag) atomicOr(shared, 1);
  __syncthreads();
  return *shared;
}

template <class T>
__device__ inline bool finite(T x) {
  return isfinite(x);
}

// See cpu::bradley_terry. Launch with one block of reduction_block threads.
template <class T>
__global__ void bradley_terry(const T* rewards, index_t n, const T* margins, T centering, T* d_rewards,
                              cuda_context::Result* result) {
  __shared__ double partial[reduction_block];
  __shared__ int any_bad;
  const T inv_n = T(1) / static_cast<T>(n);
  double total = 0.0;
  int bad = 0;
  for (index_t i = threadIdx.x; i < n; i += blockDim.x) {
    const T rw = rewards[i];
    const T rl = rewards[n + i];
    bad |= !(finite(rw) && finite(rl));
    const T margin = margins != nullptr ? margins[i] : T(0);
    const T delta = rw - rl - margin;
    const T sum = rw + rl;
    total += static_cast<double>(softplus(-delta)) + static_cast<double>(centering) * static_cast<double>(sum * sum);
    if (d_rewards != nullptr) {
      const T pull = sigmoid(-delta) * inv_n;
      const T centre = T(2) * centering * sum * inv_n;
      d_rewards[i] = -pull + centre;
      d_rewards[n + i] = pull + centre;
    }
  }
  const double sum = block_sum(total, partial);
  const int non_finite = block_any(bad, &any_bad);
  if (threadIdx.x == 0) {
    result->value = sum / static_cast<double>(n);
    result->non_finite = non_finite;
  }
}

// See cpu::difference_objective. One thread per prompt owns that prompt's slice of d_rewards, so the
// gradient needs no atomics. Launch with one block of reduction_block threads.
template <class T>
__global__ void difference_objective(const T* rewards, const index_t* offsets, index_t prompts, T* d_rewards,
                                     cuda_context::Result* result) {
  __shared__ double partial[reduction_block];
  __shared__ int any_bad;
  const T inv_m = T(1) / static_cast<T>(prompts);
  double total = 0.0;
  int bad = 0;
  for (index_t p = threadIdx.x; p < prompts; p += blockDim.x) {
    const index_t begin = offsets[p];
    const index_t k = offsets[p + 1] - begin;
    const T* r = rewards + begin;
    const T weight = T(2) / static_cast<T>(k * k);
    if (d_rewards != nullptr) {
      for (index_t i = 0; i < k; ++i) d_rewards[begin + i] = T(0);
    }
    double prompt_sum = 0.0;
    for (index_t i = 0; i < k; ++i) {
      bad |= !finite(r[i]);
      for (index_t j = i + 1; j < k; ++j) {
        const T d = r[i] - r[j];
        const T s = sigmoid(d < T(0) ? -d : d);
        prompt_sum += static_cast<double>(s);
        if (d_rewards != nullptr) {
          const T g = weight * inv_m * s * (T(1) - s) * sign_of(d);
          d_rewards[begin + i] += g;
          d_rewards[begin + j] -= g;
        }
      }
    }
    total += static_cast<double>(weight) * prompt_sum;
  }
  const double sum = block_sum(total, partial);
  const int non_finite = block_any(bad, &any_bad);
  if (threadIdx.x == 0) {
    result->value = sum / static_cast<double>(prompts);
    result->non_finite = non_finite;
  }
}

// See cpu::activation_backward_tangent.
template <class Activation, class T>
__global__ void activation_backward_tangent(const T* z, index_t ldz, const T* a, index_t lda, const T* zt, index_t ldzt,
                                            const T* da, index_t ldda, const T* dat, index_t lddat, T* dz,
                                            index_t lddz, T* dzt, index_t lddzt, index_t rows, index_t cols) {
  const index_t n = rows * cols;
  for (index_t e = blockIdx.x * blockDim.x + threadIdx.x; e < n; e += gridDim.x * blockDim.x) {
    const index_t i = e % rows, j = e / rows;
    const T zv = z[i + j * ldz], av = a[i + j * lda];
    const T first = Activation::derivative(zv, av);
    const T second = Activation::second_derivative(zv, av);
    const T upstream = da[i + j * ldda];
    dzt[i + j * lddzt] = dat[i + j * lddat] * first + upstream * second * zt[i + j * ldzt];
    dz[i + j * lddz] = upstream * first;
  }
}

// See cpu::bradley_terry_hessian_product; one thread per pair.
template <class T>
__global__ void bradley_terry_hessian_product(const T* rewards, index_t n, const T* margins, T centering,
                                              const T* tangent, T* out) {
  const T inv_n = T(1) / static_cast<T>(n);
  for (index_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const T margin = margins != nullptr ? margins[i] : T(0);
    const T delta = rewards[i] - rewards[n + i] - margin;
    const T curvature = sigmoid(delta) * sigmoid(-delta);
    const T pull = curvature * (tangent[i] - tangent[n + i]) * inv_n;
    const T centre = T(2) * centering * (tangent[i] + tangent[n + i]) * inv_n;
    out[i] = pull + centre;
    out[n + i] = -pull + centre;
  }
}

// See cpu::difference_objective_hessian_product; one thread per prompt owns that prompt's slice of out.
template <class T>
__global__ void difference_objective_hessian_product(const T* rewards, const index_t* offsets, index_t prompts,
                                                     const T* tangent, T* out) {
  const T inv_m = T(1) / static_cast<T>(prompts);
  for (index_t p = blockIdx.x * blockDim.x + threadIdx.x; p < prompts; p += gridDim.x * blockDim.x) {
    const index_t begin = offsets[p];
    const index_t k = offsets[p + 1] - begin;
    const T* r = rewards + begin;
    const T* t = tangent + begin;
    T* o = out + begin;
    const T weight = T(2) / static_cast<T>(k * k) * inv_m;
    for (index_t i = 0; i < k; ++i) o[i] = T(0);
    for (index_t i = 0; i < k; ++i) {
      for (index_t j = i + 1; j < k; ++j) {
        const T d = r[i] - r[j];
        if (d == T(0)) continue;
        const T s = sigmoid(d < T(0) ? -d : d);
        const T c = weight * s * (T(1) - s) * (T(1) - T(2) * s) * (t[i] - t[j]);
        o[i] += c;
        o[j] -= c;
      }
    }
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

template <class T>
__global__ void sgd_update(T* p, const T* g, index_t n, T lr, T weight_decay) {
  for (index_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    p[i] -= lr * (g[i] + weight_decay * p[i]);
  }
}

template <class T>
__global__ void momentum_update(T* p, const T* g, T* velocity, index_t n, T lr, T momentum, T weight_decay,
                                bool nesterov) {
  for (index_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const T grad = g[i] + weight_decay * p[i];
    const T b = momentum * velocity[i] + grad;
    velocity[i] = b;
    p[i] -= lr * (nesterov ? grad + momentum * b : b);
  }
}

template <class T>
__global__ void adam_update(T* p, const T* g, T* exp_avg, T* exp_avg_sq, index_t n, T step_size,
                            T bias_correction2_sqrt, T beta1, T beta2, T one_minus_beta1, T one_minus_beta2,
                            T epsilon, T shrink, T l2) {
  for (index_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const T param = p[i] * shrink;
    const T grad = g[i] + l2 * p[i];
    const T m = exp_avg[i] * beta1 + one_minus_beta1 * grad;
    const T v = exp_avg_sq[i] * beta2 + one_minus_beta2 * grad * grad;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    p[i] = param - step_size * m / (sqrt(v) / bias_correction2_sqrt + epsilon);
  }
}

}  // namespace metarm::detail::kernels
