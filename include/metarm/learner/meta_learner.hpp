// SPDX-License-Identifier: Apache-2.0
/// \file
/// MetaLearner: owns a reward model's parameters, optimiser state and workspaces, and trains them with a
/// strategy. `step` performs one update on given batches; `fit` runs epochs of shuffled batches with
/// callbacks; `evaluate` reports metrics on held-out data.
///
/// Data parallel: with a communicator of N ranks (set_communicator), every rank holds the whole sets and the
/// same parameters, `fit` draws the same data order on every rank and each rank takes every N-th pair (and
/// meta prompt) of each global batch, starting at its rank; the step context averages the gradients, so the
/// ranks apply the global batch's update and stay identical. FitOptions::batch_size and meta_batch_size are
/// the global sizes and must divide by N. Step statistics are averaged over the ranks; evaluation runs on
/// every rank on the whole set (docs/distributed.md).
#pragma once

#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

#include "metarm/backend/default.hpp"
#include "metarm/data/batch.hpp"
#include "metarm/learner/learner_core.hpp"
#include "metarm/learner/options.hpp"
#include "metarm/loss/bradley_terry.hpp"
#include "metarm/loss/difference_objective.hpp"
#include "metarm/strategy/step_context.hpp"
#include "metarm/strategy/strategy.hpp"

namespace metarm {

/// Trains a reward model with a strategy, owning its parameters, optimiser state and workspaces; see the file's
/// description.
///
/// Input is the type of the first layer's input: dense columns (the default) or SparseInput<T> for sparse
/// features (SparsePreferenceSet, SparseMetaSet; CPU). SparseMetaLearner below names the sparse variant.
/// Loss is the preference loss and MetaObjective the objective that MetaRM-style strategies ascend on the
/// meta batch (loss/); every strategy works with any of them.
///
/// The strategy-independent part (parameters, optimiser state, the fit loop, evaluation) is LearnerCore,
/// whose members a learner has as its own.
template <class Model, class Strategy, class Optimizer, class Backend = default_backend,
          class Input = MatrixView<const typename Model::scalar_type>, class Loss = BradleyTerryLoss,
          class MetaObjective = DifferenceObjective>
class MetaLearner : public LearnerCore<Model, Optimizer, Backend, Input, Loss, MetaObjective> {
 public:
  /// The part of the learner that does not depend on the strategy.
  using core_type = LearnerCore<Model, Optimizer, Backend, Input, Loss, MetaObjective>;
  /// The strategy type.
  using strategy_type = Strategy;
  // The core's types that the declarations below use; programs find all of them (model_type, scalar_type, ...)
  // through the core.
  using typename core_type::T;
  using typename core_type::step_context_type;
  using typename core_type::preference_set_type;
  using typename core_type::meta_set_type;
  using typename core_type::fit_options_type;

  static_assert(check_strategy<Strategy, step_context_type>());

  /// A learner with the default loss and meta objective; the parameters are initialised from options.seed.
  MetaLearner(Model model, Strategy strategy, Optimizer optimizer, LearnerOptions options = {},
              typename Backend::context ctx = {})
      : MetaLearner(std::move(model), std::move(strategy), std::move(optimizer), options, Loss{}, MetaObjective{},
                    std::move(ctx)) {}

  /// A learner with the given loss and meta objective; the parameters are initialised from options.seed.
  MetaLearner(Model model, Strategy strategy, Optimizer optimizer, LearnerOptions options, Loss loss,
              MetaObjective meta_objective = MetaObjective(), typename Backend::context ctx = {});

  // ---- training -----------------------------------------------------------------------------------------

  /// One update on a preference batch and (for strategies that use one) a meta batch in backend memory. The
  /// statistics the strategy recorded in backend memory are read when it ends (on a GPU, the step's one wait).
  StepStats step(const PreferenceBatch<T, Input>& pairs, const MetaBatch<T, Input>& meta = {});

