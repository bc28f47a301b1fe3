// The preference (Bradley-Terry) loss of docs/math.md:
//   L = (1/n) sum_i softplus(-(r_w,i - r_l,i - m_i)) + c (1/n) sum_i (r_w,i + r_l,i)^2
// Rewards come laid out [chosen (n) | rejected (n)], as one forward pass over [X_chosen | X_rejected] gives.
#pragma once

#include <cmath>
#include <string>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"

namespace metarm {

class BradleyTerryLoss {
 public:
  // `centering` is the reward-centering coefficient c; it must be finite and >= 0.
  explicit BradleyTerryLoss(double centering = 0.0) : centering_(centering) {
    METARM_REQUIRE(std::isfinite(centering) && centering >= 0.0, "BradleyTerryLoss",
                   "argument 'centering' must be a finite value >= 0, got " + std::to_string(centering));
  }

  double centering() const { return centering_; }

  // Returns L and, unless d_rewards is empty, overwrites it with dL/d(rewards).
  template <class Backend, class T>
  T value_and_gradient(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const T> margins,
                       VectorView<T> d_rewards) const {
    METARM_REQUIRE(rewards.size >= 2 && rewards.size % 2 == 0, "BradleyTerryLoss",
                   "argument 'rewards' must hold 2n values (chosen then rejected) for n >= 1 pairs, got " +
                       std::to_string(rewards.size));
    const index_t n = rewards.size / 2;
    METARM_REQUIRE(margins.size == 0 || margins.size == n, "BradleyTerryLoss",
                   "argument 'margins' must be empty or hold one value per pair (" + std::to_string(n) + "), got " +
                       std::to_string(margins.size));
    METARM_REQUIRE(d_rewards.size == 0 || d_rewards.size == rewards.size, "BradleyTerryLoss",
                   "argument 'd_rewards' must be empty or match 'rewards' (" + std::to_string(rewards.size) +
                       " values), got " + std::to_string(d_rewards.size));
    const T value = Backend::bradley_terry(ctx, rewards, margins, static_cast<T>(centering_), d_rewards);
    METARM_REQUIRE(!std::isnan(value), "BradleyTerryLoss", "argument 'rewards' contains NaN or infinity");
    return value;
  }

  // Overwrites out with (d^2 L / d rewards^2) tangent, the reward-space part of an exact Hessian-vector
  // product. The rewards are those value_and_gradient was called with (and checked finite there).
  template <class Backend, class T>
  void hessian_product(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const T> margins,
                       VectorView<const T> tangent, VectorView<T> out) const {
    METARM_REQUIRE(rewards.size >= 2 && rewards.size % 2 == 0, "BradleyTerryLoss::hessian_product",
                   "argument 'rewards' must hold 2n values (chosen then rejected) for n >= 1 pairs, got " +
                       std::to_string(rewards.size));
    METARM_REQUIRE(margins.size == 0 || margins.size == rewards.size / 2, "BradleyTerryLoss::hessian_product",
                   "argument 'margins' must be empty or hold one value per pair (" + std::to_string(rewards.size / 2) +
                       "), got " + std::to_string(margins.size));
    METARM_REQUIRE(tangent.size == rewards.size && out.size == rewards.size, "BradleyTerryLoss::hessian_product",
                   "arguments 'tangent' and 'out' must match 'rewards' (" + std::to_string(rewards.size) +
                       " values), got " + std::to_string(tangent.size) + " and " + std::to_string(out.size));
    Backend::bradley_terry_hessian_product(ctx, rewards, margins, static_cast<T>(centering_), tangent, out);
  }

  template <class Backend, class T>
  T value(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const T> margins) const {
    return value_and_gradient<Backend, T>(ctx, rewards, margins, VectorView<T>{});
  }

 private:
  double centering_ = 0.0;
};

}  // namespace metarm
