// SPDX-License-Identifier: Apache-2.0
/// \file
/// The CUDA backend: device memory, cuBLAS for the dense algebra and small kernels for the rest, with the
/// same static members as metarm::cpu, so every model, loss, optimiser, strategy and the learner run on it
/// unchanged. Include through metarm/backend/cuda.hpp, in a translation unit compiled by nvcc.
///
/// Devices: every op first makes its context's device current (cuda_context::make_current), so contexts on
/// different devices may take turns in one thread; the device is left current afterwards.
///
/// Host-device traffic: parameters, gradients, optimiser state, workspaces and scratch stay on the device.
/// The ops that return a value to the host (reduce, reduce_segments, dot, squared_norm, identical) and the
/// transfers wait for the stream; no other op does. reduce_into and reduce_segments_into leave their value in
/// device memory instead: the built-in strategies record their step statistics with them, so a training step
/// queues its work without waiting (docs/cuda.md, "What lives where"). Batches are uploaded from page-locked
/// staging (`staging`), which does not wait either.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "metarm/backend/cuda/check.hpp"
#include "metarm/backend/cuda/context.hpp"
#include "metarm/backend/cuda/device_buffer.hpp"
#include "metarm/backend/cuda/kernels.hpp"
#include "metarm/backend/cuda/pinned_staging.hpp"
#include "metarm/backend/transpose.hpp"
#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

/// The CUDA backend policy: device memory, cuBLAS and the library's kernels, with the members of metarm::cpu.
struct cuda {
  /// The backend's name, as programs print it.
  static constexpr std::string_view name = "cuda";
  /// Host code may not read its memory: values reach the host through copy_to_host and the reductions.
  static constexpr bool host_accessible = false;

  /// One device, one stream and one cuBLAS handle; Options{.device, .tf32} chooses the device and TF32 products.
  using context = detail::cuda_context;

  /// Owning device memory with cpu::buffer's interface, allocated on the device current at its first resize.
  template <class T>
  using buffer = detail::device_buffer<T>;

  /// Page-locked host memory from which uploads do not wait (see the learner's batch buffers).
  template <class T>
  using staging = detail::pinned_staging<T>;

  // ---- transfers (synchronous: the host memory may be reused as soon as they return) ---------------------

  /// Copies source.size elements from device memory to `destination` on the host, waiting for the stream.
  template <class T>
  static void copy_to_host(context& ctx, VectorView<const T> source, T* destination) {
    if (source.size > 0) {
      ctx.make_current();
      METARM_CUDA_CHECK(cudaMemcpyAsync(destination, source.data, bytes<T>(source.size), cudaMemcpyDeviceToHost,
                                        ctx.stream()));
      ctx.synchronize();
    }
  }

  /// Copies destination.size elements from `source` on the host into device memory, waiting for the copy.
  template <class T>
  static void copy_from_host(context& ctx, const T* source, VectorView<T> destination) {
    if (destination.size > 0) {
      ctx.make_current();
      METARM_CUDA_CHECK(cudaMemcpyAsync(destination.data, source, bytes<T>(destination.size), cudaMemcpyHostToDevice,
                                        ctx.stream()));
      ctx.synchronize();
    }
  }

  // ---- vector algebra -----------------------------------------------------------------------------------

  /// Sets every element of x to `value`.
  ///
  /// A memset when the value's bits are all zero (+0, not -0), a kernel otherwise.
  template <class T>
  static void fill(context& ctx, VectorView<T> x, T value) {
    if (x.size == 0) return;
    ctx.make_current();
    if (value == T(0) && !std::signbit(value)) {
      METARM_CUDA_CHECK(cudaMemsetAsync(x.data, 0, bytes<T>(x.size), ctx.stream()));
      return;
    }
    METARM_CUDA_LAUNCH("kernels::fill", detail::kernels::fill<<<blocks(x.size), detail::kernels::block_size, 0,
                                                                ctx.stream()>>>(x.data, x.size, value));
  }

  /// Copies source into destination, of the same size, in stream order.
  ///
  /// Overlapping ranges are copied as memmove copies them (cudaMemcpyAsync leaves that undefined), by one
  /// block of a kernel that walks the range in the safe direction; the library itself never overlaps them.
  template <class T>
  static void copy(context& ctx, VectorView<const T> source, VectorView<T> destination) {
    check_same_size(source.size, destination.size, "cuda::copy");
    if (source.size == 0 || source.data == destination.data) return;
    ctx.make_current();
    const auto from = reinterpret_cast<std::uintptr_t>(source.data), to = reinterpret_cast<std::uintptr_t>(destination.data);
    const std::uintptr_t length = bytes<T>(source.size);
    if (from < to + length && to < from + length) {
      METARM_CUDA_LAUNCH("kernels::overlapping_copy",
                         detail::kernels::overlapping_copy<<<1, detail::kernels::block_size, 0, ctx.stream()>>>(
                             source.data, destination.data, source.size, to < from));
      return;
    }
    METARM_CUDA_CHECK(cudaMemcpyAsync(destination.data, source.data, bytes<T>(source.size), cudaMemcpyDeviceToDevice,
                                      ctx.stream()));
  }

