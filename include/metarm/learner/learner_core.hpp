// SPDX-License-Identifier: Apache-2.0
/// \file
/// LearnerCore: what a MetaLearner holds and does apart from its strategy: the reward model's parameters,
/// optimiser state and workspaces (in its StepContext), the fit loop over shuffled batches, evaluation and
/// scoring. MetaLearner adds the strategy, which the fit loop reaches through one function pointer, so the
/// core's code is the same for every strategy of a model, optimiser and backend: `metarm::precompiled`
/// compiles it once for its models, for the learners of a program's own strategies too.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "metarm/backend/default.hpp"
#include "metarm/backend/host.hpp"
#include "metarm/callback/dispatch.hpp"
#include "metarm/callback/events.hpp"
#include "metarm/core/error.hpp"
#include "metarm/core/rng.hpp"
#include "metarm/core/scalar_math.hpp"
#include "metarm/data/batch.hpp"
#include "metarm/data/batch_buffer.hpp"
#include "metarm/data/input_kind.hpp"
#include "metarm/data/meta_set.hpp"
#include "metarm/data/preference_set.hpp"
#include "metarm/data/sparse_columns.hpp"
#include "metarm/learner/fit_state.hpp"
#include "metarm/learner/options.hpp"
#include "metarm/metrics/difference_metrics.hpp"
#include "metarm/metrics/metric_map.hpp"
#include "metarm/metrics/preference_metrics.hpp"
#include "metarm/model/reward_model.hpp"
#include "metarm/optim/optimizer.hpp"
#include "metarm/strategy/step_context.hpp"

namespace metarm {

/// What a fit did: the steps taken, the epochs completed, why it stopped and its last evaluation.
struct FitResult {
  /// The fit's steps, those taken before a resume included.
  std::int64_t steps = 0;
  /// The epochs run to their end.
  int epochs_completed = 0;
  /// Why the fit stopped.
  StopReason stop;
  Metrics last_eval;  ///< the last evaluation's metrics (eval_ prefix), empty when none ran
};

/// The strategy-independent part of MetaLearner (see the file's description); programs use it through
/// MetaLearner, which derives from it.
template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
class LearnerCore {
  static_assert(check_reward_model<Model, Backend>());
  static_assert(check_optimizer<Optimizer, Backend, typename Model::scalar_type>());

 public:
  /// The reward model type.
  using model_type = Model;
  /// The optimiser type.
  using optimizer_type = Optimizer;
  /// The backend.
  using backend_type = Backend;
  /// The scalar type of the parameters.
  using scalar_type = typename Model::scalar_type;
  /// The scalar type, for short.
  using T = scalar_type;
  /// The type of the first layer's input.
  using input_type = Input;
  /// The backend's context type.
  using backend_context_type = typename Backend::context;
  /// The preference loss type.
  using loss_type = Loss;
  /// The meta objective type.
  using meta_objective_type = MetaObjective;
  /// The StepContext the strategy receives.
  using step_context_type = StepContext<Model, Optimizer, Backend, Input, Loss, MetaObjective>;
  /// The labelled-pairs set type that goes with Input.
  using preference_set_type = typename input_kind<Input>::preference_set;
  /// The meta set type that goes with Input.
  using meta_set_type = typename input_kind<Input>::meta_set;
  /// The settings of a fit.
  using fit_options_type = FitOptions<T, Input>;

  /// Where the current (or last) fit stands: saved in checkpoints, handed back through FitOptions::resume.
  const FitState& fit_state() const { return fit_state_; }

  // ---- evaluation ---------------------------------------------------------------------------------------

  /// Rewards of `count` feature columns (dim x count, column-major, host memory).
  std::vector<T> score(std::span<const T> features, index_t count);

  /// Rewards of every column of a sparse feature matrix (host memory; CPU backend).
  std::vector<T> score(const SparseColumns<T>& features);

