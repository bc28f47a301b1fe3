// The CPU backend: host memory and Eigen kernels. Every model, loss, optimiser and strategy reaches the
// hardware only through the static members of a backend policy like this one, so a second backend (CUDA)
// supplies the same members and nothing above this layer changes.
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

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "metarm/backend/sparse_view.hpp"
#include "metarm/backend/transpose.hpp"
#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/scalar_math.hpp"

namespace metarm {

struct cpu {
  static constexpr std::string_view name = "cpu";
  // Views handed out by this backend can be read and written by host code directly.
  static constexpr bool host_accessible = true;

  // Per-run execution settings. Eigen's thread count is process-wide, so setting it here sets it for every
  // context in the process.
  class context {
   public:
    context() = default;
    explicit context(int threads) { set_threads(threads); }

    // 0 keeps Eigen's default (all cores when built with OpenMP, else 1). With OpenMP the calling thread's
    // OpenMP default follows too, so that a BLAS that Eigen hands its products to (EIGEN_USE_BLAS with an
    // OpenMP build of OpenBLAS) uses the same count.
    void set_threads(int threads) {
      METARM_REQUIRE(threads >= 0, "cpu::context", "argument 'threads' must be >= 0, got " + std::to_string(threads));
      threads_ = threads;
      if (threads > 0) {
        Eigen::setNbThreads(threads);
#if defined(_OPENMP)
        omp_set_num_threads(threads);
#endif
      }
    }
    int threads() const { return threads_ > 0 ? threads_ : Eigen::nbThreads(); }

    // Host work is complete when an op returns.
    void synchronize() const {}

   private:
    int threads_ = 0;
  };

  // Owning, 64-byte aligned, zero-initialised host storage. Growing keeps the existing prefix; shrinking
  // only changes size(), so a buffer sized once for the largest batch never allocates again.
  template <class T>
  class buffer {
   public:
    buffer() = default;
    explicit buffer(index_t size) { resize(size); }
    buffer(const buffer&) = delete;
    buffer& operator=(const buffer&) = delete;
    buffer(buffer&& other) noexcept { swap(other); }
    buffer& operator=(buffer&& other) noexcept {
      buffer(std::move(other)).swap(*this);
      return *this;
    }
    ~buffer() { release(); }

    void swap(buffer& other) noexcept {
      std::swap(data_, other.data_);
      std::swap(size_, other.size_);
      std::swap(capacity_, other.capacity_);
    }

