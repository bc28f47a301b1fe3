// SPDX-License-Identifier: Apache-2.0
// The runs behind equivalence.hpp, written once for any backend. Included by the two translation units that
// define cpu_* and cuda_*; the backend header comes from the including file.
#pragma once

#include <numeric>

#include <metarm/grad/objective_gradient.hpp>
#include <metarm/layer/layer_norm.hpp>
#include <metarm/layer/residual.hpp>
#include <metarm/learner/meta_learner.hpp>
#include <metarm/optim/adam.hpp>
#include <metarm/optim/sgd.hpp>
#include <metarm/strategy/metarm.hpp>

#include "equivalence.hpp"

namespace equivalence {

template <class Backend>
Passes run_passes(const Problem& problem) {
  const Model model(problem.dim, problem.hidden);
  metarm::MetaLearner<Model, metarm::MetaRM, metarm::Sgd, Backend> learner(
      model, metarm::MetaRM(0.5), metarm::Sgd{.learning_rate = 0.1}, metarm::LearnerOptions{.seed = 5});
  auto& step = learner.step_context();
  auto& ctx = step.backend_context();
  metarm::PreferenceBatchBuffer<float, Backend> pair_buffer;
  metarm::MetaBatchBuffer<float, Backend> meta_buffer;
  std::vector<index_t> idx(32);
  std::iota(idx.begin(), idx.end(), 0);
  const auto pairs = pair_buffer.gather(ctx, problem.train, idx);
  const auto meta = meta_buffer.gather(ctx, problem.meta, idx);
  step.set_batches(pairs, meta);

  auto download = [&](metarm::VectorView<const float> v) {
    std::vector<float> host(static_cast<std::size_t>(v.size));
    Backend::copy_to_host(ctx, v, host.data());
    return host;
  };
  Passes out;
  auto grad = step.scratch("gradient");
  out.loss = step.preference_loss_and_gradient(step.params(), grad);
  out.rewards = download(metarm::VectorView<const float>{
      model.template forward<Backend>(ctx, step.params(), pairs.features, step.workspace())});
  out.loss_gradient = download(grad);
  out.objective = step.difference_objective_and_gradient(step.params(), grad);
  out.objective_gradient = download(grad);
  const auto before = learner.parameters();
  learner.step(pairs, meta);
  out.step_update = learner.parameters();
  for (std::size_t i = 0; i < before.size(); ++i) out.step_update[i] -= before[i];
  return out;
}

template <class Backend>
std::vector<metarm::testing::LayerPassResults> run_layer_passes() {
  using metarm::testing::run_layer_passes;
  return {run_layer_passes<Backend>(metarm::Dense<double>(4)),
          run_layer_passes<Backend>(metarm::ReLU{}),
          run_layer_passes<Backend>(metarm::Tanh{}),
          run_layer_passes<Backend>(metarm::GELU{}),
          run_layer_passes<Backend>(metarm::SiLU{}),
          run_layer_passes<Backend>(metarm::Sigmoid{}),
          run_layer_passes<Backend>(metarm::LayerNorm<double>()),
          run_layer_passes<Backend>(metarm::Residual(metarm::Dense<double>(6), metarm::Tanh{})),
          run_layer_passes<Backend>(metarm::ScalarHead<double>())};
}

template <class Backend>
Training run_training(const Problem& problem, int steps) {
  const Model model(problem.dim, problem.hidden);
  metarm::MetaLearner<Model, metarm::MetaRM, metarm::Adam, Backend> learner(
      model, metarm::MetaRM(0.5), metarm::Adam{.learning_rate = 1e-3}, metarm::LearnerOptions{.seed = 6});
  learner.fit(problem.train, &problem.meta,
              metarm::FitOptions<float>{.epochs = 100, .batch_size = 32, .meta_batch_size = 8, .max_steps = steps});
  return {learner.parameters(), learner.evaluate(problem.held_out).at("accuracy")};
}

}  // namespace equivalence