  /// y += alpha * x
  template <class T>
  static void axpy(context& ctx, T alpha, VectorView<const T> x, VectorView<T> y) {
    check_same_size(x.size, y.size, "cuda::axpy");
    if (x.size == 0) return;
    ctx.make_current();
    const int n = blas_int(x.size, "cuda::axpy");
    if constexpr (std::is_same_v<T, float>) {
      METARM_CUBLAS_CHECK(cublasSaxpy(ctx.blas(), n, &alpha, x.data, 1, y.data, 1));
    } else {
      METARM_CUBLAS_CHECK(cublasDaxpy(ctx.blas(), n, &alpha, x.data, 1, y.data, 1));
    }
  }

  /// Multiplies every element of x by alpha (cuBLAS scal).
  template <class T>
  static void scale(context& ctx, T alpha, VectorView<T> x) {
    if (x.size == 0) return;
    ctx.make_current();
    const int n = blas_int(x.size, "cuda::scale");
    if constexpr (std::is_same_v<T, float>) {
      METARM_CUBLAS_CHECK(cublasSscal(ctx.blas(), n, &alpha, x.data, 1));
    } else {
      METARM_CUBLAS_CHECK(cublasDscal(ctx.blas(), n, &alpha, x.data, 1));
    }
  }

  /// The dot product of x and y, of the same size.
  ///
  /// Returns to the host (a synchronising read).
  template <class T>
  static T dot(context& ctx, VectorView<const T> x, VectorView<const T> y) {
    check_same_size(x.size, y.size, "cuda::dot");
    T result = T(0);
    if (x.size == 0) return result;
    ctx.make_current();
    const int n = blas_int(x.size, "cuda::dot");
    if constexpr (std::is_same_v<T, float>) {
      METARM_CUBLAS_CHECK(cublasSdot(ctx.blas(), n, x.data, 1, y.data, 1, &result));
    } else {
      METARM_CUBLAS_CHECK(cublasDdot(ctx.blas(), n, x.data, 1, y.data, 1, &result));
    }
    return result;
  }

  /// The sum of the squares of the elements of x.
  ///
  /// Returns to the host (a synchronising read). cuBLAS's nrm2 scales against overflow.
  template <class T>
  static T squared_norm(context& ctx, VectorView<const T> x) {
    T norm = T(0);
    if (x.size == 0) return norm;
    ctx.make_current();
    const int n = blas_int(x.size, "cuda::squared_norm");
    if constexpr (std::is_same_v<T, float>) {
      METARM_CUBLAS_CHECK(cublasSnrm2(ctx.blas(), n, x.data, 1, &norm));
    } else {
      METARM_CUBLAS_CHECK(cublasDnrm2(ctx.blas(), n, x.data, 1, &norm));
    }
    return norm * norm;
  }

  /// Whether x and y have the same size and the same bits (a synchronising read, see cpu::identical).
  template <class T>
  static bool identical(context& ctx, VectorView<const T> x, VectorView<const T> y) {
    if (x.size != y.size) return false;
    if (x.size == 0 || x.data == y.data) return true;
    using Bits = std::conditional_t<sizeof(T) == 8, unsigned long long, unsigned int>;
    static_assert(sizeof(Bits) == sizeof(T), "identical compares floats and doubles");
    ctx.make_current();
    detail::cuda_context::Result* result = ctx.device_result();
    METARM_CUDA_CHECK(cudaMemsetAsync(&result->differs, 0, sizeof(int), ctx.stream()));
    METARM_CUDA_LAUNCH("kernels::bitwise_differ",
                       detail::kernels::bitwise_differ<Bits><<<blocks(x.size), detail::kernels::block_size, 0,
                                                               ctx.stream()>>>(reinterpret_cast<const Bits*>(x.data),
                                                                               reinterpret_cast<const Bits*>(y.data),
                                                                               x.size, result));
    return ctx.read_result().differs == 0;
  }

  // ---- matrix algebra -----------------------------------------------------------------------------------

