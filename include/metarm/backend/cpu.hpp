// SPDX-License-Identifier: Apache-2.0
/// \file
/// The CPU backend: host memory and Eigen kernels. Every model, loss, optimiser and strategy reaches the
/// hardware only through the static members of a backend policy like this one, so a second backend (CUDA)
/// supplies the same members and nothing above this layer changes.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

// The elementwise loops are compiled twice, for AVX2 and for the build's own target, and the CPU picks its
// version when the program starts (GCC's target_clones, through an ifunc), so that a program built without
// -march still runs them eight floats wide. AVX2 without FMA computes each element bit for bit as the
// build's own target does (an AVX-512F clone would fuse multiplies and adds, and round differently), and a
// reduction's interleaved partial sums are the same sums at any width. A build that targets AVX2 or more
// (-march=native on a recent CPU) needs no clone and keeps its own, wider or fused, code.
// METARM_NO_VECTOR_CLONES turns it off. ThreadSanitizer builds go without: the ifunc resolver runs while the
// dynamic loader relocates the program, before the sanitizer's runtime is set up, and its instrumented entry
// crashes there.
#if defined(__x86_64__) && !defined(__AVX2__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && \
    !defined(__CUDACC__) && !defined(METARM_NO_VECTOR_CLONES) && !defined(__SANITIZE_THREAD__)
#define METARM_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#define METARM_DETAIL_VECTOR_CLONES_ON 1
#else
#define METARM_VECTOR_CLONES
#endif

#include "metarm/backend/blas.hpp"
#include "metarm/backend/host.hpp"
#include "metarm/backend/sparse_view.hpp"
#include "metarm/backend/transpose.hpp"
#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

/// The CPU backend policy: host memory, Eigen's kernels (or the BLAS Eigen hands its products to), OpenMP threads.
struct cpu {
  /// The backend's name, as programs print it.
  static constexpr std::string_view name = "cpu";
  /// Views handed out by this backend can be read and written by host code directly.
  static constexpr bool host_accessible = true;

  /// Per-run execution settings. Each context owns its thread count: nothing here or in the ops changes
  /// Eigen's, OpenMP's or the BLAS's process-wide settings, so learners on different threads, each with its own
  /// context, do not disturb one another.
  class context {
   public:
    /// A context that runs on the calling thread's OpenMP default (see set_threads).
    context() = default;
    /// A context that runs on `threads` threads (0: the calling thread's OpenMP default).
    explicit context(int threads) { set_threads(threads); }

    /// Sets the thread count of the products and of the backend's own loops, for this context only.
    ///
    /// 0 follows the OpenMP default of the thread that runs each op, read when the op runs (OMP_NUM_THREADS,
    /// else all cores); without OpenMP every op runs on one thread.
    void set_threads(int threads) {
      METARM_REQUIRE(threads >= 0, "cpu::context", "argument 'threads' must be >= 0, got {}", threads);
      threads_ = threads;
    }
    /// The thread count in effect: the one set, else the calling thread's OpenMP default (1 without OpenMP).
    int threads() const {
      if (threads_ > 0) {
        return threads_;
      }
#if defined(_OPENMP)
      return omp_get_max_threads();
#else
      return 1;
#endif
    }

    /// Host work is complete when an op returns.
    void synchronize() const {}

    /// One double per block of a long reduction (cpu::reduce), kept between calls so that a step that
    /// reduces a parameter-sized vector allocates only the first time.
    double* reduction_partials(index_t blocks) {
      if (static_cast<index_t>(reduction_partials_.size()) < blocks) {
        reduction_partials_.resize(static_cast<std::size_t>(blocks));
      }
      return reduction_partials_.data();
    }

   private:
    int threads_ = 0;
    std::vector<double> reduction_partials_;
  };

