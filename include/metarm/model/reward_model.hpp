// SPDX-License-Identifier: Apache-2.0
/// \file
/// What the learner needs from a reward model type, checked with messages that say what is missing; and the fmt
/// formatter that prints a model as its description.
#pragma once

#include <concepts>
#include <span>
#include <string>

#include <fmt/core.h>

#include "metarm/backend/views.hpp"
#include "metarm/core/format.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/layer/layer.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

/// What every reward model type provides: its scalar type, layout, input width, description and initialisation.
template <class M>
concept HasRewardModelBasics = requires(const M& m, std::span<typename M::scalar_type> host_params, Rng& rng) {
  typename M::scalar_type;
  { m.layout() } -> std::convertible_to<const Layout&>;
  { m.input_dim() } -> std::convertible_to<index_t>;
  { m.describe() } -> std::convertible_to<std::string>;
  m.initialize(host_params, rng);
};

/// What a reward model provides on Backend: a workspace, a forward pass that returns the rewards, and a backward pass.
template <class M, class Backend>
concept HasRewardModelPasses =
    requires(const M& m, typename Backend::context& ctx, VectorView<const typename M::scalar_type> params,
             MatrixView<const typename M::scalar_type> x, typename M::template workspace<Backend>& ws,
             VectorView<const typename M::scalar_type> d_rewards, VectorView<typename M::scalar_type> grad) {
      { m.template make_workspace<Backend>(index_t{}) } -> std::same_as<typename M::template workspace<Backend>>;
      { m.template forward<Backend>(ctx, params, x, ws) } -> std::convertible_to<VectorView<const typename M::scalar_type>>;
      m.template backward<Backend>(ctx, params, x, ws, d_rewards, grad);
    };

/// Stands for the reward-space Hessian product a model's hvp receives: (tangent, out) -> out = H_r tangent.
template <class T>
struct RewardHessianProductArchetype {
  /// Does nothing: HasExactHvp only needs a call of this shape to compile.
  void operator()(VectorView<const T>, VectorView<T>) const {}
};

/// Optional: an exact Hessian-vector product, `hvp<Backend>(ctx, params, x, ws, v, d_rewards,
/// reward_hessian_product, hv)`, for the forward pass just run on ws (see Mlp::hvp). Models without it get
/// Hessian-vector products by central differences of gradients instead.
template <class M, class Backend, class Input = MatrixView<const typename M::scalar_type>>
concept HasExactHvp =
    requires(const M& m, typename Backend::context& ctx, VectorView<const typename M::scalar_type> params,
             const Input& x, typename M::template workspace<Backend>& ws, VectorView<const typename M::scalar_type> v,
             VectorView<const typename M::scalar_type> d_rewards,
             RewardHessianProductArchetype<typename M::scalar_type> reward_hessian_product,
             VectorView<typename M::scalar_type> hv) {
      m.template hvp<Backend>(ctx, params, x, ws, v, d_rewards, reward_hessian_product, hv);
    };

/// Fails to compile, with a message naming what is missing, unless M is a reward model on Backend; true otherwise.
template <class M, class Backend>
constexpr bool check_reward_model() {
  static_assert(HasRewardModelBasics<M>,
                "metarm: the Model type needs `scalar_type`, `layout()`, `input_dim()`, `describe()` and "
                "`initialize(std::span<scalar_type>, Rng&)` (see metarm/model/mlp.hpp for a complete model).");
  if constexpr (HasRewardModelBasics<M>) {
    static_assert(HasRewardModelPasses<M, Backend>,
                  "metarm: the Model type needs a nested `template <class Backend> class workspace`, "
                  "`make_workspace<Backend>(capacity)`, `forward<Backend>(ctx, params, x, ws)` returning the "
                  "rewards, and `backward<Backend>(ctx, params, x, ws, d_rewards, grad)` (see metarm/model/mlp.hpp).");
  }
  return true;
}

}  // namespace metarm

// Formatters for fmt, which looks them up in its own namespace.
namespace fmt {

/// Formats a reward model as its describe(), the description a checkpoint records ("mlp<relu>(16,32,1)").
/// A model that is also a layer prints through the layer's formatter, which says the same.
template <class M>
  requires(metarm::HasRewardModelBasics<M> && !metarm::DescribedLayer<M>)
struct formatter<M, char> {
  /// Takes no spec: "{}" only.
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }

  /// Writes the text.
  template <class FormatContext>
  auto format(const M& model, FormatContext& ctx) const {
    return metarm::detail::write_text(ctx.out(), model.describe());
  }
};

}  // namespace fmt
