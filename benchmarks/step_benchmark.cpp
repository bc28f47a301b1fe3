// SPDX-License-Identifier: Apache-2.0
// Time of one training step for the MLP reward model Linear(d, h) - ReLU - Linear(h, h) - ReLU - Linear(h, 1),
// n = m = 32, k = 4, with SGD and Adam: Vanilla, MetaRM first order (the paper's), and the second-order
// strategies, MetaRM exact and by finite differences, the dot-product reading, MAML (16 support and 16 query
// pairs), first-order MAML and Reptile. Arguments are d, h and the thread count.
//
// Counters: steps/s, and for Vanilla and first-order MetaRM the GEMM work a step needs as FLOP/s (forward
// 2 * columns * weights, backward the same for the weight gradients plus the input gradients of every layer
// but the first). gemm_peak measures the float GEMM limit (2048^3) that those figures are read against.
// fma_peak and optimizer_traffic (machine_limits.hpp) measure what the machine can do at most: the FMA peak
// that the GEMM work is also read against, and the memory bound of the Adam update.
// benchmarks/compare_pytorch.py runs these rows beside the PyTorch peer.
#include <benchmark/benchmark.h>

#include <array>
#include <cmath>
#include <numeric>
#include <string_view>

#include <metarm/metarm.hpp>

#include "machine_limits.hpp"