  /// Owning, 64-byte aligned, zero-initialised host storage. Growing keeps the existing prefix; shrinking
  /// only changes size(), so a buffer sized once for the largest batch never allocates again.
  template <class T>
  class buffer {
   public:
    /// An empty buffer; allocates nothing.
    buffer() = default;
    /// A buffer of `size` zeros.
    explicit buffer(index_t size) { resize(size); }
    buffer(const buffer&) = delete;
    buffer& operator=(const buffer&) = delete;
    /// Takes other's storage, leaving it empty.
    buffer(buffer&& other) noexcept { swap(other); }
    /// Takes other's storage, leaving it empty; the storage held before is freed.
    buffer& operator=(buffer&& other) noexcept {
      buffer(std::move(other)).swap(*this);
      return *this;
    }
    /// Frees the storage.
    ~buffer() { release(); }

    /// Exchanges storage with other, without copying or allocating.
    void swap(buffer& other) noexcept {
      std::swap(data_, other.data_);
      std::swap(size_, other.size_);
      std::swap(capacity_, other.capacity_);
    }

    /// Sets size() to `size`: allocates only when it exceeds capacity(), keeping the first elements and
    /// zeroing the new ones.
    void resize(index_t size) {
      METARM_REQUIRE(size >= 0, "cpu::buffer", "argument 'size' must be >= 0, got {}", size);
      if (size > capacity_) {
        T* fresh = static_cast<T*>(::operator new(static_cast<std::size_t>(size) * sizeof(T), std::align_val_t{alignment}));
        std::fill(fresh, fresh + size, T(0));
        if (size_ > 0) {
          std::memcpy(fresh, data_, static_cast<std::size_t>(size_) * sizeof(T));
        }
        release();
        data_ = fresh;
        capacity_ = size;
      }
      size_ = size;
    }

    /// The first element.
    T* data() { return data_; }
    /// The first element, read-only.
    const T* data() const { return data_; }
    /// The number of elements in use.
    index_t size() const { return size_; }
    /// The number of elements the storage holds before resize() must allocate.
    index_t capacity() const { return capacity_; }

    /// All size() elements as a vector view.
    VectorView<T> view() { return {data_, size_}; }
    /// All size() elements as a read-only vector view.
    VectorView<const T> view() const { return {data_, size_}; }
    /// The first rows * cols elements as a contiguous matrix view; throws when they exceed size().
    MatrixView<T> matrix(index_t rows, index_t cols) {
      METARM_REQUIRE(rows * cols <= size_, "cpu::buffer", "a {} x {} view does not fit in {} elements", rows, cols,
                                                          size_);
      return {data_, rows, cols, rows};
    }

   private:
    static constexpr std::size_t alignment = 64;

    void release() noexcept {
      if (data_ != nullptr) {
        ::operator delete(data_, std::align_val_t{alignment});
      }
      data_ = nullptr;
      size_ = capacity_ = 0;
    }

    T* data_ = nullptr;
    index_t size_ = 0;
    index_t capacity_ = 0;
  };

  // ---- transfers ----------------------------------------------------------------------------------------

  /// Copies source.size elements from backend memory to `destination` on the host.
  template <class T>
  static void copy_to_host(context&, VectorView<const T> source, T* destination) {
    if (source.size > 0) {
      std::memcpy(destination, source.data, static_cast<std::size_t>(source.size) * sizeof(T));
    }
  }

  /// Copies destination.size elements from `source` on the host into backend memory.
  template <class T>
  static void copy_from_host(context&, const T* source, VectorView<T> destination) {
    if (destination.size > 0) {
      std::memcpy(destination.data, source, static_cast<std::size_t>(destination.size) * sizeof(T));
    }
  }

  // ---- vector algebra -----------------------------------------------------------------------------------

  /// Sets every element of x to `value`.
  template <class T>
  static void fill(context& ctx, VectorView<T> x, T value) {
    for_blocks(ctx, x.size, [&](index_t begin, index_t count) { map(x.segment(begin, count)).setConstant(value); });
  }

