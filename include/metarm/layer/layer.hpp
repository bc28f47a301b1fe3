// SPDX-License-Identifier: Apache-2.0
/// \file
/// The Layer contract: what Chain, Residual, Repeat, the reward networks and check_layer need from a layer.
///
/// A layer maps a features x batch matrix x (width w_in) to y (width w_out), column by column. It owns no
/// memory: its parameters are blocks of the model's one flat vector, registered by build(), and what its
/// backward pass needs beyond x and y (which the caller keeps) lives in its workspace.
///
/// \verbatim
///   index_t build(Layout&, const std::string& name, index_t input_width)
///       registers the parameter blocks under `name` ("<name>.weight", ...) and returns the output width;
///   index_t output_width() const;  std::string describe() const;
///   void initialize(std::span<T> params, Rng&) const            params: host memory of the whole model;
///   template <class Backend, class T> workspace                 (layer_workspace_t; NoWorkspace when none)
///   void reserve<Backend, T>(ws, columns, tangents) const       grows ws for `columns` columns (and the
///                                                               tangent passes when `tangents`), never shrinks;
///   forward<Backend>(ctx, params, x, y, ws)                     y = f(x; theta)
///   backward<Backend>(ctx, params, x, y, dy, grad, dx, ws, write)
///       grad += or = (GradientWrite) the parameter gradient of <dy, y>; dx = its input gradient unless dx is
///       empty (the first layer's input is data);
///   forward_tangent<Backend>(ctx, params, v, x, x_t, y, y_t, ws)
///       y_t = the directional derivative of y along (v, x_t); x_t is empty when x is data;
///   backward_tangent<Backend>(ctx, params, v, x, x_t, y, y_t, dy, dy_t, hv, dx, dx_t, ws, recompute)
///       the directional derivative of backward along (v, x_t), given dy's (dy_t): hv += the parameter part,
///       dx_t = the input part unless empty. With recompute, dx (unless empty) and every gradient the layer
///       keeps inside are computed as backward computes them; without, the caller guarantees that backward
///       ran last on this forward pass with this dy, so they are held, and dx is empty.
/// \endverbatim
///
/// Every pass reads x only through the overloads of input_product and accumulate_weight_gradient (Dense) or
/// as a dense MatrixView, so only a layer that accepts sparse input (Dense) may come first on sparse data.
/// check_layer (metarm/testing/check_layer.hpp) checks all of it against finite differences.
#pragma once

#include <concepts>
#include <span>
#include <string>

#include <fmt/core.h>

#include "metarm/backend/views.hpp"
#include "metarm/core/format.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

/// How a backward pass stores the parameter gradient: added to what the buffer holds, or written over it.
/// Every parameter belongs to exactly one layer, so a model whose layers all overwrite defines the whole
/// gradient and the caller need not clear the buffer first (one pass over memory fewer, and the weight
/// products do not read their output).
enum class GradientWrite { accumulate, overwrite };

/// The workspace of a layer that keeps nothing between its passes.
struct NoWorkspace {};

/// Grows a workspace buffer to at least `size` values. It never shrinks, so a workspace sized for the largest
/// batch allocates nothing afterwards.
template <class Buffer>
void grow_to(Buffer& buffer, index_t size) {
  if (buffer.size() < size) buffer.resize(size);
}

/// The workspace type that layer L keeps on Backend for scalar type T.
template <class L, class Backend, class T>
using layer_workspace_t = typename L::template workspace<Backend, T>;

/// Joins a parent's block-name prefix and a child's name: "" + "0" = "0", "3" + "0" = "3.0", "hidden.0" + ""
/// = "hidden.0".
inline std::string join_name(const std::string& prefix, const std::string& child) {
  if (prefix.empty()) return child;
  if (child.empty()) return prefix;
  return prefix + "." + child;
}

/// The members of a layer that need no backend: `build`, `output_width()` and `describe()`. A type that has them
/// prints as its description with fmt (`fmt::print("{}", layer)`).
template <class L>
concept DescribedLayer = requires(L& unbuilt, const L& layer, Layout& layout, const std::string& name) {
  { unbuilt.build(layout, name, index_t{}) } -> std::convertible_to<index_t>;
  { layer.output_width() } -> std::convertible_to<index_t>;
  { layer.describe() } -> std::convertible_to<std::string>;
};

/// What a type must provide to be a layer on Backend in scalar type T: the members this file's description lists.
template <class L, class Backend, class T>
concept LayerFor = requires(L& unbuilt, const L& layer, Layout& layout, const std::string& name,
                            typename Backend::context& ctx, VectorView<const T> params, MatrixView<const T> x,
                            MatrixView<T> y, layer_workspace_t<L, Backend, T>& ws, VectorView<T> grad,
                            std::span<T> host, Rng& rng) {
  { unbuilt.build(layout, name, index_t{}) } -> std::convertible_to<index_t>;
  { layer.output_width() } -> std::convertible_to<index_t>;
  { layer.describe() } -> std::convertible_to<std::string>;
  layer.initialize(host, rng);
  layer.template reserve<Backend, T>(ws, index_t{}, bool{});
  layer.template forward<Backend>(ctx, params, x, y, ws);
  layer.template backward<Backend>(ctx, params, x, x, x, grad, y, ws, GradientWrite::accumulate);
  layer.template forward_tangent<Backend>(ctx, params, params, x, x, x, y, ws);
  layer.template backward_tangent<Backend>(ctx, params, params, x, x, x, x, x, x, grad, y, y, ws, bool{});
};

/// Fails to compile, with a message that lists the members a layer needs, unless L satisfies LayerFor; true otherwise.
template <class L, class Backend, class T>
constexpr bool check_layer_type() {
  static_assert(LayerFor<L, Backend, T>,
                "metarm: the Layer type needs `build(Layout&, name, input_width)`, `output_width()`, `describe()`, "
                "`initialize(std::span<T>, Rng&)`, a nested `template <class Backend, class T> workspace`, "
                "`reserve<Backend, T>(ws, columns, tangents)` and the four passes `forward`, `backward`, "
                "`forward_tangent` and `backward_tangent` (see metarm/layer/layer.hpp for their signatures, and "
                "docs/extending.md for a complete layer).");
  return true;
}

// The scalar type a list of layers works in: that of the first one that names one (Dense<T> does;
// activations work in any).
namespace detail {
template <class... L>
struct first_scalar {
  using type = void;
};
template <class L, class... Rest>
struct first_scalar<L, Rest...> {
  using type = typename first_scalar<Rest...>::type;
};
template <class L, class... Rest>
  requires requires { typename L::scalar_type; }
struct first_scalar<L, Rest...> {
  using type = typename L::scalar_type;
};
}  // namespace detail

/// The scalar type a list of layers works in: that of the first one that names one (void when none does).
template <class... L>
using layers_scalar_t = typename detail::first_scalar<L...>::type;

}  // namespace metarm

// Formatters for fmt, which looks them up in its own namespace.
namespace fmt {

/// Formats a layer as its describe() ("dense(64)", "chain(dense(8),relu,scalar_head)").
template <class L>
  requires metarm::DescribedLayer<L>
struct formatter<L, char> {
  /// Takes no spec: "{}" only.
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }

  /// Writes the text.
  template <class FormatContext>
  auto format(const L& layer, FormatContext& ctx) const {
    return metarm::detail::write_text(ctx.out(), layer.describe());
  }
};

}  // namespace fmt
