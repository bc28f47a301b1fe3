// SPDX-License-Identifier: Apache-2.0
/// \file
/// Everything a strategy may use to perform one update, in three parts:
///  - the state being trained (TrainingState: parameters, optimiser and its state, the update) and the
///    strategy's own parameter-sized scratch vectors (ScratchVectors), which persist across steps;
///  - the two objectives of the step with their caches (ObjectiveEvaluator): the preference loss on this
///    step's pairs and the meta objective on this step's prompts, their values, gradients and
///    Hessian-vector products at any point of parameter space;
///  - vector algebra on the backend.
/// Loss and MetaObjective are types (loss/): any strategy works with any of them.
///
/// After the first step nothing is allocated: scratch vectors and workspaces are created on first use and
/// reused.
///
/// Under a communicator of several ranks (set_communicator), each rank's batches are its shard of the global
/// batch, and every gradient and Hessian-vector product the context hands out, and every value it returns,
/// is already the mean over the ranks: the global batch's. Values recorded in backend memory stay the rank's
/// own until the learner averages the statistics it reads.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "metarm/backend/views.hpp"
#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/data/batch.hpp"
#include "metarm/distributed/communicator.hpp"
#include "metarm/grad/hessian_vector.hpp"
#include "metarm/loss/bradley_terry.hpp"
#include "metarm/loss/difference_objective.hpp"
#include "metarm/loss/meta_objective.hpp"
#include "metarm/loss/preference_loss.hpp"
#include "metarm/metrics/step_stats.hpp"
#include "metarm/model/reward_model.hpp"
#include "metarm/optim/clip.hpp"
#include "metarm/strategy/objective_evaluator.hpp"
#include "metarm/strategy/recorded_statistics.hpp"
#include "metarm/strategy/scratch_vectors.hpp"
#include "metarm/strategy/training_state.hpp"

namespace metarm {

/// How the preference batch's pairs were ordered where the strategy last took the preference loss (at the
/// adapted point, for MetaRM). NaN when not measured (backends whose memory the host cannot read).
struct PreferenceBatchStats {
  double accuracy = StepStats::not_measured;  ///< share of pairs with r_chosen > r_rejected, ties one half
  double margin = StepStats::not_measured;    ///< mean r_chosen - r_rejected
  double chosen = StepStats::not_measured;    ///< mean r_chosen
  double rejected = StepStats::not_measured;  ///< mean r_rejected
};

namespace detail {

// Makes a backend context's device the thread's current one, for backends that have devices
// (cuda_context::make_current): buffers are allocated on the current device, so the learner calls this
// before the work of each call that may allocate, and the step context before it allocates its state.
template <class Context>
void make_current(Context& ctx) {
  if constexpr (requires { ctx.make_current(); }) {
    ctx.make_current();
  }
}

template <class Context>
Context&& made_current(Context& ctx) {
  make_current(ctx);
  return std::move(ctx);
}

// to[i] = y[i] + alpha x[i], returning x[i]^2 for the reduction that sums the squared norm of x in the same pass.
template <class T>
struct AddScaledSquaringAddend {
  const T* y;
  T alpha;
  const T* x;
  T* to;
  METARM_HOST_DEVICE double operator()(index_t i) const {
    const T xi = x[i];
    to[i] = y[i] + alpha * xi;
    const double v = static_cast<double>(xi);
    return v * v;
  }
};

}  // namespace detail

/// The context through which a strategy performs one update; see the file's description.
///
/// Input is the type of the batches' features: dense MatrixView (the default) or SparseMatrixView.
template <class Model, class Optimizer, class Backend, class Input = MatrixView<const typename Model::scalar_type>,
          class Loss = BradleyTerryLoss, class MetaObjective = DifferenceObjective>
class StepContext {
 public:
  /// The reward model type.
  using model_type = Model;
  /// The optimiser type.
  using optimizer_type = Optimizer;
  /// The backend.
  using backend_type = Backend;
  /// The type of the batches' features.
  using input_type = Input;
  /// The preference loss type.
  using loss_type = Loss;
  /// The meta objective type.
  using meta_objective_type = MetaObjective;
  /// The scalar type of the parameters.
  using scalar_type = typename Model::scalar_type;
  /// The scalar type, for short.
  using T = scalar_type;
  /// The training state: parameters, optimiser state and update count.
  using state_type = TrainingState<T, Backend, Optimizer>;
  /// The number of optimiser state vectors.
  static constexpr std::size_t state_count = state_type::state_count;
  /// Whether the model provides an exact Hessian-vector product (every built-in model does); without one,
  /// Hessian-vector products fall back to central differences of gradients.
  static constexpr bool has_exact_hvp = HasExactHvp<Model, Backend, Input>;