  /// Metrics of the current parameters on labelled pairs and, optionally, on a meta set:
  /// loss, accuracy, margin, rewards/chosen, rewards/rejected, rewards/mean|std|min|max and, with a meta set,
  /// difference_objective (J) and reward_gap (mean |r_i - r_j| within a prompt). Names carry `prefix`.
  Metrics evaluate(const preference_set_type& pairs, const meta_set_type* meta = nullptr, std::string_view prefix = "");

  // ---- state --------------------------------------------------------------------------------------------

  /// The parameters, copied to the host.
  std::vector<T> parameters() const {
    std::vector<T> host(static_cast<std::size_t>(step_.parameter_count()));
    Backend::copy_to_host(step_.backend_context(), step_.parameters().view(), host.data());
    return host;
  }

  /// Overwrites the parameters with `values`, host memory of one value per parameter.
  void set_parameters(std::span<const T> values) {
    METARM_REQUIRE(static_cast<index_t>(values.size()) == step_.parameter_count(), "MetaLearner::set_parameters",
                   "argument 'values' has {} values, the model has {}", values.size(), step_.parameter_count());
    Backend::copy_from_host(step_.backend_context(), values.data(), step_.parameters().view());
  }

  /// The reward model.
  const Model& model() const { return step_.model(); }
  /// The optimiser with its settings.
  const Optimizer& optimizer() const { return step_.optimizer(); }
  /// The learner's settings.
  const LearnerOptions& options() const { return options_; }
  /// The StepContext the strategy receives.
  step_context_type& step_context() { return step_; }
  /// Parameters, optimiser state and update count: what a checkpoint saves and restores.
  typename step_context_type::state_type& training_state() { return step_.training_state(); }
  /// The training state, read-only.
  const typename step_context_type::state_type& training_state() const { return step_.training_state(); }
  /// Makes this learner one rank of a data-parallel group (see the file's description); the communicator
  /// must outlive the learner. Call it before training: the ranks must start from the same parameters, which
  /// the same LearnerOptions::seed gives them.
  void set_communicator(CommunicatorRef communicator) { step_.set_communicator(communicator); }
  /// The data-parallel group (one process unless set_communicator was called).
  const CommunicatorRef& communicator() const { return step_.communicator(); }
  /// The backend context the learner's work runs on.
  backend_context_type& backend_context() const { return step_.backend_context(); }
  /// The number of optimiser updates applied so far.
  std::int64_t updates() const { return step_.updates(); }

 protected:
  /// The step of a learner's strategy on gathered batches, with the statistics it recorded left in backend
  /// memory: a plain function of the core (which is the learner), so the fit loop does not depend on the strategy.
  using StepFunction = StepStats (*)(LearnerCore&, const PreferenceBatch<T, Input>&, const MetaBatch<T, Input>&);

  /// The parameters are initialised from options.seed.
  LearnerCore(Model model, Optimizer optimizer, LearnerOptions options, Loss loss, MetaObjective meta_objective,
              typename Backend::context ctx);

  /// MetaLearner::fit, with the learner's strategy as `run_step`, whether it uses meta batches, and its name.
  template <class... Callbacks>
  FitResult fit_loop(StepFunction run_step, bool needs_meta, std::string_view strategy,
                     const preference_set_type& train, const meta_set_type* meta, const fit_options_type& options,
                     Callbacks&&... callbacks);

  /// A step's error with the step (`step`, or -1 when the message names it) and, for values that are no longer
  /// finite, where the parameters stand: a block that holds a non-finite value (an update diverged), or else
  /// the largest parameter, whose size says whether the rewards could overflow. Looked at only on failure.
  [[noreturn]] void throw_with_cause(const Error& e, std::int64_t step) const {
    std::string message = e.message();
    if (step >= 0) message += fmt::format(" (in step {})", step);
    const bool numeric = message.find("NaN") != std::string::npos || message.find("infinit") != std::string::npos ||
                         message.find("not finite") != std::string::npos;
    if (numeric) message += "; " + parameter_state();
    throw Error(e.context(), message);
  }

