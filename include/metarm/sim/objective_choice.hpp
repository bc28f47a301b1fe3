// SPDX-License-Identifier: Apache-2.0
/// \file
/// A preference loss or meta objective chosen at run time among a fixed list: ObjectiveChoice<A, B, ...> holds
/// one of them and forwards every member of the loss and meta-objective contracts (loss/preference_loss.hpp,
/// loss/meta_objective.hpp) to it. An arm built from text (sim/make_arm.hpp) names its loss and meta objective
/// at run time; with this, one MetaLearner type per strategy serves them all, where a type per combination
/// would multiply the program's compile time. The chosen objective computes exactly what it computes alone.
#pragma once

#include <utility>
#include <variant>

#include "metarm/backend/views.hpp"
#include "metarm/core/config.hpp"

namespace metarm::sim {

/// One of `Alternatives`, chosen at run time, as a preference loss or a meta objective; see the file.
template <class... Alternatives>
class ObjectiveChoice {
 public:
  /// The first alternative, default-constructed.
  ObjectiveChoice() = default;
  /// Holds `objective`, one of the alternatives.
  template <class Objective>
  ObjectiveChoice(Objective objective) : chosen_(std::move(objective)) {}  // NOLINT: implicit by design

  /// Which alternative is held, 0-based in the list's order.
  std::size_t index() const { return chosen_.index(); }

  /// The held loss's or objective's value_and_gradient (margins for a loss, prompt offsets for an objective).
  template <class Backend, class T>
  T value_and_gradient(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const T> margins,
                       VectorView<T> d_rewards) const {
    return value_and_gradient_of<Backend, T>(ctx, rewards, margins, d_rewards);
  }
  /// The same with prompt offsets.
  template <class Backend, class T>
  T value_and_gradient(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const index_t> offsets,
                       VectorView<T> d_rewards) const {
    return value_and_gradient_of<Backend, T>(ctx, rewards, offsets, d_rewards);
  }
  /// The held one's value_and_gradient_into (the value left in backend memory).
  template <class Backend, class T>
  void value_and_gradient_into(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const T> margins,
                               VectorView<T> d_rewards, double* value) const {
    value_and_gradient_into_of<Backend, T>(ctx, rewards, margins, d_rewards, value);
  }
  /// The same with prompt offsets.
  template <class Backend, class T>
  void value_and_gradient_into(typename Backend::context& ctx, VectorView<const T> rewards,
                               VectorView<const index_t> offsets, VectorView<T> d_rewards, double* value) const {
    value_and_gradient_into_of<Backend, T>(ctx, rewards, offsets, d_rewards, value);
  }
  /// The held one's value.
  template <class Backend, class T>
  T value(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const T> margins) const {
    return value_and_gradient_of<Backend, T>(ctx, rewards, margins, VectorView<T>{});
  }
  /// The same with prompt offsets.
  template <class Backend, class T>
  T value(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const index_t> offsets) const {
    return value_and_gradient_of<Backend, T>(ctx, rewards, offsets, VectorView<T>{});
  }
  /// The held one's hessian_product.
  template <class Backend, class T>
  void hessian_product(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const T> margins,
                       VectorView<const T> tangent, VectorView<T> out) const {
    hessian_product_of<Backend, T>(ctx, rewards, margins, tangent, out);
  }
  /// The same with prompt offsets.
  template <class Backend, class T>
  void hessian_product(typename Backend::context& ctx, VectorView<const T> rewards, VectorView<const index_t> offsets,
                       VectorView<const T> tangent, VectorView<T> out) const {
    hessian_product_of<Backend, T>(ctx, rewards, offsets, tangent, out);
  }

 private:
  template <class Backend, class T, class Structure>
  T value_and_gradient_of(typename Backend::context& ctx, VectorView<const T> rewards, Structure structure,
                          VectorView<T> d_rewards) const {
    return std::visit(
        [&](const auto& o) { return o.template value_and_gradient<Backend, T>(ctx, rewards, structure, d_rewards); },
        chosen_);
  }
  template <class Backend, class T, class Structure>
  void value_and_gradient_into_of(typename Backend::context& ctx, VectorView<const T> rewards, Structure structure,
                                  VectorView<T> d_rewards, double* value) const {
    std::visit(
        [&](const auto& o) {
          o.template value_and_gradient_into<Backend, T>(ctx, rewards, structure, d_rewards, value);
        },
        chosen_);
  }
  template <class Backend, class T, class Structure>
  void hessian_product_of(typename Backend::context& ctx, VectorView<const T> rewards, Structure structure,
                          VectorView<const T> tangent, VectorView<T> out) const {
    std::visit(
        [&](const auto& o) { o.template hessian_product<Backend, T>(ctx, rewards, structure, tangent, out); },
        chosen_);
  }

  std::variant<Alternatives...> chosen_;
};

}  // namespace metarm::sim
