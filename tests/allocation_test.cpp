// SPDX-License-Identifier: Apache-2.0
// No allocation inside a training step after the first: this binary replaces the global operator new to
// count allocations, and turns on Eigen's own malloc check, then runs 100 steps of each strategy.
#include <atomic>
#include <cstdlib>
#include <new>
#include <stdexcept>

// Eigen reports a forbidden heap allocation through eigen_assert, which release builds compile out; keep it
// on in this program, as an exception the test can observe.
struct EigenAssertion : std::logic_error {
  using std::logic_error::logic_error;
};
#define eigen_assert(x)                                           \
  do {                                                            \
    if (!(x)) throw EigenAssertion("Eigen assertion failed: " #x); \
  } while (false)
#define EIGEN_RUNTIME_NO_MALLOC
#include <Eigen/Core>

#include <metarm/testing/count_allocations.hpp>

namespace {
std::atomic<long>& allocations = metarm::testing::detail::allocation_count;
std::atomic<std::size_t>& largest_allocation = metarm::testing::detail::largest_allocation;
}  // namespace

#include "test_support.hpp"

#include <metarm/sim.hpp>

using namespace metarm;
using test::index_t;

namespace {

constexpr int kSteps = 101;

// Records the allocation count at every step and forbids Eigen from allocating between steps.
struct AllocationProbe {
  std::array<long, kSteps + 1> at_step{};
  bool on_step(const StepEvent& e) {
    at_step[static_cast<std::size_t>(e.step)] = allocations.load();
    Eigen::internal::set_is_malloc_allowed(false);
    return false;
  }
  void on_fit_end(const StopReason&) { Eigen::internal::set_is_malloc_allowed(true); }
};

// A user strategy that uses three scratch vectors and both objectives.
struct ThreeGradients {
  template <class Step>
  StepStats step(Step& s) {
    auto g = s.scratch(0), a = s.scratch(1), b = s.scratch(2);
    StepStats stats;
    stats.objective = s.difference_objective_and_gradient(s.params(), a);
    s.copy(s.params(), b);
    s.axpy(0.1f, a, b);
    stats.loss = s.preference_loss_and_gradient(b, g);
    stats.grad_norm = s.apply_update(g);
    return stats;
  }
};

template <class Strategy, class Optimizer>
void check_fit_is_allocation_free(Strategy strategy, Optimizer optimizer, const char* label) {
  Rng rng(1);
  const index_t d = 24;
  const auto w = test::random_vector<double>(rng, d);
  const auto pairs = test::separable_pairs<float>(rng, d, 400, w);
  const auto meta = test::random_meta<float>(rng, d, 60, {2, 3, 5, 4});
  const Mlp<ReLU, float> model(d, {32, 16});
  MetaLearner learner(model, std::move(strategy), optimizer,
                      LearnerOptions{.seed = 2, .step = {.clip_norm = 1.0, .schedule = Schedule::warmup_cosine(10, 100)}});
  AllocationProbe probe;
  // 400 pairs in batches of 12: an epoch ends with a smaller batch, and meta batches mix k = 2..5.
  const auto result = learner.fit(pairs, &meta, FitOptions<float>{.epochs = 10, .batch_size = 12, .meta_batch_size = 5,
                                                                 .max_steps = kSteps},
                                  probe);
  REQUIRE(result.steps == kSteps);
  INFO(label << ": allocations counted at step 1: " << probe.at_step[1] << ", at step " << kSteps << ": "
             << probe.at_step[kSteps]);
  CHECK(probe.at_step[kSteps] == probe.at_step[1]);
}

}  // namespace

TEST_CASE("fit: no allocation in 100 steps after the first, for every strategy and optimiser", "[allocation]") {
  check_fit_is_allocation_free(Vanilla{}, Sgd{}, "vanilla + sgd");
  check_fit_is_allocation_free(Vanilla{}, Adam{}, "vanilla + adam");
  check_fit_is_allocation_free(MetaRM(0.3), Adam{}, "metarm + adam");
  check_fit_is_allocation_free(MetaRM({.eta = 0.3, .inner_steps = 2, .measure_objective_after = true}), Momentum{},
                               "metarm (2 inner steps, J after) + momentum");
  check_fit_is_allocation_free(MetaRM(0.1), AdamW{}, "metarm + adamw");
  check_fit_is_allocation_free(ThreeGradients{}, Sgd{}, "user strategy + sgd");
}

TEST_CASE("fit: no allocation in 100 steps after the first, for every second-order and MAML-family strategy",
          "[allocation]") {
  check_fit_is_allocation_free(MetaRM({.eta = 0.3, .order = MetaGradient::exact}), Adam{}, "metarm exact + adam");
  check_fit_is_allocation_free(MetaRM({.eta = 0.3, .inner_steps = 3, .measure_objective_after = true,
                                       .order = MetaGradient::exact}),
                               Momentum{}, "metarm exact (3 inner steps, J after) + momentum");
  check_fit_is_allocation_free(MetaRM({.eta = 0.3, .order = MetaGradient::finite_difference}), Sgd{},
                               "metarm finite-difference + sgd");
  check_fit_is_allocation_free(DotProductMetaRM(0.3), AdamW{}, "dot-product + adamw");
  check_fit_is_allocation_free(DotProductMetaRM({.eta = 0.3, .hvp = {.method = HvpMethod::finite_difference}}), Sgd{},
                               "dot-product finite-difference + sgd");
  check_fit_is_allocation_free(Maml({.inner_steps = 2, .inner_learning_rate = 0.05}), Adam{}, "maml (2 inner steps) + adam");
  check_fit_is_allocation_free(Maml({.support_pairs = 3, .order = MetaGradient::finite_difference}), Sgd{},
                               "maml finite-difference + sgd");
  check_fit_is_allocation_free(FirstOrderMaml({.inner_steps = 3}), Adam{}, "fomaml (3 inner steps) + adam");
  check_fit_is_allocation_free(Reptile({.inner_steps = 4, .inner_learning_rate = 0.05}), Sgd{}, "reptile + sgd");
}

TEST_CASE("step: no allocation in 100 exact MetaRM steps after the first, Hessian-vector products included",
          "[allocation]") {
  Rng rng(5);
  const index_t d = 16;
  const auto w = test::random_vector<double>(rng, d);
  const auto pairs_set = test::separable_pairs<double>(rng, d, 32, w);
  const auto meta_set = test::random_meta<double>(rng, d, 8, {4});
  cpu::context ctx;
  PreferenceBatchBuffer<double, cpu> pb;
  MetaBatchBuffer<double, cpu> mb;
  std::vector<index_t> idx(8);
  std::iota(idx.begin(), idx.end(), 0);
  const auto pairs = pb.gather(ctx, pairs_set, idx);
  const auto meta = mb.gather(ctx, meta_set, idx);
  MetaLearner learner(Mlp<Tanh, double>(d, {8, 8}), MetaRM({.eta = 0.2, .order = MetaGradient::exact}), Adam{},
                      LearnerOptions{});
  learner.step(pairs, meta);
  const long before = allocations.load();
  Eigen::internal::set_is_malloc_allowed(false);
  for (int i = 0; i < 100; ++i) learner.step(pairs, meta);
  Eigen::internal::set_is_malloc_allowed(true);
  CHECK(allocations.load() - before == 0);
}

TEST_CASE("fit: no allocation in 100 steps after the first, for a network of every built-in layer under every "
          "loss and meta objective",
          "[allocation][layer]") {
  Rng rng(6);
  const index_t d = 12;
  const auto w = test::random_vector<double>(rng, d);
  const auto pairs = test::separable_pairs<float>(rng, d, 200, w);
  const auto meta = test::random_meta<float>(rng, d, 40, {2, 3, 5});
  const Sequential model(d, Dense<float>(16), LayerNorm<float>(), GELU{}, Residual(Dense<float>(16), SiLU{}),
                         Residual(LayerNorm<float>(), Dense<float>(16), Tanh{}), Dense<float>(8), Sigmoid{},
                         Dense<float>(8), ReLU{}, Identity{}, ScalarHead<float>());
  auto check = [&](auto strategy, auto loss, auto objective, const char* label) {
    MetaLearner learner(model, std::move(strategy), AdamW{}, LearnerOptions{.seed = 3, .step = {.clip_norm = 1.0}},
                        std::move(loss), std::move(objective));
    AllocationProbe probe;
    const auto result = learner.fit(pairs, &meta,
                                    FitOptions<float>{.epochs = 20, .batch_size = 12, .meta_batch_size = 4,
                                                      .max_steps = kSteps},
                                    probe);
    REQUIRE(result.steps == kSteps);
    INFO(label << ": allocations counted at step 1: " << probe.at_step[1] << ", at step " << kSteps << ": "
               << probe.at_step[kSteps]);
    CHECK(probe.at_step[kSteps] == probe.at_step[1]);
  };
  check(MetaRM({.eta = 0.3, .order = MetaGradient::exact}), BradleyTerryLoss(0.01), DifferenceObjective{},
        "exact metarm, bradley-terry, J");
  check(MetaRM(0.3), MarginRankingLoss(1.0), RewardVarianceObjective{}, "metarm, hinge, variance");
  check(DotProductMetaRM(0.1), LabelSmoothedBradleyTerryLoss(0.1), DifferenceObjective{},
        "dot-product, label smoothing, J");
  check(Maml({.inner_learning_rate = 0.05}), MarginRankingLoss(0.5), DifferenceObjective{}, "maml, hinge");
}

namespace {

// Pairs and prompts over `dim` hashed-feature-like dimensions with `nonzeros` stored values per response.
SparseColumns<float> random_sparse_columns(Rng& rng, index_t dim, index_t count, index_t nonzeros) {
  SparseColumns<float> out(dim);
  std::vector<index_t> rows;
  std::vector<float> values;
  for (index_t j = 0; j < count; ++j) {
    rows.clear();
    for (index_t p = 0; p < nonzeros + j % 7; ++p) rows.push_back(static_cast<index_t>(rng.below(static_cast<std::uint64_t>(dim))));
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    values.assign(rows.size(), 0.0f);
    for (auto& v : values) v = static_cast<float>(rng.normal());
    out.add(rows, values);
  }
  return out;
}

template <class Model, class Strategy>
void check_sparse_fit_is_bounded(const Model& model, Strategy strategy, const char* label) {
  const index_t d = model.input_dim();
  Rng rng(5);
  SparsePreferenceSet<float> pairs(d);
  const auto chosen = random_sparse_columns(rng, d, 300, 60), rejected = random_sparse_columns(rng, d, 300, 60);
  for (index_t i = 0; i < 300; ++i) {
    pairs.add(chosen.column_rows(i), chosen.column_values(i), rejected.column_rows(i), rejected.column_values(i));
  }
  SparseMetaSet<float> meta(d);
  for (index_t p = 0; p < 50; ++p) meta.add_prompt(random_sparse_columns(rng, d, 2 + p % 3, 40));
  SparseMetaLearner<Model, Strategy, Adam> learner(model, std::move(strategy), Adam{}, LearnerOptions{.seed = 2});
  largest_allocation.store(0);
  AllocationProbe probe;
  // Batches of 32 pairs: a densified batch would be 64 x 2^18 floats (64 MiB).
  const auto result = learner.fit(pairs, &meta, FitOptions<float, SparseInput<float>>{.epochs = 20, .batch_size = 32,
                                                                                      .meta_batch_size = 6,
                                                                                      .max_steps = kSteps},
                                  probe);
  REQUIRE(result.steps == kSteps);
  const std::size_t parameter_bytes = static_cast<std::size_t>(model.parameter_count()) * sizeof(float);
  INFO(label << ": allocations at step 1: " << probe.at_step[1] << ", at step " << kSteps << ": "
             << probe.at_step[kSteps] << "; largest allocation " << largest_allocation.load() << " bytes, parameters "
             << parameter_bytes << " bytes");
  CHECK(probe.at_step[kSteps] == probe.at_step[1]);
  // Nothing larger than one parameter-sized vector (params, gradient, optimiser moments) is ever allocated.
  CHECK(largest_allocation.load() <= parameter_bytes);
}

}  // namespace

TEST_CASE("sparse fit over 2^18 features: no allocation after the first step, no batch densified",
          "[allocation][sparse]") {
  const index_t d = index_t{1} << 18;
  check_sparse_fit_is_bounded(LinearModel<float>(d), MetaRM(0.3), "linear, metarm");
  check_sparse_fit_is_bounded(LinearModel<float>(d), Vanilla{}, "linear, vanilla");
  check_sparse_fit_is_bounded(Mlp<ReLU, float>(d, {4}), MetaRM(0.3), "mlp 4, metarm");
}

TEST_CASE("step: no allocation in 100 steps after the first", "[allocation]") {
  Rng rng(3);
  const index_t d = 16;
  const auto w = test::random_vector<double>(rng, d);
  const auto pairs_set = test::separable_pairs<double>(rng, d, 32, w);
  const auto meta_set = test::random_meta<double>(rng, d, 8, {4});
  cpu::context ctx;
  PreferenceBatchBuffer<double, cpu> pb;
  MetaBatchBuffer<double, cpu> mb;
  std::vector<index_t> idx(8);
  std::iota(idx.begin(), idx.end(), 0);
  const auto pairs = pb.gather(ctx, pairs_set, idx);
  const auto meta = mb.gather(ctx, meta_set, idx);
  MetaLearner learner(Mlp<GELU, double>(d, {8}), MetaRM(0.2), Adam{}, LearnerOptions{});
  learner.step(pairs, meta);
  const long before = allocations.load();
  Eigen::internal::set_is_malloc_allowed(false);
  for (int i = 0; i < 100; ++i) learner.step(pairs, meta);
  Eigen::internal::set_is_malloc_allowed(true);
  CHECK(allocations.load() - before == 0);
}

TEST_CASE("simulated RLHF policy step: no allocation in 100 steps after the first", "[allocation][sim]") {
  Rng rng(5);
  const auto sft = sim::GaussianPolicy::random_sft(4, 3, 1.0, 1.0, rng);
  const Mlp<ReLU, double> model(7, {16, 8});
  std::vector<double> params(static_cast<std::size_t>(model.parameter_count()));
  model.initialize(params, rng);
  sim::RewardScorer<Mlp<ReLU, double>> rm(model, params);
  rm.set_normalization(0.1, 2.0);
  sim::PolicyTrainer<Mlp<ReLU, double>> trainer(sft, {.batch = 64, .learning_rate = 0.01, .kl_weight = 0.1});
  auto policy = sft;
  trainer.step(policy, rm, rng);
  const long before = allocations.load();
  Eigen::internal::set_is_malloc_allowed(false);
  for (int i = 0; i < 100; ++i) trainer.step(policy, rm, rng);
  Eigen::internal::set_is_malloc_allowed(true);
  CHECK(allocations.load() - before == 0);
  CHECK(trainer.steps() == 101);
}

TEST_CASE("the counter sees allocations (so a zero above means something)", "[allocation]") {
  const long before = allocations.load();
  auto* p = new std::vector<int>(100);
  delete p;
  CHECK(allocations.load() - before >= 2);
  cpu::buffer<float> b(10);
  CHECK(allocations.load() - before >= 3);
}

TEST_CASE("Eigen's malloc guard is live in this build (so Eigen could not allocate unseen)", "[allocation]") {
  Eigen::internal::set_is_malloc_allowed(false);
  bool caught = false;
  try {
    Eigen::VectorXd v(1000);
    v.setZero();
  } catch (const EigenAssertion&) {
    caught = true;
  }
  Eigen::internal::set_is_malloc_allowed(true);
  CHECK(caught);
}

TEST_CASE("cpu::gemm allocates nothing for any transpose, alpha, beta or vector-shaped result", "[allocation]") {
  cpu::context ctx;
  Rng rng(4);
  const index_t shapes[][3] = {{1, 7, 9}, {7, 1, 9}, {7, 9, 1}, {1, 1, 9}, {6, 5, 4}, {40, 33, 50}};
  for (const auto& shape : shapes) {
    const index_t m = shape[0], n = shape[1], k = shape[2];
    const auto a = test::random_vector<float>(rng, m * k), b = test::random_vector<float>(rng, k * n);
    auto c = test::random_vector<float>(rng, m * n);
    for (Trans ta : {Trans::no, Trans::yes}) {
      for (Trans tb : {Trans::no, Trans::yes}) {
        for (float alpha : {1.0f, 0.5f}) {
          for (float beta : {0.0f, 1.0f, 2.0f}) {
            const long before = allocations.load();
            Eigen::internal::set_is_malloc_allowed(false);
            bool eigen_allocated = false;
            try {
              cpu::gemm<float>(ctx, ta, tb, alpha, {a.data(), ta == Trans::yes ? k : m, ta == Trans::yes ? m : k, ta == Trans::yes ? k : m},
                               {b.data(), tb == Trans::yes ? n : k, tb == Trans::yes ? k : n, tb == Trans::yes ? n : k}, beta,
                               test::matrix(c, m, n));
            } catch (const EigenAssertion&) {
              eigen_allocated = true;
            }
            Eigen::internal::set_is_malloc_allowed(true);
            const long after = allocations.load();
            INFO("m " << m << " n " << n << " k " << k << " trans " << int(ta) << int(tb) << " alpha " << alpha
                      << " beta " << beta);
            CHECK_FALSE(eigen_allocated);
            CHECK(after == before);
          }
        }
      }
    }
  }
}
