// Everything a strategy may use to perform one update: the current parameters, the preference and meta
// batches of this step, the two objectives and their gradients at any point in parameter space,
// param-sized scratch vectors, vector algebra on the backend, and the optimiser.
//
// A StepContext owns the training state (parameters, optimiser state, model workspace, scratch) so that
// after the first step nothing is allocated: scratch vectors and workspaces are created on first use and
// reused.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/data/batch.hpp"
#include "metarm/grad/objective_gradient.hpp"
#include "metarm/loss/bradley_terry.hpp"
#include "metarm/loss/difference_objective.hpp"
#include "metarm/optim/clip.hpp"
#include "metarm/optim/schedule.hpp"
#include "metarm/params/flat_params.hpp"
#include "metarm/strategy/step_stats.hpp"

namespace metarm {

// Settings of the training step that are not the strategy's or the optimiser's own.
struct StepOptions {
  double centering = 0.0;                  // reward-centering coefficient c of the preference loss
  double clip_norm = 0.0;                  // clip the applied gradient to this global norm; 0 disables
  Schedule schedule = Schedule::constant();  // multiplies the optimiser's learning_rate
};

// How the preference batch's pairs were ordered where the strategy last took the preference loss (at the
// adapted point, for MetaRM). NaN when not measured (backends whose memory the host cannot read).
struct PreferenceBatchStats {
  double accuracy = StepStats::not_measured;  // share of pairs with r_chosen > r_rejected, ties one half
  double margin = StepStats::not_measured;    // mean r_chosen - r_rejected
  double chosen = StepStats::not_measured;    // mean r_chosen
  double rejected = StepStats::not_measured;  // mean r_rejected
};

// Input is the type of the batches' features: dense MatrixView (the default) or SparseMatrixView.
template <class Model, class Optimizer, class Backend, class Input = MatrixView<const typename Model::scalar_type>>
class StepContext {
 public:
  using model_type = Model;
  using optimizer_type = Optimizer;
  using backend_type = Backend;
  using input_type = Input;
  using scalar_type = typename Model::scalar_type;
  using T = scalar_type;
  static constexpr std::size_t state_count = Optimizer::state_names.size();

  StepContext(Model model, Optimizer optimizer, StepOptions options, typename Backend::context ctx)
      : model_(std::move(model)),
        optimizer_(std::move(optimizer)),
        options_(std::move(options)),
        loss_(options_.centering),
        ctx_(std::move(ctx)),
        params_(model_.layout()),
        workspace_(model_.template make_workspace<Backend>(0)) {
    optimizer_.validate();
    METARM_REQUIRE(std::isfinite(options_.clip_norm) && options_.clip_norm >= 0.0, "StepOptions",
                   "argument 'clip_norm' must be finite and >= 0 (0 disables clipping), got " +
                       std::to_string(options_.clip_norm));
    for (auto& state : state_) {
      state = FlatParams<T, Backend>(model_.layout());
    }
  }

  // ---- the state being trained --------------------------------------------------------------------------

  VectorView<T> params() { return params_.view(); }
  index_t parameter_count() const { return params_.size(); }
  const Layout& layout() const { return model_.layout(); }
  const Model& model() const { return model_; }
  const Optimizer& optimizer() const { return optimizer_; }
  const StepOptions& options() const { return options_; }
  const BradleyTerryLoss& loss() const { return loss_; }
  // Backend ops take the context by reference; it carries no state a caller of a const member could see.
  typename Backend::context& backend_context() const { return ctx_; }

  // Number of optimiser updates applied so far.
  std::int64_t updates() const { return updates_; }

  // ---- this step's batches ------------------------------------------------------------------------------

  const PreferenceBatch<T, Input>& preference_batch() const { return preference_batch_; }
  const MetaBatch<T, Input>& meta_batch() const { return meta_batch_; }
  bool has_meta_batch() const { return !meta_batch_.empty(); }

  // ---- objectives at any point `at` of parameter space (a view of parameter_count() values) ---------------

  T preference_loss(VectorView<const T> at) { return preference_loss_and_gradient(at, VectorView<T>{}); }

  // Returns L(at) on this step's preference batch and overwrites grad with its gradient (unless empty).
  T preference_loss_and_gradient(VectorView<const T> at, VectorView<T> grad) {
    check_point(at, grad, "preference_loss_and_gradient");
    reserve_rewards(preference_batch_.features.cols);
    return objective_and_gradient<Backend>(
        ctx_, model_, at, preference_batch_.features, workspace_,
        [&](VectorView<const T> rewards, VectorView<T> d_rewards) {
          const T value =
              loss_.template value_and_gradient<Backend, T>(ctx_, rewards, preference_batch_.margins, d_rewards);
          record_batch_stats(rewards);
          return value;
        },
        d_rewards_.view(), grad);
  }

  // The pairs' ordering where the preference loss was last taken.
  const PreferenceBatchStats& preference_batch_stats() const { return batch_stats_; }

  T difference_objective(VectorView<const T> at) { return difference_objective_and_gradient(at, VectorView<T>{}); }

  // Returns J(at) on this step's meta batch and overwrites grad with its gradient (unless empty).
  T difference_objective_and_gradient(VectorView<const T> at, VectorView<T> grad) {
    check_point(at, grad, "difference_objective_and_gradient");
    METARM_REQUIRE(has_meta_batch(), "StepContext::difference_objective_and_gradient",
                   "this step has no meta batch; give fit() a meta set (or step() a meta batch)");
    reserve_rewards(meta_batch_.features.cols);
    return metarm::difference_objective_and_gradient<Backend>(ctx_, model_, objective_, at, meta_batch_, workspace_,
                                                              d_rewards_.view(), grad);
  }

