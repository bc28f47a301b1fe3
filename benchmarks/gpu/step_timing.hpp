// SPDX-License-Identifier: Apache-2.0
// Seconds per training step of Vanilla and MetaRM for the MLP reward model
// Linear(d, h) - ReLU - Linear(h, h) - ReLU - Linear(h, 1), on any backend. Shared by the CPU translation
// unit (step_timing.cpp) and the CUDA one (step_timing_cuda.cu), which are linked into one program.
#pragma once

#include <chrono>
#include <cstdint>
#include <numeric>
#include <vector>

#include <metarm/data/batch_buffer.hpp>
#include <metarm/learner/meta_learner.hpp>
#include <metarm/model/mlp.hpp>
#include <metarm/optim/adam.hpp>
#include <metarm/strategy/metarm.hpp>
#include <metarm/strategy/vanilla.hpp>

namespace gpu_bench {

using metarm::index_t;

struct Workload {
  index_t dim, hidden, batch;  // n = m = batch, k = 4
};

struct Timing {
  double vanilla = 0, metarm = 0;  // seconds per step
};

// The workload's batch of w.batch random pairs, repeated `copies` times, and w.batch random prompts of k = 4.
struct Sets {
  metarm::PreferenceSet<float> pairs;
  metarm::MetaSet<float> meta;
};
inline Sets random_sets(const Workload& w, index_t copies, std::uint64_t seed) {
  const index_t k = 4;
  metarm::Rng rng(seed);
  std::vector<std::vector<float>> chosen, rejected;
  for (index_t i = 0; i < w.batch; ++i) {
    chosen.emplace_back(static_cast<std::size_t>(w.dim));
    rejected.emplace_back(static_cast<std::size_t>(w.dim));
    for (auto& x : chosen.back()) x = static_cast<float>(rng.normal());
    for (auto& x : rejected.back()) x = static_cast<float>(rng.normal());
  }
  Sets sets{metarm::PreferenceSet<float>(w.dim), metarm::MetaSet<float>(w.dim)};
  for (index_t c = 0; c < copies; ++c) {
    for (index_t i = 0; i < w.batch; ++i) {
      sets.pairs.add(chosen[static_cast<std::size_t>(i)], rejected[static_cast<std::size_t>(i)]);
    }
  }
  std::vector<float> block(static_cast<std::size_t>(w.dim * k));
  for (index_t p = 0; p < w.batch; ++p) {
    for (auto& x : block) x = static_cast<float>(rng.normal());
    sets.meta.add_prompt(block);
  }
  return sets;
}

template <class Backend, class Strategy>
double seconds_per_step(const Workload& w, Strategy strategy) {
  const auto [pairs, meta] = random_sets(w, 1, 1);
  using Model = metarm::Mlp<metarm::ReLU, float>;
  metarm::MetaLearner<Model, Strategy, metarm::Adam, Backend> learner(Model(w.dim, {w.hidden, w.hidden}), strategy,
                                                                     metarm::Adam{.learning_rate = 1e-5});
  auto& ctx = learner.step_context().backend_context();
  metarm::PreferenceBatchBuffer<float, Backend> pb;
  metarm::MetaBatchBuffer<float, Backend> mb;
  std::vector<index_t> idx(static_cast<std::size_t>(w.batch));
  std::iota(idx.begin(), idx.end(), 0);
  const auto pair_batch = pb.gather(ctx, pairs, idx);
  const auto meta_batch = mb.gather(ctx, meta, idx);
  for (int i = 0; i < 3; ++i) learner.step(pair_batch, meta_batch);  // warm-up: workspaces, cuBLAS heuristics
  ctx.synchronize();
  // At least 5 steps and at least half a second.
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  int steps = 0;
  double elapsed = 0;
  while (steps < 5 || elapsed < 0.5) {
    learner.step(pair_batch, meta_batch);
    ++steps;
    ctx.synchronize();
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  }
  return elapsed / steps;
}

template <class Backend>
Timing time_workload(const Workload& w) {
  return {seconds_per_step<Backend>(w, metarm::Vanilla{}), seconds_per_step<Backend>(w, metarm::MetaRM(1e-3))};
}

// Seconds per MetaRM step of a fit over `steps` batches, with its batch uploads, whose statistics are read
// every `every` steps: on a GPU each read waits for the device, and the steps between queue their work
// without a wait.
template <class Backend>
double seconds_per_fit_step(const Workload& w, index_t steps, std::int64_t every) {
  const auto [pairs, meta] = random_sets(w, steps, 2);
  using Model = metarm::Mlp<metarm::ReLU, float>;
  metarm::MetaLearner<Model, metarm::MetaRM, metarm::Adam, Backend> learner(
      Model(w.dim, {w.hidden, w.hidden}), metarm::MetaRM(1e-3), metarm::Adam{.learning_rate = 1e-5});
  auto& ctx = learner.step_context().backend_context();
  metarm::FitOptions<float> fit{.epochs = 1, .batch_size = w.batch, .meta_batch_size = w.batch};
  fit.statistics_every = every;
  learner.fit(pairs, &meta, fit);  // warm-up: buffers, workspaces, cuBLAS heuristics
  ctx.synchronize();
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  learner.fit(pairs, &meta, fit);
  ctx.synchronize();
  return std::chrono::duration<double>(clock::now() - start).count() / static_cast<double>(steps);
}

Timing cpu_timing(const Workload&);
Timing cuda_timing(const Workload&);
// MetaRM fit steps on the GPU with the statistics read every step, and every `steps` steps.
struct FitTiming {
  double read_every_step = 0, read_once = 0;
};
FitTiming cuda_fit_timing(const Workload&, index_t steps);

}  // namespace gpu_bench
