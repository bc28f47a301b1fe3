// SPDX-License-Identifier: Apache-2.0
/// \file
/// Repeat<L>: a run of layers of one type whose number and widths are runtime values, applied one after
/// another, such as the hidden stages of an MLP built from a list of widths. The same loop as Chain's, over
/// a vector instead of a tuple. Blocks are named "<name>.<i>.<block>" after each layer's position.
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/layer/layer.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

/// A run of layers of one type whose number and widths are chosen at run time, as one layer.
template <class L>
class Repeat {
 public:
  /// The scalar type of L, when it names one.
  using scalar_type = layers_scalar_t<L>;

  /// Each layer's workspace, and the tensors kept between adjacent layers.
  template <class Backend, class T>
  struct workspace {
    /// The backend buffer type that holds the tensors.
    using buffer = typename Backend::template buffer<T>;
    /// The layers' own workspaces, in order.
    std::vector<layer_workspace_t<L, Backend, T>> layers;
    std::vector<buffer> out;  ///< between layer i and i + 1, as in Chain
    /// The gradient with respect to each of those outputs.
    std::vector<buffer> grad;
    /// The tangent of each of those outputs.
    std::vector<buffer> out_tangent;
    /// The tangent of each of those gradients.
    std::vector<buffer> grad_tangent;
  };

  /// No layers; building it fails.
  Repeat() = default;
  /// The layers, in order, their blocks named after their positions.
  explicit Repeat(std::vector<L> layers) : layers_(std::move(layers)) {}

  /// The number of layers.
  std::size_t size() const { return layers_.size(); }
  /// Whether there are no layers.
  bool empty() const { return layers_.empty(); }
  /// The layer at position i.
  const L& operator[](std::size_t i) const { return layers_[i]; }