  static_assert(check_preference_loss<Loss, Backend, T>());
  static_assert(check_meta_objective<MetaObjective, Backend, T>());

  /// A preference batch cut in two: the first pairs (support) and the rest (query), for strategies that
  /// adapt on one part and evaluate on the other.
  struct PreferenceSplit {
    /// The first pairs, on which a strategy adapts.
    PreferenceBatch<T, Input> support;
    /// The remaining pairs, on which it evaluates.
    PreferenceBatch<T, Input> query;
  };

  /// The training of `model`: its state (zeroed), the two objectives, with `options.centering` set on the loss, and
  /// the scratch vectors.
  StepContext(Model model, Optimizer optimizer, StepOptions options, typename Backend::context ctx, Loss loss = Loss(),
              MetaObjective meta_objective = MetaObjective());

  // ---- the state being trained --------------------------------------------------------------------------

  /// The parameters, which apply_update changes.
  VectorView<T> params() { return state_.params(); }
  /// The number of parameters.
  index_t parameter_count() const { return state_.parameter_count(); }
  /// The parameters' blocks.
  const Layout& layout() const { return model_.layout(); }
  /// The reward model.
  const Model& model() const { return model_; }
  /// The optimiser with its settings.
  const Optimizer& optimizer() const { return state_.optimizer(); }
  /// The step settings: centering, clipping and schedule.
  const StepOptions& options() const { return options_; }
  /// The preference loss.
  const Loss& loss() const { return preference_.objective(); }
  /// The meta objective.
  const MetaObjective& meta_objective() const { return meta_.objective(); }
  /// Backend ops take the context by reference; it carries no state a caller of a const member could see.
  typename Backend::context& backend_context() const { return ctx_; }
  /// The training state, as checkpoints save and restore it.
  state_type& training_state() { return state_; }
  /// The training state, read-only.
  const state_type& training_state() const { return state_; }

  /// Number of optimiser updates applied so far.
  std::int64_t updates() const { return state_.updates(); }

  // ---- this step's batches ------------------------------------------------------------------------------

  /// This step's labelled pairs.
  const PreferenceBatch<T, Input>& preference_batch() const { return preference_batch_; }
  /// This step's unlabelled prompts; empty for strategies that do not read them.
  const MetaBatch<T, Input>& meta_batch() const { return meta_batch_; }
  /// Whether this step has a meta batch.
  bool has_meta_batch() const { return !meta_batch_.empty(); }

  // ---- objectives at any point `at` of parameter space (a view of parameter_count() values) ---------------

  /// L(at) on this step's preference batch.
  T preference_loss(VectorView<const T> at) { return preference_loss_and_gradient(at, VectorView<T>{}); }

  /// Returns L(at) on this step's preference batch and overwrites grad with its gradient (unless empty).
  T preference_loss_and_gradient(VectorView<const T> at, VectorView<T> grad) {
    return preference_loss_and_gradient(at, grad, preference_batch_);
  }

  /// The same on another batch of pairs, such as a part of split_preference_batch.
  T preference_loss(VectorView<const T> at, const PreferenceBatch<T, Input>& batch) {
    return preference_loss_and_gradient(at, VectorView<T>{}, batch);
  }
  /// L(at) on `batch`, with its gradient written over grad unless grad is empty.
  T preference_loss_and_gradient(VectorView<const T> at, VectorView<T> grad, const PreferenceBatch<T, Input>& batch);

  /// The pairs' ordering where the preference loss was last taken.
  const PreferenceBatchStats& preference_batch_stats() const { return batch_stats_; }

  /// Returns the meta objective (J by default) at `at` on this step's meta batch and overwrites grad with its
  /// gradient (unless empty).
  T meta_objective_and_gradient(VectorView<const T> at, VectorView<T> grad);
  /// The meta objective at `at` on this step's meta batch.
  T meta_objective_value(VectorView<const T> at) { return meta_objective_and_gradient(at, VectorView<T>{}); }

