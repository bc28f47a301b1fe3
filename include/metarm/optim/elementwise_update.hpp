// SPDX-License-Identifier: Apache-2.0
/// \file
/// One optimiser update as one pass over the parameters, the gradient and the optimiser's state vectors,
/// written once for every backend: a Rule is a struct of this step's hyperparameters with a METARM_HOST_DEVICE
/// call operator that updates one element in place,
///   void operator()(T& param, T grad, T& state_0, ..., T& state_{S-1}) const;
/// and apply_elementwise runs it over every element through the backend's for_each. The rule is copied into
/// device kernels, so it holds plain values only.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

namespace detail {

// The state pointers are a plain array, whose subscript device code may call (std::array's is host-only).
template <class Rule, class T, std::size_t States>
struct ElementwiseUpdate {
  Rule rule;
  T* params;
  const T* grad;
  T* state[States > 0 ? States : 1];

  METARM_HOST_DEVICE void operator()(index_t i) const { apply(i, std::make_index_sequence<States>{}); }

 private:
  template <std::size_t... S>
  METARM_HOST_DEVICE void apply(index_t i, std::index_sequence<S...>) const {
    rule(params[i], grad[i], state[S][i]...);
  }
};

}  // namespace detail

/// Runs `rule` on every element of params with the same element of grad and of each state vector; sizes must match.
template <class Backend, class T, class Rule, class... State>
void apply_elementwise(typename Backend::context& ctx, const Rule& rule, VectorView<T> params, VectorView<const T> grad,
                       State... state) {
  auto same_size = [&](index_t size, const char* what) {
    METARM_REQUIRE(size == params.size, "apply_elementwise",
                   std::string("argument '") + what + "' has " + std::to_string(size) + " values, 'params' has " +
                       std::to_string(params.size));
  };
  same_size(grad.size, "grad");
  (same_size(VectorView<T>(state).size, "state"), ...);
  Backend::for_each(ctx, params.size,
                    detail::ElementwiseUpdate<Rule, T, sizeof...(State)>{rule, params.data, grad.data,
                                                                         {VectorView<T>(state).data...}});
}

}  // namespace metarm
