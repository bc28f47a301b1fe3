// SPDX-License-Identifier: Apache-2.0
/// \file
/// One optimiser update as one pass over the parameters, the gradient and the optimiser's state vectors,
/// written once for every backend: a Rule is a struct of this step's hyperparameters with a METARM_HOST_DEVICE
/// call operator that updates one element in place,
///   void operator()(T& param, T grad, T& state_0, ..., T& state_{S-1}) const;
/// and apply_elementwise runs it over every element through the backend's for_each. The rule is copied into
/// device kernels, so it holds plain values only. Given a GradientNormSlot, the same
/// pass also sums the squared gradient (Backend::reduce_into), which spares the learner a separate trip
/// through the gradient to record its norm.
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

 protected:
  template <std::size_t... S>
  METARM_HOST_DEVICE void apply(index_t i, std::index_sequence<S...>) const {
    rule(params[i], grad[i], state[S][i]...);
  }
};

// The same update, returning the element's squared gradient for a reduction to sum.
template <class Rule, class T, std::size_t States>
struct ElementwiseUpdateSquaringGradient : ElementwiseUpdate<Rule, T, States> {
  METARM_HOST_DEVICE double operator()(index_t i) const {
    const double g = static_cast<double>(this->grad[i]);
    this->apply(i, std::make_index_sequence<States>{});
    return g * g;
  }
};

}  // namespace detail

/// Where an update leaves the squared norm of the gradient it applied: one double of backend memory, or
/// nowhere (null). Optimisers take one as an optional last argument of update() and pass it on here.
struct GradientNormSlot {
  /// The slot, in memory of the update's backend; null: the norm is not wanted.
  double* squared_norm = nullptr;
};

/// Runs `rule` on every element of params with the same element of grad and of each state vector; sizes must match.
template <class Backend, class T, class Rule, class... State>
void apply_elementwise(typename Backend::context& ctx, const Rule& rule, VectorView<T> params, VectorView<const T> grad,
                       State... state) {
  apply_elementwise<Backend>(ctx, GradientNormSlot{}, rule, params, grad, state...);
}

/// The same pass, also leaving the squared norm of grad in `slot` when it names one.
template <class Backend, class T, class Rule, class... State>
void apply_elementwise(typename Backend::context& ctx, GradientNormSlot slot, const Rule& rule, VectorView<T> params,
                       VectorView<const T> grad, State... state) {
  auto same_size = [&](index_t size, const char* what) {
    METARM_REQUIRE(size == params.size, "apply_elementwise",
                   "argument '{}' has {} values, 'params' has {}", what, size, params.size);
  };
  same_size(grad.size, "grad");
  (same_size(VectorView<T>(state).size, "state"), ...);
  const detail::ElementwiseUpdate<Rule, T, sizeof...(State)> update{rule, params.data, grad.data,
                                                                    {VectorView<T>(state).data...}};
  if (slot.squared_norm == nullptr) {
    Backend::for_each(ctx, params.size, update);
  } else {
    Backend::reduce_into(ctx, params.size,
                         detail::ElementwiseUpdateSquaringGradient<Rule, T, sizeof...(State)>{update},
                         slot.squared_norm);
  }
}

}  // namespace metarm
