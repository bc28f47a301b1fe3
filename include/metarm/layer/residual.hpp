// SPDX-License-Identifier: Apache-2.0
/// \file
/// Residual<L...>: y = x + f(x), f the chain of L... . The chain's output width must equal its input width.
/// Its blocks are named "<name>.<i>.<block>" after each inner layer's position.
#pragma once

#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/layer/chain.hpp"
#include "metarm/layer/layer.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

namespace detail {

// out = a + b over n contiguous values (b null: out = a).
template <class T>
struct SumOf {
  const T* a;
  const T* b;
  T* out;
  METARM_HOST_DEVICE void operator()(index_t i) const { out[i] = b != nullptr ? a[i] + b[i] : a[i]; }
};

}  // namespace detail

/// y = x + f(x), f being the chain of L..., whose output width must equal its input width.
template <class... L>
class Residual {
 public:
  /// The scalar type of the first inner layer that names one.
  using scalar_type = layers_scalar_t<L...>;
  /// The chain f.
  using inner_type = Chain<L...>;

  /// The chain's workspace, and f(x) with its tangent, kept for the backward passes.
  template <class Backend, class T>
  struct workspace {
    /// The chain's own workspace.
    layer_workspace_t<inner_type, Backend, T> inner;
    typename Backend::template buffer<T> inner_out;          ///< f(x), which f's own backward pass reads
    typename Backend::template buffer<T> inner_out_tangent;  ///< its tangent
  };

  /// Default-constructed inner layers, to be assigned a residual made from layers.
  Residual() = default;
  /// f is the chain of these layers.
  explicit Residual(L... layers) : inner_(std::move(layers)...) {}

  /// Builds the chain under `name`; throws when its output width differs from `input_width`.
  index_t build(Layout& layout, const std::string& name, index_t input_width) {
    const index_t width = inner_.build(layout, name, input_width);
    METARM_REQUIRE(width == input_width, "Residual " + name,
                   "the inner layers map width {} to {}; x + f(x) needs them equal", input_width, width);
    width_ = width;
    return width;
  }

  /// The input width, which is also the output width.
  index_t output_width() const { return width_; }
  /// "residual(...)" around the inner layers' descriptions.
  std::string describe() const { return "residual(" + inner_.describe_layers() + ")"; }
  /// The chain f.
  const inner_type& inner() const { return inner_; }

  /// Initialises the chain's blocks.
  template <class T>
  void initialize(std::span<T> params, Rng& rng) const {
    inner_.initialize(params, rng);
  }

  /// Grows f(x) (and its tangent) and the chain's workspace for `columns` columns.
  template <class Backend, class T>
  void reserve(workspace<Backend, T>& ws, index_t columns, bool tangents) const {
    const index_t size = width_ * columns;
    grow_to(ws.inner_out, size);
    if (tangents) grow_to(ws.inner_out_tangent, size);
    inner_.template reserve<Backend, T>(ws.inner, columns, tangents);
  }

  /// y = x + f(x); dense input only.
  template <class Backend, class T, class Input>
  void forward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<T> y,
               workspace<Backend, T>& ws) const {
    static_assert(std::is_same_v<Input, MatrixView<const T>>,
                  "metarm: Residual adds its input to its output, so it reads dense columns; put a Dense layer "
                  "first on sparse features");
    require_contiguous(x, y);
    const MatrixView<T> f = inner_out(ws, x.cols);
    inner_.template forward<Backend>(ctx, params, x, f, ws.inner);
    Backend::for_each(ctx, y.size(), detail::SumOf<T>{f.data, x.data, y.data});
  }

  /// The chain's backward pass, with dx += dy for the identity path.
  template <class Backend, class T>
  void backward(typename Backend::context& ctx, VectorView<const T> params, MatrixView<const T> x, MatrixView<const T>,
                MatrixView<const T> dy, VectorView<T> grad, MatrixView<T> dx, workspace<Backend, T>& ws,
                GradientWrite write) const {
    inner_.template backward<Backend>(ctx, params, x, as_const(inner_out(ws, x.cols)), dy, grad, dx, ws.inner, write);
    if (!dx.empty()) {
      Backend::axpy(ctx, T(1), dy.flat(), dx.flat());
    }
  }

  /// y_t = x_t + f_t, the chain's tangent plus the input's.
  template <class Backend, class T>
  void forward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                       MatrixView<const T> x, MatrixView<const T> x_t, MatrixView<const T>, MatrixView<T> y_t,
                       workspace<Backend, T>& ws) const {
    const MatrixView<T> f_t = inner_out_tangent(ws, x.cols);
    inner_.template forward_tangent<Backend>(ctx, params, v, x, x_t, as_const(inner_out(ws, x.cols)), f_t, ws.inner);
    Backend::for_each(ctx, y_t.size(), detail::SumOf<T>{f_t.data, x_t.empty() ? nullptr : x_t.data, y_t.data});
  }

  /// The chain's backward tangent pass, with dx += dy and dx_t += dy_t for the identity path.
  template <class Backend, class T>
  void backward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                        MatrixView<const T> x, MatrixView<const T> x_t, MatrixView<const T>, MatrixView<const T>,
                        MatrixView<const T> dy, MatrixView<const T> dy_t, VectorView<T> hv, MatrixView<T> dx,
                        MatrixView<T> dx_t, workspace<Backend, T>& ws, bool recompute) const {
    inner_.template backward_tangent<Backend>(ctx, params, v, x, x_t, as_const(inner_out(ws, x.cols)),
                                              as_const(inner_out_tangent(ws, x.cols)), dy, dy_t, hv, dx, dx_t,
                                              ws.inner, recompute);
    if (!dx.empty()) {
      Backend::axpy(ctx, T(1), dy.flat(), dx.flat());
    }
    if (!dx_t.empty()) {
      Backend::axpy(ctx, T(1), dy_t.flat(), dx_t.flat());
    }
  }

 private:
  template <class W>
  auto inner_out(W& ws, index_t n) const {
    return ws.inner_out.matrix(width_, n);
  }
  template <class W>
  auto inner_out_tangent(W& ws, index_t n) const {
    return ws.inner_out_tangent.matrix(width_, n);
  }
  template <class T>
  static void require_contiguous(MatrixView<const T> x, MatrixView<T> y) {
    METARM_REQUIRE(x.contiguous() && y.contiguous(), "Residual",
                   "the input and output must be contiguous columns (a leading dimension equal to the width)");
  }

  inner_type inner_;
  index_t width_ = 0;
};

/// A residual of the layers given, deduced from the constructor's arguments.
template <class... L>
Residual(L...) -> Residual<L...>;

}  // namespace metarm