  /// The step's statistics and the sums since the last reading, averaged over the ranks in one all-reduce.
  void average_statistics(StepStats& stats, StatisticsReading& reading) const {
    const CommunicatorRef& group = communicator();
    if (!group.distributed()) return;
    // The learning rate and the norms (of gradients averaged already) are the same on every rank.
    double* const field[] = {&stats.loss,     &stats.inner_loss, &stats.objective,      &stats.objective_after,
                             &stats.accuracy, &stats.margin,     &stats.rewards_chosen, &stats.rewards_rejected};
    constexpr std::size_t fields = sizeof(field) / sizeof(field[0]);
    std::array<double, fields + statistic_count> values{};
    for (std::size_t k = 0; k < fields; ++k) values[k] = *field[k];
    for (std::size_t k = 0; k < static_cast<std::size_t>(statistic_count); ++k) values[fields + k] = reading.sum[k];
    group.all_reduce(values.data(), static_cast<index_t>(values.size()), Reduction::mean);
    for (std::size_t k = 0; k < fields; ++k) *field[k] = values[k];
    for (std::size_t k = 0; k < static_cast<std::size_t>(statistic_count); ++k) reading.sum[k] = values[fields + k];
  }

 private:
  std::string parameter_state() const {
    const std::vector<T> values = parameters();
    const std::string advice = "lower the learning rate, or clip gradients (StepOptions::clip_norm)";
    std::string largest_block;
    double largest = 0.0;
    for (const ParamBlock& block : step_.model().layout().blocks()) {
      index_t bad = 0, first = -1;
      for (index_t i = 0; i < block.size(); ++i) {
        const double v = static_cast<double>(values[static_cast<std::size_t>(block.offset + i)]);
        if (!std::isfinite(v)) {
          if (bad++ == 0) first = i;
        } else if (std::abs(v) > largest) {
          largest = std::abs(v);
          largest_block = block.name;
        }
      }
      if (bad > 0) {
        return fmt::format("after update {} parameter block '{}' holds {} non-finite value{} of {} (the first at "
                           "index {}): the updates diverged; {}",
                           updates(), block.name, bad, bad == 1 ? "" : "s", block.size(), first, advice);
      }
    }
    return fmt::format("after update {} the parameters are finite, the largest {:.3g} in parameter block '{}'{}",
                       updates(), largest, largest_block,
                       largest > 1e10 ? ": the updates diverged and the rewards overflow; " + advice
                                      : std::string(": a feature or margin of the batch may be NaN or infinite"));
  }

  // Every rank takes the same number of pairs from every batch, and of prompts from every meta batch, so that
  // the mean of the ranks' means is the global batch's mean.
  void check_shards(index_t pairs, index_t batch_size, index_t meta_take, const fit_options_type& options) const {
    const int ranks = communicator().size();
    if (ranks == 1) return;
    const char* where = "MetaLearner::fit";
    const std::string among = fmt::format(" among {} ranks", ranks);
    METARM_REQUIRE(batch_size % ranks == 0, where,
                   "the global batch of {} pairs (argument 'batch_size') does not divide{}; choose a multiple of {}",
                   batch_size, among, ranks);
    const index_t last = pairs % batch_size;
    METARM_REQUIRE(options.drop_last || last % ranks == 0, where,
                   "the last batch of each epoch has {} pairs ({} pairs in batches of {}), which do not divide{}; set "
                   "drop_last or choose a batch size that leaves a multiple of {}", last, pairs, batch_size, among,
                   ranks);
    METARM_REQUIRE(meta_take % ranks == 0, where,
                   "the global meta batch of {} prompts (argument 'meta_batch_size', at most the meta set's prompts) "
                   "does not divide{}; choose a multiple of {}", meta_take, among, ranks);
  }

  // This rank's share of the `count` indices from `first` on: every ranks-th one, starting at its rank.
  std::span<const index_t> shard_of(const std::vector<index_t>& order, index_t first, index_t count, index_t rank,
                                    index_t ranks) {
    if (ranks == 1) return {order.data() + first, static_cast<std::size_t>(count)};
    shard_.clear();
    for (index_t i = first + rank; i < first + count; i += ranks) shard_.push_back(order[static_cast<std::size_t>(i)]);
    return {shard_.data(), shard_.size()};
  }

