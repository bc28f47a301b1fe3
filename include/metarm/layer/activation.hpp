// SPDX-License-Identifier: Apache-2.0
/// \file
/// Elementwise activations. Each is a stateless policy with the value, the first derivative and the second
/// derivative (for exact Hessian-vector products), written once for host and device code, and a layer with
/// no parameters (through ElementwiseActivation): Sequential<Dense<float>, ReLU, ScalarHead<float>>.
/// Derivatives receive both the pre-activation z and the output a = f(z) and use whichever is cheaper.
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <string_view>

#include "metarm/backend/views.hpp"
#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/core/scalar_math.hpp"
#include "metarm/layer/layer.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

namespace detail {

// The four passes of an elementwise activation over n contiguous values; z_t and dz are null when absent.
template <class A, class T>
struct ActivationForward {
  const T* z;
  T* a;
  METARM_HOST_DEVICE void operator()(index_t i) const { a[i] = A::value(z[i]); }
};

template <class A, class T>
struct ActivationBackward {
  const T* z;
  const T* a;
  const T* da;
  T* dz;
  // The derivative is taken before da is read: in the other order GCC 12 turns ReLU's `da * (z > 0 ? 1 : 0)`
  // into a branch around `da * 0` and leaves the loop scalar (a mispredicted branch per element); in this
  // order it vectorises. The product is the same either way.
  METARM_HOST_DEVICE void operator()(index_t i) const {
    const T first = A::derivative(z[i], a[i]);
    dz[i] = da[i] * first;
  }
};

// a_t = f'(z) z_t
template <class A, class T>
struct ActivationForwardTangent {
  const T* z;
  const T* a;
  const T* z_t;
  T* a_t;
  METARM_HOST_DEVICE void operator()(index_t i) const { a_t[i] = A::derivative(z[i], a[i]) * z_t[i]; }
};

// dz = da f'(z);  dz_t = da_t f'(z) + da f''(z) z_t
template <class A, class T>
struct ActivationBackwardTangent {
  const T* z;
  const T* a;
  const T* z_t;  // null when z does not depend on the parameters
  const T* da;
  const T* da_t;
  T* dz;  // null when not asked for
  T* dz_t;
  METARM_HOST_DEVICE void operator()(index_t i) const {
    const T first = A::derivative(z[i], a[i]);
    const T upstream = da[i];
    T tangent = da_t[i] * first;
    if (z_t != nullptr) {
      tangent += upstream * A::second_derivative(z[i], a[i]) * z_t[i];
    }
    if (dz_t != nullptr) dz_t[i] = tangent;
    if (dz != nullptr) dz[i] = upstream * first;
  }
};

template <class T>
T* data_or_null(MatrixView<T> m) {
  return m.empty() ? nullptr : m.data;
}

}  // namespace detail

/// The layer members every activation shares; Derived supplies name, value, derivative and
/// second_derivative.
template <class Derived>
struct ElementwiseActivation {
  /// No workspace: every pass reads only x, y and the upstream gradients.
  template <class Backend, class T>
  using workspace = NoWorkspace;

  /// Registers no parameters; the output is as wide as the input.
  index_t build(Layout&, const std::string&, index_t input_width) {
    width_ = input_width;
    return input_width;
  }
  /// The width build() was given.
  index_t output_width() const { return width_; }
  /// The activation's name, such as "relu".
  std::string describe() const { return std::string(Derived::name); }
  /// Nothing to initialise: an activation has no parameters.
  template <class T>
  void initialize(std::span<T>, Rng&) const {}
  /// Nothing to reserve.
  template <class Backend, class T>
  void reserve(NoWorkspace&, index_t, bool) const {}

  /// y = f(x), elementwise.
  template <class Backend, class T>
  void forward(typename Backend::context& ctx, VectorView<const T>, MatrixView<const T> x, MatrixView<T> y,
               NoWorkspace&) const {
    each_column<Backend>(ctx, x, contiguous(x, y), [&](index_t j) {
      return detail::ActivationForward<Derived, T>{x.data + j * x.ld, y.data + j * y.ld};
    });
  }

