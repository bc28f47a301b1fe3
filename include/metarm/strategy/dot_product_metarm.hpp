// SPDX-License-Identifier: Apache-2.0
// The "dot-product" reading of MetaRM. To first order in eta, MetaRM's meta-objective is
//   L(theta + eta grad J(theta)) ~ F(theta) = L(theta) + eta grad L(theta) . grad J(theta),
// and this strategy descends on F itself, with its exact gradient
//   grad F = grad L + eta (H_L grad J + H_J grad L):
// two gradients, and one Hessian-vector product of each objective, each on its own batch.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include "metarm/core/error.hpp"
#include "metarm/grad/hessian_vector.hpp"
#include "metarm/metrics/step_stats.hpp"

namespace metarm {

class DotProductMetaRM {
 public:
  static constexpr std::string_view name = "dot-product";
  static constexpr bool uses_meta_batch = true;

  struct Options {
    double eta = 1e-2;  // weight of grad L . grad J, the same eta as MetaRM's ascent step
    HvpOptions hvp{};   // exact when the model has hvp (automatic), or finite differences
  };

  DotProductMetaRM() : DotProductMetaRM(Options{}) {}
  explicit DotProductMetaRM(double eta) : DotProductMetaRM(Options{.eta = eta}) {}
  explicit DotProductMetaRM(Options options) : options_(options) {
    METARM_REQUIRE(std::isfinite(options_.eta) && options_.eta >= 0.0, "DotProductMetaRM",
                   "argument 'eta' must be finite and >= 0, got " + std::to_string(options_.eta));
    validate_hvp_options(options_.hvp, "DotProductMetaRM");
  }

  const Options& options() const { return options_; }

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