  /// The names MetaRM's paper gives them: the meta objective is the difference objective J unless the
  /// learner was given another.
  T difference_objective(VectorView<const T> at) { return meta_objective_value(at); }
  /// meta_objective_and_gradient, under the paper's name.
  T difference_objective_and_gradient(VectorView<const T> at, VectorView<T> grad) {
    return meta_objective_and_gradient(at, grad);
  }

  // ---- the same, with the values left in backend memory ---------------------------------------------------
  /// preference_loss_and_gradient on this step's preference batch, with L(at) left in backend memory as statistic
  /// `into` instead of returned.
  ///
  /// These compute what the members above compute, but leave the value in backend memory as the step's
  /// statistic `into` instead of returning it, so that on a GPU the host does not wait for the device in the
  /// middle of a step. The learner reads the recorded statistics into the StepStats fields of the same names
  /// (overriding what the strategy set there) when the step ends (MetaLearner::step) or every
  /// FitOptions::statistics_every steps (fit). On backends the host can read, a NaN is still reported at once.

  void record_preference_loss_and_gradient(VectorView<const T> at, VectorView<T> grad,
                                           Statistic into = Statistic::loss) {
    record_preference_loss_and_gradient(at, grad, preference_batch_, into);
  }
  /// The same on `batch`, such as a part of split_preference_batch.
  void record_preference_loss_and_gradient(VectorView<const T> at, VectorView<T> grad,
                                           const PreferenceBatch<T, Input>& batch, Statistic into);

  /// meta_objective_and_gradient with the value left in backend memory as statistic `into` instead of returned.
  void record_meta_objective_and_gradient(VectorView<const T> at, VectorView<T> grad,
                                          Statistic into = Statistic::objective);
  /// The meta objective at `at`, without its gradient, left in backend memory as statistic `into`.
  void record_meta_objective(VectorView<const T> at, Statistic into = Statistic::objective_after) {
    record_meta_objective_and_gradient(at, VectorView<T>{}, into);
  }

  /// The gradient of L at `at` on this step's preference batch, written over grad.
  ///
  /// Gradients alone: the objective's value is computed by the same pass but nobody reads it.
  void preference_gradient(VectorView<const T> at, VectorView<T> grad) {
    preference_gradient(at, grad, preference_batch_);
  }
  /// The same on `batch`.
  void preference_gradient(VectorView<const T> at, VectorView<T> grad, const PreferenceBatch<T, Input>& batch);
  /// The gradient of the meta objective at `at` on this step's meta batch, written over grad.
  void meta_objective_gradient(VectorView<const T> at, VectorView<T> grad);

  /// Records the statistic `to` as the value already recorded for `from` in this step.
  void record_copy(Statistic from, Statistic to) { statistics_.copy(ctx_, from, to); }

  /// The Euclidean norm of x as a norm statistic: the backend's squared_norm where the host can read memory
  /// (its fastest pass), else a reduction added in double, in a fixed order, left in backend memory.
  void record_norm(VectorView<const T> x, Statistic into) {
    METARM_REQUIRE(is_norm(into), "StepContext::record_norm",
                   "argument 'into' must be a norm statistic (grad_norm or ascent_norm), got '{}'",
                   statistic_name(into));
    if constexpr (Backend::host_accessible) {
      *statistics_.slot(into) = static_cast<double>(Backend::squared_norm(ctx_, x));
    } else {
      Backend::reduce_into(ctx_, x.size, detail::SquaredTerms<T>{x.data}, statistics_.slot(into));
    }
  }

  /// The statistics recorded so far (for the learner, and for tests).
  RecordedStatistics<Backend>& recorded_statistics() { return statistics_; }

  // ---- Hessian-vector products at any point `at` --------------------------------------------------------
  /// H_L(at) v on this step's preference batch, or on `batch`.
  ///
  /// Each overwrites `out` with H v, H the Hessian of the objective at `at`: exactly (forward-over-reverse)
  /// or by central differences of gradients, as options.method says. `out` may not alias `at` or `v`. An
  /// exact product at the point and on the batch of the same objective's last gradient skips the forward
  /// pass, which that gradient left in the objective's workspace.

  void preference_hvp(VectorView<const T> at, VectorView<const T> v, VectorView<T> out, HvpOptions options = {}) {
    preference_hvp(at, v, out, preference_batch_, options);
  }
  /// The same on `batch`, such as a part of split_preference_batch.
  void preference_hvp(VectorView<const T> at, VectorView<const T> v, VectorView<T> out,
                      const PreferenceBatch<T, Input>& batch, HvpOptions options = {});

