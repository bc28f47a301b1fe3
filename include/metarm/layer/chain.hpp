// SPDX-License-Identifier: Apache-2.0
/// \file
/// Chain<L...>: layers applied one after another, composed at compile time. One loop over the list runs each
/// of the four passes (forward, backward and the two tangent passes of exact Hessian-vector products); the
/// chain keeps the tensors between its layers (each layer's output, the gradient with respect to it, and
/// their tangents) in its workspace, so no layer knows its neighbours. A chain is itself a layer: Residual
/// wraps one, and Sequential makes one a reward model.
///
/// Blocks are named "<name>.<i>.<block>" after the layer's position i, as PyTorch's nn.Sequential names
/// them, unless name_layers gives other names ("" puts a layer's blocks directly under the chain's name).
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/layer/layer.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

/// Layers applied one after another, as one layer; the list of layer types is fixed at compile time.
template <class... L>
class Chain {
  static_assert(sizeof...(L) >= 1, "metarm: a Chain needs at least one layer");

 public:
  /// The scalar type of the first layer that names one (layers_scalar_t).
  using scalar_type = layers_scalar_t<L...>;
  /// The number of layers.
  static constexpr std::size_t layer_count = sizeof...(L);

  /// Each layer's workspace, and the tensors the chain keeps between adjacent layers.
  template <class Backend, class T>
  struct workspace {
    /// The backend buffer type that holds the tensors.
    using buffer = typename Backend::template buffer<T>;
    /// The layers' own workspaces, in order.
    std::tuple<layer_workspace_t<L, Backend, T>...> layers;
    /// Between layer i and i + 1: its output, the gradient with respect to it, and the tangents of both.
    std::array<buffer, layer_count - 1> out;
    /// The gradient with respect to each of those outputs.
    std::array<buffer, layer_count - 1> grad;
    /// The tangent of each of those outputs.
    std::array<buffer, layer_count - 1> out_tangent;
    /// The tangent of each of those gradients.
    std::array<buffer, layer_count - 1> grad_tangent;
  };

  /// Default-constructed layers with no block names, to be assigned a chain made from layers.
  Chain() = default;
  /// The layers, in order, their blocks named after their positions.
  explicit Chain(L... layers) : layers_(std::move(layers)...) {
    for (std::size_t i = 0; i < layer_count; ++i) names_[i] = std::to_string(i);
  }

  /// Names for the layers' blocks, in order; call before the chain is built.
  Chain& name_layers(std::array<std::string, layer_count> names) {
    names_ = std::move(names);
    return *this;
  }

  /// Builds each layer on the previous one's output width, under "<name>.<i>"; returns the last width.
  index_t build(Layout& layout, const std::string& name, index_t input_width) {
    index_t width = input_width;
    each([&](auto i) {
      width = layer<i>().build(layout, join_name(name, names_[i]), width);
      widths_[i] = width;
    });
    return width;
  }

  /// The last layer's output width.
  index_t output_width() const { return widths_[layer_count - 1]; }
  /// "chain(...)" around the layers' descriptions.
  std::string describe() const { return "chain(" + describe_layers() + ")"; }
  /// The layers' descriptions, comma-separated.
  std::string describe_layers() const {
    std::string text;
    each([&](auto i) { text += (i == 0 ? "" : ",") + layer<i>().describe(); });
    return text;
  }

  /// The layer at position I.
  template <std::size_t I>
  const auto& layer() const {
    return std::get<I>(layers_);
  }

  /// Initialises each layer's blocks, in order, each drawing from rng in turn.
  template <class T>
  void initialize(std::span<T> params, Rng& rng) const {
    each([&](auto i) { layer<i>().initialize(params, rng); });
  }

  /// Grows the tensors between layers and each layer's workspace for `columns` columns (and tangents).
  template <class Backend, class T>
  void reserve(workspace<Backend, T>& ws, index_t columns, bool tangents) const {
    for (std::size_t i = 0; i + 1 < layer_count; ++i) {
      const index_t size = widths_[i] * columns;
      grow_to(ws.out[i], size);
      grow_to(ws.grad[i], size);
      if (tangents) {
        grow_to(ws.out_tangent[i], size);
        grow_to(ws.grad_tangent[i], size);
      }
    }
    each([&](auto i) { layer<i>().template reserve<Backend, T>(std::get<i>(ws.layers), columns, tangents); });
  }

