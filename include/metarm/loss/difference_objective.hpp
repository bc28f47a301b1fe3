// MetaRM's difference objective J of docs/math.md, to be maximised:
//   J = (1/m) sum_p (2 / k_p^2) sum_{i<j} sigma(|r(s_i) - r(s_j)|)
// over m prompts whose k_p >= 2 responses occupy rewards[offsets[p] .. offsets[p+1]).
#pragma once

#include <cmath>
#include <string>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

class DifferenceObjective {
 public:
  // Returns J and, unless d_rewards is empty, overwrites it with dJ/d(rewards).
  template <class Backend, class T>
  T value_and_gradient(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const index_t> offsets,
                       VectorView<T> d_rewards) const {
    METARM_REQUIRE(offsets.size >= 2, "DifferenceObjective",
                   "argument 'offsets' must describe at least one prompt (m + 1 >= 2 offsets), got " +
                       std::to_string(offsets.size));
    METARM_REQUIRE(d_rewards.size == 0 || d_rewards.size == rewards.size, "DifferenceObjective",
                   "argument 'd_rewards' must be empty or match 'rewards' (" + std::to_string(rewards.size) +
                       " values), got " + std::to_string(d_rewards.size));
    if constexpr (Backend::host_accessible) {
      // Device-side offsets were checked on the host when their batch was built.
      METARM_REQUIRE(offsets[0] == 0 && offsets[offsets.size - 1] == rewards.size, "DifferenceObjective",
                     "argument 'offsets' must run from 0 to the number of rewards (" + std::to_string(rewards.size) +
                         "), got " + std::to_string(offsets[0]) + " .. " + std::to_string(offsets[offsets.size - 1]));
      for (index_t p = 0; p + 1 < offsets.size; ++p) {
        METARM_REQUIRE(offsets[p + 1] - offsets[p] >= 2, "DifferenceObjective",
                       "argument 'offsets': prompt " + std::to_string(p) + " has k = " +
                           std::to_string(offsets[p + 1] - offsets[p]) + " responses; J needs k >= 2");
      }
    }
    const T value = Backend::difference_objective(ctx, rewards, offsets, d_rewards);
    METARM_REQUIRE(!std::isnan(value), "DifferenceObjective", "argument 'rewards' contains NaN or infinity");
    return value;
  }

  // Overwrites out with (d^2 J / d rewards^2) tangent, the reward-space part of an exact Hessian-vector
  // product. The rewards and offsets are those value_and_gradient was called with (and checked there).
  template <class Backend, class T>
  void hessian_product(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const index_t> offsets,
                       VectorView<const T> tangent, VectorView<T> out) const {
    METARM_REQUIRE(offsets.size >= 2, "DifferenceObjective::hessian_product",
                   "argument 'offsets' must describe at least one prompt (m + 1 >= 2 offsets), got " +
                       std::to_string(offsets.size));
    METARM_REQUIRE(tangent.size == rewards.size && out.size == rewards.size, "DifferenceObjective::hessian_product",
                   "arguments 'tangent' and 'out' must match 'rewards' (" + std::to_string(rewards.size) +
                       " values), got " + std::to_string(tangent.size) + " and " + std::to_string(out.size));
    Backend::difference_objective_hessian_product(ctx, rewards, offsets, tangent, out);
  }

  template <class Backend, class T>
  T value(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const index_t> offsets) const {
    return value_and_gradient<Backend, T>(ctx, rewards, offsets, VectorView<T>{});
  }
};

}  // namespace metarm