  /// Copies source into destination, of the same size; the ranges may overlap.
  template <class T>
  static void copy(context& ctx, VectorView<const T> source, VectorView<T> destination) {
    check_same_size(source.size, destination.size, "cpu::copy");
    if (source.data == destination.data || source.size == 0) {
      return;
    }
    if (source.data < destination.data + destination.size && destination.data < source.data + source.size) {
      // Overlapping ranges: one memmove, which a split into blocks would not preserve.
      std::memmove(destination.data, source.data, static_cast<std::size_t>(source.size) * sizeof(T));
      return;
    }
    for_blocks(ctx, source.size, [&](index_t begin, index_t count) {
      std::memcpy(destination.data + begin, source.data + begin, static_cast<std::size_t>(count) * sizeof(T));
    });
  }

  /// y += alpha * x
  template <class T>
  static void axpy(context& ctx, T alpha, VectorView<const T> x, VectorView<T> y) {
    check_same_size(x.size, y.size, "cpu::axpy");
    for_blocks(ctx, x.size, [&](index_t begin, index_t count) {
      map(y.segment(begin, count)) += alpha * map(x.segment(begin, count));
    });
  }

  /// z = y + alpha * x in one pass (z may alias y or x): an adapted point from the original and a gradient.
  template <class T>
  static void add_scaled(context& ctx, VectorView<const T> y, T alpha, VectorView<const T> x, VectorView<T> z) {
    check_same_size(x.size, y.size, "cpu::add_scaled");
    check_same_size(x.size, z.size, "cpu::add_scaled");
    for_blocks(ctx, x.size, [&](index_t begin, index_t count) {
      map(z.segment(begin, count)) = map(y.segment(begin, count)) + alpha * map(x.segment(begin, count));
    });
  }

  /// Multiplies every element of x by alpha.
  template <class T>
  static void scale(context& ctx, T alpha, VectorView<T> x) {
    for_blocks(ctx, x.size, [&](index_t begin, index_t count) { map(x.segment(begin, count)) *= alpha; });
  }

  /// The dot product of x and y, of the same size.
  template <class T>
  static T dot(context&, VectorView<const T> x, VectorView<const T> y) {
    check_same_size(x.size, y.size, "cpu::dot");
    return map(x).dot(map(y));
  }

  /// The sum of the squares of the elements of x.
  template <class T>
  static T squared_norm(context&, VectorView<const T> x) {
    return map(x).squaredNorm();
  }

  /// Whether x and y have the same size and the same bits, so that a pass computed from one holds for the
  /// other (a -0 and a +0 differ; a NaN equals a NaN of the same bits).
  template <class T>
  static bool identical(context&, VectorView<const T> x, VectorView<const T> y) {
    return x.size == y.size &&
           (x.size == 0 || std::memcmp(x.data, y.data, static_cast<std::size_t>(x.size) * sizeof(T)) == 0);
  }

  // ---- matrix algebra -----------------------------------------------------------------------------------

  /// C = alpha * op(A) * op(B) + beta * C; C is not read when beta == 0.
  template <class T>
  static void gemm([[maybe_unused]] context& ctx, Trans trans_a, Trans trans_b, T alpha, MatrixView<const T> a, MatrixView<const T> b, T beta,
                   MatrixView<T> c) {
    const index_t m = trans_a == Trans::yes ? a.cols : a.rows;
    const index_t k = trans_a == Trans::yes ? a.rows : a.cols;
    const index_t kb = trans_b == Trans::yes ? b.cols : b.rows;
    const index_t n = trans_b == Trans::yes ? b.rows : b.cols;
    METARM_REQUIRE(k == kb && m == c.rows && n == c.cols, "cpu::gemm",
                   "shapes do not agree: op(A) is {} x {}, op(B) is {} x {}, C is {} x {}", m, k, kb, n, c.rows, c.cols);
    if (k == 0) {
      auto C = map(c);
      if (beta == T(0)) {
        C.setZero();
      } else {
        C *= beta;
      }
      return;
    }
#if defined(_OPENMP)
    // The products of a training step are thin (one side is a batch of 64 to 128 columns), and a BLAS's or
    // Eigen's own split of them over threads gains little or loses. So the product is split here instead:
    // each thread takes a share of the rows of C (when op(A) is the larger operand) or of its columns, and
    // runs one product on it, which stays on that thread (see serial_product). Below about 2^21
    // multiply-adds any split costs more than it saves (a 64 x 64 x 64 product runs at under half its
    // one-thread speed on two), so small products run on the calling thread.
    const int threads = ctx.threads();
    if (threads > 1 && omp_in_parallel() == 0) {
      const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
      if (work >= static_cast<double>(index_t{1} << 21)) {
        const bool split_rows = m >= n;
#pragma omp parallel num_threads(threads)
        {
          const index_t part = omp_get_thread_num();
          const index_t parts = omp_get_num_threads();
          if (split_rows) {
            const auto [first, count] = share(m, part, parts, 16);
            if (count > 0) {
              serial_product(trans_a, trans_b, alpha,
                             trans_a == Trans::no ? a.row_block(first, count) : a.columns(first, count), b, beta,
                             c.row_block(first, count));
            }
          } else {
            const auto [first, count] = share(n, part, parts, 4);
            if (count > 0) {
              serial_product(trans_a, trans_b, alpha, a,
                             trans_b == Trans::no ? b.columns(first, count) : b.row_block(first, count), beta,
                             c.columns(first, count));
            }
          }
        }
        return;
      }
    }
#endif
    serial_product(trans_a, trans_b, alpha, a, b, beta, c);
  }