  void check_dim(index_t dim, const char* where, const char* argument) const {
    METARM_REQUIRE(dim == step_.model().input_dim(), where,
                   "argument '{}' has {} features per response, the model expects {}", argument, dim,
                   step_.model().input_dim());
  }

  void check_fit_arguments(const preference_set_type& train, const meta_set_type* meta,
                           const fit_options_type& options, bool needs_meta, std::string_view strategy) const {
    const char* where = "MetaLearner::fit";
    METARM_REQUIRE(!train.empty(), where, "argument 'train' has no pairs");
    check_dim(train.dim(), where, "train");
    METARM_REQUIRE(options.epochs >= 1, where, "argument 'epochs' must be >= 1, got {}", options.epochs);
    METARM_REQUIRE(options.batch_size >= 1, where,
                   "argument 'batch_size' must be >= 1, got {}", options.batch_size);
    METARM_REQUIRE(!options.drop_last || options.batch_size <= train.size(), where,
                   "argument 'batch_size' ({}) exceeds the training set ({}) with drop_last set", options.batch_size,
                   train.size());
    METARM_REQUIRE(options.max_steps >= 0, where, "argument 'max_steps' must be >= 0");
    METARM_REQUIRE(options.eval_every >= 0, where, "argument 'eval_every' must be >= 0");
    METARM_REQUIRE(options.statistics_every >= 1, where,
                   "argument 'statistics_every' must be >= 1, got {}", options.statistics_every);
    if (needs_meta) {
      METARM_REQUIRE(meta != nullptr && !meta->empty(), where,
                     "strategy '{}' needs a meta set of shifted-distribution responses (argument 'meta' is empty)",
                     strategy);
      check_dim(meta->dim(), where, "meta");
      METARM_REQUIRE(options.meta_batch_size >= 1, where,
                     "argument 'meta_batch_size' must be >= 1, got {}", options.meta_batch_size);
    }
    if (options.eval_pairs != nullptr) {
      check_dim(options.eval_pairs->dim(), where, "eval_pairs");
    }
    if (options.eval_meta != nullptr) {
      METARM_REQUIRE(options.eval_pairs != nullptr, where, "argument 'eval_meta' needs 'eval_pairs' as well");
    }
  }

  // A saved state fits this fit only when it was taken on sets and batch sizes of the same shape.
  void check_resume(const FitState& state, const preference_set_type& train, const meta_set_type* meta, bool needs_meta,
                    index_t batches) const {
    const char* where = "MetaLearner::fit (resume)";
    METARM_REQUIRE(state.order.size() == static_cast<std::size_t>(train.size()), where,
                   "the saved data order covers {} pairs, the training set has {}", state.order.size(), train.size());
    std::vector<bool> seen(state.order.size(), false);
    for (index_t i : state.order) {
      METARM_REQUIRE(i >= 0 && i < train.size() && !seen[static_cast<std::size_t>(i)], where,
                     "the saved data order is not a permutation of the training pairs");
      seen[static_cast<std::size_t>(i)] = true;
    }
    METARM_REQUIRE(state.epoch >= 0 && state.next_batch >= 0 && state.next_batch <= batches && state.steps >= 0, where,
                   "the saved position (epoch {}, batch {}) does not fit {} batches per epoch; resume with the batch "
                   "size of the interrupted fit", state.epoch, state.next_batch, batches);
    if (needs_meta) {
      const std::size_t prompts = static_cast<std::size_t>(meta->prompts());
      METARM_REQUIRE(state.meta_order.size() == prompts, where,
                     "the saved meta order covers {} prompts, the meta set has {}", state.meta_order.size(), prompts);
      std::vector<bool> used(prompts, false);
      for (index_t p : state.meta_order) {
        METARM_REQUIRE(p >= 0 && static_cast<std::size_t>(p) < prompts && !used[static_cast<std::size_t>(p)], where,
                       "the saved meta order is not a permutation of the meta prompts");
        used[static_cast<std::size_t>(p)] = true;
      }
      METARM_REQUIRE(state.meta_cursor >= 0 && state.meta_cursor <= static_cast<std::int64_t>(prompts), where,
                     "the saved meta position {} is outside the meta set", state.meta_cursor);
    }
  }