  // ---- scratch and vector algebra -----------------------------------------------------------------------

  // A parameter-sized vector that persists across steps; zero when first handed out.
  VectorView<T> scratch(std::size_t slot) {
    while (scratch_.size() <= slot) {
      scratch_.emplace_back(parameter_count());
    }
    return scratch_[slot].view();
  }

  void copy(VectorView<const T> from, VectorView<T> to) { Backend::copy(ctx_, from, to); }
  void axpy(T alpha, VectorView<const T> x, VectorView<T> y) { Backend::axpy(ctx_, alpha, x, y); }
  void scale(T alpha, VectorView<T> x) { Backend::scale(ctx_, alpha, x); }
  void fill(VectorView<T> x, T value) { Backend::fill(ctx_, x, value); }
  T dot(VectorView<const T> x, VectorView<const T> y) { return Backend::dot(ctx_, x, y); }
  double norm(VectorView<const T> x) { return std::sqrt(static_cast<double>(Backend::squared_norm(ctx_, x))); }

  // ---- the update -----------------------------------------------------------------------------------------

  // The learning rate the next update will use: the optimiser's rate times the schedule's factor.
  double learning_rate() const { return optimizer_.learning_rate * options_.schedule.factor(updates_); }

  // Clips grad in place (when clipping is on), applies one optimiser update to params() and returns the
  // gradient norm before clipping.
  double apply_update(VectorView<T> grad) {
    METARM_REQUIRE(grad.size == parameter_count(), "StepContext::apply_update",
                   "argument 'grad' has " + std::to_string(grad.size) + " values, the model has " +
                       std::to_string(parameter_count()));
    const double norm = clip_by_global_norm<Backend>(ctx_, grad, options_.clip_norm);
    last_learning_rate_ = learning_rate();
    ++updates_;
    std::array<VectorView<T>, state_count> state_views;
    for (std::size_t i = 0; i < state_count; ++i) {
      state_views[i] = state_[i].view();
    }
    optimizer_.template update<Backend, T>(ctx_, params_.view(), as_const(grad),
                                           std::span<const VectorView<T>>(state_views.data(), state_count),
                                           last_learning_rate_, updates_);
    return norm;
  }

  double last_learning_rate() const { return last_learning_rate_; }

  // ---- for the learner, checkpoints and tests --------------------------------------------------------------

  void set_batches(const PreferenceBatch<T, Input>& pairs, const MetaBatch<T, Input>& meta) {
    preference_batch_ = pairs;
    meta_batch_ = meta;
  }
  FlatParams<T, Backend>& parameters() { return params_; }
  const FlatParams<T, Backend>& parameters() const { return params_; }
  FlatParams<T, Backend>& optimizer_state(std::size_t i) { return state_[i]; }
  const FlatParams<T, Backend>& optimizer_state(std::size_t i) const { return state_[i]; }
  void set_updates(std::int64_t updates) { updates_ = updates; }
  typename Model::template workspace<Backend>& workspace() { return workspace_; }

  // Sizes workspaces for batches of up to `columns` columns so that the first step need not.
  void reserve(index_t columns) {
    if constexpr (requires { model_.reserve(workspace_, columns); }) {
      model_.reserve(workspace_, columns);
    }
    reserve_rewards(columns);
  }

 private:
  void check_point(VectorView<const T> at, VectorView<T> grad, const char* what) const {
    METARM_REQUIRE(at.size == parameter_count(), std::string("StepContext::") + what,
                   "argument 'at' has " + std::to_string(at.size) + " values, the model has " +
                       std::to_string(parameter_count()));
    METARM_REQUIRE(grad.empty() || grad.size == parameter_count(), std::string("StepContext::") + what,
                   "argument 'grad' has " + std::to_string(grad.size) + " values, the model has " +
                       std::to_string(parameter_count()));
  }

  void record_batch_stats(VectorView<const T> rewards) {
    if constexpr (Backend::host_accessible) {
      const index_t n = rewards.size / 2;
      double wins = 0.0, chosen = 0.0, rejected = 0.0;
      for (index_t i = 0; i < n; ++i) {
        const double c = static_cast<double>(rewards[i]);
        const double r = static_cast<double>(rewards[n + i]);
        wins += c > r ? 1.0 : (c == r ? 0.5 : 0.0);
        chosen += c;
        rejected += r;
      }
      const double inv_n = 1.0 / static_cast<double>(n);
      batch_stats_ = {wins * inv_n, (chosen - rejected) * inv_n, chosen * inv_n, rejected * inv_n};
    }
  }

  void reserve_rewards(index_t columns) {
    if (d_rewards_.size() < columns) {
      d_rewards_.resize(columns);
    }
  }

  Model model_;
  Optimizer optimizer_;
  StepOptions options_;
  BradleyTerryLoss loss_;
  DifferenceObjective objective_;
  mutable typename Backend::context ctx_;
  FlatParams<T, Backend> params_;
  std::array<FlatParams<T, Backend>, state_count> state_;
  typename Model::template workspace<Backend> workspace_;
  typename Backend::template buffer<T> d_rewards_;
  std::vector<typename Backend::template buffer<T>> scratch_;
  PreferenceBatch<T, Input> preference_batch_{};
  MetaBatch<T, Input> meta_batch_{};
  PreferenceBatchStats batch_stats_{};
  std::int64_t updates_ = 0;
  double last_learning_rate_ = 0.0;
};

}  // namespace metarm
