// SPDX-License-Identifier: Apache-2.0
/// \file
/// MAML (Finn et al.\ 2017) and first-order MAML on the preference loss. Each step's preference batch is cut
/// into a support part (its first pairs) and a query part (the rest), by StepContext::split_preference_batch:
/// \verbatim
///   phi_0 = theta,  phi_{i+1} = phi_i - alpha grad L_support(phi_i)      K inner descent steps
///   g     = grad L_query(phi_K)
///   u     = prod_{i=K-1..0} (I - alpha H_support(phi_i)) g              exact: K Hessian-vector products
///         = g                                                           first order (FOMAML)
///   theta <- optimiser_step(theta, u)
/// \endverbatim
/// For task-based meta-learning, build each step's batch from one task with its support pairs first and
/// call MetaLearner::step; with fit, both parts come from the same shuffled batch. docs/strategies.md says
/// more.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/strategy/meta_gradient.hpp"
#include "metarm/metrics/step_stats.hpp"

namespace metarm {

namespace detail {

struct MamlSettings {
  int inner_steps;
  double inner_learning_rate;
  index_t support_pairs;
  MetaGradient order;
  double finite_difference_step;
};

inline void validate_maml(const MamlSettings& settings, const char* where) {
  METARM_REQUIRE(settings.inner_steps >= 1, where,
                 "argument 'inner_steps' must be >= 1, got {}", settings.inner_steps);
  METARM_REQUIRE(std::isfinite(settings.inner_learning_rate) && settings.inner_learning_rate >= 0.0, where,
                 "argument 'inner_learning_rate' must be finite and >= 0, got {:f}", settings.inner_learning_rate);
  METARM_REQUIRE(settings.support_pairs >= 0, where,
                 "argument 'support_pairs' must be >= 0 (0 takes half of each batch), got {}", settings.support_pairs);
  validate_hvp_options(hvp_options_for(settings.order, settings.finite_difference_step), where);
}

template <class Step>
StepStats maml_step(Step& s, const MamlSettings& settings) {
  using T = typename Step::scalar_type;
  const auto [support, query] = s.split_preference_batch(settings.support_pairs);
  const T alpha = static_cast<T>(settings.inner_learning_rate);
  const bool second_order = settings.order != MetaGradient::first_order && settings.inner_learning_rate != 0.0;
  auto adapted = s.scratch("adapted");
  auto grad = s.scratch("gradient");
  auto hv = s.scratch("hessian-vector product");
  // phi_0 = theta, ..., phi_{K-1}: where the backward sweep takes H_support.
  auto point = [&](int i) { return i == 0 ? s.params() : s.scratch("inner point", static_cast<std::size_t>(i)); };
  s.copy(s.params(), adapted);
  for (int i = 0; i < settings.inner_steps; ++i) {
    if (second_order && i > 0) {
      s.copy(adapted, point(i));  // phi_i, where the backward sweep takes H_support
    }
    if (i == 0) {
      s.record_preference_loss_and_gradient(adapted, grad, support, Statistic::inner_loss);
    } else {
      s.preference_gradient(adapted, grad, support);
    }
    s.axpy(-alpha, grad, adapted);  // phi_{i+1} = phi_i - alpha grad L_support(phi_i)
  }
  s.record_preference_loss_and_gradient(adapted, grad, query, Statistic::loss);  // g = grad L_query(phi_K)
  if (second_order) {
    const HvpOptions hvp = hvp_options_for(settings.order, settings.finite_difference_step);
    for (int i = settings.inner_steps; i-- > 0;) {
      s.preference_hvp(point(i), grad, hv, support, hvp);  // H_support(phi_i) u
      s.axpy(-alpha, hv, grad);                             // u <- (I - alpha H_support(phi_i)) u
    }
  }
  s.apply_update(grad, Statistic::grad_norm);
  return {};  // every statistic is recorded (see StepContext::record_*)
}

}  // namespace detail

/// MAML on the preference loss: descent on each batch's support pairs, then the query gradient differentiated
/// through it.
class Maml {
 public:
  /// "maml", as callbacks and checkpoints give it.
  static constexpr std::string_view name = "maml";
  /// It never reads the meta batch, so the learner gathers none.
  static constexpr bool uses_meta_batch = false;

  /// Maml's settings.
  struct Options {
    int inner_steps = 1;               ///< K descent steps on the support pairs
    double inner_learning_rate = 0.1;  ///< alpha, separate from the optimiser's (outer) learning rate
    index_t support_pairs = 0;         ///< leading pairs of each batch that form the support set; 0 takes half
    /// How the meta-gradient goes through the inner steps.
    ///
    /// exact: the meta-gradient through the inner steps (K Hessian-vector products); finite_difference: the
    /// same by central differences; first_order: FOMAML (see FirstOrderMaml).
    MetaGradient order = MetaGradient::exact;
    double finite_difference_step = 0.0;  ///< relative step; 0 picks it (see HvpOptions)
  };

  /// The default Options: one exact inner step of 0.1 on half of each batch.
  Maml() : Maml(Options{}) {}
  /// Maml with `options`; throws when one is out of range.
  explicit Maml(Options options) : options_(options) { detail::validate_maml(settings(), "Maml"); }

  /// The settings.
  const Options& options() const { return options_; }

  /// One update, as the file's description gives it; every statistic is recorded in backend memory.
  template <class Step>
  StepStats step(Step& s) {
    return detail::maml_step(s, settings());
  }

 private:
  detail::MamlSettings settings() const {
    return {options_.inner_steps, options_.inner_learning_rate, options_.support_pairs, options_.order,
            options_.finite_difference_step};
  }

  Options options_;
};

/// First-order MAML (Finn et al.\ 2017, section 5.2): the query gradient at the adapted point, applied to the
/// original parameters, with no second derivatives.
class FirstOrderMaml {
 public:
  /// "fomaml", as callbacks and checkpoints give it.
  static constexpr std::string_view name = "fomaml";
  /// It never reads the meta batch, so the learner gathers none.
  static constexpr bool uses_meta_batch = false;

  /// FirstOrderMaml's settings: Maml's without the order.
  struct Options {
    /// K descent steps on the support pairs.
    int inner_steps = 1;
    /// alpha, separate from the optimiser's (outer) learning rate.
    double inner_learning_rate = 0.1;
    /// Leading pairs of each batch that form the support set; 0 takes half.
    index_t support_pairs = 0;
  };

  /// The default Options: one inner step of 0.1 on half of each batch.
  FirstOrderMaml() : FirstOrderMaml(Options{}) {}
  /// FirstOrderMaml with `options`; throws when one is out of range.
  explicit FirstOrderMaml(Options options) : options_(options) { detail::validate_maml(settings(), "FirstOrderMaml"); }

  /// The settings.
  const Options& options() const { return options_; }

  /// One update, as the file's description gives it; every statistic is recorded in backend memory.
  template <class Step>
  StepStats step(Step& s) {
    return detail::maml_step(s, settings());
  }

 private:
  detail::MamlSettings settings() const {
    return {options_.inner_steps, options_.inner_learning_rate, options_.support_pairs, MetaGradient::first_order,
            0.0};
  }

  Options options_;
};

}  // namespace metarm
