// A fully connected layer z = W x + b over a batch of columns. W is out x in, column-major, followed by b in
// the flat parameter vector. The layer owns no memory: it knows its offsets and reads params and writes
// results through views.
//
// The two products that touch the input go through `input_product` and `accumulate_weight_gradient`,
// overloaded on the input type; the dense overloads are below, and another input representation (sparse
// features, say) adds its own overloads instead of a second copy of the layer.
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <type_traits>

#include "metarm/backend/transpose.hpp"
#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

// z = W x for a dense input x.
template <class Backend, class T>
void input_product(typename Backend::context& ctx, MatrixView<const T> weight, MatrixView<const T> x, MatrixView<T> z) {
  Backend::gemm(ctx, Trans::no, Trans::no, T(1), weight, x, T(0), z);
}

// dW += dz x^T for a dense input x.
template <class Backend, class T>
void accumulate_weight_gradient(typename Backend::context& ctx, MatrixView<const T> dz, MatrixView<const T> x,
                                MatrixView<T> d_weight) {
  Backend::gemm(ctx, Trans::no, Trans::yes, T(1), dz, x, T(1), d_weight);
}

// How a backward pass stores the parameter gradient: added to what the buffer holds, or written over it.
// Every parameter belongs to exactly one layer, so a model whose layers all overwrite defines the whole
// gradient and the caller need not clear the buffer first (one pass over memory fewer, and the weight
// products do not read their output).
enum class GradientWrite { accumulate, overwrite };

// dW = dz x^T: a dense input's product writes over dW; another input type clears dW and accumulates into it.
template <class Backend, class T, class Input>
void write_weight_gradient(typename Backend::context& ctx, MatrixView<const T> dz, const Input& x,
                           MatrixView<T> d_weight) {
  if constexpr (std::is_same_v<Input, MatrixView<const T>> || std::is_same_v<Input, MatrixView<T>>) {
    Backend::gemm(ctx, Trans::no, Trans::yes, T(1), dz, MatrixView<const T>(x), T(0), d_weight);
  } else {
    Backend::fill(ctx, d_weight.flat(), T(0));
    accumulate_weight_gradient<Backend, T>(ctx, dz, x, d_weight);
  }
}

template <class T>
class Dense {
 public:
  Dense() = default;

  // Registers "<name>.weight" (outputs x inputs) and "<name>.bias" (outputs) in `layout`.
  Dense(Layout& layout, const std::string& name, index_t inputs, index_t outputs) : inputs_(inputs), outputs_(outputs) {
    METARM_REQUIRE(inputs > 0, "Dense " + name, "argument 'inputs' must be > 0, got " + std::to_string(inputs));
    METARM_REQUIRE(outputs > 0, "Dense " + name, "argument 'outputs' must be > 0, got " + std::to_string(outputs));
    weight_offset_ = layout.add(name + ".weight", outputs, inputs);
    bias_offset_ = layout.add(name + ".bias", outputs, 1);
  }

  index_t inputs() const { return inputs_; }
  index_t outputs() const { return outputs_; }
  index_t parameter_count() const { return outputs_ * (inputs_ + 1); }

  template <class P>
  MatrixView<P> weight(VectorView<P> params) const {
    return {params.data + weight_offset_, outputs_, inputs_, outputs_};
  }
  template <class P>
  VectorView<P> bias(VectorView<P> params) const {
    return {params.data + bias_offset_, outputs_};
  }

  // PyTorch's nn.Linear default: W and b uniform in +-1/sqrt(inputs). params is host memory.
  void initialize(std::span<T> params, Rng& rng) const {
    const double bound = 1.0 / std::sqrt(static_cast<double>(inputs_));
    for (index_t i = 0; i < outputs_ * inputs_; ++i) {
      params[static_cast<std::size_t>(weight_offset_ + i)] = static_cast<T>(rng.uniform(-bound, bound));
    }
    for (index_t i = 0; i < outputs_; ++i) {
      params[static_cast<std::size_t>(bias_offset_ + i)] = static_cast<T>(rng.uniform(-bound, bound));
    }
  }