  /// dx = dy f'(x), elementwise; nothing when dx is empty (there are no parameters, so grad is untouched).
  template <class Backend, class T>
  void backward(typename Backend::context& ctx, VectorView<const T>, MatrixView<const T> x, MatrixView<const T> y,
                MatrixView<const T> dy, VectorView<T>, MatrixView<T> dx, NoWorkspace&, GradientWrite) const {
    if (dx.empty()) return;
    each_column<Backend>(ctx, x, contiguous(x, y, dy, dx), [&](index_t j) {
      return detail::ActivationBackward<Derived, T>{x.data + j * x.ld, y.data + j * y.ld, dy.data + j * dy.ld,
                                                    dx.data + j * dx.ld};
    });
  }

  /// y_t = f'(x) x_t, elementwise; zero when x_t is empty (the input is data).
  template <class Backend, class T>
  void forward_tangent(typename Backend::context& ctx, VectorView<const T>, VectorView<const T>,
                       MatrixView<const T> x, MatrixView<const T> x_t, MatrixView<const T> y, MatrixView<T> y_t,
                       NoWorkspace&) const {
    if (x_t.empty()) {  // the input is data: nothing here depends on the parameters
      for (index_t j = 0; j < y_t.cols; ++j) {
        Backend::fill(ctx, VectorView<T>{y_t.data + j * y_t.ld, y_t.rows}, T(0));
      }
      return;
    }
    each_column<Backend>(ctx, x, contiguous(x, y, x_t, y_t), [&](index_t j) {
      return detail::ActivationForwardTangent<Derived, T>{x.data + j * x.ld, y.data + j * y.ld,
                                                          x_t.data + j * x_t.ld, y_t.data + j * y_t.ld};
    });
  }

  /// dx = dy f'(x) and dx_t = dy_t f'(x) + dy f''(x) x_t, elementwise, each unless empty.
  template <class Backend, class T>
  void backward_tangent(typename Backend::context& ctx, VectorView<const T>, VectorView<const T>,
                        MatrixView<const T> x, MatrixView<const T> x_t, MatrixView<const T> y, MatrixView<const T>,
                        MatrixView<const T> dy, MatrixView<const T> dy_t, VectorView<T>, MatrixView<T> dx,
                        MatrixView<T> dx_t, NoWorkspace&, bool) const {
    if (dx.empty() && dx_t.empty()) return;
    each_column<Backend>(ctx, x, contiguous(x, x_t, y, dy, dy_t, dx, dx_t), [&](index_t j) {
      auto column = [j](auto m) { return m.empty() ? nullptr : m.data + j * m.ld; };
      return detail::ActivationBackwardTangent<Derived, T>{x.data + j * x.ld, y.data + j * y.ld,   column(x_t),
                                                           dy.data + j * dy.ld, dy_t.data + j * dy_t.ld, column(dx),
                                                           column(dx_t)};
    });
  }

 private:
  // Runs the functor made by make(j) over column j's rows, for every column, or, when every matrix of the
  // pass is contiguous (always, inside a network), the one made for column 0 over all rows x cols values.
  template <class Backend, class T, class Make>
  static void each_column(typename Backend::context& ctx, MatrixView<const T> x, bool contiguous, Make&& make) {
    if (contiguous) {
      Backend::for_each(ctx, x.rows * x.cols, make(0));
      return;
    }
    for (index_t j = 0; j < x.cols; ++j) {
      Backend::for_each(ctx, x.rows, make(j));
    }
  }

  template <class... M>
  static bool contiguous(const M&... matrices) {
    return ((matrices.empty() || matrices.contiguous()) && ...);
  }

  index_t width_ = 0;
};

/// f(z) = z: a layer that passes its input through.
struct Identity : ElementwiseActivation<Identity> {
  /// The name describe() returns.
  static constexpr std::string_view name = "identity";
  /// True: Mlp leaves this activation out of its hidden stages.
  static constexpr bool is_identity = true;
  /// z, unchanged.
  template <class T>
  METARM_HOST_DEVICE static T value(T z) {
    return z;
  }
  /// 1 everywhere.
  template <class T>
  METARM_HOST_DEVICE static T derivative(T, T) {
    return T(1);
  }
  /// 0.
  template <class T>
  METARM_HOST_DEVICE static T second_derivative(T, T) {
    return T(0);
  }
};

/// f(z) = max(z, 0).
struct ReLU : ElementwiseActivation<ReLU> {
  /// The name describe() returns.
  static constexpr std::string_view name = "relu";
  /// False: Mlp puts this activation after each hidden Dense.
  static constexpr bool is_identity = false;
  /// max(z, 0).
  template <class T>
  METARM_HOST_DEVICE static T value(T z) {
    return z > T(0) ? z : T(0);
  }
  /// 1 where z > 0, else 0.
  ///
  /// The derivative at the kink is taken as 0, as in PyTorch.
  template <class T>
  METARM_HOST_DEVICE static T derivative(T z, T) {
    return z > T(0) ? T(1) : T(0);
  }
  /// 0: the function is piecewise linear.
  template <class T>
  METARM_HOST_DEVICE static T second_derivative(T, T) {
    return T(0);
  }
};