  static index_t largest_meta_columns(const meta_set_type& meta, index_t prompts) {
    std::vector<index_t> sizes(static_cast<std::size_t>(meta.prompts()));
    for (index_t p = 0; p < meta.prompts(); ++p) {
      sizes[static_cast<std::size_t>(p)] = meta.responses_of(p);
    }
    std::sort(sizes.begin(), sizes.end(), std::greater<>());
    return std::accumulate(sizes.begin(), sizes.begin() + prompts, index_t{0});
  }

  static bool has_eval(const fit_options_type& options) { return options.eval_pairs != nullptr; }

  // The learner's own loss, in double on the host, of rewards scored on the host.
  double host_loss(const std::vector<T>& chosen, const std::vector<T>& rejected, const preference_set_type& pairs) const {
    const std::size_t n = chosen.size();
    std::vector<double> rewards(2 * n), margins;
    for (std::size_t i = 0; i < n; ++i) {
      rewards[i] = static_cast<double>(chosen[i]);
      rewards[n + i] = static_cast<double>(rejected[i]);
    }
    if (pairs.has_margins()) {
      margins.resize(n);
      for (std::size_t i = 0; i < n; ++i) margins[i] = static_cast<double>(pairs.margin(static_cast<index_t>(i)));
    }
    host::context ctx;
    return step_.loss().template value<host, double>(ctx, {rewards.data(), static_cast<index_t>(2 * n)},
                                                     {margins.data(), static_cast<index_t>(margins.size())});
  }

  double host_meta_objective(const std::vector<T>& rewards, const std::vector<index_t>& offsets) const {
    const std::vector<double> r(rewards.begin(), rewards.end());
    host::context ctx;
    return step_.meta_objective().template value<host, double>(
        ctx, {r.data(), static_cast<index_t>(r.size())}, {offsets.data(), static_cast<index_t>(offsets.size())});
  }

  Metrics evaluate_for_fit(const fit_options_type& options) {
    return evaluate(*options.eval_pairs, options.eval_meta, "eval_");
  }

  std::vector<T> score_columns(const std::vector<T>& features, index_t count) { return score(features, count); }
  std::vector<T> score_columns(const SparseColumns<T>& features, index_t) { return score(features); }

  template <class X>
  VectorView<const T> forward_for_eval(const X& x) {
    if (!eval_workspace_) {
      eval_workspace_.emplace(step_.model().template make_workspace<Backend>(x.cols));
    }
    return step_.model().template forward<Backend>(step_.backend_context(), as_const(step_.parameters().view()), x,
                                                   *eval_workspace_);
  }

