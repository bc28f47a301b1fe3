// SPDX-License-Identifier: Apache-2.0
/// \file
/// The "dot-product" reading of MetaRM. To first order in eta, MetaRM's meta-objective is
/// \verbatim
///   L(theta + eta grad J(theta)) ~ F(theta) = L(theta) + eta grad L(theta) . grad J(theta),
/// \endverbatim
/// and this strategy descends on F itself, with its exact gradient
/// \verbatim
///   grad F = grad L + eta (H_L grad J + H_J grad L):
/// \endverbatim
/// two gradients, and one Hessian-vector product of each objective, each on its own batch.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include "metarm/core/error.hpp"
#include "metarm/grad/hessian_vector.hpp"
#include "metarm/metrics/step_stats.hpp"

namespace metarm {

/// Descends on the first-order expansion of MetaRM's meta-objective, L + eta (grad L dot grad J), with its exact
/// gradient.
class DotProductMetaRM {
 public:
  /// "dot-product", as callbacks and checkpoints give it.
  static constexpr std::string_view name = "dot-product";
  /// It reads the meta batch at every step.
  static constexpr bool uses_meta_batch = true;

  /// The strategy's settings.
  struct Options {
    double eta = 1e-2;  ///< weight of grad L \. grad J, the same eta as MetaRM's ascent step
    HvpOptions hvp{};   ///< exact when the model has hvp (automatic), or finite differences
  };

  /// The default Options: eta 1e-2, Hessian-vector products exact when the model allows.
  DotProductMetaRM() : DotProductMetaRM(Options{}) {}
  /// `eta` as given, Hessian-vector products exact when the model allows.
  explicit DotProductMetaRM(double eta) : DotProductMetaRM(Options{.eta = eta}) {}
  /// The strategy with `options`; throws when eta is negative or not finite.
  explicit DotProductMetaRM(Options options) : options_(options) {
    METARM_REQUIRE(std::isfinite(options_.eta) && options_.eta >= 0.0, "DotProductMetaRM",
                   "argument 'eta' must be finite and >= 0, got {:f}", options_.eta);
    validate_hvp_options(options_.hvp, "DotProductMetaRM");
  }

  /// The settings.
  const Options& options() const { return options_; }

  /// One update: two gradients and two Hessian-vector products, each objective on its own batch.
  template <class Step>
  StepStats step(Step& s) {
    using T = typename Step::scalar_type;
    StepStats stats;
    const T eta = static_cast<T>(options_.eta);
    const auto theta = s.params();
    auto grad_j = s.scratch("grad J");
    auto grad_l = s.scratch("grad L");
    auto hv = s.scratch("hessian-vector product");
    auto update = s.scratch("update");
    stats.objective = static_cast<double>(s.meta_objective_and_gradient(theta, grad_j));  // grad J
    stats.ascent_norm = s.norm(grad_j);
    stats.loss = static_cast<double>(s.preference_loss_and_gradient(theta, grad_l));  // grad L
    s.copy(grad_l, update);
    if (options_.eta != 0.0) {
      s.preference_hvp(theta, grad_j, hv, options_.hvp);  // H_L grad J
      s.axpy(eta, hv, update);
      s.meta_hvp(theta, grad_l, hv, options_.hvp);  // H_J grad L
      s.axpy(eta, hv, update);
    }
    stats.grad_norm = s.apply_update(update);
    return stats;
  }

 private:
  Options options_;
};

}  // namespace metarm