/// f(z) = tanh(z).
struct Tanh : ElementwiseActivation<Tanh> {
  /// The name describe() returns.
  static constexpr std::string_view name = "tanh";
  /// False: Mlp puts this activation after each hidden Dense.
  static constexpr bool is_identity = false;
  /// tanh(z).
  template <class T>
  METARM_HOST_DEVICE static T value(T z) {
    using std::tanh;
    return tanh(z);
  }
  /// 1 - a^2, from the output a = tanh(z).
  template <class T>
  METARM_HOST_DEVICE static T derivative(T, T a) {
    return T(1) - a * a;
  }
  /// -2 a (1 - a^2), from the output a = tanh(z).
  template <class T>
  METARM_HOST_DEVICE static T second_derivative(T, T a) {
    return T(-2) * a * (T(1) - a * a);
  }
};

/// The exact GELU, z * Phi(z), as PyTorch's default (not the tanh approximation).
struct GELU : ElementwiseActivation<GELU> {
  /// The name describe() returns.
  static constexpr std::string_view name = "gelu";
  /// False: Mlp puts this activation after each hidden Dense.
  static constexpr bool is_identity = false;
  /// z Phi(z), Phi being the standard normal distribution function.
  template <class T>
  METARM_HOST_DEVICE static T value(T z) {
    using std::erf;
    return T(0.5) * z * (T(1) + erf(z * T(0.70710678118654752440)));
  }
  /// Phi(z) + z * phi(z)
  template <class T>
  METARM_HOST_DEVICE static T derivative(T z, T) {
    using std::erf;
    using std::exp;
    const T cdf = T(0.5) * (T(1) + erf(z * T(0.70710678118654752440)));
    const T pdf = T(0.39894228040143267794) * exp(T(-0.5) * z * z);
    return cdf + z * pdf;
  }
  /// phi(z) * (2 - z^2)
  template <class T>
  METARM_HOST_DEVICE static T second_derivative(T z, T) {
    using std::exp;
    const T pdf = T(0.39894228040143267794) * exp(T(-0.5) * z * z);
    return pdf * (T(2) - z * z);
  }
};

/// SiLU (swish), z * sigma(z).
struct SiLU : ElementwiseActivation<SiLU> {
  /// The name describe() returns.
  static constexpr std::string_view name = "silu";
  /// False: Mlp puts this activation after each hidden Dense.
  static constexpr bool is_identity = false;
  /// z sigma(z).
  template <class T>
  METARM_HOST_DEVICE static T value(T z) {
    return z * sigmoid(z);
  }
  /// s (1 + z (1 - s)), s = sigma(z)
  template <class T>
  METARM_HOST_DEVICE static T derivative(T z, T) {
    const T s = sigmoid(z);
    return s * (T(1) + z * (T(1) - s));
  }
  /// s (1 - s) (2 + z (1 - 2 s))
  template <class T>
  METARM_HOST_DEVICE static T second_derivative(T z, T) {
    const T s = sigmoid(z);
    return s * (T(1) - s) * (T(2) + z * (T(1) - T(2) * s));
  }
};

/// f(z) = sigma(z) = 1 / (1 + e^-z).
struct Sigmoid : ElementwiseActivation<Sigmoid> {
  /// The name describe() returns.
  static constexpr std::string_view name = "sigmoid";
  /// False: Mlp puts this activation after each hidden Dense.
  static constexpr bool is_identity = false;
  /// sigma(z), computed without overflow (metarm::sigmoid).
  template <class T>
  METARM_HOST_DEVICE static T value(T z) {
    return sigmoid(z);
  }
  /// a (1 - a), from the output a = sigma(z).
  template <class T>
  METARM_HOST_DEVICE static T derivative(T, T a) {
    return a * (T(1) - a);
  }
  /// a (1 - a) (1 - 2a), from the output a = sigma(z).
  template <class T>
  METARM_HOST_DEVICE static T second_derivative(T, T a) {
    return a * (T(1) - a) * (T(1) - T(2) * a);
  }
};

}  // namespace metarm
