// SPDX-License-Identifier: Apache-2.0
/// \file
/// How a meta-learning strategy (MetaRM, MAML) differentiates through its inner adaptation steps.
#pragma once

#include <string_view>

#include "metarm/grad/hessian_vector.hpp"

namespace metarm {

/// How a meta-learning strategy differentiates through its inner steps.
enum class MetaGradient {
  /// The gradient at the adapted point, the inner steps treated as constants: the paper's MetaRM, FOMAML.
  first_order,
  /// The chain rule through every inner step, with one exact Hessian-vector product per inner step.
  exact,
  /// The same chain rule with Hessian-vector products by central differences of gradients: for models
  /// without an exact one, or to check it.
  finite_difference
};

/// The order's name, as options and messages spell it.
constexpr std::string_view to_string(MetaGradient order) {
  switch (order) {
    case MetaGradient::first_order:
      return "first_order";
    case MetaGradient::exact:
      return "exact";
    case MetaGradient::finite_difference:
      return "finite_difference";
  }
  return "unknown";
}

/// The Hessian-vector product a second-order MetaGradient asks the StepContext for.
constexpr HvpOptions hvp_options_for(MetaGradient order, double finite_difference_step) {
  return {order == MetaGradient::finite_difference ? HvpMethod::finite_difference : HvpMethod::exact,
          finite_difference_step};
}

}  // namespace metarm