  /// Names the kernels that run the matrix products, for `metarm version` and benchmark logs.
  ///
  /// Which kernels run the matrix products, and for which instruction set: the BLAS the build links
  /// (METARM_BLAS, the default when OpenBLAS is installed), or Eigen's own, compiled for the instruction sets
  /// this translation unit targets.
  static std::string product_kernels() {
#if defined(METARM_DETAIL_BLAS_PRODUCTS) && defined(METARM_BLAS_OPENBLAS)
    return std::string(openblas_get_config()) + ", running its " + openblas_get_corename() + " kernels";
#elif defined(METARM_DETAIL_BLAS_PRODUCTS)
    return "an external BLAS (METARM_BLAS)";
#else
    return fmt::format("Eigen {}.{}.{} kernels for {}", EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION,
                       Eigen::SimdInstructionSetsInUse());
#endif
  }

  /// Which instruction set runs the elementwise loops (for_each, reduce) of layers, losses and optimisers:
  /// the AVX2 version chosen at run time (a build without AVX2 on a CPU with it), or the build's own target.
  static std::string elementwise_kernels() {
#if defined(METARM_DETAIL_VECTOR_CLONES_ON)
    if (__builtin_cpu_supports("avx2")) return "AVX2, chosen at run time";
    return "the build's target (this CPU has no AVX2)";
#elif defined(__AVX512F__)
    return "the build's target (AVX-512F)";
#elif defined(__AVX2__)
    return "the build's target (AVX2)";
#else
    return "the build's target";
#endif
  }

  /// Every column of C gets `bias` added.
  template <class T>
  static void add_to_columns(context&, VectorView<const T> bias, MatrixView<T> c) {
    check_same_size(bias.size, c.rows, "cpu::add_to_columns");
    map(c).colwise() += map(bias);
  }

  /// out += sum of the columns of M (a row-wise reduction).
  template <class T>
  static void accumulate_column_sum(context&, MatrixView<const T> m, VectorView<T> out) {
    check_same_size(m.rows, out.size, "cpu::accumulate_column_sum");
    map(out) += map(m).rowwise().sum();
  }

