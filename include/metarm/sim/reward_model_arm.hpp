// One arm of the comparison: a named way of training the round's reward model. The strategy (Vanilla, MetaRM,
// or any strategy the learner accepts) is erased behind a function, so arms of different strategy types run
// side by side in one loop. Every arm trains the same model from the same initialisation, with the same
// optimiser, budget and data order; only the strategy differs.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "metarm/callback/events.hpp"
#include "metarm/data/meta_set.hpp"
#include "metarm/data/preference_set.hpp"
#include "metarm/learner/meta_learner.hpp"
#include "metarm/learner/options.hpp"
#include "metarm/model/mlp.hpp"
#include "metarm/optim/adam.hpp"

namespace metarm::sim {

struct RewardModelTraining {
  const PreferenceSet<double>* pairs = nullptr;  // the labelled SFT pairs
  const MetaSet<double>* meta = nullptr;         // this round's unlabelled responses of the current policy
  FitOptions<double> fit{};
  double learning_rate = 1e-3;  // Adam
  std::uint64_t init_seed = 0;  // parameter initialisation and data order
};

struct TrainedRewardModel {
  std::vector<double> parameters;
  // Averages over the fit's steps; NaN where the strategy does not measure the quantity.
  double loss = std::nan("");
  double objective = std::nan("");    // J of the meta batch before each step
  double ascent_norm = std::nan("");  // ||grad J|| of each ascent step
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

}  // namespace detail

template <class Activation>
class RewardModelArm {
 public:
  using model_type = Mlp<Activation, double>;

  template <class Strategy>
  RewardModelArm(std::string name, Strategy strategy)
      : name_(std::move(name)),
        train_([strategy = std::move(strategy)](const model_type& model, const RewardModelTraining& t) {
          MetaLearner learner(model, strategy, Adam{.learning_rate = t.learning_rate}, LearnerOptions{.seed = t.init_seed});
          detail::TrainingTally tally;
          learner.fit(*t.pairs, t.meta, t.fit, tally);
          return TrainedRewardModel{learner.parameters(), tally.mean(tally.loss), tally.mean(tally.objective),
                                    tally.mean(tally.ascent)};
        }) {}

  const std::string& name() const { return name_; }

  TrainedRewardModel train(const model_type& model, const RewardModelTraining& training) const {
    return train_(model, training);
  }

 private:
  std::string name_;
  std::function<TrainedRewardModel(const model_type&, const RewardModelTraining&)> train_;
};

}  // namespace metarm::sim