  /// Trains on `train` for options.epochs epochs of shuffled batches, drawing meta batches from `meta`
  /// (required when the strategy uses them). Callbacks receive the hooks listed in callback/dispatch.hpp.
  template <class... Callbacks>
  FitResult fit(const preference_set_type& train, const meta_set_type* meta, const fit_options_type& options,
                Callbacks&&... callbacks) {
    return this->fit_loop(&run_step_of, strategy_uses_meta_batch<Strategy>(), strategy_name<Strategy>(), train, meta,
                          options, std::forward<Callbacks>(callbacks)...);
  }

  /// The strategy, whose settings may change between steps.
  Strategy& strategy() { return strategy_; }

 private:
  // One update, with the statistics the strategy recorded in backend memory left there (see step()).
  StepStats run_step(const PreferenceBatch<T, Input>& pairs, const MetaBatch<T, Input>& meta);

  static StepStats run_step_of(core_type& core, const PreferenceBatch<T, Input>& pairs,
                               const MetaBatch<T, Input>& meta) {
    return static_cast<MetaLearner&>(core).run_step(pairs, meta);
  }

  Strategy strategy_;
};

// The members that run the strategy are defined outside the class body, so that an `extern template`
// declaration of a learner (metarm/learner/precompiled.hpp) keeps a program from compiling them: members
// defined inside the body are inline, and compilers instantiate those even then.

template <class Model, class Strategy, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
MetaLearner<Model, Strategy, Optimizer, Backend, Input, Loss, MetaObjective>::MetaLearner(
    Model model, Strategy strategy, Optimizer optimizer, LearnerOptions options, Loss loss,
    MetaObjective meta_objective, typename Backend::context ctx)
    : core_type(std::move(model), std::move(optimizer), options, std::move(loss), std::move(meta_objective),
                std::move(ctx)),
      strategy_(std::move(strategy)) {}

template <class Model, class Strategy, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
StepStats MetaLearner<Model, Strategy, Optimizer, Backend, Input, Loss, MetaObjective>::step(
    const PreferenceBatch<T, Input>& pairs, const MetaBatch<T, Input>& meta) {
  StepStats stats;
  StatisticsReading reading;
  try {
    stats = run_step(pairs, meta);
    reading = this->step_context().recorded_statistics().read(this->backend_context(), stats, this->updates());
  } catch (const Error& e) {
    this->throw_with_cause(e, this->updates() + 1);
  }
  this->average_statistics(stats, reading);
  return stats;
}

template <class Model, class Strategy, class Optimizer, class Backend, class Input, class Loss, class MetaObjective>
StepStats MetaLearner<Model, Strategy, Optimizer, Backend, Input, Loss, MetaObjective>::run_step(
    const PreferenceBatch<T, Input>& pairs, const MetaBatch<T, Input>& meta) {
  step_context_type& context = this->step_context();
  detail::make_current(context.backend_context());  // scratch vectors and workspaces may grow below
  validate_batch(pairs, context.model().input_dim(), "MetaLearner::step");
  if constexpr (strategy_uses_meta_batch<Strategy>()) {
    validate_batch<Backend>(meta, context.model().input_dim(), "MetaLearner::step");
  }
  context.set_batches(pairs, meta);
  StepStats stats = strategy_.step(context);
  context.recorded_statistics().end_step(context.backend_context());
  stats.learning_rate = context.last_learning_rate();
  const PreferenceBatchStats& batch = context.preference_batch_stats();
  stats.accuracy = batch.accuracy;
  stats.margin = batch.margin;
  stats.rewards_chosen = batch.chosen;
  stats.rewards_rejected = batch.rejected;
  return stats;
}

/// A learner whose first layer reads sparse features (SparsePreferenceSet, SparseMetaSet), for example hashed
/// text features of 2^18 dimensions that are never densified.
template <class Model, class Strategy, class Optimizer, class Backend = default_backend>
using SparseMetaLearner =
    MetaLearner<Model, Strategy, Optimizer, Backend, SparseMatrixView<const typename Model::scalar_type>>;

}  // namespace metarm