  /// C = A S for dense A (m x k) and sparse S (k x n): column j of C is the sum of A's columns named by S's
  /// column j, weighted by its values. Costs m x nnz(S); S is never densified.
  template <class T>
  static void sparse_product(context&, MatrixView<const T> a, SparseMatrixView<const T> s, MatrixView<T> c) {
    METARM_REQUIRE(a.cols == s.rows && a.rows == c.rows && s.cols == c.cols, "cpu::sparse_product",
                   "shapes do not agree: A is {} x {}, S is {} x {}, C is {} x {}", a.rows, a.cols, s.rows, s.cols,
                   c.rows, c.cols);
    if (a.rows == 1) {
      // A linear model's first layer: one dot product of a sparse column with the weight row per column.
      const T* w = a.data;
      const index_t stride = a.ld;
      for (index_t j = 0; j < s.cols; ++j) {
        T sum = T(0);
        for (index_t p = s.offsets[j]; p < s.offsets[j + 1]; ++p) {
          sum += w[s.indices[p] * stride] * s.values[p];
        }
        c.data[j * c.ld] = sum;
      }
      return;
    }
    const auto A = map(a);
    auto C = map(c);
    for (index_t j = 0; j < s.cols; ++j) {
      auto column = C.col(j);
      column.setZero();
      for (index_t p = s.offsets[j]; p < s.offsets[j + 1]; ++p) {
        column.noalias() += s.values[p] * A.col(s.indices[p]);
      }
    }
  }

  /// D += B S^T for dense B (m x n) and sparse S (k x n), D m x k: only the columns of D that S names are
  /// touched, each by B's column j times the stored value.
  template <class T>
  static void accumulate_sparse_outer(context&, MatrixView<const T> b, SparseMatrixView<const T> s, MatrixView<T> d) {
    METARM_REQUIRE(b.cols == s.cols && b.rows == d.rows && s.rows == d.cols, "cpu::accumulate_sparse_outer",
                   "shapes do not agree: B is {} x {}, S is {} x {}, D is {} x {}", b.rows, b.cols, s.rows, s.cols,
                   d.rows, d.cols);
    if (b.rows == 1) {
      for (index_t j = 0; j < s.cols; ++j) {
        const T g = b.data[j * b.ld];
        for (index_t p = s.offsets[j]; p < s.offsets[j + 1]; ++p) {
          d.data[s.indices[p] * d.ld] += g * s.values[p];
        }
      }
      return;
    }
    const auto B = map(b);
    auto D = map(d);
    for (index_t j = 0; j < s.cols; ++j) {
      const auto column = B.col(j);
      for (index_t p = s.offsets[j]; p < s.offsets[j + 1]; ++p) {
        D.col(s.indices[p]).noalias() += s.values[p] * column;
      }
    }
  }

  // ---- generic loops: the math of layers, losses and optimisers, written once as functors ------------------
  // Each functor is a plain struct whose call operator is METARM_HOST_DEVICE, so the same object runs here
  // and in the CUDA backend's kernels. Iterations must not depend on each other.

  /// f(i) for every i in [0, n). Long passes are split over the context's threads in fixed blocks; each
  /// element is computed the same way whatever the split, so results do not depend on the thread count.
  template <class F>
  static void for_each(context& ctx, index_t n, const F& f) {
    for_blocks(ctx, n, [&f](index_t begin, index_t count) { block_for_each(f, begin, begin + count); });
  }

  /// The sum of f(i) over i in [0, n), added in double. f may also write outputs of its own index, which lets
  /// a pass that updates a vector measure it at the same time. A NaN term makes the sum NaN, which is how
  /// callers learn of non-finite inputs. The terms are added in a fixed order that depends on n only: each
  /// block of for_each's split is summed on its own (in `reduction_lanes` interleaved partial sums, so that
  /// the additions vectorise and do not wait on each other), then the block sums in block order. So the
  /// result is the same for every thread count.
  template <class F>
  static double reduce(context& ctx, index_t n, const F& f) {
    if (n <= loop_block) {
      return block_sum(f, 0, n);
    }
    const index_t blocks = (n + loop_block - 1) / loop_block;
    double* const partial = ctx.reduction_partials(blocks);
    for_blocks(ctx, n, [&f, partial](index_t begin, index_t count) {
      partial[begin / loop_block] = block_sum(f, begin, begin + count);
    });
    double total = 0.0;
    for (index_t b = 0; b < blocks; ++b) {
      total += partial[b];
    }
    return total;
  }

  /// f(p, begin, end) for every segment p of `offsets` (m + 1 ascending positions, segment p being
  /// [offsets[p], offsets[p+1])): the prompts of a meta batch.
  template <class F>
  static void for_each_segment(context&, VectorView<const index_t> offsets, const F& f) {
    host::context serial;
    host::for_each_segment(serial, offsets, f);
  }