  /// H_J(at) v on this step's meta batch, J the meta objective.
  void meta_hvp(VectorView<const T> at, VectorView<const T> v, VectorView<T> out, HvpOptions options = {});
  /// meta_hvp, under the paper's name.
  void difference_hvp(VectorView<const T> at, VectorView<const T> v, VectorView<T> out, HvpOptions options = {}) {
    meta_hvp(at, v, out, options);
  }

  // ---- ranks ----------------------------------------------------------------------------------------------

  /// Makes this context one rank of a data-parallel group; see the file's description. The communicator
  /// must outlive the context.
  void set_communicator(CommunicatorRef communicator) { communicator_ = communicator; }
  /// The data-parallel group (one process unless set_communicator was called).
  const CommunicatorRef& communicator() const { return communicator_; }

  /// Replaces x, a vector in backend memory, with its mean over the ranks, in one all-reduce; nothing with
  /// one rank. The context's gradients and products are averaged already: this is for vectors a strategy
  /// computes from its rank's batches by other means.
  void average_over_ranks(VectorView<T> x) {
    if (!communicator_.distributed() || x.empty()) return;
    if constexpr (Backend::host_accessible) {
      communicator_.all_reduce(x.data, x.size, Reduction::mean);
    } else {
      if (communicator_.memory() == CommunicatorMemory::device) {
        communicator_.all_reduce(x.data, x.size, Reduction::mean);
        return;
      }
      staging_.resize(static_cast<std::size_t>(x.size));  // grows once: a step reduces vectors of one size
      Backend::copy_to_host(ctx_, as_const(x), staging_.data());
      communicator_.all_reduce(staging_.data(), x.size, Reduction::mean);
      Backend::copy_from_host(ctx_, staging_.data(), x);
    }
  }
  /// The mean of `value` over the ranks.
  T average_over_ranks(T value) const {
    communicator_.all_reduce(&value, 1, Reduction::mean);
    return value;
  }

  // ---- support and query ----------------------------------------------------------------------------------

