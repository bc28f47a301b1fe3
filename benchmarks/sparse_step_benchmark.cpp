// SPDX-License-Identifier: Apache-2.0
// One training step on 2^18-wide hashed-text-like features, through the sparse first layer and, as the peer,
// through the dense one on the same batch densified (d x 2n floats). n = m = 16 pairs / prompts, k = 2,
// about `nonzeros` stored values per response; linear model and one hidden layer of 16; Vanilla and MetaRM
// with Adam. Compare the sparse and dense rows of the same model and strategy for the speed-up.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <numeric>

#include <metarm/metarm.hpp>

namespace {

using namespace metarm;

constexpr index_t d = index_t{1} << 18;
constexpr index_t n = 16;

SparseColumns<float> random_columns(Rng& rng, index_t count, index_t nonzeros) {
  SparseColumns<float> out(d);
  std::vector<index_t> rows;
  std::vector<float> values;
  for (index_t j = 0; j < count; ++j) {
    rows.clear();
    for (index_t p = 0; p < nonzeros; ++p) rows.push_back(static_cast<index_t>(rng.below(static_cast<std::uint64_t>(d))));
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    values.resize(rows.size());
    for (auto& v : values) v = static_cast<float>(rng.normal() * 0.1);
    out.add(rows, values);
  }
  return out;
}

template <class Strategy, bool Sparse>
void sparse_step(benchmark::State& state) {
  const index_t hidden = state.range(0), nonzeros = state.range(1);
  Rng rng(1);
  const auto chosen = random_columns(rng, n, nonzeros), rejected = random_columns(rng, n, nonzeros);
  const auto responses = random_columns(rng, 2 * n, nonzeros);
  SparsePreferenceSet<float> sparse_pairs(d);
  PreferenceSet<float> dense_pairs(d);
  SparseMetaSet<float> sparse_meta(d);
  MetaSet<float> dense_meta(d);
  for (index_t i = 0; i < n; ++i) {
    sparse_pairs.add(chosen.column_rows(i), chosen.column_values(i), rejected.column_rows(i), rejected.column_values(i));
    dense_pairs.add(chosen.dense_column(i), rejected.dense_column(i));
    SparseColumns<float> two(d);
    two.add(responses.column_rows(2 * i), responses.column_values(2 * i));
    two.add(responses.column_rows(2 * i + 1), responses.column_values(2 * i + 1));
    sparse_meta.add_prompt(two);
    std::vector<float> both = responses.dense_column(2 * i);
    const auto second = responses.dense_column(2 * i + 1);
    both.insert(both.end(), second.begin(), second.end());
    dense_meta.add_prompt(both);
  }
  std::vector<index_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  cpu::context ctx;
  const std::vector<index_t> widths = hidden > 0 ? std::vector<index_t>{hidden} : std::vector<index_t>{};
  const Mlp<ReLU, float> model(d, widths);
  if constexpr (Sparse) {
    SparsePreferenceBatchBuffer<float, cpu> pb;
    SparseMetaBatchBuffer<float, cpu> mb;
    const auto pairs = pb.gather(ctx, sparse_pairs, idx);
    const auto meta = mb.gather(ctx, sparse_meta, idx);
    SparseMetaLearner<Mlp<ReLU, float>, Strategy, Adam> learner(model, Strategy{}, Adam{.learning_rate = 1e-5}, LearnerOptions{});
    for (auto _ : state) benchmark::DoNotOptimize(learner.step(pairs, meta));
  } else {
    PreferenceBatchBuffer<float, cpu> pb;
    MetaBatchBuffer<float, cpu> mb;
    const auto pairs = pb.gather(ctx, dense_pairs, idx);
    const auto meta = mb.gather(ctx, dense_meta, idx);
    MetaLearner learner(model, Strategy{}, Adam{.learning_rate = 1e-5}, LearnerOptions{});
    for (auto _ : state) benchmark::DoNotOptimize(learner.step(pairs, meta));
  }
  state.SetItemsProcessed(state.iterations());
}

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"hidden", "nnz"})->Args({0, 150})->Args({16, 150})->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(sparse_step<metarm::Vanilla, true>)->Apply(sizes);
BENCHMARK(sparse_step<metarm::Vanilla, false>)->Apply(sizes);
BENCHMARK(sparse_step<metarm::MetaRM, true>)->Apply(sizes);
BENCHMARK(sparse_step<metarm::MetaRM, false>)->Apply(sizes);

BENCHMARK_MAIN();