  /// The sum of f(p, begin, end) over the segments, in double, in segment order.
  template <class F>
  static double reduce_segments(context&, VectorView<const index_t> offsets, const F& f) {
    host::context serial;
    return host::reduce_segments(serial, offsets, f);
  }

  /// The reductions with their result left in backend memory, divided by `divisor`: `out` points to one
  /// double of it. Strategies record step statistics this way, so that backends whose memory the host cannot
  /// read need not wait for the value (see cuda::reduce_into); here it is simply written.
  template <class F>
  static void reduce_into(context& ctx, index_t n, const F& f, double* out, double divisor = 1.0) {
    *out = reduce(ctx, n, f) / divisor;
  }
  /// reduce_segments() divided by `divisor`, written to `out` in backend memory; see reduce_into.
  template <class F>
  static void reduce_segments_into(context& ctx, VectorView<const index_t> offsets, const F& f, double* out,
                                   double divisor = 1.0) {
    *out = reduce_segments(ctx, offsets, f) / divisor;
  }

 private:
  struct Share {
    index_t first;
    index_t count;
  };
  // Part `part` of `parts` near-equal shares of [0, size), each a multiple of `align` but the last.
  static Share share(index_t size, index_t part, index_t parts, index_t align) {
    const index_t per_part = ((size + parts - 1) / parts + align - 1) / align * align;
    const index_t first = std::min(size, part * per_part);
    return {first, std::min(per_part, size - first)};
  }

  // Calls body(begin, count) on consecutive blocks that cover [0, size). A block is small enough that
  // the several Eigen statements of one body find it in cache, which fuses them into one trip through
  // memory. Long passes spread their blocks over the context's threads; every element is computed the
  // same way whatever the split, so results do not depend on the thread count.
  // The block of for_each's split (elements) and the interleaved partial sums of a reduction over a block.
  static constexpr index_t loop_block = 4096;
  static constexpr int reduction_lanes = 16;

  template <class F>
  METARM_VECTOR_CLONES static void block_for_each(const F& f, index_t begin, index_t end) {
#if defined(_OPENMP) || defined(METARM_OPENMP_SIMD)
#pragma omp simd
#endif
    for (index_t i = begin; i < end; ++i) {
      f(i);
    }
  }

  template <class F>
  METARM_VECTOR_CLONES static double block_sum(const F& f, index_t begin, index_t end) {
    double lane[reduction_lanes] = {};
    index_t i = begin;
    for (; i + reduction_lanes <= end; i += reduction_lanes) {
#if defined(_OPENMP) || defined(METARM_OPENMP_SIMD)
#pragma omp simd
#endif
      for (int j = 0; j < reduction_lanes; ++j) {
        lane[j] += static_cast<double>(f(i + j));
      }
    }
    for (int j = 0; i < end; ++i, ++j) {
      lane[j] += static_cast<double>(f(i));
    }
    double total = 0.0;
    for (const double x : lane) {
      total += x;
    }
    return total;
  }

  template <class Body>
  static void for_blocks([[maybe_unused]] const context& ctx, index_t size, Body&& body) {
    constexpr index_t block = loop_block;
    const index_t blocks = (size + block - 1) / block;
#if defined(_OPENMP)
    constexpr index_t min_blocks_per_thread = 32;  // waking a thread costs about as much as 128k elements
    const index_t threads = std::min<index_t>(ctx.threads(), blocks / min_blocks_per_thread);
    if (threads > 1 && omp_in_parallel() == 0) {
#pragma omp parallel for num_threads(static_cast<int>(threads)) schedule(static)
      for (index_t b = 0; b < blocks; ++b) {
        const index_t begin = b * block;
        body(begin, std::min(block, size - begin));
      }
      return;
    }
#endif
    for (index_t b = 0; b < blocks; ++b) {
      const index_t begin = b * block;
      body(begin, std::min(block, size - begin));
    }
  }

