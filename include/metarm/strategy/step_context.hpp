// Everything a strategy may use to perform one update: the current parameters, the preference and meta
// batches of this step, the two objectives, their gradients and Hessian-vector products at any point in
// parameter space, param-sized scratch vectors, vector algebra on the backend, and the optimiser.
//
// A StepContext owns the training state (parameters, optimiser state, model workspaces, scratch) so that
// after the first step nothing is allocated: scratch vectors and workspaces are created on first use and
// reused. Each objective has a workspace of its own, so an exact Hessian-vector product at the point and on
// the batch of that objective's last gradient reuses its forward pass (checked by value; see run_hvp).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "metarm/backend/views.hpp"
#include "metarm/core/error.hpp"
#include "metarm/data/batch.hpp"
#include "metarm/grad/hessian_vector.hpp"
#include "metarm/grad/objective_gradient.hpp"
#include "metarm/loss/bradley_terry.hpp"
#include "metarm/loss/difference_objective.hpp"
#include "metarm/model/reward_model.hpp"
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
  // Whether the model provides an exact Hessian-vector product (every built-in model does); without one,
  // Hessian-vector products fall back to central differences of gradients.
  static constexpr bool has_exact_hvp = HasExactHvp<Model, Backend, Input>;

  // A preference batch cut in two: the first pairs (support) and the rest (query), for strategies that
  // adapt on one part and evaluate on the other.
  struct PreferenceSplit {
    PreferenceBatch<T, Input> support;
    PreferenceBatch<T, Input> query;
  };

  StepContext(Model model, Optimizer optimizer, StepOptions options, typename Backend::context ctx)
      : model_(std::move(model)),
        optimizer_(std::move(optimizer)),
        options_(std::move(options)),
        loss_(options_.centering),
        ctx_(std::move(ctx)),
        params_(model_.layout()),
        preference_(model_.template make_workspace<Backend>(0)),
        difference_(model_.template make_workspace<Backend>(0)) {
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
    return preference_loss_and_gradient(at, grad, preference_batch_);
  }

  // The same on another batch of pairs, such as a part of split_preference_batch.
  T preference_loss(VectorView<const T> at, const PreferenceBatch<T, Input>& batch) {
    return preference_loss_and_gradient(at, VectorView<T>{}, batch);
  }
  T preference_loss_and_gradient(VectorView<const T> at, VectorView<T> grad, const PreferenceBatch<T, Input>& batch) {
    check_point(at, grad, "preference_loss_and_gradient");
    Evaluation& e = preference_;
    reserve_rewards(e, batch.features.cols);
    VectorView<const T> rewards;
    const T value = metarm::preference_loss_and_gradient<Backend>(ctx_, model_, loss_, at, batch, e.ws,
                                                                  e.d_rewards.view(), grad, &rewards);
    record_pass(e, at, key_of(batch), rewards, !grad.empty());
    record_batch_stats(rewards);
    return value;
  }

  // The pairs' ordering where the preference loss was last taken.
  const PreferenceBatchStats& preference_batch_stats() const { return batch_stats_; }

  T difference_objective(VectorView<const T> at) { return difference_objective_and_gradient(at, VectorView<T>{}); }

  // Returns J(at) on this step's meta batch and overwrites grad with its gradient (unless empty).
  T difference_objective_and_gradient(VectorView<const T> at, VectorView<T> grad) {
    check_point(at, grad, "difference_objective_and_gradient");
    METARM_REQUIRE(has_meta_batch(), "StepContext::difference_objective_and_gradient",
                   "this step has no meta batch; give fit() a meta set (or step() a meta batch)");
    Evaluation& e = difference_;
    reserve_rewards(e, meta_batch_.features.cols);
    VectorView<const T> rewards;
    const T value = metarm::difference_objective_and_gradient<Backend>(ctx_, model_, objective_, at, meta_batch_, e.ws,
                                                                       e.d_rewards.view(), grad, &rewards);
    record_pass(e, at, key_of(meta_batch_), rewards, !grad.empty());
    return value;
  }

  // ---- Hessian-vector products at any point `at` --------------------------------------------------------
  // Each overwrites `out` with H v, H the Hessian of the objective at `at`: exactly (forward-over-reverse)
  // or by central differences of gradients, as options.method says. `out` may not alias `at` or `v`. An
  // exact product at the point and on the batch of the same objective's last gradient skips the forward
  // pass, which that gradient left in the objective's workspace.

  // H_L(at) v on this step's preference batch, or on `batch`.
  void preference_hvp(VectorView<const T> at, VectorView<const T> v, VectorView<T> out, HvpOptions options = {}) {
    preference_hvp(at, v, out, preference_batch_, options);
  }
  void preference_hvp(VectorView<const T> at, VectorView<const T> v, VectorView<T> out,
                      const PreferenceBatch<T, Input>& batch, HvpOptions options = {}) {
    run_hvp(
        "preference_hvp", preference_, key_of(batch), batch.features, at, v, out, options,
        [&](VectorView<const T> point, VectorView<T> grad) { preference_loss_and_gradient(point, grad, batch); },
        [&](VectorView<const T> rewards, VectorView<T> d_rewards) {
          return loss_.template value_and_gradient<Backend, T>(ctx_, rewards, batch.margins, d_rewards);
        },
        [&](VectorView<const T> rewards, VectorView<const T> tangent, VectorView<T> product) {
          loss_.template hessian_product<Backend, T>(ctx_, rewards, batch.margins, tangent, product);
        });
  }

  // H_J(at) v on this step's meta batch.
  void difference_hvp(VectorView<const T> at, VectorView<const T> v, VectorView<T> out, HvpOptions options = {}) {
    METARM_REQUIRE(has_meta_batch(), "StepContext::difference_hvp",
                   "this step has no meta batch; give fit() a meta set (or step() a meta batch)");
    run_hvp(
        "difference_hvp", difference_, key_of(meta_batch_), meta_batch_.features, at, v, out, options,
        [&](VectorView<const T> point, VectorView<T> grad) { difference_objective_and_gradient(point, grad); },
        [&](VectorView<const T> rewards, VectorView<T> d_rewards) {
          return objective_.template value_and_gradient<Backend, T>(ctx_, rewards, meta_batch_.offsets, d_rewards);
        },
        [&](VectorView<const T> rewards, VectorView<const T> tangent, VectorView<T> product) {
          objective_.template hessian_product<Backend, T>(ctx_, rewards, meta_batch_.offsets, tangent, product);
        });
  }

  // ---- support and query ----------------------------------------------------------------------------------

  // This step's preference batch as two batches: its first `support_pairs` pairs (0: half of them, rounded
  // down) and the remaining ones. The columns are copied once per call into storage the context keeps, so
  // both parts stay valid until the next call or the next step.
  PreferenceSplit split_preference_batch(index_t support_pairs = 0)
    requires std::is_same_v<Input, MatrixView<const T>>
  {
    const char* where = "StepContext::split_preference_batch";
    const PreferenceBatch<T, Input>& batch = preference_batch_;
    const index_t n = batch.pairs();
    METARM_REQUIRE(n >= 2, where,
                   "a support/query split needs a preference batch of at least 2 pairs, this one has " +
                       std::to_string(n) + " (with fit(), set drop_last or a batch size that leaves no batch of 1)");
    METARM_REQUIRE(support_pairs >= 0, where,
                   "argument 'support_pairs' must be >= 0 (0 takes half), got " + std::to_string(support_pairs));
    METARM_REQUIRE(support_pairs < n, where,
                   "argument 'support_pairs' (" + std::to_string(support_pairs) +
                       ") must leave at least one query pair in this batch of " + std::to_string(n) +
                       " pairs (with fit(), set drop_last so that every batch has batch_size pairs)");
    const index_t s = support_pairs > 0 ? support_pairs : n / 2;
    const index_t q = n - s;
    const index_t d = batch.features.rows;
    split_features_.resize(d * 2 * n);
    preference_.forget();  // the storage its last pass may have read is rewritten
    const MatrixView<T> out = split_features_.matrix(d, 2 * n);
    // Each part keeps the [chosen | rejected] column order of a batch.
    copy_columns(batch.features, 0, s, out, 0);
    copy_columns(batch.features, n, s, out, s);
    copy_columns(batch.features, s, q, out, 2 * s);
    copy_columns(batch.features, n + s, q, out, 2 * s + q);
    PreferenceSplit split{{as_const(out.columns(0, 2 * s)), {}}, {as_const(out.columns(2 * s, 2 * q)), {}}};
    if (!batch.margins.empty()) {
      split.support.margins = batch.margins.segment(0, s);
      split.query.margins = batch.margins.segment(s, q);
    }
    return split;
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
  // to = y + alpha * x, in one pass on backends that fuse it; `to` may alias y but not x.
  void add_scaled(VectorView<const T> y, T alpha, VectorView<const T> x, VectorView<T> to) {
    if constexpr (requires { Backend::add_scaled(ctx_, y, alpha, x, to); }) {
      Backend::add_scaled(ctx_, y, alpha, x, to);
    } else {
      Backend::copy(ctx_, y, to);
      Backend::axpy(ctx_, alpha, x, to);
    }
  }
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
    auto state = state_.begin();
    for (auto& view : state_views) {
      view = (state++)->view();
    }
    optimizer_.template update<Backend, T>(ctx_, params_.view(), as_const(grad),
                                           std::span<const VectorView<T>>(state_views.data(), state_count),
                                           last_learning_rate_, updates_);
    return norm;
  }

  double last_learning_rate() const { return last_learning_rate_; }

  // ---- for the learner, checkpoints and tests --------------------------------------------------------------

  // New batches may reuse the memory of old ones, so no pass held is reusable afterwards.
  void set_batches(const PreferenceBatch<T, Input>& pairs, const MetaBatch<T, Input>& meta) {
    preference_batch_ = pairs;
    meta_batch_ = meta;
    preference_.forget();
    difference_.forget();
  }
  FlatParams<T, Backend>& parameters() { return params_; }
  const FlatParams<T, Backend>& parameters() const { return params_; }
  FlatParams<T, Backend>& optimizer_state(std::size_t i) { return state_[i]; }
  const FlatParams<T, Backend>& optimizer_state(std::size_t i) const { return state_[i]; }
  void set_updates(std::int64_t updates) { updates_ = updates; }
  // The workspace of the preference objective (the difference objective has its own).
  typename Model::template workspace<Backend>& workspace() { return preference_.ws; }

  // Sizes workspaces for batches of up to `columns` columns so that the first step need not.
  void reserve(index_t columns) {
    for (Evaluation* e : {&preference_, &difference_}) {
      if constexpr (requires { model_.reserve(e->ws, columns); }) {
        model_.reserve(e->ws, columns);
      }
      reserve_rewards(*e, columns);
    }
  }

 private:
  // One objective's workspace and reward derivative, and what they hold. Once an exact Hessian-vector
  // product of the objective has been asked for, every gradient pass keeps a copy of its point, so that a
  // product at the same point (same bits) and on the same batch can reuse the pass instead of repeating
  // its forward half; before that, nothing is copied and first-order strategies pay nothing.
  struct BatchKey {
    const void* features = nullptr;
    index_t columns = 0;
    const void* structure = nullptr;  // margins or offsets
    friend bool operator==(const BatchKey&, const BatchKey&) = default;
  };
  struct Evaluation {
    explicit Evaluation(typename Model::template workspace<Backend> workspace) : ws(std::move(workspace)) {}
    void forget() { holds_pass = false; }

    typename Model::template workspace<Backend> ws;
    typename Backend::template buffer<T> d_rewards;
    typename Backend::template buffer<T> point;  // the point of the pass held, once exact products are in use
    VectorView<const T> rewards{};               // the pass's rewards, in ws
    BatchKey batch{};
    bool holds_pass = false;
    bool exact_products_in_use = false;
  };

  static const void* features_address(const Input& x) {
    if constexpr (requires { x.data; }) {
      return x.data;
    } else {
      return x.values;  // sparse columns
    }
  }
  static BatchKey key_of(const PreferenceBatch<T, Input>& batch) {
    return {features_address(batch.features), batch.features.cols, batch.margins.data};
  }
  static BatchKey key_of(const MetaBatch<T, Input>& batch) {
    return {features_address(batch.features), batch.features.cols, batch.offsets.data};
  }

  // Called after every pass over an objective's workspace.
  void record_pass(Evaluation& e, VectorView<const T> at, const BatchKey& batch, VectorView<const T> rewards,
                   bool with_derivative) {
    e.holds_pass = e.exact_products_in_use && with_derivative;
    if (e.holds_pass) {
      if (e.point.size() != at.size) {
        e.point.resize(at.size);
      }
      Backend::copy(ctx_, at, e.point.view());
      e.rewards = rewards;
      e.batch = batch;
    }
  }

  bool holds_pass_at(Evaluation& e, VectorView<const T> at, const BatchKey& batch) {
    return e.holds_pass && e.batch == batch && Backend::identical(ctx_, at, as_const(e.point.view()));
  }

  template <class Gradient, class RewardObjective, class RewardHessianProduct>
  void run_hvp(const char* what, Evaluation& e, const BatchKey& batch, const Input& x, VectorView<const T> at,
               VectorView<const T> v, VectorView<T> out, const HvpOptions& options, Gradient&& gradient,
               RewardObjective&& reward_objective, RewardHessianProduct&& hessian_product) {
    // Messages are built only when a check fails: this runs inside training steps.
    auto where = [what] { return std::string("StepContext::") + what; };
    check_point(at, VectorView<T>{}, what);
    METARM_REQUIRE(v.size == parameter_count() && out.size == parameter_count(), where(),
                   "arguments 'v' and 'out' must have " + std::to_string(parameter_count()) + " values, got " +
                       std::to_string(v.size) + " and " + std::to_string(out.size));
    METARM_REQUIRE(out.data != at.data && out.data != v.data, where(), "argument 'out' must not alias 'at' or 'v'");
    if (!(std::isfinite(options.finite_difference_step) && options.finite_difference_step >= 0.0)) {
      validate_hvp_options(options, where().c_str());
    }
    bool use_exact = has_exact_hvp;
    if (options.method == HvpMethod::exact) {
      METARM_REQUIRE(has_exact_hvp, where(),
                     "HvpMethod::exact needs a model with an `hvp` member (see Mlp::hvp); the model '" +
                         std::string(model_.describe()) +
                         "' has none: use HvpMethod::finite_difference, or automatic to fall back to it");
    } else if (options.method == HvpMethod::finite_difference) {
      use_exact = false;
    }
    if (!use_exact) {
      if (fd_point_.size() != parameter_count()) {
        fd_point_.resize(parameter_count());
        fd_grad_.resize(parameter_count());
      }
      finite_difference_hvp<Backend, T>(ctx_, gradient, at, v, fd_point_.view(), fd_grad_.view(), out,
                                        options.finite_difference_step);
      return;
    }
    if constexpr (has_exact_hvp) {
      reserve_rewards(e, x.cols);
      VectorView<const T> rewards = e.rewards;
      if (!holds_pass_at(e, at, batch)) {
        e.exact_products_in_use = true;
        rewards = model_.template forward<Backend>(ctx_, at, x, e.ws);
        reward_objective(rewards, e.d_rewards.view().segment(0, rewards.size));
        record_pass(e, at, batch, rewards, true);
      }
      exact_hvp_of_pass<Backend>(ctx_, model_, at, x, e.ws, rewards,
                                 as_const(e.d_rewards.view().segment(0, rewards.size)), hessian_product, v, out);
    }
  }

  void copy_columns(MatrixView<const T> from, index_t first, index_t count, MatrixView<T> to, index_t to_first) {
    if (from.contiguous()) {
      Backend::copy(ctx_, VectorView<const T>{from.data + first * from.ld, from.rows * count},
                    VectorView<T>{to.data + to_first * to.ld, to.rows * count});
      return;
    }
    for (index_t j = 0; j < count; ++j) {
      Backend::copy(ctx_, VectorView<const T>{from.data + (first + j) * from.ld, from.rows},
                    VectorView<T>{to.data + (to_first + j) * to.ld, to.rows});
    }
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

  void check_point(VectorView<const T> at, VectorView<T> grad, const char* what) const {
    METARM_REQUIRE(at.size == parameter_count(), std::string("StepContext::") + what,
                   "argument 'at' has " + std::to_string(at.size) + " values, the model has " +
                       std::to_string(parameter_count()));
    METARM_REQUIRE(grad.empty() || grad.size == parameter_count(), std::string("StepContext::") + what,
                   "argument 'grad' has " + std::to_string(grad.size) + " values, the model has " +
                       std::to_string(parameter_count()));
  }

  static void reserve_rewards(Evaluation& e, index_t columns) {
    if (e.d_rewards.size() < columns) {
      e.d_rewards.resize(columns);
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
  Evaluation preference_;  // the preference loss's workspace and its state
  Evaluation difference_;  // the difference objective's
  std::vector<typename Backend::template buffer<T>> scratch_;
  typename Backend::template buffer<T> fd_point_;  // finite-difference Hessian-vector products
  typename Backend::template buffer<T> fd_grad_;
  typename Backend::template buffer<T> split_features_;  // split_preference_batch
  PreferenceBatch<T, Input> preference_batch_{};
  MetaBatch<T, Input> meta_batch_{};
  PreferenceBatchStats batch_stats_{};
  std::int64_t updates_ = 0;
  double last_learning_rate_ = 0.0;
};

}  // namespace metarm