  /// This step's preference batch as two batches: its first `support_pairs` pairs (0: half of them, rounded
  /// down) and the remaining ones. The columns are copied once per call into storage the context keeps, so
  /// both parts stay valid until the next call or the next step.
  PreferenceSplit split_preference_batch(index_t support_pairs = 0)
    requires std::is_same_v<Input, MatrixView<const T>>
  {
    const char* where = "StepContext::split_preference_batch";
    const PreferenceBatch<T, Input>& batch = preference_batch_;
    const index_t n = batch.pairs();
    METARM_REQUIRE(n >= 2, where,
                   "a support/query split needs a preference batch of at least 2 pairs, this one has {} (with fit(), "
                   "set drop_last or a batch size that leaves no batch of 1)", n);
    METARM_REQUIRE(support_pairs >= 0, where,
                   "argument 'support_pairs' must be >= 0 (0 takes half), got {}", support_pairs);
    METARM_REQUIRE(support_pairs < n, where,
                   "argument 'support_pairs' ({}) must leave at least one query pair in this batch of {} pairs (with "
                   "fit(), set drop_last so that every batch has batch_size pairs)", support_pairs, n);
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

  /// A parameter-sized vector that persists across steps, found by its name (and index, for a family such as
  /// the points of several inner steps); zero when first handed out.
  VectorView<T> scratch(std::string_view name, std::size_t index = 0) { return scratch_.get(name, index); }
  /// The same by number alone, as before vectors had names.
  VectorView<T> scratch(std::size_t slot) { return scratch_.get("", slot); }

  /// to = from.
  void copy(VectorView<const T> from, VectorView<T> to) { Backend::copy(ctx_, from, to); }
  /// y += alpha * x.
  void axpy(T alpha, VectorView<const T> x, VectorView<T> y) { Backend::axpy(ctx_, alpha, x, y); }
  /// to = y + alpha * x, in one pass on backends that fuse it; `to` may alias y but not x.
  void add_scaled(VectorView<const T> y, T alpha, VectorView<const T> x, VectorView<T> to) {
    if constexpr (requires { Backend::add_scaled(ctx_, y, alpha, x, to); }) {
      Backend::add_scaled(ctx_, y, alpha, x, to);
    } else {
      Backend::copy(ctx_, y, to);
      Backend::axpy(ctx_, alpha, x, to);
    }
  }
  /// to = y + alpha * x, recording the squared norm of x as the statistic `into` (a norm, see record_norm) in the
  /// same pass: an ascent step reads its gradient once for both. `to` may alias y but not x.
  void add_scaled(VectorView<const T> y, T alpha, VectorView<const T> x, VectorView<T> to, Statistic into);
  /// x *= alpha.
  void scale(T alpha, VectorView<T> x) { Backend::scale(ctx_, alpha, x); }
  /// Sets every element of x to `value`.
  void fill(VectorView<T> x, T value) { Backend::fill(ctx_, x, value); }
  /// The dot product of x and y.
  T dot(VectorView<const T> x, VectorView<const T> y) { return Backend::dot(ctx_, x, y); }
  /// The Euclidean norm of x, read on the host.
  double norm(VectorView<const T> x) { return std::sqrt(static_cast<double>(Backend::squared_norm(ctx_, x))); }

  // ---- the update -----------------------------------------------------------------------------------------

  /// The learning rate the next update will use: the optimiser's rate times the schedule's factor.
  double learning_rate() const { return state_.learning_rate(); }

  /// Clips grad in place (when clipping is on), applies one optimiser update to params() and returns the
  /// gradient norm before clipping.
  double apply_update(VectorView<T> grad);

  /// The same with the gradient norm before clipping recorded as the statistic `into` (see record_norm):
  /// clipping is then decided in backend memory, and nothing waits for the device.
  void apply_update(VectorView<T> grad, Statistic into);

  /// The learning rate the last update used.
  double last_learning_rate() const { return state_.last_learning_rate(); }

  // ---- for the learner and tests ------------------------------------------------------------------------------

  /// Starts a step on these batches.
  ///
  /// New batches may reuse the memory of old ones, so no pass held is reusable afterwards.
  void set_batches(const PreferenceBatch<T, Input>& pairs, const MetaBatch<T, Input>& meta) {
    preference_batch_ = pairs;
    meta_batch_ = meta;
    preference_.forget();
    meta_.forget();
    statistics_.begin_step();
  }
  /// The parameters with their layout.
  FlatParams<T, Backend>& parameters() { return state_.parameters(); }
  /// The parameters with their layout, read-only.
  const FlatParams<T, Backend>& parameters() const { return state_.parameters(); }
  /// The workspace of the preference loss (the meta objective has its own).
  typename Model::template workspace<Backend>& workspace() { return preference_.workspace(); }

  /// Sizes workspaces for batches of up to `columns` columns so that the first step need not.
  void reserve(index_t columns);

 private:
  // StepOptions::centering sets the loss's reward-centering coefficient, for losses that have one.
  static Loss with_centering(Loss loss, double centering) {
    if (centering == 0.0) return loss;
    if constexpr (requires { loss.set_centering(centering); loss.centering(); }) {
      METARM_REQUIRE(loss.centering() == 0.0 || loss.centering() == centering, "StepOptions",
                     "argument 'centering' ({:f}) differs from the loss's own ({:f}); set it in one place", centering,
                     loss.centering());
      loss.set_centering(centering);
      return loss;
    } else {
      throw Error("StepOptions", fmt::format("argument 'centering' is set, but the loss '{}' has no reward centering "
                                             "(no set_centering member)", loss_name<Loss>()));
    }
  }

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

  // The objectives on this rank's batches alone.
  T rank_preference_loss_and_gradient(VectorView<const T> at, VectorView<T> grad,
                                      const PreferenceBatch<T, Input>& batch) {
    check_point(at, grad, "preference_loss_and_gradient");
    const T value = preference_.value_and_gradient(ctx_, model_, at, batch.features, batch.margins, key_of(batch), grad);
    record_batch_stats(preference_.rewards());
    return value;
  }
  T rank_meta_objective_and_gradient(VectorView<const T> at, VectorView<T> grad) {
    check_point(at, grad, "meta_objective_and_gradient");
    METARM_REQUIRE(has_meta_batch(), "StepContext::meta_objective_and_gradient",
                   "this step has no meta batch; give fit() a meta set (or step() a meta batch)");
    return meta_.value_and_gradient(ctx_, model_, at, meta_batch_.features, meta_batch_.offsets, key_of(meta_batch_),
                                    grad);
  }

  VectorView<T> fd_point() {
    if (fd_point_.size() != parameter_count()) fd_point_.resize(parameter_count());
    return fd_point_.view();
  }
  VectorView<T> fd_grad() {
    if (fd_grad_.size() != parameter_count()) fd_grad_.resize(parameter_count());
    return fd_grad_.view();
  }

  void check_hvp(VectorView<const T> at, VectorView<const T> v, VectorView<T> out, const HvpOptions& options,
                 const char* what) const {
    // Messages are built only when a check fails: this runs inside training steps.
    auto where = [what] { return std::string("StepContext::") + what; };
    check_point(at, VectorView<T>{}, what);
    METARM_REQUIRE(v.size == parameter_count() && out.size == parameter_count(), where(),
                   "arguments 'v' and 'out' must have {} values, got {} and {}", parameter_count(), v.size, out.size);
    METARM_REQUIRE(out.data != at.data && out.data != v.data, where(), "argument 'out' must not alias 'at' or 'v'");
    if (!(std::isfinite(options.finite_difference_step) && options.finite_difference_step >= 0.0)) {
      validate_hvp_options(options, where().c_str());
    }
  }

  static void check_value_statistic(Statistic into, const char* what) {
    METARM_REQUIRE(!is_norm(into), std::string("StepContext::") + what,
                   "argument 'into' must be a loss or objective statistic, got the norm '{}'", statistic_name(into));
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
                   "argument 'at' has {} values, the model has {}", at.size, parameter_count());
    METARM_REQUIRE(grad.empty() || grad.size == parameter_count(), std::string("StepContext::") + what,
                   "argument 'grad' has {} values, the model has {}", grad.size, parameter_count());
  }

