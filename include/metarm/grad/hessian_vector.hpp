// SPDX-License-Identifier: Apache-2.0
/// \file
/// Hessian-vector products of an objective of a model's rewards with respect to the flat parameters, two
/// ways:
///  - exact, by forward-over-reverse through a model that provides `hvp` (every built-in model does): one
///    forward pass, the objective's reward derivative, then one tangent pass forward and one backward. No
///    graph is stored, and the cost is about that of two more gradient passes.
///  - by central differences of gradients, for any model: (grad(at + h v) - grad(at - h v)) / 2h, two
///    gradient evaluations.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/model/reward_model.hpp"

namespace metarm {

/// How a Hessian-vector product is computed.
enum class HvpMethod {
  automatic,         ///< exact when the model provides hvp, finite differences otherwise
  exact,             ///< forward-over-reverse; an error for a model without hvp
  finite_difference  ///< central differences of gradients
};

/// The method's name, as options and messages spell it.
constexpr std::string_view to_string(HvpMethod method) {
  switch (method) {
    case HvpMethod::automatic:
      return "automatic";
    case HvpMethod::exact:
      return "exact";
    case HvpMethod::finite_difference:
      return "finite_difference";
  }
  return "unknown";
}

/// The method of a Hessian-vector product, and the step of its finite differences.
struct HvpOptions {
  /// Exact, finite differences, or exact whenever the model allows (the default).
  HvpMethod method = HvpMethod::automatic;
  /// Finite differences step by h = finite_difference_step * (1 + ||at||) / ||v|| along v. 0 picks the
  /// cube root of the scalar type's machine epsilon (6e-6 in double, 5e-3 in float), which balances the
  /// truncation and rounding errors of a central difference.
  double finite_difference_step = 0.0;
};

/// Throws, naming `where`, when the finite-difference step is negative or not finite.
inline void validate_hvp_options(const HvpOptions& options, const char* where) {
  METARM_REQUIRE(std::isfinite(options.finite_difference_step) && options.finite_difference_step >= 0.0, where,
                 "argument 'finite_difference_step' must be finite and >= 0 (0 picks it automatically), got {:f}",
                 options.finite_difference_step);
}

// ---- exact ----------------------------------------------------------------------------------------------

/// Overwrites hv with H v, H the Hessian of params -> f(rewards(params)), for the forward pass ws holds at
/// `params` and x, whose rewards are `rewards` and reward derivative d_rewards: only the two tangent passes
/// run. `hessian_product(rewards, tangent, out)` overwrites out with (d^2 f / d rewards^2) tangent.
template <class Backend, class Model, class Input, class RewardHessianProduct>
  requires HasExactHvp<Model, Backend, Input>
void exact_hvp_of_pass(typename Backend::context& ctx, const Model& model,
                       VectorView<const typename Model::scalar_type> params, const Input& x,
                       typename Model::template workspace<Backend>& ws,
                       VectorView<const typename Model::scalar_type> rewards,
                       VectorView<const typename Model::scalar_type> d_rewards, RewardHessianProduct&& hessian_product,
                       VectorView<const typename Model::scalar_type> v, VectorView<typename Model::scalar_type> hv) {
  using T = typename Model::scalar_type;
  Backend::fill(ctx, hv, T(0));
  model.template hvp<Backend>(
      ctx, params, x, ws, v, d_rewards,
      [&](VectorView<const T> tangent, VectorView<T> out) { hessian_product(rewards, tangent, out); }, hv);
}

/// Overwrites hv with H v, H the Hessian of params -> f(rewards(params)) at `params`: one forward pass, the
/// objective's reward derivative, then exact_hvp_of_pass.
/// `objective(rewards, d_rewards)` returns f and writes its reward derivative (as for objective_and_gradient);
/// `hessian_product(rewards, tangent, out)` overwrites out with (d^2 f / d rewards^2) tangent.
/// `d_rewards_storage` holds at least x.cols values.
template <class Backend, class Model, class Input, class RewardObjective, class RewardHessianProduct>
  requires HasExactHvp<Model, Backend, Input>
void exact_objective_hvp(typename Backend::context& ctx, const Model& model,
                         VectorView<const typename Model::scalar_type> params, const Input& x,
                         typename Model::template workspace<Backend>& ws, RewardObjective&& objective,
                         RewardHessianProduct&& hessian_product,
                         VectorView<typename Model::scalar_type> d_rewards_storage,
                         VectorView<const typename Model::scalar_type> v, VectorView<typename Model::scalar_type> hv) {
  using T = typename Model::scalar_type;
  const VectorView<const T> rewards = model.template forward<Backend>(ctx, params, x, ws);
  METARM_REQUIRE(d_rewards_storage.size >= rewards.size, "exact_objective_hvp",
                 "argument 'd_rewards_storage' holds {} values, need {}", d_rewards_storage.size, rewards.size);
  const VectorView<T> d_rewards = d_rewards_storage.segment(0, rewards.size);
  objective(rewards, d_rewards);
  exact_hvp_of_pass<Backend>(ctx, model, params, x, ws, rewards, as_const(d_rewards), hessian_product, v, hv);
}

// ---- central differences ----------------------------------------------------------------------------------

/// The step h along v that finite_difference_hvp takes; 0 when v is zero.
template <class Backend, class T>
double finite_difference_step(typename Backend::context& ctx, VectorView<const T> at, VectorView<const T> v,
                              double relative_step = 0.0) {
  const double v_norm = std::sqrt(static_cast<double>(Backend::squared_norm(ctx, v)));
  if (v_norm == 0.0) {
    return 0.0;
  }
  const double at_norm = std::sqrt(static_cast<double>(Backend::squared_norm(ctx, at)));
  const double relative = relative_step > 0.0 ? relative_step : std::cbrt(std::numeric_limits<T>::epsilon());
  return relative * (1.0 + at_norm) / v_norm;
}

/// Overwrites hv with (grad(at + h v) - grad(at - h v)) / 2h, where `gradient(point, out)` overwrites out
/// with the objective's gradient at point. point_storage and grad_storage are parameter-sized scratch;
/// neither may alias at, v or hv.
template <class Backend, class T, class Gradient>
void finite_difference_hvp(typename Backend::context& ctx, Gradient&& gradient, VectorView<const T> at,
                           VectorView<const T> v, VectorView<T> point_storage, VectorView<T> grad_storage,
                           VectorView<T> hv, double relative_step = 0.0) {
  METARM_REQUIRE(v.size == at.size && hv.size == at.size && point_storage.size == at.size &&
                     grad_storage.size == at.size,
                 "finite_difference_hvp", "arguments 'v', 'hv' and the storage must all have {} values", at.size);
  const double h = finite_difference_step<Backend, T>(ctx, at, v, relative_step);
  if (h == 0.0) {
    Backend::fill(ctx, hv, T(0));
    return;
  }
  Backend::copy(ctx, at, point_storage);
  Backend::axpy(ctx, static_cast<T>(h), v, point_storage);
  gradient(as_const(point_storage), hv);
  Backend::copy(ctx, at, point_storage);
  Backend::axpy(ctx, static_cast<T>(-h), v, point_storage);
  gradient(as_const(point_storage), grad_storage);
  Backend::axpy(ctx, T(-1), as_const(grad_storage), hv);
  Backend::scale(ctx, static_cast<T>(0.5 / h), hv);
}

}  // namespace metarm