  // product() on the calling thread alone, whatever the kernels behind it would choose. Both kinds of
  // kernel decide their own thread count per call from OpenMP state: an OpenMP build of OpenBLAS (0.3.21)
  // runs one thread inside an active parallel region (omp_in_parallel()) or below m n k = 2^18, and
  // otherwise as many as omp_get_max_threads(); Eigen's own GEMM (Parallelizer.h, Eigen 3.4) runs one
  // thread inside a team of more than one, and otherwise Eigen::nbThreads(), which is
  // omp_get_max_threads() unless a program called Eigen::setNbThreads. Inside gemm's split the region is
  // active and nothing needs doing. Elsewhere the calling thread's nthreads-var is set to 1 around the call:
  // OpenMP scopes that setting to the current task (a thread outside any parallel region has its own), so
  // no other thread sees it; a team of one thread would not do, since omp_in_parallel() is false in it.
  template <class T>
  static void serial_product(Trans trans_a, Trans trans_b, T alpha, MatrixView<const T> a, MatrixView<const T> b,
                             T beta, MatrixView<T> c) {
#if defined(_OPENMP)
    if (omp_in_parallel() == 0) {
      const int own_default = omp_get_max_threads();
      if (own_default > 1) {
        struct RestoreOwnDefault {
          int threads;
          ~RestoreOwnDefault() { omp_set_num_threads(threads); }
        } restore{own_default};
        omp_set_num_threads(1);
        product(trans_a, trans_b, alpha, a, b, beta, c);
        return;
      }
    }
#endif
    product(trans_a, trans_b, alpha, a, b, beta, c);
  }

  // C = alpha * op(A) * op(B) + beta * C on one thread, by the BLAS or by Eigen's kernels; gemm's thread split
  // hands it views rather than Eigen blocks.
  template <class T>
  static void product(Trans trans_a, Trans trans_b, T alpha, MatrixView<const T> a, MatrixView<const T> b, T beta,
                      MatrixView<T> c) {
#if defined(METARM_DETAIL_BLAS_PRODUCTS)
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      blas_product(trans_a, trans_b, alpha, a, b, beta, c);
    } else {
      eigen_product(trans_a, trans_b, alpha, a, b, beta, c);
    }
#else
    eigen_product(trans_a, trans_b, alpha, a, b, beta, c);
#endif
  }

  // Eigen's own kernels, in two product expressions per transpose pair (scaled and unscaled). Each distinct
  // expression instantiates Eigen's whole product machinery (its lazy, matrix-vector and blocked kernels), most
  // of the compile time of a program that trains without a BLAS; a build with one instantiates this only for
  // the scalars the BLAS lacks.
  template <class T>
  static void eigen_product(Trans trans_a, Trans trans_b, T alpha, MatrixView<const T> a, MatrixView<const T> b,
                            T beta, MatrixView<T> c) {
    auto C = map(c);
    if (beta == T(0)) {
      C.setZero();
    } else if (beta != T(1)) {
      C *= beta;
    }
    const auto A = map(a);
    const auto B = map(b);
    auto accumulate = [&](const auto& op_a, const auto& op_b) {
      // alpha scales the product, never an operand: Eigen would copy a scaled operand into a temporary.
      // An unscaled product keeps its own form, because Eigen's matrix-vector kernel copies a strided
      // row vector when the product is scaled.
      if (alpha == T(1)) {
        C.noalias() += op_a * op_b;
      } else {
        C.noalias() += alpha * (op_a * op_b);
      }
    };
    if (trans_a == Trans::no && trans_b == Trans::no) {
      accumulate(A, B);
    } else if (trans_a == Trans::no) {
      accumulate(A, B.transpose());
    } else if (trans_b == Trans::no) {
      accumulate(A.transpose(), B);
    } else {
      accumulate(A.transpose(), B.transpose());
    }
  }