  LearnerOptions options_;
  step_context_type step_;
  typename input_kind<Input>::template preference_buffer<Backend> pair_buffer_;
  typename input_kind<Input>::template meta_buffer<Backend> meta_buffer_;
  std::optional<typename Model::template workspace<Backend>> eval_workspace_;
  typename Backend::template buffer<T> eval_features_;
  std::uint64_t fits_ = 0;
  FitState fit_state_;
  std::vector<index_t> shard_;  // this rank's indices of the batch being gathered
};

// The members that run the model and the optimiser are defined outside the class body, so that an `extern
// template` declaration (metarm/learner/precompiled.hpp) keeps a program from compiling them: members defined
// inside the body are inline, and compilers instantiate those even then.

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
LearnerCore<Model, Optimizer, Backend, Input, Loss, MetaObjective>::LearnerCore(
    Model model, Optimizer optimizer, LearnerOptions options, Loss loss, MetaObjective meta_objective,
    typename Backend::context ctx)
    : options_(options),
      step_(std::move(model), std::move(optimizer), options.step, std::move(ctx), std::move(loss),
            std::move(meta_objective)) {
  Rng init = Rng(options_.seed).stream(0);
  std::vector<T> host(static_cast<std::size_t>(step_.parameter_count()));
  step_.model().initialize(std::span<T>(host), init);
  set_parameters(host);
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
template <class... Callbacks>
FitResult LearnerCore<Model, Optimizer, Backend, Input, Loss, MetaObjective>::fit_loop(
    StepFunction run_step, bool needs_meta, std::string_view strategy, const preference_set_type& train,
    const meta_set_type* meta, const fit_options_type& options, Callbacks&&... callbacks) {
  check_fit_arguments(train, meta, options, needs_meta, strategy);
  detail::make_current(step_.backend_context());

  const index_t pairs = train.size();
  const index_t batch_size = std::min(options.batch_size, pairs);
  const index_t batches = options.drop_last ? pairs / batch_size : (pairs + batch_size - 1) / batch_size;
  std::int64_t total_steps = static_cast<std::int64_t>(batches) * options.epochs;
  if (options.max_steps > 0) {
    total_steps = std::min(total_steps, options.max_steps);
  }
  const index_t meta_take = needs_meta ? std::min(options.meta_batch_size, meta->prompts()) : 0;
  check_shards(pairs, batch_size, meta_take, options);
  const auto ranks = static_cast<index_t>(communicator().size());
  const auto rank = static_cast<index_t>(communicator().rank());

  // The data order lives in fit_state_, so a checkpoint taken between steps can hand it to a later fit.
  FitState& state = fit_state_;
  if (options.resume != nullptr) {
    check_resume(*options.resume, train, meta, needs_meta, batches);
    if (options.resume != &state) {
      state = *options.resume;
    }
    fits_ = state.fit_index + 1;
  } else {
    state = FitState{};
    state.fit_index = fits_;
    state.order_rng = Rng(options_.seed).stream(1 + 1000 * fits_);
    state.meta_rng = Rng(options_.seed).stream(2 + 1000 * fits_);
    ++fits_;
    state.order.resize(static_cast<std::size_t>(pairs));
    std::iota(state.order.begin(), state.order.end(), index_t{0});
    if (needs_meta) {
      state.meta_order.resize(static_cast<std::size_t>(meta->prompts()));
      std::iota(state.meta_order.begin(), state.meta_order.end(), index_t{0});
      state.meta_rng.shuffle(state.meta_order.begin(), state.meta_order.end());
    }
  }
  std::vector<index_t>& order = state.order;
  std::vector<index_t>& meta_order = state.meta_order;

  // Size every buffer for the largest batch the sets can yield, so no step after the first allocates.
  index_t max_columns = 2 * batch_size;
  if constexpr (requires { pair_buffer_.reserve_for(train, batch_size); }) {
    pair_buffer_.reserve_for(train, batch_size);
  }
  if (needs_meta) {
    meta_buffer_.reserve_for(*meta, meta_take);
    max_columns = std::max(max_columns, largest_meta_columns(*meta, meta_take));
  }
  step_.reserve(max_columns);
  shard_.reserve(static_cast<std::size_t>(std::max(batch_size, meta_take)));

  FitResult result;
  [[maybe_unused]] const FitBeginEvent begin{strategy, options.epochs, batches, total_steps, pairs,
                                             meta != nullptr ? meta->prompts() : 0, state.steps};
  (detail::call_on_fit_begin(callbacks, begin), ...);

  // A resumed fit continues inside its epoch, or starts the next one when the saved epoch was finished.
  const bool mid_epoch = state.epoch > 0 && state.next_batch < batches;
  const int first_epoch = mid_epoch ? state.epoch : state.epoch + 1;
  std::int64_t step_count = state.steps;
  bool stop = false;
  for (int epoch = first_epoch; epoch <= options.epochs && !stop; ++epoch) {
    index_t first_batch = 0;
    if (epoch == first_epoch && mid_epoch) {
      first_batch = state.next_batch;
    } else {
      state.order_rng.shuffle(order.begin(), order.end());
    }
    state.epoch = epoch;
    state.next_batch = first_batch;
    double loss_sum = 0.0, objective_sum = 0.0;
    std::int64_t epoch_steps = 0;
    for (index_t b = first_batch; b < batches && !stop; ++b) {
      const index_t first = b * batch_size;
      const index_t count = std::min(batch_size, pairs - first);
      detail::make_current(step_.backend_context());  // a callback may have run work on another device
      const PreferenceBatch<T, Input> pair_batch =
          pair_buffer_.gather(step_.backend_context(), train, shard_of(order, first, count, rank, ranks));
      MetaBatch<T, Input> meta_batch{};
      if (needs_meta) {
        if (state.meta_cursor + meta_take > static_cast<std::int64_t>(meta_order.size())) {
          state.meta_rng.shuffle(meta_order.begin(), meta_order.end());
          state.meta_cursor = 0;
        }
        meta_batch = meta_buffer_.gather(step_.backend_context(), *meta,
                                         shard_of(meta_order, static_cast<index_t>(state.meta_cursor), meta_take,
                                                  rank, ranks));
        state.meta_cursor += meta_take;
      }
      StepStats stats;
      try {
        stats = run_step(*this, pair_batch, meta_batch);
      } catch (const Error& e) {
        throw_with_cause(e, step_count + 1);
      }
      ++step_count;
      ++epoch_steps;
      state.steps = step_count;
      state.next_batch = b + 1;
      // Values the strategy recorded in backend memory are summed there; those it returned, here.
      auto& recorded = step_.recorded_statistics();
      if (!recorded.recorded(Statistic::loss)) loss_sum += stats.loss;
      if (!recorded.recorded(Statistic::objective)) objective_sum += stats.objective;

      const bool eval_due = options.eval_every > 0 && step_count % options.eval_every == 0 && has_eval(options);
      const bool last_step = b + 1 == batches || (options.max_steps > 0 && step_count >= options.max_steps);
      if (step_count % options.statistics_every == 0 || eval_due || last_step) {
        StatisticsReading reading;
        try {
          reading = recorded.read(step_.backend_context(), stats, step_count);
        } catch (const Error& e) {
          throw_with_cause(e, -1);  // the statistics name their steps
        }
        average_statistics(stats, reading);
        loss_sum += reading.sum[static_cast<std::size_t>(Statistic::loss)];
        objective_sum += reading.sum[static_cast<std::size_t>(Statistic::objective)];
        const StepEvent event{step_count, epoch, options.epochs, b + 1, batches, total_steps, stats};
        stop = detail::dispatch(
            result.stop, [&](auto& c) { return detail::call_on_step(c, event); }, callbacks...);
      }

      if (!stop && eval_due) {
        result.last_eval = evaluate_for_fit(options);
        const EvalEvent eval_event{step_count, epoch, result.last_eval};
        stop = detail::dispatch(
            result.stop, [&](auto& c) { return detail::call_on_eval(c, eval_event); }, callbacks...);
      }
      if (!stop && options.max_steps > 0 && step_count >= options.max_steps) {
        stop = true;
        result.stop.kind = StopReason::Kind::max_steps;
      }
    }
    const Metrics* epoch_eval_ptr = nullptr;
    if (options.eval_every == 0 && has_eval(options) && result.stop.kind != StopReason::Kind::callback) {
      result.last_eval = evaluate_for_fit(options);
      epoch_eval_ptr = &result.last_eval;
      const EvalEvent eval_event{step_count, epoch, result.last_eval};
      stop = detail::dispatch(
                 result.stop, [&](auto& c) { return detail::call_on_eval(c, eval_event); }, callbacks...) ||
             stop;
    }
    const double denominator = static_cast<double>(std::max<std::int64_t>(1, epoch_steps));
    const EpochEvent epoch_event{epoch, options.epochs, step_count, loss_sum / denominator,
                                 objective_sum / denominator, epoch_eval_ptr};
    stop = detail::dispatch(
               result.stop, [&](auto& c) { return detail::call_on_epoch_end(c, epoch_event); }, callbacks...) ||
           stop;
    // An epoch cut short by max_steps or a callback does not count as completed.
    if (state.next_batch == batches) {
      result.epochs_completed = epoch;
    }
  }
  result.steps = step_count;
  (detail::call_on_fit_end(callbacks, result.stop), ...);
  return result;
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
auto LearnerCore<Model, Optimizer, Backend, Input, Loss, MetaObjective>::score(
    std::span<const T> features, index_t count) -> std::vector<T> {
  const index_t dim = step_.model().input_dim();
  METARM_REQUIRE(static_cast<index_t>(features.size()) == dim * count, "MetaLearner::score",
                 "argument 'features' has {} values, expected {} x {}", features.size(), dim, count);
  std::vector<T> rewards(static_cast<std::size_t>(count));
  constexpr index_t chunk = 1024;
  auto& ctx = step_.backend_context();
  detail::make_current(ctx);
  for (index_t first = 0; first < count; first += chunk) {
    const index_t cols = std::min(chunk, count - first);
    eval_features_.resize(std::max(eval_features_.size(), dim * chunk));
    Backend::copy_from_host(ctx, features.data() + first * dim, VectorView<T>{eval_features_.data(), dim * cols});
    const MatrixView<const T> x{eval_features_.data(), dim, cols, dim};
    const auto r = forward_for_eval(x);
    Backend::copy_to_host(ctx, r, rewards.data() + first);
  }
  return rewards;
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
auto LearnerCore<Model, Optimizer, Backend, Input, Loss, MetaObjective>::score(
    const SparseColumns<T>& features) -> std::vector<T> {
  static_assert(Backend::host_accessible, "metarm: sparse features are scored on host-accessible backends (cpu)");
  METARM_REQUIRE(features.rows() == step_.model().input_dim(), "MetaLearner::score",
                 "argument 'features' has {} features per column, the model expects {}", features.rows(),
                 step_.model().input_dim());
  const index_t count = features.cols();
  std::vector<T> rewards(static_cast<std::size_t>(count));
  constexpr index_t chunk = 1024;
  for (index_t first = 0; first < count; first += chunk) {
    const index_t cols = std::min(chunk, count - first);
    const auto r = forward_for_eval(features.columns(first, cols));
    Backend::copy_to_host(step_.backend_context(), r, rewards.data() + first);
  }
  return rewards;
}

template <class Model, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
Metrics LearnerCore<Model, Optimizer, Backend, Input, Loss, MetaObjective>::evaluate(
    const preference_set_type& pairs, const meta_set_type* meta, std::string_view prefix) {
  METARM_REQUIRE(!pairs.empty(), "MetaLearner::evaluate", "argument 'pairs' is empty");
  check_dim(pairs.dim(), "MetaLearner::evaluate", "pairs");
  const auto chosen = score_columns(pairs.chosen_features(), pairs.size());
  const auto rejected = score_columns(pairs.rejected_features(), pairs.size());
  Metrics raw;
  raw.set("loss", host_loss(chosen, rejected, pairs));
  raw.merge(summarize_preferences<T>(chosen, rejected).to_metrics());
  if (meta != nullptr) {
    METARM_REQUIRE(!meta->empty(), "MetaLearner::evaluate", "argument 'meta' is empty");
    check_dim(meta->dim(), "MetaLearner::evaluate", "meta");
    const auto rewards = score_columns(meta->features(), meta->responses());
    raw.set("difference_objective", difference_objective_value<T>(rewards, meta->offsets()));
    if constexpr (!std::is_same_v<MetaObjective, DifferenceObjective>) {
      raw.set("meta_objective", host_meta_objective(rewards, meta->offsets()));
    }
    const auto gaps = reward_differences<T>(rewards, meta->offsets());
    raw.set("reward_gap", std::accumulate(gaps.begin(), gaps.end(), 0.0) / static_cast<double>(gaps.size()));
  }
  Metrics out;
  out.merge(raw, prefix);
  return out;
}

}  // namespace metarm
