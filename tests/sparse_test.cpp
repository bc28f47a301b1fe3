// SPDX-License-Identifier: Apache-2.0
// Sparse inputs (backend kernels, the first Dense layer, sets, batches, the learner) and resuming a fit from
// its saved state, both without any file I/O.
#include "test_support.hpp"

#include <cstring>

using namespace metarm;
using test::index_t;

namespace sparse_test {

namespace {

bool same_bits(const auto& a, const auto& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0;
}

// A random sparse column with about `density` of its rows set.
template <class T>
void add_random_column(Rng& rng, SparseColumns<T>& m, double density) {
  std::vector<index_t> rows;
  std::vector<T> values;
  for (index_t r = 0; r < m.rows(); ++r) {
    if (rng.uniform() < density) {
      rows.push_back(r);
      values.push_back(static_cast<T>(rng.normal()));
    }
  }
  m.add(rows, values);
}

template <class T>
std::vector<T> densify(const SparseColumns<T>& m) {
  std::vector<T> out;
  for (index_t j = 0; j < m.cols(); ++j) {
    const auto column = m.dense_column(j);
    out.insert(out.end(), column.begin(), column.end());
  }
  return out;
}

// The same random pairs as a sparse set and as a dense one.
template <class T>
std::pair<SparsePreferenceSet<T>, PreferenceSet<T>> twin_pairs(Rng& rng, index_t dim, index_t count, double density,
                                                                const std::vector<double>& w) {
  SparsePreferenceSet<T> sparse(dim);
  PreferenceSet<T> dense(dim);
  for (index_t i = 0; i < count; ++i) {
    SparseColumns<T> both(dim);
    add_random_column(rng, both, density);
    add_random_column(rng, both, density);
    double score[2] = {0, 0};
    for (int side = 0; side < 2; ++side) {
      for (std::size_t p = 0; p < both.column_rows(side).size(); ++p) {
        score[side] += w[static_cast<std::size_t>(both.column_rows(side)[p])] * both.column_values(side)[p];
      }
    }
    const int chosen = score[0] >= score[1] ? 0 : 1;
    sparse.add(both.column_rows(chosen), both.column_values(chosen), both.column_rows(1 - chosen),
               both.column_values(1 - chosen));
    dense.add(both.dense_column(chosen), both.dense_column(1 - chosen));
  }
  return {std::move(sparse), std::move(dense)};
}

template <class T>
std::pair<SparseMetaSet<T>, MetaSet<T>> twin_meta(Rng& rng, index_t dim, index_t prompts, double density) {
  SparseMetaSet<T> sparse(dim);
  MetaSet<T> dense(dim);
  for (index_t p = 0; p < prompts; ++p) {
    SparseColumns<T> responses(dim);
    const index_t k = 2 + p % 3;
    for (index_t r = 0; r < k; ++r) add_random_column(rng, responses, density);
    sparse.add_prompt(responses);
    dense.add_prompt(densify(responses));
  }
  return {std::move(sparse), std::move(dense)};
}

}  // namespace

TEMPLATE_TEST_CASE("cpu sparse products equal the dense products", "[sparse][backend]", float, double) {
  using T = TestType;
  cpu::context ctx;
  Rng rng(300);
  for (index_t m : {1, 5}) {
    const index_t k = 40, n = 7;
    SparseColumns<T> s(k);
    for (index_t j = 0; j < n; ++j) add_random_column(rng, s, j == 3 ? 0.0 : 0.2);  // column 3 is empty
    const auto s_dense = densify(s);
    const auto a = test::random_vector<T>(rng, m * k);
    std::vector<T> c_sparse(static_cast<std::size_t>(m * n), T(7)), c_dense(c_sparse.size());
    cpu::sparse_product<T>(ctx, test::matrix(a, m, k), s.view(), test::matrix(c_sparse, m, n));
    cpu::gemm<T>(ctx, Trans::no, Trans::no, T(1), test::matrix(a, m, k), test::matrix(s_dense, k, n), T(0),
                 test::matrix(c_dense, m, n));
    const double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-12;
    for (std::size_t i = 0; i < c_dense.size(); ++i) CHECK(c_sparse[i] == Approx(c_dense[i]).margin(tolerance));

    const auto b = test::random_vector<T>(rng, m * n);
    auto d_sparse = test::random_vector<T>(rng, m * k);
    auto d_dense = d_sparse;
    cpu::accumulate_sparse_outer<T>(ctx, test::matrix(b, m, n), s.view(), test::matrix(d_sparse, m, k));
    cpu::gemm<T>(ctx, Trans::no, Trans::yes, T(1), test::matrix(b, m, n), test::matrix(s_dense, k, n), T(1),
                 test::matrix(d_dense, m, k));
    for (std::size_t i = 0; i < d_dense.size(); ++i) CHECK(d_sparse[i] == Approx(d_dense[i]).margin(tolerance));

    // A run of columns in the middle is a view of the same arrays.
    std::vector<T> c_part(static_cast<std::size_t>(m * 3));
    cpu::sparse_product<T>(ctx, test::matrix(a, m, k), s.columns(2, 3), test::matrix(c_part, m, 3));
    for (index_t i = 0; i < m * 3; ++i) CHECK(c_part[i] == Approx(c_dense[m * 2 + i]).margin(tolerance));
  }
  std::vector<T> a(12), c(6);
  SparseColumns<T> wrong(5);
  wrong.add(std::vector<index_t>{1}, std::vector<T>{1});
  test::require_error_naming([&] { cpu::sparse_product<T>(ctx, test::matrix(a, 3, 4), wrong.view(), test::matrix(c, 3, 1)); },
                             {"cpu::sparse_product", "shapes do not agree"});
}

TEST_CASE("MLP on sparse input: same rewards and gradients as on the dense input, and finite differences agree",
          "[sparse][model][gradient]") {
  cpu::context ctx;
  Rng rng(301);
  const index_t d = 30, n = 6;
  SparseColumns<double> x(d);
  for (index_t j = 0; j < n; ++j) add_random_column(rng, x, 0.3);
  const auto x_dense = densify(x);
  const auto weights = test::random_vector<double>(rng, n);
  for (const auto& hidden : {std::vector<index_t>{}, std::vector<index_t>{5, 4}}) {
    const Mlp<Tanh, double> model(d, hidden);
    std::vector<double> params(static_cast<std::size_t>(model.parameter_count()));
    model.initialize(params, rng);
    auto ws = model.make_workspace<cpu>(n);
    auto objective_sparse = [&](std::span<const double> p, std::vector<double>* grad) {
      const auto r = model.forward<cpu>(ctx, {p.data(), static_cast<index_t>(p.size())}, x.view(), ws);
      double value = 0;
      for (index_t j = 0; j < n; ++j) value += weights[j] * r[j];
      if (grad != nullptr) {
        grad->assign(p.size(), 0.0);
        model.backward<cpu>(ctx, {p.data(), static_cast<index_t>(p.size())}, x.view(), ws, test::view(weights),
                            test::view(*grad));
      }
      return value;
    };
    std::vector<double> grad_sparse, grad_dense(params.size(), 0.0);
    const double value_sparse = objective_sparse(params, &grad_sparse);
    const auto r_dense = model.forward<cpu>(ctx, test::view(std::as_const(params)), test::matrix(x_dense, d, n), ws);
    double value_dense = 0;
    for (index_t j = 0; j < n; ++j) value_dense += weights[j] * r_dense[j];
    model.backward<cpu>(ctx, test::view(std::as_const(params)), test::matrix(x_dense, d, n), ws, test::view(weights),
                        test::view(grad_dense));
    CHECK(value_sparse == Approx(value_dense).epsilon(1e-12));
    for (std::size_t i = 0; i < params.size(); ++i) CHECK(grad_sparse[i] == Approx(grad_dense[i]).margin(1e-12));

    const auto result = check_gradient([&](std::span<const double> p) { return objective_sparse(p, nullptr); },
                                       std::span<double>(params), grad_sparse);
    INFO("hidden layers " << hidden.size() << ": worst coordinate " << result.worst_index);
    CHECK(result.max_error < test::gradient_tolerance);
  }
}

TEST_CASE("sparse batches gather the listed columns, chosen first, with margins and offsets", "[sparse][data]") {
  cpu::context ctx;
  SparsePreferenceSet<float> pairs(10);
  for (index_t i = 0; i < 4; ++i) {
    pairs.add(std::vector<index_t>{i, 9}, std::vector<float>{float(i), 1.0f}, std::vector<index_t>{i + 1},
              std::vector<float>{-float(i)}, 0.5f * float(i));
  }
  SparsePreferenceBatchBuffer<float, cpu> buffer;
  const std::vector<index_t> idx{3, 1};
  const auto batch = buffer.gather(ctx, pairs, idx);
  REQUIRE(batch.features.cols == 4);
  CHECK(batch.features.rows == 10);
  CHECK(batch.features.nonzeros() == 6);
  CHECK(batch.features.indices[batch.features.offsets[0]] == 3);  // pair 3 chosen
  CHECK(batch.features.indices[batch.features.offsets[1]] == 1);  // pair 1 chosen
  CHECK(batch.features.values[batch.features.offsets[2]] == -3.0f);  // pair 3 rejected
  CHECK(batch.features.indices[batch.features.offsets[3]] == 2);  // pair 1 rejected
  REQUIRE(batch.margins.size == 2);
  CHECK(batch.margins[0] == 1.5f);

  const auto meta = SparseMetaSet<float>::from_pairs(pairs);
  CHECK(meta.prompts() == 4);
  CHECK(meta.nonzeros_of(2) == 3);
  SparseMetaBatchBuffer<float, cpu> meta_buffer;
  const auto meta_batch = meta_buffer.gather(ctx, meta, idx);
  REQUIRE(meta_batch.offsets.size == 3);
  CHECK(meta_batch.offsets[2] == 4);
  CHECK(meta_batch.features.values[meta_batch.features.offsets[1]] == -3.0f);

  test::require_error_naming([&] { buffer.gather(ctx, pairs, std::vector<index_t>{9}); }, {"pair index 9"});
  test::require_error_naming(
      [&] { pairs.add(std::vector<index_t>{3, 2}, std::vector<float>{1, 1}, std::vector<index_t>{}, std::vector<float>{}); },
      {"pair 4", "'chosen'", "strictly increasing"});
  test::require_error_naming(
      [&] { pairs.add(std::vector<index_t>{1}, std::vector<float>{1}, std::vector<index_t>{10}, std::vector<float>{1}); },
      {"pair 4", "'rejected'", "row index 10", "outside"});
  test::require_error_naming(
      [&] {
        pairs.add(std::vector<index_t>{1}, std::vector<float>{std::nanf("")}, std::vector<index_t>{}, std::vector<float>{});
      },
      {"'chosen'", "not finite"});
  CHECK(pairs.size() == 4);  // refused pairs left nothing behind
  CHECK(pairs.chosen_features().cols() == 4);
  SparseMetaSet<float> lonely(10);
  SparseColumns<float> one(10);
  one.add(std::vector<index_t>{1}, std::vector<float>{1});
  test::require_error_naming([&] { lonely.add_prompt(one); }, {"prompt 0", "k = 1", "k >= 2"});
}

TEST_CASE("a sparse learner trains like the dense one on the same data", "[sparse][learner]") {
  Rng rng(302);
  const index_t d = 50;
  const auto w = test::random_vector<double>(rng, d);
  auto [sparse_train, dense_train] = twin_pairs<double>(rng, d, 300, 0.15, w);
  auto [sparse_test, dense_test] = twin_pairs<double>(rng, d, 200, 0.15, w);
  auto [sparse_meta, dense_meta] = twin_meta<double>(rng, d, 40, 0.15);
  const Mlp<ReLU, double> model(d, {8});
  const LearnerOptions options{.seed = 3};
  MetaLearner dense(model, MetaRM(0.3), Adam{.learning_rate = 1e-2}, options);
  SparseMetaLearner<Mlp<ReLU, double>, MetaRM, Adam> sparse(model, MetaRM(0.3), Adam{.learning_rate = 1e-2}, options);
  const auto dense_result = dense.fit(dense_train, &dense_meta, FitOptions<double>{.epochs = 3, .batch_size = 16, .meta_batch_size = 4});
  const auto sparse_result = sparse.fit(sparse_train, &sparse_meta,
                                        FitOptions<double, SparseInput<double>>{.epochs = 3, .batch_size = 16, .meta_batch_size = 4});
  CHECK(sparse_result.steps == dense_result.steps);
  const auto pd = dense.parameters(), ps = sparse.parameters();
  for (std::size_t i = 0; i < pd.size(); ++i) CHECK(ps[i] == Approx(pd[i]).margin(1e-9));
  const Metrics md = dense.evaluate(dense_test, &dense_meta), ms = sparse.evaluate(sparse_test, &sparse_meta);
  CHECK(ms.at("accuracy") == md.at("accuracy"));
  CHECK(ms.at("accuracy") > 0.75);
  CHECK(ms.at("difference_objective") == Approx(md.at("difference_objective")).epsilon(1e-9));
  const auto scores = sparse.score(sparse_test.chosen_features());
  CHECK(scores.size() == 200);
}

TEST_CASE("every step reports how its preference batch was ordered", "[learner][metrics]") {
  // A linear model with weight (1, 0) and bias 0 scores a response by its first feature.
  MetaLearner learner(LinearModel<double>(2), Vanilla{}, Sgd{.learning_rate = 0.0}, LearnerOptions{});
  learner.set_parameters(std::vector<double>{1.0, 0.0, 0.0});
  PreferenceSet<double> pairs(2);
  pairs.add(std::vector<double>{2.0, 0.0}, std::vector<double>{1.0, 0.0});  // right
  pairs.add(std::vector<double>{0.0, 0.0}, std::vector<double>{3.0, 0.0});  // wrong
  pairs.add(std::vector<double>{1.0, 0.0}, std::vector<double>{1.0, 0.0});  // tie
  History history;
  learner.fit(pairs, nullptr, FitOptions<double>{.batch_size = 3}, history);
  REQUIRE(history.steps().size() == 1);
  const StepStats& s = history.steps()[0];
  CHECK(s.accuracy == Approx(0.5));
  CHECK(s.margin == Approx(-2.0 / 3.0));
  CHECK(s.rewards_chosen == Approx(1.0));
  CHECK(s.rewards_rejected == Approx(5.0 / 3.0));
}

namespace {

// Trains `learner` from its fit state to the end of `fit`, after copying params, optimiser state and update
// count from `from` (what a checkpoint carries).
template <class Learner>
void copy_training_state(Learner& from, Learner& to) {
  to.set_parameters(from.parameters());
  auto& a = from.training_state();
  auto& b = to.training_state();
  for (std::size_t i = 0; i < Learner::step_context_type::state_count; ++i) {
    cpu::copy<typename Learner::scalar_type>(from.backend_context(), a.optimizer_state(i).view(),
                                             b.optimizer_state(i).view());
  }
  b.set_updates(a.updates());
}

template <class Learner, class PairSet, class MetaSetT, class Options>
void check_resume_is_bitwise(Learner make(), const PairSet& train, const MetaSetT& meta, Options fit, std::int64_t cut) {
  Learner whole = make();
  const auto full = whole.fit(train, &meta, fit);
  REQUIRE(full.steps > cut);

  Learner first = make();
  Options part = fit;
  part.max_steps = cut;
  REQUIRE(first.fit(train, &meta, part).steps == cut);
  const FitState saved = first.fit_state();
  Learner second = make();
  copy_training_state(first, second);
  Options rest = fit;
  rest.resume = &saved;
  const auto resumed = second.fit(train, &meta, rest);
  CHECK(resumed.steps == full.steps);
  CHECK(resumed.epochs_completed == full.epochs_completed);
  CHECK(same_bits(second.parameters(), whole.parameters()));
  CHECK(second.updates() == whole.updates());
  CHECK(second.fit_state().order == whole.fit_state().order);
  CHECK(second.fit_state().meta_cursor == whole.fit_state().meta_cursor);
}

}  // namespace

TEST_CASE("a fit resumed from its saved state takes exactly the steps of the uninterrupted fit", "[learner][resume]") {
  Rng rng(303);
  const index_t d = 12;
  auto [sparse_train, dense_train] = twin_pairs<float>(rng, d, 150, 0.3, test::random_vector<double>(rng, d));
  auto [sparse_meta, dense_meta] = twin_meta<float>(rng, d, 23, 0.3);
  using Dense = MetaLearner<Mlp<GELU, float>, MetaRM, Adam>;
  using Sparse = SparseMetaLearner<LinearModel<float>, MetaRM, AdamW>;
  // 150 pairs in batches of 16: 10 batches per epoch, the last one short; cut mid-epoch and at an epoch end.
  for (std::int64_t cut : {1, 13, 20, 29}) {
    INFO("cut after step " << cut);
    check_resume_is_bitwise<Dense>(
        [] { return Dense(Mlp<GELU, float>(12, {6}), MetaRM(0.2), Adam{.learning_rate = 1e-2}, LearnerOptions{.seed = 9}); },
        dense_train, dense_meta, FitOptions<float>{.epochs = 3, .batch_size = 16, .meta_batch_size = 5}, cut);
    check_resume_is_bitwise<Sparse>([] { return Sparse(LinearModel<float>(12), MetaRM(0.5), AdamW{.learning_rate = 1e-2},
                                                       LearnerOptions{.seed = 9, .step = {.schedule = Schedule::warmup_cosine(5, 40)}}); },
                                    sparse_train, sparse_meta,
                                    FitOptions<float, SparseInput<float>>{.epochs = 3, .batch_size = 16, .meta_batch_size = 5},
                                    cut);
  }

  // Continuing a finished fit with more epochs equals training for all of them at once.
  Dense whole(Mlp<GELU, float>(12, {6}), MetaRM(0.2), Adam{}, LearnerOptions{.seed = 4});
  whole.fit(dense_train, &dense_meta, FitOptions<float>{.epochs = 4, .batch_size = 32});
  Dense first(Mlp<GELU, float>(12, {6}), MetaRM(0.2), Adam{}, LearnerOptions{.seed = 4});
  first.fit(dense_train, &dense_meta, FitOptions<float>{.epochs = 2, .batch_size = 32});
  const FitState saved = first.fit_state();
  first.fit(dense_train, &dense_meta, FitOptions<float>{.epochs = 4, .batch_size = 32, .resume = &saved});
  CHECK(same_bits(first.parameters(), whole.parameters()));

  // A state from other data or another batch size is refused with the reason.
  Dense other(Mlp<GELU, float>(12, {6}), MetaRM(0.2), Adam{}, LearnerOptions{.seed = 4});
  PreferenceSet<float> fewer(d);
  fewer.add(std::span<const float>(dense_train.chosen(0), d), std::span<const float>(dense_train.rejected(0), d));
  test::require_error_naming(
      [&] { other.fit(fewer, &dense_meta, FitOptions<float>{.epochs = 4, .batch_size = 32, .resume = &saved}); },
      {"resume", "covers 150 pairs", "has 1"});
  FitState broken = saved;
  broken.next_batch = 3;
  broken.epoch = 1;
  test::require_error_naming(
      [&] { other.fit(dense_train, &dense_meta, FitOptions<float>{.epochs = 4, .batch_size = 100, .resume = &broken}); },
      {"resume", "batch size"});
  broken = saved;
  broken.order[0] = broken.order[1];
  test::require_error_naming(
      [&] { other.fit(dense_train, &dense_meta, FitOptions<float>{.epochs = 4, .batch_size = 32, .resume = &broken}); },
      {"not a permutation"});
}

TEST_CASE("a backward pass that writes over the gradient equals clearing it and accumulating, whatever it held",
          "[model][gradient][sparse]") {
  cpu::context ctx;
  Rng rng(307);
  const index_t d = 24, n = 5;
  SparseColumns<double> x(d);
  for (index_t j = 0; j < n; ++j) add_random_column(rng, x, 0.3);
  const auto x_dense = densify(x);
  const auto weights = test::random_vector<double>(rng, n);
  for (const auto& hidden : {std::vector<index_t>{}, std::vector<index_t>{6, 3}}) {
    const Mlp<ReLU, double> model(d, hidden);
    std::vector<double> params(static_cast<std::size_t>(model.parameter_count()));
    model.initialize(params, rng);
    auto ws = model.make_workspace<cpu>(n);
    auto run = [&](const auto& input, GradientWrite write) {
      // Stale values from an earlier step: NaN would survive any block the backward pass missed.
      std::vector<double> grad(params.size(), std::numeric_limits<double>::quiet_NaN());
      if (write == GradientWrite::accumulate) std::fill(grad.begin(), grad.end(), 0.0);
      model.forward<cpu>(ctx, test::view(std::as_const(params)), input, ws);
      model.backward<cpu>(ctx, test::view(std::as_const(params)), input, ws, test::view(weights), test::view(grad),
                          MatrixView<double>{}, write);
      return grad;
    };
    INFO("hidden layers " << hidden.size());
    const auto dense_input = test::matrix(x_dense, d, n);
    const auto reference = run(dense_input, GradientWrite::accumulate);
    const auto dense = run(dense_input, GradientWrite::overwrite);
    const auto sparse = run(x.view(), GradientWrite::overwrite);
    for (std::size_t i = 0; i < params.size(); ++i) {
      CHECK(dense[i] == Approx(reference[i]).margin(1e-14));
      CHECK(sparse[i] == Approx(reference[i]).margin(1e-12));
    }
  }
}

}  // namespace sparse_test