#if defined(METARM_DETAIL_BLAS_PRODUCTS)
  // The BLAS's own gemm (or gemv, where C is one row or one column), called directly rather than through
  // Eigen's product expressions, which would end in the same call: a program then compiles none of Eigen's
  // product templates for float and double (benchmarks/README.md, "Compile time").
  template <class T>
  static void blas_product(Trans trans_a, Trans trans_b, T alpha, MatrixView<const T> a, MatrixView<const T> b,
                           T beta, MatrixView<T> c) {
    const index_t m = c.rows, n = c.cols, k = trans_a == Trans::yes ? a.rows : a.cols;
    if (m == 0 || n == 0) return;
    constexpr index_t largest = std::numeric_limits<int>::max();
    METARM_REQUIRE(m <= largest && n <= largest && k <= largest && a.ld <= largest && b.ld <= largest &&
                       c.ld <= largest,
                   "cpu::gemm", "a dimension exceeds the BLAS's 32-bit integers: C is {} x {}, k = {}", m, n, k);
    auto leading = [](const auto& v) { return static_cast<int>(std::max<index_t>({v.ld, v.rows, 1})); };
    const int lda = leading(a), ldb = leading(b), ldc = leading(c);
    const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k), one = 1;
    const char ta = trans_a == Trans::yes ? 'T' : 'N', tb = trans_b == Trans::yes ? 'T' : 'N';
    const int a_rows = static_cast<int>(a.rows), a_cols = static_cast<int>(a.cols);
    const int b_rows = static_cast<int>(b.rows), b_cols = static_cast<int>(b.cols);
    if (n == 1) {
      // c = alpha op(A) x + beta c, x being op(B)'s one column: B's column, or B's row read across ldb.
      const int incx = trans_b == Trans::yes ? ldb : 1;
      if constexpr (std::is_same_v<T, float>) {
        sgemv_(&ta, &a_rows, &a_cols, &alpha, a.data, &lda, b.data, &incx, &beta, c.data, &one);
      } else {
        dgemv_(&ta, &a_rows, &a_cols, &alpha, a.data, &lda, b.data, &incx, &beta, c.data, &one);
      }
    } else if (m == 1) {
      // c^T = alpha op(B)^T x + beta c^T, x being op(A)'s one row, and c's row read across ldc.
      const char tbt = trans_b == Trans::yes ? 'N' : 'T';
      const int incx = trans_a == Trans::yes ? 1 : lda;
      if constexpr (std::is_same_v<T, float>) {
        sgemv_(&tbt, &b_rows, &b_cols, &alpha, b.data, &ldb, a.data, &incx, &beta, c.data, &ldc);
      } else {
        dgemv_(&tbt, &b_rows, &b_cols, &alpha, b.data, &ldb, a.data, &incx, &beta, c.data, &ldc);
      }
    } else if constexpr (std::is_same_v<T, float>) {
      sgemm_(&ta, &tb, &mi, &ni, &ki, &alpha, a.data, &lda, b.data, &ldb, &beta, c.data, &ldc);
    } else {
      dgemm_(&ta, &tb, &mi, &ni, &ki, &alpha, a.data, &lda, b.data, &ldb, &beta, c.data, &ldc);
    }
  }
#endif

  template <class T>
  using matrix_type = Eigen::Matrix<std::remove_const_t<T>, Eigen::Dynamic, Eigen::Dynamic>;
  template <class T>
  using vector_type = Eigen::Matrix<std::remove_const_t<T>, Eigen::Dynamic, 1>;

  template <class T>
  static auto map(MatrixView<T> v) {
    using M = std::conditional_t<std::is_const_v<T>, const matrix_type<T>, matrix_type<T>>;
    return Eigen::Map<M, Eigen::Unaligned, Eigen::OuterStride<>>(v.data, v.rows, v.cols,
                                                                 Eigen::OuterStride<>(std::max(v.ld, v.rows)));
  }

  template <class T>
  static auto map(VectorView<T> v) {
    using V = std::conditional_t<std::is_const_v<T>, const vector_type<T>, vector_type<T>>;
    return Eigen::Map<V>(v.data, v.size);
  }

  static void check_same_size(index_t a, index_t b, const char* where) {
    METARM_REQUIRE(a == b, where, "sizes differ: {} vs {}", a, b);
  }
};

}  // namespace metarm