  /// Each layer's forward pass, in order, on the previous layer's output.
  template <class Backend, class T, class Input>
  void forward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<T> y,
               workspace<Backend, T>& ws) const {
    const index_t n = x.cols;
    each([&](auto i) {
      layer<i>().template forward<Backend>(ctx, params, input<i>(x, ws, n), output<i>(y, ws, n), std::get<i>(ws.layers));
    });
  }

  /// Each layer's backward pass, last layer first, each passing its input gradient to the layer before.
  template <class Backend, class T, class Input>
  void backward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<const T> y,
                MatrixView<const T> dy, VectorView<T> grad, MatrixView<T> dx, workspace<Backend, T>& ws,
                GradientWrite write) const {
    const index_t n = x.cols;
    each_reversed([&](auto i) {
      layer<i>().template backward<Backend>(ctx, params, input<i>(x, ws, n), output<i>(y, ws, n),
                                            output_gradient<i>(dy, ws, n), grad,
                                            input_gradient<i>(dx, ws, n, true), std::get<i>(ws.layers), write);
    });
  }

  /// Each layer's forward tangent pass, in order.
  template <class Backend, class T, class Input>
  void forward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                       const Input& x, MatrixView<const T> x_t, MatrixView<const T> y, MatrixView<T> y_t,
                       workspace<Backend, T>& ws) const {
    const index_t n = x.cols;
    each([&](auto i) {
      layer<i>().template forward_tangent<Backend>(ctx, params, v, input<i>(x, ws, n), input_tangent<i>(x_t, ws, n),
                                                   output<i>(y, ws, n),
                                                   output_tangent<i>(y_t, ws, n), std::get<i>(ws.layers));
    });
  }

  /// Each layer's backward tangent pass, last layer first.
  template <class Backend, class T, class Input>
  void backward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                        const Input& x, MatrixView<const T> x_t, MatrixView<const T> y, MatrixView<const T> y_t,
                        MatrixView<const T> dy, MatrixView<const T> dy_t, VectorView<T> hv, MatrixView<T> dx,
                        MatrixView<T> dx_t, workspace<Backend, T>& ws, bool recompute) const {
    const index_t n = x.cols;
    each_reversed([&](auto i) {
      layer<i>().template backward_tangent<Backend>(
          ctx, params, v, input<i>(x, ws, n), input_tangent<i>(x_t, ws, n), output<i>(y, ws, n),
          output_tangent<i>(y_t, ws, n), output_gradient<i>(dy, ws, n),
          output_gradient_tangent<i>(dy_t, ws, n), hv, input_gradient<i>(dx, ws, n, recompute),
          input_gradient_tangent<i>(dx_t, ws, n), std::get<i>(ws.layers), recompute);
    });
  }

 private:
  template <class F>
  static void each(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(std::integral_constant<std::size_t, I>{}), ...);
    }(std::make_index_sequence<layer_count>{});
  }
  template <class F>
  static void each_reversed(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(std::integral_constant<std::size_t, layer_count - 1 - I>{}), ...);
    }(std::make_index_sequence<layer_count>{});
  }

  template <std::size_t I>
  auto& layer() {
    return std::get<I>(layers_);
  }


  // The tensors around layer I: its input is the chain's input or the previous layer's output, its output
  // the chain's output or the next layer's input, and likewise for their gradients and tangents.
  template <std::size_t I, class Input, class W>
  decltype(auto) input(const Input& x, W& ws, index_t n) const {
    if constexpr (I == 0) {
      return (x);
    } else {
      return as_const(ws.out[I - 1].matrix(widths_[I - 1], n));
    }
  }
  // T may be const: the output read back by the backward passes.
  template <std::size_t I, class T, class W>
  MatrixView<T> output(MatrixView<T> y, W& ws, index_t n) const {
    if constexpr (I == layer_count - 1) {
      return y;
    } else {
      return ws.out[I].matrix(widths_[I], n);
    }
  }
  template <std::size_t I, class T, class W>
  MatrixView<const T> input_tangent(MatrixView<const T> x_t, W& ws, index_t n) const {
    if constexpr (I == 0) {
      return x_t;
    } else {
      return as_const(ws.out_tangent[I - 1].matrix(widths_[I - 1], n));
    }
  }
  template <std::size_t I, class T, class W>
  MatrixView<T> output_tangent(MatrixView<T> y_t, W& ws, index_t n) const {
    if constexpr (I == layer_count - 1) {
      return y_t;
    } else {
      return ws.out_tangent[I].matrix(widths_[I], n);
    }
  }
  template <std::size_t I, class T, class W>
  MatrixView<const T> output_gradient(MatrixView<const T> dy, W& ws, index_t n) const {
    if constexpr (I == layer_count - 1) {
      return dy;
    } else {
      return as_const(ws.grad[I].matrix(widths_[I], n));
    }
  }
  template <std::size_t I, class T, class W>
  MatrixView<const T> output_gradient_tangent(MatrixView<const T> dy_t, W& ws, index_t n) const {
    if constexpr (I == layer_count - 1) {
      return dy_t;
    } else {
      return as_const(ws.grad_tangent[I].matrix(widths_[I], n));
    }
  }
  // Without `recompute` the gradients between layers are held from the last backward pass: none is written.
  template <std::size_t I, class T, class W>
  MatrixView<T> input_gradient(MatrixView<T> dx, W& ws, index_t n, bool recompute) const {
    if constexpr (I == 0) {
      return dx;
    } else {
      return recompute ? ws.grad[I - 1].matrix(widths_[I - 1], n) : MatrixView<T>{};
    }
  }
  template <std::size_t I, class T, class W>
  MatrixView<T> input_gradient_tangent(MatrixView<T> dx_t, W& ws, index_t n) const {
    if constexpr (I == 0) {
      return dx_t;
    } else {
      return ws.grad_tangent[I - 1].matrix(widths_[I - 1], n);
    }
  }

  std::tuple<L...> layers_;
  std::array<std::string, layer_count> names_{};
  std::array<index_t, layer_count> widths_{};
};

/// A chain of the layers given, deduced from the constructor's arguments.
template <class... L>
Chain(L...) -> Chain<L...>;

}  // namespace metarm