  /// Builds each layer on the previous one's output width, under "<name>.<i>"; returns the last width.
  index_t build(Layout& layout, const std::string& name, index_t input_width) {
    METARM_REQUIRE(!layers_.empty(), "Repeat " + name, "needs at least one layer");
    index_t width = input_width;
    widths_.clear();
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      width = layers_[i].build(layout, join_name(name, std::to_string(i)), width);
      widths_.push_back(width);
    }
    return width;
  }

  /// The last layer's output width.
  index_t output_width() const { return widths_.back(); }
  /// "repeat(...)" around the layers' descriptions.
  std::string describe() const {
    std::string text = "repeat(";
    for (std::size_t i = 0; i < layers_.size(); ++i) text += (i == 0 ? "" : ",") + layers_[i].describe();
    return text + ")";
  }

  /// Initialises each layer's blocks, in order, each drawing from rng in turn.
  template <class T>
  void initialize(std::span<T> params, Rng& rng) const {
    for (const L& layer : layers_) layer.initialize(params, rng);
  }

  /// Grows the tensors between layers and each layer's workspace for `columns` columns (and tangents).
  template <class Backend, class T>
  void reserve(workspace<Backend, T>& ws, index_t columns, bool tangents) const {
    const std::size_t between = layers_.size() - 1;
    if (ws.layers.size() != layers_.size()) {
      ws.layers.resize(layers_.size());
      ws.out.resize(between);
      ws.grad.resize(between);
      ws.out_tangent.resize(between);
      ws.grad_tangent.resize(between);
    }
    for (std::size_t i = 0; i < between; ++i) {
      const index_t size = widths_[i] * columns;
      grow_to(ws.out[i], size);
      grow_to(ws.grad[i], size);
      if (tangents) {
        grow_to(ws.out_tangent[i], size);
        grow_to(ws.grad_tangent[i], size);
      }
    }
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      layers_[i].template reserve<Backend, T>(ws.layers[i], columns, tangents);
    }
  }

  /// Each layer's forward pass, in order, on the previous layer's output.
  template <class Backend, class T, class Input>
  void forward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<T> y,
               workspace<Backend, T>& ws) const {
    const index_t n = x.cols;
    layers_[0].template forward<Backend>(ctx, params, x, output(0, y, ws.out, n), ws.layers[0]);
    for (std::size_t i = 1; i < layers_.size(); ++i) {
      layers_[i].template forward<Backend>(ctx, params, between(i - 1, ws.out, n), output(i, y, ws.out, n),
                                           ws.layers[i]);
    }
  }

  /// Each layer's backward pass, last layer first, each passing its input gradient to the layer before.
  template <class Backend, class T, class Input>
  void backward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<const T> y,
                MatrixView<const T> dy, VectorView<T> grad, MatrixView<T> dx, workspace<Backend, T>& ws,
                GradientWrite write) const {
    const index_t n = x.cols;
    for (std::size_t i = layers_.size(); i-- > 1;) {
      layers_[i].template backward<Backend>(ctx, params, between(i - 1, ws.out, n), output(i, y, ws.out, n),
                                            output(i, dy, ws.grad, n), grad, writable(i - 1, ws.grad, n),
                                            ws.layers[i], write);
    }
    layers_[0].template backward<Backend>(ctx, params, x, output(0, y, ws.out, n), output(0, dy, ws.grad, n), grad, dx,
                                          ws.layers[0], write);
  }

  /// Each layer's forward tangent pass, in order.
  template <class Backend, class T, class Input>
  void forward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                       const Input& x, MatrixView<const T> x_t, MatrixView<const T> y, MatrixView<T> y_t,
                       workspace<Backend, T>& ws) const {
    const index_t n = x.cols;
    layers_[0].template forward_tangent<Backend>(ctx, params, v, x, x_t, output(0, y, ws.out, n),
                                                 output(0, y_t, ws.out_tangent, n), ws.layers[0]);
    for (std::size_t i = 1; i < layers_.size(); ++i) {
      layers_[i].template forward_tangent<Backend>(ctx, params, v, between(i - 1, ws.out, n),
                                                   between(i - 1, ws.out_tangent, n), output(i, y, ws.out, n),
                                                   output(i, y_t, ws.out_tangent, n), ws.layers[i]);
    }
  }

  /// Each layer's backward tangent pass, last layer first.
  template <class Backend, class T, class Input>
  void backward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                        const Input& x, MatrixView<const T> x_t, MatrixView<const T> y, MatrixView<const T> y_t,
                        MatrixView<const T> dy, MatrixView<const T> dy_t, VectorView<T> hv, MatrixView<T> dx,
                        MatrixView<T> dx_t, workspace<Backend, T>& ws, bool recompute) const {
    const index_t n = x.cols;
    for (std::size_t i = layers_.size(); i-- > 1;) {
      layers_[i].template backward_tangent<Backend>(
          ctx, params, v, between(i - 1, ws.out, n), between(i - 1, ws.out_tangent, n), output(i, y, ws.out, n),
          output(i, y_t, ws.out_tangent, n), output(i, dy, ws.grad, n), output(i, dy_t, ws.grad_tangent, n), hv,
          recompute ? writable(i - 1, ws.grad, n) : MatrixView<T>{}, writable(i - 1, ws.grad_tangent, n),
          ws.layers[i], recompute);
    }
    layers_[0].template backward_tangent<Backend>(ctx, params, v, x, x_t, output(0, y, ws.out, n),
                                                  output(0, y_t, ws.out_tangent, n), output(0, dy, ws.grad, n),
                                                  output(0, dy_t, ws.grad_tangent, n), hv, dx, dx_t, ws.layers[0],
                                                  recompute);
  }

 private:
  // The tensor after layer i: the run's own (y, dy, ...) for the last layer, else the one kept between i and
  // i + 1 in `kept`.
  template <class T, class Buffers>
  MatrixView<T> output(std::size_t i, MatrixView<T> last, Buffers& kept, index_t n) const {
    if (i + 1 == layers_.size()) return last;
    return kept[i].matrix(widths_[i], n);
  }
  template <class Buffers>
  auto between(std::size_t i, Buffers& kept, index_t n) const {
    return as_const(kept[i].matrix(widths_[i], n));
  }
  template <class Buffers>
  auto writable(std::size_t i, Buffers& kept, index_t n) const {
    return kept[i].matrix(widths_[i], n);
  }

  std::vector<L> layers_;
  std::vector<index_t> widths_;
};

}  // namespace metarm
