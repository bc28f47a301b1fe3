// SPDX-License-Identifier: Apache-2.0
/// \file
/// What training changes and a checkpoint must keep: the parameters, the optimiser with its state vectors
/// and the number of updates applied, and the one operation that changes them, apply_update (clip, schedule,
/// optimiser). Parameters and state share the model's layout, so an update is one pass over a few flat
/// arrays.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/optim/clip.hpp"
#include "metarm/optim/optimizer.hpp"
#include "metarm/optim/schedule.hpp"
#include "metarm/params/flat_params.hpp"
#include "metarm/params/layout.hpp"

namespace metarm {

/// Settings of the training step that are not the strategy's or the optimiser's own.
struct StepOptions {
  double centering = 0.0;                  ///< reward-centering coefficient c of the preference loss
  double clip_norm = 0.0;                  ///< clip the applied gradient to this global norm; 0 disables
  Schedule schedule = Schedule::constant();  ///< multiplies the optimiser's learning_rate
};

/// The state a step changes and a checkpoint keeps: parameters, optimiser state vectors and the update count.
template <class T, class Backend, class Optimizer>
class TrainingState {
 public:
  /// The number of optimiser state vectors.
  static constexpr std::size_t state_count = Optimizer::state_names.size();

  /// Zeroed parameters and state laid out by `layout`; throws when the optimiser's settings or clip_norm are invalid.
  TrainingState(const Layout& layout, Optimizer optimizer, double clip_norm, Schedule schedule)
      : optimizer_(std::move(optimizer)), clip_norm_(clip_norm), schedule_(schedule), params_(layout) {
    optimizer_.validate();
    METARM_REQUIRE(std::isfinite(clip_norm_) && clip_norm_ >= 0.0, "StepOptions",
                   "argument 'clip_norm' must be finite and >= 0 (0 disables clipping), got {:f}", clip_norm_);
    for (auto& state : state_) {
      state = FlatParams<T, Backend>(layout);
    }
  }

  /// The parameters as one flat vector.
  VectorView<T> params() { return params_.view(); }
  /// The number of parameters.
  index_t parameter_count() const { return params_.size(); }
  /// The parameters with their layout.
  FlatParams<T, Backend>& parameters() { return params_; }
  /// The parameters with their layout, read-only.
  const FlatParams<T, Backend>& parameters() const { return params_; }
  /// The optimiser with its settings.
  const Optimizer& optimizer() const { return optimizer_; }
  /// Optimiser state vector i, laid out as the parameters.
  FlatParams<T, Backend>& optimizer_state(std::size_t i) { return state_[i]; }
  /// Optimiser state vector i, read-only.
  const FlatParams<T, Backend>& optimizer_state(std::size_t i) const { return state_[i]; }

  /// Number of optimiser updates applied so far.
  std::int64_t updates() const { return updates_; }
  /// Sets the update count, as when resuming from a checkpoint.
  void set_updates(std::int64_t updates) { updates_ = updates; }

  /// The learning rate the next update will use: the optimiser's rate times the schedule's factor.
  double learning_rate() const { return optimizer_.learning_rate * schedule_.factor(updates_); }
  /// The learning rate the last update used.
  double last_learning_rate() const { return last_learning_rate_; }

  /// Clips grad in place (when clipping is on), applies one optimiser update to the parameters and returns
  /// the gradient norm before clipping.
  double apply_update(typename Backend::context& ctx, VectorView<T> grad) {
    check_gradient(grad);
    if constexpr (Backend::host_accessible && measures_gradient) {
      if (clip_norm_ == 0.0) {
        double squared_norm = 0.0;
        update(ctx, grad, GradientNormSlot{&squared_norm});
        return std::sqrt(squared_norm);
      }
    }
    const double norm = clip_by_global_norm<Backend>(ctx, grad, clip_norm_);
    update(ctx, grad);
    return norm;
  }

  /// The same with the squared gradient norm before clipping left at `squared_norm`, one double of backend
  /// memory: on backends the host cannot read, clipping is decided there and nothing waits for the device.
  void apply_update(typename Backend::context& ctx, VectorView<T> grad, double* squared_norm) {
    check_gradient(grad);
    if constexpr (measures_gradient) {
      if (clip_norm_ == 0.0) {  // without clipping the norm is wanted only for the record: one pass does both
        update(ctx, grad, GradientNormSlot{squared_norm});
        return;
      }
    }
    if constexpr (Backend::host_accessible) {
      const double norm = clip_by_global_norm<Backend>(ctx, grad, clip_norm_);
      *squared_norm = norm * norm;
    } else {
      clip_by_global_norm_into<Backend>(ctx, grad, clip_norm_, squared_norm);
    }
    update(ctx, grad);
  }

  /// Every parameter-sized vector a checkpoint keeps, with the prefix of its tensors' names: the parameters
  /// under their block names, then each optimiser state vector under "optimizer.<state>.<block>".
  template <class Visit>
  void for_each_saved_vector(Visit&& visit) {
    visit(std::string(), params_);
    auto name = Optimizer::state_names.begin();
    for (auto& state : state_) {
      visit("optimizer." + std::string(*name++) + ".", state);
    }
  }

 private:
  void check_gradient(VectorView<T> grad) const {
    METARM_REQUIRE(grad.size == parameter_count(), "StepContext::apply_update",
                   "argument 'grad' has {} values, the model has {}", grad.size, parameter_count());
  }

  static constexpr bool measures_gradient = OptimizerMeasuresGradient<Optimizer, Backend, T>;

  void update(typename Backend::context& ctx, VectorView<T> grad, GradientNormSlot slot = {}) {
    last_learning_rate_ = learning_rate();
    ++updates_;
    std::array<VectorView<T>, state_count> state_views;
    auto view = state_views.begin();
    for (auto& state : state_) {
      *view++ = state.view();
    }
    const std::span<const VectorView<T>> states(state_views.data(), state_count);
    if constexpr (measures_gradient) {
      optimizer_.template update<Backend, T>(ctx, params_.view(), as_const(grad), states, last_learning_rate_,
                                             updates_, slot);
    } else {
      optimizer_.template update<Backend, T>(ctx, params_.view(), as_const(grad), states, last_learning_rate_,
                                             updates_);
    }
  }

  Optimizer optimizer_;
  double clip_norm_;
  Schedule schedule_;
  FlatParams<T, Backend> params_;
  std::array<FlatParams<T, Backend>, state_count> state_;
  std::int64_t updates_ = 0;
  double last_learning_rate_ = 0.0;
};

}  // namespace metarm