namespace {

using namespace metarm;

constexpr index_t pairs_per_batch = 32;
constexpr index_t prompts_per_batch = 32;
constexpr index_t responses_per_prompt = 4;

// GEMM FLOPs of a forward and backward pass over `columns` columns of the benchmark's model.
double pass_flops(index_t d, index_t h, index_t columns) {
  const double weights = double(d) * h + double(h) * h + double(h);
  const double weights_above_input = double(h) * h + double(h);
  return 2.0 * double(columns) * (2.0 * weights + weights_above_input);
}

template <class Strategy>
double step_flops(index_t d, index_t h) {
  const double preference = pass_flops(d, h, 2 * pairs_per_batch);
  if constexpr (std::is_same_v<Strategy, Vanilla>) {
    return preference;
  } else if constexpr (std::is_same_v<Strategy, MetaRM>) {
    return pass_flops(d, h, prompts_per_batch * responses_per_prompt) + preference;
  } else {
    return 0.0;  // not counted for the second-order strategies: their R-op passes are not plain GEMM passes
  }
}

template <class Strategy, class Optimizer>
void step_benchmark(benchmark::State& state) {
  const index_t d = state.range(0), h = state.range(1), n = pairs_per_batch, m = prompts_per_batch,
                k = responses_per_prompt;
  cpu::context ctx(static_cast<int>(state.range(2)));
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
  PreferenceBatchBuffer<float, cpu> pb;
  MetaBatchBuffer<float, cpu> mb;
  std::vector<index_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  const auto pair_batch = pb.gather(ctx, pairs, idx);
  const auto meta_batch = mb.gather(ctx, meta, idx);
  MetaLearner learner(Mlp<ReLU, float>(d, {h, h}), Strategy{}, Optimizer{.learning_rate = 1e-5}, LearnerOptions{},
                      std::move(ctx));
  learner.step(pair_batch, meta_batch);  // the first step sizes every workspace; time the steps after it
  for (auto _ : state) {
    benchmark::DoNotOptimize(learner.step(pair_batch, meta_batch));
  }
  state.counters["steps/s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
  if (const double flops = step_flops<Strategy>(d, h); flops > 0.0) {
    state.counters["FLOP/s"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate);
  }
}

// The machine's float GEMM limit as this build reaches it: C = A B with 2048 x 2048 operands.
void gemm_peak(benchmark::State& state) {
  const index_t size = state.range(0);
  cpu::context ctx(static_cast<int>(state.range(1)));
  cpu::buffer<float> a(size * size), b(size * size), c(size * size);
  Rng rng(2);
  for (index_t i = 0; i < size * size; ++i) {
    a.data()[i] = float(rng.normal());
    b.data()[i] = float(rng.normal());
  }
  for (auto _ : state) {
    cpu::gemm(ctx, Trans::no, Trans::no, 1.0f, as_const(a.matrix(size, size)), as_const(b.matrix(size, size)), 0.0f,
              c.matrix(size, size));
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * double(size) * double(size) * double(size) * double(state.iterations()),
                         benchmark::Counter::kIsRate);
}

// One Adam update over `params` values alone (PyTorch's optimizer.step() is the peer): ns per parameter is
// 1e9 / (params/s).
void adam_update(benchmark::State& state) {
  const index_t size = state.range(0);
  cpu::context ctx(static_cast<int>(state.range(1)));
  cpu::buffer<float> p(size), g(size), m(size), v(size);
  Rng rng(3);
  for (index_t i = 0; i < size; ++i) {
    p.data()[i] = float(rng.normal());
    g.data()[i] = float(rng.normal());
  }
  std::int64_t t = 0;
  const Adam adam{.learning_rate = 1e-5};
  const std::array<VectorView<float>, 2> state_views{m.view(), v.view()};
  for (auto _ : state) {
    adam.update<cpu, float>(ctx, p.view(), as_const(g.view()), state_views, 1e-5, ++t);
    benchmark::ClobberMemory();
  }
  state.counters["params/s"] =
      benchmark::Counter(double(size) * double(state.iterations()), benchmark::Counter::kIsRate);
}

// The FMA peak: every thread runs independent multiply-add chains with the widest instructions the CPU has
// (chosen at run time), so the figure is what the cores can do whatever this build's -march.
void fma_peak(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const metarm_bench::FmaKernel kernel = metarm_bench::widest_fma_kernel();
#if !defined(_OPENMP)
  if (threads > 1) {
    state.SkipWithError("built without OpenMP: the probe runs on one thread only");
    return;
  }
#endif
  if (kernel.run == nullptr) {
    state.SkipWithError("no FMA probe for this architecture");
    return;
  }
  constexpr std::int64_t rounds = 1 << 22;
  for (auto _ : state) {
    benchmark::DoNotOptimize(metarm_bench::run_fma_kernel(kernel, rounds, threads));
  }
  state.SetLabel(kernel.name);
  state.counters["FLOP/s"] = benchmark::Counter(kernel.flops_per_round * double(rounds) * threads *
                                                    double(state.iterations()),
                                                benchmark::Counter::kIsRate);
}

// The memory bound of the Adam update: its traffic (28 bytes per parameter) with no arithmetic, over the
// same sizes as adam_update. bytes/s is the bandwidth reached; 1e9 / (params/s) the bound in ns per parameter.
void optimizer_traffic(benchmark::State& state) {
  const index_t size = state.range(0);
  const int threads = static_cast<int>(state.range(1));
#if !defined(_OPENMP)
  if (threads > 1) {
    state.SkipWithError("built without OpenMP: the probe runs on one thread only");
    return;
  }
#endif
  cpu::buffer<float> p(size), g(size), m(size), v(size);
  Rng rng(3);
  for (index_t i = 0; i < size; ++i) {
    p.data()[i] = float(rng.normal());
    g.data()[i] = 0.0f;  // keeps every value finite however many times the pass runs
    m.data()[i] = 0.0f;
    v.data()[i] = 0.0f;
  }
  for (auto _ : state) {
    metarm_bench::optimizer_traffic(p.data(), g.data(), m.data(), v.data(), size, threads);
    benchmark::ClobberMemory();
  }
  const double params = double(size) * double(state.iterations());
  state.counters["params/s"] = benchmark::Counter(params, benchmark::Counter::kIsRate);
  state.counters["bytes/s"] =
      benchmark::Counter(params * metarm_bench::optimizer_bytes_per_param, benchmark::Counter::kIsRate);
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
  b->ArgNames({"d", "h", "threads"});
  for (int threads : {1, 2}) {
    b->Args({64, 64, threads})->Args({768, 256, threads})->Args({4096, 1024, threads});
  }
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

// The Adam update and its memory bound run over the same sizes: one that fits the L3 cache of a small
// machine, one that does not.
void update_sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"params", "threads"});
  for (int params : {1 << 20, 1 << 22}) {
    b->Args({params, 1})->Args({params, 2});
  }
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK(step_benchmark<metarm::Vanilla, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<metarm::MetaRM, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<metarm::Vanilla, metarm::Adam>)->Apply(sizes);
BENCHMARK(step_benchmark<metarm::MetaRM, metarm::Adam>)->Apply(sizes);
BENCHMARK(step_benchmark<MetaRMExact, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<MetaRMFiniteDifference, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<metarm::DotProductMetaRM, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<metarm::Maml, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<metarm::FirstOrderMaml, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<ReptileFiveSteps, metarm::Sgd>)->Apply(sizes);
BENCHMARK(step_benchmark<MetaRMExact, metarm::Adam>)->Apply(sizes);
BENCHMARK(gemm_peak)->ArgNames({"n", "threads"})->Args({2048, 1})->Args({2048, 2})->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK(adam_update)->Apply(update_sizes);

BENCHMARK(fma_peak)->ArgNames({"threads"})->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK(optimizer_traffic)->Apply(update_sizes);

// The context of every run names the kernels that ran the products (and, through them, the instruction set).
int main(int argc, char** argv) {
  benchmark::AddCustomContext("product_kernels", metarm::cpu::product_kernels());
  benchmark::AddCustomContext("elementwise_kernels", metarm::cpu::elementwise_kernels());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