  /// C = alpha * op(A) * op(B) + beta * C; C is not read when beta == 0.
  template <class T>
  static void gemm(context& ctx, Trans trans_a, Trans trans_b, T alpha, MatrixView<const T> a, MatrixView<const T> b,
                   T beta, MatrixView<T> c) {
    const index_t m = trans_a == Trans::yes ? a.cols : a.rows;
    const index_t k = trans_a == Trans::yes ? a.rows : a.cols;
    const index_t kb = trans_b == Trans::yes ? b.cols : b.rows;
    const index_t n = trans_b == Trans::yes ? b.rows : b.cols;
    METARM_REQUIRE(k == kb && m == c.rows && n == c.cols, "cuda::gemm",
                   "shapes do not agree: op(A) is {} x {}, op(B) is {} x {}, C is {} x {}", m, k, kb, n, c.rows, c.cols);
    if (m == 0 || n == 0) return;
    ctx.make_current();
    const cublasOperation_t op_a = trans_a == Trans::yes ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_b = trans_b == Trans::yes ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int mi = blas_int(m, "cuda::gemm"), ni = blas_int(n, "cuda::gemm"), ki = blas_int(k, "cuda::gemm");
    const int lda = blas_int(std::max<index_t>(1, std::max(a.ld, a.rows)), "cuda::gemm");
    const int ldb = blas_int(std::max<index_t>(1, std::max(b.ld, b.rows)), "cuda::gemm");
    const int ldc = blas_int(std::max<index_t>(1, std::max(c.ld, c.rows)), "cuda::gemm");
    if constexpr (std::is_same_v<T, float>) {
      METARM_CUBLAS_CHECK(
          cublasSgemm(ctx.blas(), op_a, op_b, mi, ni, ki, &alpha, a.data, lda, b.data, ldb, &beta, c.data, ldc));
    } else {
      METARM_CUBLAS_CHECK(
          cublasDgemm(ctx.blas(), op_a, op_b, mi, ni, ki, &alpha, a.data, lda, b.data, ldb, &beta, c.data, ldc));
    }
  }

  /// Every column of C gets `bias` added.
  template <class T>
  static void add_to_columns(context& ctx, VectorView<const T> bias, MatrixView<T> c) {
    check_same_size(bias.size, c.rows, "cuda::add_to_columns");
    if (c.empty()) return;
    ctx.make_current();
    METARM_CUDA_LAUNCH("kernels::add_to_columns",
                       detail::kernels::add_to_columns<<<blocks(c.size()), detail::kernels::block_size, 0,
                                                         ctx.stream()>>>(bias.data, c.data, c.rows, c.cols,
                                                                         std::max(c.ld, c.rows)));
  }

  /// out += the sum of M's columns. Few rows (the head bias has one): a block per row adds its columns; many
  /// rows: a block per 32 rows, each warp a slice of the columns. Both add in a fixed order.
  template <class T>
  static void accumulate_column_sum(context& ctx, MatrixView<const T> m, VectorView<T> out) {
    check_same_size(m.rows, out.size, "cuda::accumulate_column_sum");
    if (m.rows == 0 || m.cols == 0) return;
    ctx.make_current();
    const index_t ld = std::max(m.ld, m.rows);
    if (m.rows < 32) {
      METARM_CUDA_LAUNCH("kernels::column_sum_by_row",
                         detail::kernels::column_sum_by_row<<<static_cast<int>(m.rows), detail::kernels::block_size, 0,
                                                              ctx.stream()>>>(m.data, m.rows, m.cols, ld, out.data));
    } else {
      const index_t tiles = std::min<index_t>((m.rows + 31) / 32, 65535);
      METARM_CUDA_LAUNCH("kernels::column_sum_tiles",
                         detail::kernels::column_sum_tiles<<<static_cast<int>(tiles), detail::kernels::block_size, 0,
                                                             ctx.stream()>>>(m.data, m.rows, m.cols, ld, out.data));
    }
  }

  // ---- generic loops (see cpu::for_each): functors whose call operator is METARM_HOST_DEVICE -------------

  /// f(i) for every i in [0, n), in one grid-stride kernel on the context's stream.
  template <class F>
  static void for_each(context& ctx, index_t n, const F& f) {
    if (n <= 0) return;
    ctx.make_current();
    METARM_CUDA_LAUNCH("kernels::for_each",
                       detail::kernels::for_each<F><<<blocks(n), detail::kernels::block_size, 0, ctx.stream()>>>(n, f));
  }

  /// The sum of f(i) over i in [0, n), added in double in a fixed order.
  ///
  /// Returns to the host (a synchronising read). Two passes that use the whole device: up to
  /// cuda_context::max_partials blocks each add their share of the terms in a fixed order and write the sum
  /// to the context's scratch, then one block adds those sums in order. The number of blocks depends on n
  /// alone, so every run, on any GPU, gives the same bits.
  template <class F>
  static double reduce(context& ctx, index_t n, const F& f) {
    if (n <= 0) return 0.0;
    ctx.make_current();
    const int parts = detail::kernels::reduction_blocks_for(n);
    double* const total = &ctx.device_result()->value;
    METARM_CUDA_LAUNCH("kernels::reduce_partials",
                       detail::kernels::reduce_partials<F><<<parts, detail::kernels::reduction_block, 0, ctx.stream()>>>(
                           n, f, parts == 1 ? total : ctx.partials()));
    add_partials(ctx, parts, total);
    return ctx.read_result().value;
  }