  Model model_;
  StepOptions options_;
  mutable typename Backend::context ctx_;
  state_type state_;
  ObjectiveEvaluator<Model, Loss, Backend, Input> preference_;         // the preference loss and its caches
  ObjectiveEvaluator<Model, MetaObjective, Backend, Input> meta_;      // the meta objective and its caches
  ScratchVectors<T, Backend> scratch_;
  typename Backend::template buffer<T> fd_point_;  // finite-difference Hessian-vector products
  typename Backend::template buffer<T> fd_grad_;
  typename Backend::template buffer<T> split_features_;  // split_preference_batch
  PreferenceBatch<T, Input> preference_batch_{};
  MetaBatch<T, Input> meta_batch_{};
  PreferenceBatchStats batch_stats_{};
  RecordedStatistics<Backend> statistics_;
  CommunicatorRef communicator_;
  std::vector<T> staging_;  // host copies of device vectors for communicators of host memory
};

// The members that run the model, the objectives and the optimiser are defined outside the class body, so that
// an `extern template` declaration (metarm/learner/precompiled.hpp) keeps a program from compiling them.

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::StepContext(
    Model model, Optimizer optimizer, StepOptions options, typename Backend::context ctx, Loss loss,
    MetaObjective meta_objective)
    : model_(std::move(model)),
      options_(std::move(options)),
      ctx_(detail::made_current(ctx)),
      state_(model_.layout(), std::move(optimizer), options_.clip_norm, options_.schedule),
      preference_(model_, with_centering(std::move(loss), options_.centering)),
      meta_(model_, std::move(meta_objective)),
      scratch_(model_.layout().size()) {}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
auto StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::preference_loss_and_gradient(
    VectorView<const T> at, VectorView<T> grad, const PreferenceBatch<T, Input>& batch) -> T {
  const T value = rank_preference_loss_and_gradient(at, grad, batch);
  average_over_ranks(grad);
  return average_over_ranks(value);
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
auto StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::meta_objective_and_gradient(
    VectorView<const T> at, VectorView<T> grad) -> T {
  const T value = rank_meta_objective_and_gradient(at, grad);
  average_over_ranks(grad);
  return average_over_ranks(value);
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
void StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::record_preference_loss_and_gradient(
    VectorView<const T> at, VectorView<T> grad, const PreferenceBatch<T, Input>& batch, Statistic into) {
  check_point(at, grad, "record_preference_loss_and_gradient");
  check_value_statistic(into, "record_preference_loss_and_gradient");
  preference_.record_value_and_gradient(ctx_, model_, at, batch.features, batch.margins, key_of(batch), grad,
                                        statistics_.slot(into));
  record_batch_stats(preference_.rewards());
  average_over_ranks(grad);
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
void StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::record_meta_objective_and_gradient(
    VectorView<const T> at, VectorView<T> grad, Statistic into) {
  check_point(at, grad, "record_meta_objective_and_gradient");
  check_value_statistic(into, "record_meta_objective_and_gradient");
  METARM_REQUIRE(has_meta_batch(), "StepContext::record_meta_objective_and_gradient",
                 "this step has no meta batch; give fit() a meta set (or step() a meta batch)");
  meta_.record_value_and_gradient(ctx_, model_, at, meta_batch_.features, meta_batch_.offsets,
                                  key_of(meta_batch_), grad, statistics_.slot(into));
  average_over_ranks(grad);
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
void StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::preference_gradient(
    VectorView<const T> at, VectorView<T> grad, const PreferenceBatch<T, Input>& batch) {
  check_point(at, grad, "preference_gradient");
  preference_.record_value_and_gradient(ctx_, model_, at, batch.features, batch.margins, key_of(batch), grad,
                                        statistics_.discard_slot());
  record_batch_stats(preference_.rewards());
  average_over_ranks(grad);
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
void StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::meta_objective_gradient(
    VectorView<const T> at, VectorView<T> grad) {
  check_point(at, grad, "meta_objective_gradient");
  METARM_REQUIRE(has_meta_batch(), "StepContext::meta_objective_gradient",
                 "this step has no meta batch; give fit() a meta set (or step() a meta batch)");
  meta_.record_value_and_gradient(ctx_, model_, at, meta_batch_.features, meta_batch_.offsets,
                                  key_of(meta_batch_), grad, statistics_.discard_slot());
  average_over_ranks(grad);
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
void StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::preference_hvp(
    VectorView<const T> at, VectorView<const T> v, VectorView<T> out, const PreferenceBatch<T, Input>& batch,
    HvpOptions options) {
  check_hvp(at, v, out, options, "preference_hvp");
  preference_.hvp(
      ctx_, model_, at, batch.features, batch.margins, key_of(batch), v, out, options,
      [&](VectorView<const T> point, VectorView<T> grad) { rank_preference_loss_and_gradient(point, grad, batch); },
      fd_point(), fd_grad(), "preference_hvp");
  average_over_ranks(out);
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
void StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::meta_hvp(
    VectorView<const T> at, VectorView<const T> v, VectorView<T> out, HvpOptions options) {
  METARM_REQUIRE(has_meta_batch(), "StepContext::meta_hvp",
                 "this step has no meta batch; give fit() a meta set (or step() a meta batch)");
  check_hvp(at, v, out, options, "meta_hvp");
  meta_.hvp(
      ctx_, model_, at, meta_batch_.features, meta_batch_.offsets, key_of(meta_batch_), v, out, options,
      [&](VectorView<const T> point, VectorView<T> grad) { rank_meta_objective_and_gradient(point, grad); },
      fd_point(), fd_grad(), "meta_hvp");
  average_over_ranks(out);
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
double StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::apply_update(VectorView<T> grad) {
  return state_.apply_update(ctx_, grad);
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
void StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::apply_update(VectorView<T> grad,
                                                                                  Statistic into) {
  METARM_REQUIRE(is_norm(into), "StepContext::apply_update",
                 "argument 'into' must be a norm statistic (grad_norm or ascent_norm), got '{}'",
                 statistic_name(into));
  state_.apply_update(ctx_, grad, statistics_.slot(into));
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
void StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::add_scaled(VectorView<const T> y, T alpha,
                                                                                VectorView<const T> x,
                                                                                VectorView<T> to, Statistic into) {
  METARM_REQUIRE(is_norm(into), "StepContext::add_scaled",
                 "argument 'into' must be a norm statistic (grad_norm or ascent_norm), got '{}'",
                 statistic_name(into));
  METARM_REQUIRE(x.size == y.size && x.size == to.size, "StepContext::add_scaled",
                 "sizes differ: y has {} values, x {}, to {}", y.size, x.size, to.size);
  Backend::reduce_into(ctx_, x.size, detail::AddScaledSquaringAddend<T>{y.data, alpha, x.data, to.data},
                       statistics_.slot(into));
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
void StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>::reserve(index_t columns) {
  preference_.reserve(model_, columns);
  meta_.reserve(model_, columns);
}

}  // namespace metarm