    void resize(index_t size) {
      METARM_REQUIRE(size >= 0, "cpu::buffer", "argument 'size' must be >= 0, got " + std::to_string(size));
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

    T* data() { return data_; }
    const T* data() const { return data_; }
    index_t size() const { return size_; }
    index_t capacity() const { return capacity_; }

    VectorView<T> view() { return {data_, size_}; }
    VectorView<const T> view() const { return {data_, size_}; }
    MatrixView<T> matrix(index_t rows, index_t cols) {
      METARM_REQUIRE(rows * cols <= size_, "cpu::buffer", "a " + std::to_string(rows) + " x " + std::to_string(cols) +
                                                              " view does not fit in " + std::to_string(size_) + " elements");
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

  template <class T>
  static void copy_to_host(context&, VectorView<const T> source, T* destination) {
    if (source.size > 0) {
      std::memcpy(destination, source.data, static_cast<std::size_t>(source.size) * sizeof(T));
    }
  }

  template <class T>
  static void copy_from_host(context&, const T* source, VectorView<T> destination) {
    if (destination.size > 0) {
      std::memcpy(destination.data, source, static_cast<std::size_t>(destination.size) * sizeof(T));
    }
  }

  // ---- vector algebra -----------------------------------------------------------------------------------

  template <class T>
  static void fill(context& ctx, VectorView<T> x, T value) {
    for_blocks(ctx, x.size, [&](index_t begin, index_t count) { map(x.segment(begin, count)).setConstant(value); });
  }

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

  // y += alpha * x
  template <class T>
  static void axpy(context& ctx, T alpha, VectorView<const T> x, VectorView<T> y) {
    check_same_size(x.size, y.size, "cpu::axpy");
    for_blocks(ctx, x.size, [&](index_t begin, index_t count) {
      map(y.segment(begin, count)) += alpha * map(x.segment(begin, count));
    });
  }

  // z = y + alpha * x in one pass (z may alias y or x): an adapted point from the original and a gradient.
  template <class T>
  static void add_scaled(context& ctx, VectorView<const T> y, T alpha, VectorView<const T> x, VectorView<T> z) {
    check_same_size(x.size, y.size, "cpu::add_scaled");
    check_same_size(x.size, z.size, "cpu::add_scaled");
    for_blocks(ctx, x.size, [&](index_t begin, index_t count) {
      map(z.segment(begin, count)) = map(y.segment(begin, count)) + alpha * map(x.segment(begin, count));
    });
  }

  template <class T>
  static void scale(context& ctx, T alpha, VectorView<T> x) {
    for_blocks(ctx, x.size, [&](index_t begin, index_t count) { map(x.segment(begin, count)) *= alpha; });
  }

  template <class T>
  static T dot(context&, VectorView<const T> x, VectorView<const T> y) {
    check_same_size(x.size, y.size, "cpu::dot");
    return map(x).dot(map(y));
  }

  template <class T>
  static T squared_norm(context&, VectorView<const T> x) {
    return map(x).squaredNorm();
  }

  // Whether x and y have the same size and the same bits, so that a pass computed from one holds for the
  // other (a -0 and a +0 differ; a NaN equals a NaN of the same bits).
  template <class T>
  static bool identical(context&, VectorView<const T> x, VectorView<const T> y) {
    return x.size == y.size &&
           (x.size == 0 || std::memcmp(x.data, y.data, static_cast<std::size_t>(x.size) * sizeof(T)) == 0);
  }

  // ---- matrix algebra -----------------------------------------------------------------------------------

  // C = alpha * op(A) * op(B) + beta * C; C is not read when beta == 0.
  template <class T>
  static void gemm(context&, Trans trans_a, Trans trans_b, T alpha, MatrixView<const T> a, MatrixView<const T> b, T beta,
                   MatrixView<T> c) {
    const index_t m = trans_a == Trans::yes ? a.cols : a.rows;
    const index_t k = trans_a == Trans::yes ? a.rows : a.cols;
    const index_t kb = trans_b == Trans::yes ? b.cols : b.rows;
    const index_t n = trans_b == Trans::yes ? b.rows : b.cols;
    METARM_REQUIRE(k == kb && m == c.rows && n == c.cols, "cpu::gemm",
                   "shapes do not agree: op(A) is " + std::to_string(m) + " x " + std::to_string(k) + ", op(B) is " +
                       std::to_string(kb) + " x " + std::to_string(n) + ", C is " + std::to_string(c.rows) + " x " +
                       std::to_string(c.cols));
    auto C = map(c);
    if (k == 0) {
      if (beta == T(0)) {
        C.setZero();
      } else {
        C *= beta;
      }
      return;
    }
    const auto A = map(a);
    const auto B = map(b);
    // alpha scales the product, never an operand: Eigen would copy a scaled operand into a temporary.
    auto product = [&](const auto& op_a, const auto& op_b, auto&& out) {
      if (beta == T(0)) {
        if (alpha == T(1)) {
          out.noalias() = op_a * op_b;
        } else {
          out.noalias() = alpha * (op_a * op_b);
        }
      } else {
        if (beta != T(1)) {
          out *= beta;
        }
        if (alpha == T(1)) {
          out.noalias() += op_a * op_b;
        } else {
          out.noalias() += alpha * (op_a * op_b);
        }
      }
    };
    auto with_operands = [&](const auto& run) {
      if (trans_a == Trans::no && trans_b == Trans::no) {
        run(A, B);
      } else if (trans_a == Trans::no) {
        run(A, B.transpose());
      } else if (trans_b == Trans::no) {
        run(A.transpose(), B);
      } else {
        run(A.transpose(), B.transpose());
      }
    };
#if defined(_OPENMP)
    // The products of a training step are thin (one side is a batch of 64 to 128 columns), and Eigen's own
    // split of them over threads gains little or loses. So the product is split here instead: each thread
    // takes a share of the rows of C (when op(A) is the larger operand) or of its columns, and runs one
    // Eigen product on it, which Eigen keeps on that thread. Below about 2^21 multiply-adds any split costs
    // more than it saves (a 64 x 64 x 64 product runs at under half its one-thread speed on two), so small
    // products run on one thread. Eigen's thread count is process-wide; it is restored before returning.
    const int threads = Eigen::nbThreads();
    if (threads > 1 && omp_in_parallel() == 0) {
      const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
      if (work >= static_cast<double>(index_t{1} << 21)) {
        const bool split_rows = m >= n;
        with_operands([&](const auto& op_a, const auto& op_b) {
#pragma omp parallel num_threads(threads)
          {
            const index_t part = omp_get_thread_num();
            const index_t parts = omp_get_num_threads();
            if (split_rows) {
              const auto [first, count] = share(m, part, parts, 16);
              if (count > 0) {
                product(op_a.middleRows(first, count), op_b, C.middleRows(first, count));
              }
            } else {
              const auto [first, count] = share(n, part, parts, 4);
              if (count > 0) {
                product(op_a, op_b.middleCols(first, count), C.middleCols(first, count));
              }
            }
          }
        });
        return;
      }
      Eigen::setNbThreads(1);
      const int openmp_threads = omp_get_max_threads();
      omp_set_num_threads(1);  // for a BLAS behind Eigen
      struct RestoreThreads {
        int threads;
        int openmp_threads;
        ~RestoreThreads() {
          Eigen::setNbThreads(threads);
          omp_set_num_threads(openmp_threads);
        }
      } restore{threads, openmp_threads};
      with_operands([&](const auto& op_a, const auto& op_b) { product(op_a, op_b, C); });
      return;
    }
#endif
    with_operands([&](const auto& op_a, const auto& op_b) { product(op_a, op_b, C); });
  }

  // Every column of C gets `bias` added.
  template <class T>
  static void add_to_columns(context&, VectorView<const T> bias, MatrixView<T> c) {
    check_same_size(bias.size, c.rows, "cpu::add_to_columns");
    map(c).colwise() += map(bias);
  }

  // out += sum of the columns of M (a row-wise reduction).
  template <class T>
  static void accumulate_column_sum(context&, MatrixView<const T> m, VectorView<T> out) {
    check_same_size(m.rows, out.size, "cpu::accumulate_column_sum");
    map(out) += map(m).rowwise().sum();
  }

  // C = A S for dense A (m x k) and sparse S (k x n): column j of C is the sum of A's columns named by S's
  // column j, weighted by its values. Costs m x nnz(S); S is never densified.
  template <class T>
  static void sparse_product(context&, MatrixView<const T> a, SparseMatrixView<const T> s, MatrixView<T> c) {
    METARM_REQUIRE(a.cols == s.rows && a.rows == c.rows && s.cols == c.cols, "cpu::sparse_product",
                   "shapes do not agree: A is " + std::to_string(a.rows) + " x " + std::to_string(a.cols) +
                       ", S is " + std::to_string(s.rows) + " x " + std::to_string(s.cols) + ", C is " +
                       std::to_string(c.rows) + " x " + std::to_string(c.cols));
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

  // D += B S^T for dense B (m x n) and sparse S (k x n), D m x k: only the columns of D that S names are
  // touched, each by B's column j times the stored value.
  template <class T>
  static void accumulate_sparse_outer(context&, MatrixView<const T> b, SparseMatrixView<const T> s, MatrixView<T> d) {
    METARM_REQUIRE(b.cols == s.cols && b.rows == d.rows && s.rows == d.cols, "cpu::accumulate_sparse_outer",
                   "shapes do not agree: B is " + std::to_string(b.rows) + " x " + std::to_string(b.cols) +
                       ", S is " + std::to_string(s.rows) + " x " + std::to_string(s.cols) + ", D is " +
                       std::to_string(d.rows) + " x " + std::to_string(d.cols));
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

  // ---- elementwise maps ---------------------------------------------------------------------------------

  // a = f(z); a may alias z.
  template <class Activation, class T>
  static void activation_forward(context&, MatrixView<const T> z, MatrixView<T> a) {
    for (index_t j = 0; j < z.cols; ++j) {
      const T* zc = z.data + j * z.ld;
      T* ac = a.data + j * a.ld;
      for (index_t i = 0; i < z.rows; ++i) {
        ac[i] = Activation::value(zc[i]);
      }
    }
  }

  // dz = da * f'(z), with a = f(z) available for activations whose derivative is cheaper from the output;
  // dz may alias da.
  template <class Activation, class T>
  static void activation_backward(context&, MatrixView<const T> z, MatrixView<const T> a, MatrixView<const T> da,
                                  MatrixView<T> dz) {
    for (index_t j = 0; j < z.cols; ++j) {
      const T* zc = z.data + j * z.ld;
      const T* ac = a.data + j * a.ld;
      const T* dac = da.data + j * da.ld;
      T* dzc = dz.data + j * dz.ld;
      for (index_t i = 0; i < z.rows; ++i) {
        dzc[i] = dac[i] * Activation::derivative(zc[i], ac[i]);
      }
    }
  }

  // The reverse pass of a tangent (forward-over-reverse, for exact Hessian-vector products). Given the
  // gradient da with respect to a = f(z), its directional derivative da_tangent, and the directional
  // derivative z_tangent of z:
  //   dz         = da * f'(z)
  //   dz_tangent = da_tangent * f'(z) + da * f''(z) * z_tangent
  // dz may alias da, and dz_tangent may alias da_tangent. (The forward tangent, a_tangent = f'(z) z_tangent,
  // is activation_backward applied to z_tangent.)
  template <class Activation, class T>
  static void activation_backward_tangent(context&, MatrixView<const T> z, MatrixView<const T> a,
                                          MatrixView<const T> z_tangent, MatrixView<const T> da,
                                          MatrixView<const T> da_tangent, MatrixView<T> dz, MatrixView<T> dz_tangent) {
    for (index_t j = 0; j < z.cols; ++j) {
      const T* zc = z.data + j * z.ld;
      const T* ac = a.data + j * a.ld;
      const T* ztc = z_tangent.data + j * z_tangent.ld;
      const T* dac = da.data + j * da.ld;
      const T* datc = da_tangent.data + j * da_tangent.ld;
      T* dzc = dz.data + j * dz.ld;
      T* dztc = dz_tangent.data + j * dz_tangent.ld;
      for (index_t i = 0; i < z.rows; ++i) {
        const T first = Activation::derivative(zc[i], ac[i]);
        const T second = Activation::second_derivative(zc[i], ac[i]);
        const T upstream = dac[i];
        dztc[i] = datc[i] * first + upstream * second * ztc[i];
        dzc[i] = upstream * first;
      }
    }
  }

  // ---- objective kernels (see docs/math.md) --------------------------------------------------------------

  // Bradley-Terry loss over n pairs whose rewards are laid out [chosen (n) | rejected (n)].
  // margins is empty or holds n values. d_rewards is empty (value only) or 2n values, overwritten.
  // Returns NaN when a reward is not finite, so the caller can report it.
  template <class T>
  static T bradley_terry(context&, VectorView<const T> rewards, VectorView<const T> margins, T centering,
                         VectorView<T> d_rewards) {
    const index_t n = rewards.size / 2;
    const T* chosen = rewards.data;
    const T* rejected = rewards.data + n;
    const T inv_n = T(1) / static_cast<T>(n);
    double total = 0.0;
    bool finite = true;
    for (index_t i = 0; i < n; ++i) {
      const T rw = chosen[i];
      const T rl = rejected[i];
      finite = finite && std::isfinite(rw) && std::isfinite(rl);
      const T margin = margins.size > 0 ? margins.data[i] : T(0);
      const T delta = rw - rl - margin;
      const T sum = rw + rl;
      total += static_cast<double>(softplus(-delta)) + static_cast<double>(centering) * static_cast<double>(sum * sum);
      if (d_rewards.size > 0) {
        // d softplus(-delta) / d delta = -sigmoid(-delta)
        const T pull = sigmoid(-delta) * inv_n;
        const T centre = T(2) * centering * sum * inv_n;
        d_rewards.data[i] = -pull + centre;
        d_rewards.data[n + i] = pull + centre;
      }
    }
    if (!finite) {
      return std::numeric_limits<T>::quiet_NaN();
    }
    return static_cast<T>(total / static_cast<double>(n));
  }

  // The difference objective J over prompts p = 0..m-1 whose responses occupy
  // rewards[offsets[p] .. offsets[p+1]). d_rewards is empty or rewards.size values, overwritten.
  // Returns NaN when a reward is not finite.
  template <class T>
  static T difference_objective(context&, VectorView<const T> rewards, VectorView<const index_t> offsets,
                                VectorView<T> d_rewards) {
    const index_t m = offsets.size - 1;
    const T inv_m = T(1) / static_cast<T>(m);
    const bool want_gradient = d_rewards.size > 0;
    if (want_gradient) {
      std::fill(d_rewards.data, d_rewards.data + d_rewards.size, T(0));
    }
    double total = 0.0;
    bool finite = true;
    for (index_t p = 0; p < m; ++p) {
      const index_t begin = offsets.data[p];
      const index_t k = offsets.data[p + 1] - begin;
      const T* r = rewards.data + begin;
      const T weight = T(2) / static_cast<T>(k * k);
      double prompt_sum = 0.0;
      for (index_t i = 0; i < k; ++i) {
        finite = finite && std::isfinite(r[i]);
        for (index_t j = i + 1; j < k; ++j) {
          const T d = r[i] - r[j];
          const T s = sigmoid(std::fabs(d));
          prompt_sum += static_cast<double>(s);
          if (want_gradient) {
            // d sigma(|d|) / d d = sigma(|d|) (1 - sigma(|d|)) sign(d); sign(0) = 0.
            const T g = weight * inv_m * s * (T(1) - s) * sign_of(d);
            d_rewards.data[begin + i] += g;
            d_rewards.data[begin + j] -= g;
          }
        }
      }
      total += static_cast<double>(weight) * prompt_sum;
    }
    if (!finite) {
      return std::numeric_limits<T>::quiet_NaN();
    }
    return static_cast<T>(total / static_cast<double>(m));
  }

  // Hessian-vector product of the Bradley-Terry loss in reward space: out = (d^2 L / d rewards^2) tangent,
  // for the rewards, margins and centering of bradley_terry above; out is overwritten. Per pair, with
  // q = sigma(delta) sigma(-delta), t_d = t_w - t_l and t_s = t_w + t_l:
  //   out_w = (q t_d + 2 c t_s) / n,   out_l = (-q t_d + 2 c t_s) / n.
  template <class T>
  static void bradley_terry_hessian_product(context&, VectorView<const T> rewards, VectorView<const T> margins,
                                            T centering, VectorView<const T> tangent, VectorView<T> out) {
    check_same_size(rewards.size, tangent.size, "cpu::bradley_terry_hessian_product");
    check_same_size(rewards.size, out.size, "cpu::bradley_terry_hessian_product");
    const index_t n = rewards.size / 2;
    const T inv_n = T(1) / static_cast<T>(n);
    for (index_t i = 0; i < n; ++i) {
      const T margin = margins.size > 0 ? margins.data[i] : T(0);
      const T delta = rewards.data[i] - rewards.data[n + i] - margin;
      const T curvature = sigmoid(delta) * sigmoid(-delta);
      const T t_difference = tangent.data[i] - tangent.data[n + i];
      const T t_sum = tangent.data[i] + tangent.data[n + i];
      const T pull = curvature * t_difference * inv_n;
      const T centre = T(2) * centering * t_sum * inv_n;
      out.data[i] = pull + centre;
      out.data[n + i] = -pull + centre;
    }
  }

  // Hessian-vector product of the difference objective J in reward space: out = (d^2 J / d rewards^2)
  // tangent, for the rewards and offsets of difference_objective above; out is overwritten. Each pair
  // i < j of a prompt adds c (t_i - t_j) to out_i and subtracts it from out_j, where, with s = sigma(|d|),
  // c = (2 / k^2) (1 / m) s (1 - s) (1 - 2 s) is the second derivative of sigma(|d|) for d != 0. At d = 0,
  // where |d| has its kink, c = 0, consistent with the zero subgradient there.
  template <class T>
  static void difference_objective_hessian_product(context&, VectorView<const T> rewards,
                                                   VectorView<const index_t> offsets, VectorView<const T> tangent,
                                                   VectorView<T> out) {
    check_same_size(rewards.size, tangent.size, "cpu::difference_objective_hessian_product");
    check_same_size(rewards.size, out.size, "cpu::difference_objective_hessian_product");
    std::fill(out.data, out.data + out.size, T(0));
    const index_t m = offsets.size - 1;
    const T inv_m = T(1) / static_cast<T>(m);
    for (index_t p = 0; p < m; ++p) {
      const index_t begin = offsets.data[p];
      const index_t k = offsets.data[p + 1] - begin;
      const T* r = rewards.data + begin;
      const T* t = tangent.data + begin;
      T* o = out.data + begin;
      const T weight = T(2) / static_cast<T>(k * k) * inv_m;
      for (index_t i = 0; i < k; ++i) {
        for (index_t j = i + 1; j < k; ++j) {
          const T d = r[i] - r[j];
          if (d == T(0)) {
            continue;
          }
          const T s = sigmoid(std::fabs(d));
          const T c = weight * s * (T(1) - s) * (T(1) - T(2) * s) * (t[i] - t[j]);
          o[i] += c;
          o[j] -= c;
        }
      }
    }
  }

  // ---- fused optimiser updates (one pass over params, gradient and state) ---------------------------------

  // p -= lr * (g + weight_decay * p)
  template <class T>
  static void sgd_update(context& ctx, VectorView<T> p, VectorView<const T> g, T lr, T weight_decay) {
    check_same_size(p.size, g.size, "cpu::sgd_update");
    for_blocks(ctx, p.size, [&](index_t begin, index_t count) {
      auto param = map(p.segment(begin, count));
      const auto grad = map(g.segment(begin, count));
      if (weight_decay == T(0)) {
        param -= lr * grad;
      } else {
        param -= lr * (grad + weight_decay * param);
      }
    });
  }

  // b = momentum * b + (g + weight_decay * p); p -= lr * (nesterov ? g' + momentum * b : b)
  template <class T>
  static void momentum_update(context& ctx, VectorView<T> p, VectorView<const T> g, VectorView<T> velocity, T lr,
                              T momentum, T weight_decay, bool nesterov) {
    check_same_size(p.size, g.size, "cpu::momentum_update");
    check_same_size(p.size, velocity.size, "cpu::momentum_update");
    for_blocks(ctx, p.size, [&](index_t begin, index_t count) {
      T* param = p.data + begin;
      const T* grad_in = g.data + begin;
      T* vel = velocity.data + begin;
      for (index_t i = 0; i < count; ++i) {
        const T grad = grad_in[i] + weight_decay * param[i];
        const T b = momentum * vel[i] + grad;
        vel[i] = b;
        param[i] -= lr * (nesterov ? grad + momentum * b : b);
      }
    });
  }

  // Adam (decoupled = false: L2 weight decay added to the gradient) or AdamW (decoupled = true: params
  // shrink by lr * weight_decay before the Adam step). bias_correction1/2 are 1 - beta^t for this step;
  // one_minus_beta1/2 come from the caller, worked out before rounding to T as PyTorch does (1 - 0.999f in
  // float is 1.3e-5 off in relative terms).
  // Each block of the four vectors is read once and stays in cache across the three array statements, so
  // the pass costs one trip through memory; Eigen's packet sqrt and division keep it vectorised.
  template <class T>
  static void adam_update(context& ctx, VectorView<T> p, VectorView<const T> g, VectorView<T> exp_avg,
                          VectorView<T> exp_avg_sq, T lr, T beta1, T beta2, T one_minus_beta1, T one_minus_beta2,
                          T epsilon, T weight_decay, bool decoupled, T bias_correction1, T bias_correction2) {
    check_same_size(p.size, g.size, "cpu::adam_update");
    check_same_size(p.size, exp_avg.size, "cpu::adam_update");
    check_same_size(p.size, exp_avg_sq.size, "cpu::adam_update");
    const T step_size = lr / bias_correction1;
    const T bias_correction2_sqrt = std::sqrt(bias_correction2);
    const T shrink = decoupled ? T(1) - lr * weight_decay : T(1);
    const T l2 = decoupled ? T(0) : weight_decay;
    for_blocks(ctx, p.size, [&](index_t begin, index_t count) {
      auto p_block = map(p.segment(begin, count));
      auto m_block = map(exp_avg.segment(begin, count));
      auto v_block = map(exp_avg_sq.segment(begin, count));
      const auto g_block = map(g.segment(begin, count));
      auto param = p_block.array();
      auto m = m_block.array();
      auto v = v_block.array();
      const auto raw = g_block.array();
      auto moments = [&](const auto& grad) {
        m = beta1 * m + one_minus_beta1 * grad;
        v = beta2 * v + one_minus_beta2 * grad.square();
      };
      if (l2 == T(0)) {
        moments(raw);
      } else {
        moments(raw + l2 * param);
      }
      if (shrink != T(1)) {
        param *= shrink;
      }
      param -= step_size * m / (v.sqrt() / bias_correction2_sqrt + epsilon);
    });
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
  template <class Body>
  static void for_blocks([[maybe_unused]] const context& ctx, index_t size, Body&& body) {
    constexpr index_t block = 4096;
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
    METARM_REQUIRE(a == b, where, "sizes differ: " + std::to_string(a) + " vs " + std::to_string(b));
  }
};

}  // namespace metarm
