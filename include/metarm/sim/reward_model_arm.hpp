// SPDX-License-Identifier: Apache-2.0
/// \file
/// One arm of the comparison: a named way of training the round's reward model. The strategy (Vanilla, MetaRM,
/// or any strategy the learner accepts) is erased behind a function, so arms of different strategy types run
/// side by side in one loop. Every arm trains the same model from the same initialisation, with the same
/// optimiser, budget and data order; only the strategy differs.
///
/// An arm may also name its preference loss and meta objective (Bradley-Terry and J unless it says otherwise),
/// and may score with adapted parameters theta + eta * grad J(theta; the round's whole meta set) instead of the
/// trained theta, J being the arm's meta objective. First-order MetaRM minimises the preference loss at exactly that point
/// (docs/math.md, "What the update does to J at theta"), so this asks whether the adapted point, rather than
/// theta, is the reward model MetaRM learns.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "metarm/callback/events.hpp"
#include "metarm/core/error.hpp"
#include "metarm/backend/cpu.hpp"
#include "metarm/data/batch.hpp"
#include "metarm/data/meta_set.hpp"
#include "metarm/loss/bradley_terry.hpp"
#include "metarm/loss/difference_objective.hpp"
#include "metarm/strategy/batch_objectives.hpp"
#include "metarm/data/preference_set.hpp"
#include "metarm/learner/meta_learner.hpp"
#include "metarm/learner/options.hpp"
#include "metarm/model/mlp.hpp"
#include "metarm/optim/adam.hpp"

namespace metarm::sim {

/// What an arm trains on in one round, and how.
struct RewardModelTraining {
  const PreferenceSet<double>* pairs = nullptr;  ///< the labelled SFT pairs
  const MetaSet<double>* meta = nullptr;         ///< this round's unlabelled responses of the current policy
  /// The fit's settings.
  FitOptions<double> fit{};
  double learning_rate = 1e-3;  ///< Adam
  std::uint64_t init_seed = 0;  ///< parameter initialisation and data order
};

/// What an arm's training produced: the parameters it scores with, and averages over the fit.
struct TrainedRewardModel {
  /// The parameters the arm scores with (adapted, when the arm adapts).
  std::vector<double> parameters;
  /// The mean preference loss.
  ///
  /// Averages over the fit's steps; NaN where the strategy does not measure the quantity.
  double loss = std::nan("");
  double objective = std::nan("");    ///< J of the meta batch before each step
  double ascent_norm = std::nan("");  ///< ||grad J|| of each ascent step
  double meta_objective = std::nan("");  ///< J of the scored parameters on the round's whole meta set
};

namespace detail {

struct TrainingTally {
  double loss = 0.0, objective = 0.0, ascent = 0.0;
  std::int64_t steps = 0;
  void on_step(const StepEvent& e) {
    loss += e.stats.loss;
    objective += e.stats.objective;
    ascent += e.stats.ascent_norm;
    ++steps;
  }
  double mean(double total) const { return steps > 0 ? total / static_cast<double>(steps) : std::nan(""); }
};

// The meta objective of `params` on the whole meta set; with `gradient` non-empty, also its gradient
// (overwritten).
template <class Model, class Objective = DifferenceObjective>
double whole_set_objective(const Model& model, std::span<const double> params, const MetaSet<double>& meta,
                           std::span<double> gradient, const Objective& objective = {}) {
  cpu::context ctx;
  auto workspace = model.template make_workspace<cpu>(meta.responses());
  cpu::buffer<double> d_rewards(meta.responses());
  const MetaBatch<double> batch{{meta.features().data(), meta.dim(), meta.responses(), meta.dim()},
                                {meta.offsets().data(), meta.prompts() + 1}};
  return difference_objective_and_gradient<cpu>(
      ctx, model, objective, VectorView<const double>{params.data(), static_cast<index_t>(params.size())},
      batch, workspace, d_rewards.view(), VectorView<double>{gradient.data(), static_cast<index_t>(gradient.size())});
}

}  // namespace detail

template <class Activation>
/// One arm of the comparison, a named way of training the round's reward model; see the file's description.
class RewardModelArm {
 public:
  /// The reward model type, an Mlp in double.
  using model_type = Mlp<Activation, double>;

  /// An arm named `name` that trains with `strategy`.
  ///
  /// adapt_eta > 0 scores with theta + adapt_eta * grad J(theta; whole meta set) instead of theta.
  template <class Strategy>
  RewardModelArm(std::string name, Strategy strategy, double adapt_eta = 0.0)
      : RewardModelArm(std::move(name), std::move(strategy), adapt_eta, BradleyTerryLoss{}, DifferenceObjective{}) {}

  /// An arm that trains with `strategy` on the preference loss `loss` and the meta objective `meta_objective`.
  ///
  /// adapt_eta > 0 scores with theta + adapt_eta * grad J(theta; whole meta set), J being `meta_objective`.
  /// The meta set's J the arm reports (TrainedRewardModel::meta_objective) is the difference objective
  /// whatever the arm's meta objective, so that arms compare on one scale.
  template <class Strategy, class Loss, class MetaObjective>
  RewardModelArm(std::string name, Strategy strategy, double adapt_eta, Loss loss, MetaObjective meta_objective)
      : name_(std::move(name)),
        adapt_eta_(adapt_eta),
        train_([strategy = std::move(strategy), adapt_eta, loss = std::move(loss),
                meta_objective = std::move(meta_objective)](const model_type& model, const RewardModelTraining& t) {
          MetaLearner<model_type, Strategy, Adam, cpu, MatrixView<const double>, Loss, MetaObjective> learner(
              model, strategy, Adam{.learning_rate = t.learning_rate}, LearnerOptions{.seed = t.init_seed}, loss,
              meta_objective);
          detail::TrainingTally tally;
          learner.fit(*t.pairs, t.meta, t.fit, tally);
          TrainedRewardModel out{learner.parameters(), tally.mean(tally.loss), tally.mean(tally.objective),
                                 tally.mean(tally.ascent)};
          if (adapt_eta > 0.0) {
            std::vector<double> gradient(out.parameters.size());
            detail::whole_set_objective(model, out.parameters, *t.meta, gradient, meta_objective);
            for (std::size_t i = 0; i < gradient.size(); ++i) out.parameters[i] += adapt_eta * gradient[i];
          }
          out.meta_objective = detail::whole_set_objective(model, out.parameters, *t.meta, {});
          return out;
        }) {
    METARM_REQUIRE(std::isfinite(adapt_eta) && adapt_eta >= 0.0, "RewardModelArm",
                   "argument 'adapt_eta' must be finite and >= 0, got {:f}", adapt_eta);
  }

  /// The arm's name, as tables and files give it.
  const std::string& name() const { return name_; }
  /// The step of the adaptation applied before scoring; 0 for none.
  double adapt_eta() const { return adapt_eta_; }

  /// Trains `model` from its initialisation as `training` says, with this arm's strategy.
  TrainedRewardModel train(const model_type& model, const RewardModelTraining& training) const {
    return train_(model, training);
  }

 private:
  std::string name_;
  double adapt_eta_ = 0.0;
  std::function<TrainedRewardModel(const model_type&, const RewardModelTraining&)> train_;
};

}  // namespace metarm::sim