  /// f(p, begin, end) for every segment p of `offsets`, in one grid-stride kernel on the context's stream.
  ///
  /// `offsets` is device memory of m + 1 positions.
  template <class F>
  static void for_each_segment(context& ctx, VectorView<const index_t> offsets, const F& f) {
    const index_t segments = offsets.size - 1;
    if (segments <= 0) return;
    ctx.make_current();
    METARM_CUDA_LAUNCH("kernels::for_each_segment",
                       detail::kernels::for_each_segment<F><<<blocks(segments), detail::kernels::block_size, 0,
                                                              ctx.stream()>>>(offsets.data, segments, f));
  }

  /// The sum of f(p, begin, end) over the segments of `offsets`, in double.
  ///
  /// Returns to the host (a synchronising read); in two passes, as reduce.
  template <class F>
  static double reduce_segments(context& ctx, VectorView<const index_t> offsets, const F& f) {
    const index_t segments = offsets.size - 1;
    if (segments <= 0) return 0.0;
    ctx.make_current();
    const int parts = detail::kernels::reduction_blocks_for(segments);
    double* const total = &ctx.device_result()->value;
    METARM_CUDA_LAUNCH("kernels::reduce_segment_partials",
                       detail::kernels::reduce_segment_partials<F>
                       <<<parts, detail::kernels::reduction_block, 0, ctx.stream()>>>(
                           offsets.data, segments, f, parts == 1 ? total : ctx.partials()));
    add_partials(ctx, parts, total);
    return ctx.read_result().value;
  }

  /// The reductions with their result left in device memory, divided by `divisor`: `out` points to one double
  /// of it. Nothing waits: the step statistics are recorded this way and read when the learner reads them.
  /// The terms are added in the same order as by reduce.
  template <class F>
  static void reduce_into(context& ctx, index_t n, const F& f, double* out, double divisor = 1.0) {
    ctx.make_current();
    if (n <= 0) {
      METARM_CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(double), ctx.stream()));
      return;
    }
    const int parts = detail::kernels::reduction_blocks_for(n);
    METARM_CUDA_LAUNCH("kernels::reduce_partials",
                       detail::kernels::reduce_partials<F><<<parts, detail::kernels::reduction_block, 0, ctx.stream()>>>(
                           n, f, ctx.partials()));
    add_partials(ctx, parts, out, divisor, true);
  }

  /// reduce_segments() divided by `divisor`, left in device memory at `out`; see reduce_into.
  template <class F>
  static void reduce_segments_into(context& ctx, VectorView<const index_t> offsets, const F& f, double* out,
                                   double divisor = 1.0) {
    const index_t segments = offsets.size - 1;
    ctx.make_current();
    if (segments <= 0) {
      METARM_CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(double), ctx.stream()));
      return;
    }
    const int parts = detail::kernels::reduction_blocks_for(segments);
    METARM_CUDA_LAUNCH("kernels::reduce_segment_partials",
                       detail::kernels::reduce_segment_partials<F>
                       <<<parts, detail::kernels::reduction_block, 0, ctx.stream()>>>(offsets.data, segments, f,
                                                                                      ctx.partials()));
    add_partials(ctx, parts, out, divisor, true);
  }

 private:
  // The second pass of a reduction of `parts` partial sums; with one, the first pass wrote the total unless
  // `always` asks for the pass (which then divides by `divisor`).
  static void add_partials(context& ctx, int parts, double* total, double divisor = 1.0, bool always = false) {
    if (parts > 1 || always) {
      METARM_CUDA_LAUNCH("kernels::add_partials",
                         detail::kernels::add_partials<double><<<1, detail::kernels::reduction_block, 0, ctx.stream()>>>(
                             ctx.partials(), parts, total, divisor));
    }
  }

  template <class T>
  static std::size_t bytes(index_t count) {
    return static_cast<std::size_t>(count) * sizeof(T);
  }

  static int blocks(index_t n) { return detail::kernels::blocks_for(n); }

  static int blas_int(index_t n, const char* where) {
    METARM_REQUIRE(n <= std::numeric_limits<int>::max(), where,
                   "size {} exceeds what cuBLAS's 32-bit interface takes", n);
    return static_cast<int>(n);
  }

  static void check_same_size(index_t a, index_t b, const char* where) {
    METARM_REQUIRE(a == b, where, "sizes differ: {} vs {}", a, b);
  }
};

}  // namespace metarm
