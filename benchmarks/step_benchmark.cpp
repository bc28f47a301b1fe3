// Time of one training step for the MLP reward model Linear(d, h) - ReLU - Linear(h, h) - ReLU - Linear(h, 1),
// n = m = 32, k = 4, with SGD and Adam: Vanilla, MetaRM first order (the paper's), and the second-order
// strategies, MetaRM exact and by finite differences, the dot-product reading, MAML (16 support and 16 query
// pairs), first-order MAML and Reptile. The cost of exact MetaRM is its time over first-order MetaRM's in the
// same run; OMP_NUM_THREADS=1 pins Eigen to one thread.
#include <benchmark/benchmark.h>

#include <numeric>

#include <metarm/metarm.hpp>

namespace {

using namespace metarm;

template <class Strategy, class Optimizer>
void step_benchmark(benchmark::State& state) {
  const index_t d = state.range(0), h = state.range(1), n = 32, m = 32, k = 4;
  Rng rng(1);
  PreferenceSet<float> pairs(d);
  std::vector<float> a(static_cast<std::size_t>(d)), b(static_cast<std::size_t>(d));
  for (index_t i = 0; i < n; ++i) {
    for (auto& x : a) x = float(rng.normal());
    for (auto& x : b) x = float(rng.normal());
    pairs.add(a, b);
  }
  MetaSet<float> meta(d);
  std::vector<float> block(static_cast<std::size_t>(d * k));
  for (index_t p = 0; p < m; ++p) {
    for (auto& x : block) x = float(rng.normal());
    meta.add_prompt(block);
  }
  cpu::context ctx;
  PreferenceBatchBuffer<float, cpu> pb;
  MetaBatchBuffer<float, cpu> mb;
  std::vector<index_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  const auto pair_batch = pb.gather(ctx, pairs, idx);
  const auto meta_batch = mb.gather(ctx, meta, idx);
  MetaLearner learner(Mlp<ReLU, float>(d, {h, h}), Strategy{}, Optimizer{.learning_rate = 1e-5}, LearnerOptions{});
  learner.step(pair_batch, meta_batch);  // the first step sizes every workspace; time the steps after it
  for (auto _ : state) {
    benchmark::DoNotOptimize(learner.step(pair_batch, meta_batch));
  }
  state.SetItemsProcessed(state.iterations());
}

// The second-order variants as default-constructible types, so they fit the template above.
struct MetaRMExact : MetaRM {
  MetaRMExact() : MetaRM({.eta = 1e-2, .order = MetaGradient::exact}) {}
};
struct MetaRMFiniteDifference : MetaRM {
  MetaRMFiniteDifference() : MetaRM({.eta = 1e-2, .order = MetaGradient::finite_difference}) {}
};
struct ReptileFiveSteps : Reptile {
  ReptileFiveSteps() : Reptile({.inner_steps = 5, .inner_learning_rate = 1e-2}) {}
};

void sizes(benchmark::internal::Benchmark* b) {
  b->Args({64, 64})->Args({768, 256})->Args({4096, 1024})->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(step_benchmark<metarm::Vanilla, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<metarm::MetaRM, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<MetaRMExact, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<MetaRMFiniteDifference, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<metarm::DotProductMetaRM, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<metarm::Maml, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<metarm::FirstOrderMaml, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<ReptileFiveSteps, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<metarm::Vanilla, metarm::Adam>)->Apply(sizes);
BENCHMARK(step_benchmark<metarm::MetaRM, metarm::Adam>)->Apply(sizes);
BENCHMARK(step_benchmark<MetaRMExact, metarm::Adam>)->Apply(sizes);

BENCHMARK_MAIN();