  // z = W x + b
  template <class Backend, class Input>
  void forward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<T> z) const {
    input_product<Backend, T>(ctx, weight(params), x, z);
    Backend::add_to_columns(ctx, bias(params), z);
  }

  // grad(W) += dz x^T, grad(b) += sum of dz's columns (= for both with GradientWrite::overwrite), and
  // dx = W^T dz unless dx is empty.
  template <class Backend, class Input>
  void backward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<const T> dz,
                VectorView<T> grad, MatrixView<T> dx, GradientWrite write = GradientWrite::accumulate) const {
    if (write == GradientWrite::overwrite) {
      write_weight_gradient<Backend, T>(ctx, dz, x, weight(grad));
      Backend::fill(ctx, bias(grad), T(0));
    } else {
      accumulate_weight_gradient<Backend, T>(ctx, dz, x, weight(grad));
    }
    Backend::accumulate_column_sum(ctx, dz, bias(grad));
    if (!dx.empty()) {
      Backend::gemm(ctx, Trans::yes, Trans::no, T(1), weight(params), dz, T(0), dx);
    }
  }

  // ---- forward-over-reverse (R-op) passes for exact Hessian-vector products ----------------------------
  // A direction v in parameter space has the params' layout; V and v_b are its blocks for this layer.
  // x_tangent is the directional derivative of the input, empty when the input does not depend on the
  // parameters (the data fed to the first layer); the input itself is reached only through input_product
  // and accumulate_weight_gradient, so every input type that backward accepts works here too.

  // z_tangent = V x + v_b + W x_tangent
  template <class Backend, class Input>
  void forward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                       const Input& x, MatrixView<const T> x_tangent, MatrixView<T> z_tangent) const {
    input_product<Backend, T>(ctx, weight(v), x, z_tangent);
    Backend::add_to_columns(ctx, bias(v), z_tangent);
    if (!x_tangent.empty()) {
      Backend::gemm(ctx, Trans::no, Trans::no, T(1), weight(params), x_tangent, T(1), z_tangent);
    }
  }

  // The directional derivative of backward: with dz and its directional derivative dz_tangent,
  //   hv(W) += dz_tangent x^T + dz x_tangent^T,   hv(b) += sum of dz_tangent's columns,
  //   dx = W^T dz and dx_tangent = V^T dz + W^T dz_tangent, each unless empty.
  template <class Backend, class Input>
  void backward_tangent(typename Backend::context& ctx, VectorView<const T> params, VectorView<const T> v,
                        const Input& x, MatrixView<const T> x_tangent, MatrixView<const T> dz,
                        MatrixView<const T> dz_tangent, VectorView<T> hv, MatrixView<T> dx,
                        MatrixView<T> dx_tangent) const {
    accumulate_weight_gradient<Backend, T>(ctx, dz_tangent, x, weight(hv));
    if (!x_tangent.empty()) {
      Backend::gemm(ctx, Trans::no, Trans::yes, T(1), dz, x_tangent, T(1), weight(hv));
    }
    Backend::accumulate_column_sum(ctx, dz_tangent, bias(hv));
    if (!dx.empty()) {
      Backend::gemm(ctx, Trans::yes, Trans::no, T(1), weight(params), dz, T(0), dx);
    }
    if (!dx_tangent.empty()) {
      Backend::gemm(ctx, Trans::yes, Trans::no, T(1), weight(v), dz, T(0), dx_tangent);
      Backend::gemm(ctx, Trans::yes, Trans::no, T(1), weight(params), dz_tangent, T(1), dx_tangent);
    }
  }

 private:
  index_t inputs_ = 0;
  index_t outputs_ = 0;
  index_t weight_offset_ = 0;
  index_t bias_offset_ = 0;
};

}  // namespace metarm
