// SPDX-License-Identifier: Apache-2.0
// strategy/: the second-order and MAML-family strategies against their definitions, in double. MetaRM's
// exact meta-gradient against central differences of theta -> L(theta + eta grad J(theta)) and its O(eta)
// distance from first order; MAML and first-order MAML against theta -> L_query(phi_K(theta)); Reptile's
// interpolation; the dot-product reading against the gradient of L + eta grad L . grad J; the
// support/query split; and MAML learning to adapt on a family of sinusoid reward tasks.
#include "test_support.hpp"

#include <numeric>
#include <sstream>

using namespace metarm;
using test::index_t;

namespace meta_learning_test {

namespace {

constexpr index_t dim = 5;
constexpr double centering = 0.05;
using Model = Mlp<Tanh, double>;

struct Batches {
  PreferenceSet<double> pairs;
  MetaSet<double> meta;
  cpu::context ctx;
  PreferenceBatchBuffer<double, cpu> pair_buffer, first_buffer, rest_buffer;
  MetaBatchBuffer<double, cpu> meta_buffer;
  PreferenceBatch<double> pair_batch, first_pairs, rest_pairs;
  MetaBatch<double> meta_batch;

  // n pairs with margins; first_pairs / rest_pairs hold pairs [0, split) and [split, n), gathered on their own.
  Batches(std::uint64_t seed, index_t n, index_t split) : pairs(dim) {
    Rng rng(seed);
    for (index_t i = 0; i < n; ++i) {
      pairs.add(test::random_vector<double>(rng, dim), test::random_vector<double>(rng, dim), rng.uniform(0.0, 0.3));
    }
    meta = test::random_meta<double>(rng, dim, 4, {3, 2, 5});
    std::vector<index_t> all(static_cast<std::size_t>(n));
    std::iota(all.begin(), all.end(), 0);
    pair_batch = pair_buffer.gather(ctx, pairs, all);
    if (split > 0) {
      first_pairs =
          first_buffer.gather(ctx, pairs, std::span<const index_t>(all.data(), static_cast<std::size_t>(split)));
      rest_pairs = rest_buffer.gather(
          ctx, pairs, std::span<const index_t>(all.data() + split, static_cast<std::size_t>(n - split)));
    }
    const std::vector<index_t> prompts{0, 1, 2, 3};
    meta_batch = meta_buffer.gather(ctx, meta, prompts);
  }
};

// The objectives written with the library's free functions, independently of any strategy.
struct Objectives {
  Objectives(const Model& m, const Batches& b) : model(m), batches(b), ws(m.make_workspace<cpu>(32)), d_rewards(32) {}

  const Model& model;
  const Batches& batches;
  cpu::context ctx;
  BradleyTerryLoss loss{centering};
  Model::workspace<cpu> ws;
  std::vector<double> d_rewards;

  std::vector<double> preference_gradient(std::span<const double> at, const PreferenceBatch<double>& batch) {
    std::vector<double> g(at.size());
    preference_loss_and_gradient<cpu>(ctx, model, loss, {at.data(), static_cast<index_t>(at.size())}, batch, ws,
                                      test::view(d_rewards), test::view(g));
    return g;
  }
  double preference_loss(std::span<const double> at, const PreferenceBatch<double>& batch) {
    return preference_loss_and_gradient<cpu>(ctx, model, loss, {at.data(), static_cast<index_t>(at.size())}, batch, ws,
                                             test::view(d_rewards), VectorView<double>{});
  }
  std::vector<double> difference_gradient(std::span<const double> at) {
    std::vector<double> g(at.size());
    difference_objective_and_gradient<cpu>(ctx, model, DifferenceObjective{}, {at.data(), static_cast<index_t>(at.size())},
                                           batches.meta_batch, ws, test::view(d_rewards), test::view(g));
    return g;
  }
};

std::vector<double> axpy(double alpha, const std::vector<double>& x, std::vector<double> y) {
  for (std::size_t i = 0; i < y.size(); ++i) y[i] += alpha * x[i];
  return y;
}

std::vector<double> initial_params(const Model& model, std::uint64_t seed) {
  std::vector<double> theta(static_cast<std::size_t>(model.parameter_count()));
  Rng rng(seed);
  model.initialize(theta, rng);
  for (auto& t : theta) t *= 2.0;  // larger weights: curvature matters
  return theta;
}

// The direction a strategy hands to the optimiser: with Sgd at learning rate 1 it is theta - theta_after.
template <class Strategy>
std::vector<double> update_of(Strategy strategy, const Model& model, const std::vector<double>& theta,
                              const Batches& batches) {
  MetaLearner learner(model, std::move(strategy), Sgd{.learning_rate = 1.0},
                      LearnerOptions{.step = {.centering = centering}});
  learner.set_parameters(theta);
  learner.step(batches.pair_batch, batches.meta_batch);
  std::vector<double> after = learner.parameters();
  for (std::size_t i = 0; i < after.size(); ++i) after[i] = theta[i] - after[i];
  return after;
}

double norm(const std::vector<double>& x) { return std::sqrt(test::dot(x, x)); }

double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  return norm(axpy(-1.0, b, a)) / norm(b);
}

}  // namespace

TEST_CASE("exact MetaRM meta-gradient equals central differences of theta -> L(theta + eta grad J(theta))",
          "[strategy][hvp]") {
  const Model model(dim, {6, 4});
  const Batches batches(81, 8, 4);
  const auto theta = initial_params(model, 82);
  for (int inner_steps : {1, 2}) {
    const double eta = 0.4;
    Objectives objectives{model, batches};
    auto meta_objective = [&](std::span<const double> at) {
      std::vector<double> point(at.begin(), at.end());
      for (int i = 0; i < inner_steps; ++i) point = axpy(eta, objectives.difference_gradient(point), point);
      return objectives.preference_loss(point, batches.pair_batch);
    };
    const auto exact = update_of(MetaRM({.eta = eta, .inner_steps = inner_steps, .order = MetaGradient::exact}),
                                 model, theta, batches);
    std::vector<double> at = theta;
    const auto check = check_gradient(meta_objective, std::span<double>(at), exact);
    INFO(inner_steps << " ascent step(s): worst coordinate " << check.worst_index << ", exact "
                     << check.analytic_at_worst << ", numeric " << check.numeric_at_worst << ", error "
                     << check.max_error);
    CHECK(check.max_error < test::gradient_tolerance);

    const auto by_differences = update_of(
        MetaRM({.eta = eta, .inner_steps = inner_steps, .order = MetaGradient::finite_difference}), model, theta, batches);
    INFO("finite-difference order vs exact: relative error " << relative_error(by_differences, exact));
    CHECK(relative_error(by_differences, exact) < 1e-6);

    // First order is a different update: its distance from the exact one is what the next case measures.
    const auto first = update_of(MetaRM({.eta = eta, .inner_steps = inner_steps}), model, theta, batches);
    CHECK(relative_error(first, exact) > 1e-3);
  }
}

TEST_CASE("first-order and exact MetaRM differ by O(eta): the gap halves as eta halves", "[strategy][hvp]") {
  const Model model(dim, {6, 4});
  const Batches batches(83, 8, 4);
  const auto theta = initial_params(model, 84);
  std::vector<double> gaps;
  std::string trace;
  for (double eta : {0.2, 0.1, 0.05, 0.025}) {
    const auto first = update_of(MetaRM(eta), model, theta, batches);
    const auto exact = update_of(MetaRM({.eta = eta, .order = MetaGradient::exact}), model, theta, batches);
    gaps.push_back(norm(axpy(-1.0, first, exact)));
    trace += "eta " + std::to_string(eta) + ": |exact - first| = " + std::to_string(gaps.back()) + "; ";
  }
  for (std::size_t i = 1; i < gaps.size(); ++i) {
    const double ratio = gaps[i - 1] / gaps[i];
    INFO(trace << "ratio " << ratio << " from eta step " << i);
    CHECK(ratio > 1.9);
    CHECK(ratio < 2.1);
  }
  // eta = 0: every order is the plain preference gradient.
  const auto zero_exact = update_of(MetaRM({.eta = 0.0, .order = MetaGradient::exact}), model, theta, batches);
  const auto vanilla = update_of(Vanilla{}, model, theta, batches);
  CHECK(zero_exact == vanilla);
}

TEST_CASE("MAML's meta-gradient equals central differences of theta -> L_query(phi_K(theta))", "[strategy][hvp]") {
  const Model model(dim, {6, 4});
  const index_t n = 9, support = 4;
  const Batches batches(85, n, support);
  const auto theta = initial_params(model, 86);
  const double alpha = 0.5;
  for (int inner_steps : {1, 3}) {
    Objectives objectives{model, batches};
    auto adapt = [&](std::span<const double> at) {
      std::vector<double> phi(at.begin(), at.end());
      for (int i = 0; i < inner_steps; ++i) phi = axpy(-alpha, objectives.preference_gradient(phi, batches.first_pairs), phi);
      return phi;
    };
    auto query_after_adaptation = [&](std::span<const double> at) {
      return objectives.preference_loss(adapt(at), batches.rest_pairs);
    };
    const Maml::Options options{.inner_steps = inner_steps, .inner_learning_rate = alpha, .support_pairs = support};
    const auto exact = update_of(Maml(options), model, theta, batches);
    std::vector<double> at = theta;
    const auto check = check_gradient(query_after_adaptation, std::span<double>(at), exact);
    INFO(inner_steps << " inner step(s): worst coordinate " << check.worst_index << ", exact "
                     << check.analytic_at_worst << ", numeric " << check.numeric_at_worst << ", error "
                     << check.max_error);
    CHECK(check.max_error < test::gradient_tolerance);

    auto fd_options = options;
    fd_options.order = MetaGradient::finite_difference;
    const auto by_differences = update_of(Maml(fd_options), model, theta, batches);
    CHECK(relative_error(by_differences, exact) < 1e-6);

    // First-order MAML: the query gradient at the adapted point, nothing more.
    const auto first = update_of(FirstOrderMaml({.inner_steps = inner_steps, .inner_learning_rate = alpha,
                                                 .support_pairs = support}),
                                 model, theta, batches);
    const auto expected = objectives.preference_gradient(adapt(theta), batches.rest_pairs);
    CHECK(relative_error(first, expected) < 1e-13);
    auto first_via_order = options;
    first_via_order.order = MetaGradient::first_order;
    CHECK(update_of(Maml(first_via_order), model, theta, batches) == first);
  }
}

TEST_CASE("Reptile with SGD at rate epsilon moves theta to theta + epsilon (phi_K - theta)", "[strategy]") {
  const Model model(dim, {6});
  const Batches batches(87, 6, 3);
  const auto theta = initial_params(model, 88);
  const double epsilon = 0.3, alpha = 0.2;
  const int inner_steps = 4;
  MetaLearner learner(model, Reptile({.inner_steps = inner_steps, .inner_learning_rate = alpha}),
                      Sgd{.learning_rate = epsilon}, LearnerOptions{.step = {.centering = centering}});
  learner.set_parameters(theta);
  const StepStats stats = learner.step(batches.pair_batch);

  Objectives objectives{model, batches};
  std::vector<double> phi = theta;
  for (int i = 0; i < inner_steps; ++i) phi = axpy(-alpha, objectives.preference_gradient(phi, batches.pair_batch), phi);
  std::vector<double> expected = theta;
  for (std::size_t i = 0; i < theta.size(); ++i) expected[i] += epsilon * (phi[i] - theta[i]);
  CHECK(relative_error(learner.parameters(), expected) < 1e-14);
  CHECK(stats.loss == Approx(objectives.preference_loss(theta, batches.pair_batch)).epsilon(1e-14));
  CHECK(stats.inner_loss == stats.loss);
}

TEST_CASE("dot-product MetaRM descends on L + eta grad L . grad J with its exact gradient", "[strategy][hvp]") {
  const Model model(dim, {6, 4});
  const Batches batches(89, 8, 4);
  const auto theta = initial_params(model, 90);
  const double eta = 0.3;
  Objectives objectives{model, batches};
  auto objective = [&](std::span<const double> at) {
    return objectives.preference_loss(at, batches.pair_batch) +
           eta * test::dot(objectives.preference_gradient(at, batches.pair_batch), objectives.difference_gradient(at));
  };
  const auto exact = update_of(DotProductMetaRM(eta), model, theta, batches);
  std::vector<double> at = theta;
  const auto check = check_gradient(objective, std::span<double>(at), exact);
  INFO("worst coordinate " << check.worst_index << ", exact " << check.analytic_at_worst << ", numeric "
                           << check.numeric_at_worst << ", error " << check.max_error);
  CHECK(check.max_error < test::gradient_tolerance);
  const auto by_differences = update_of(
      DotProductMetaRM({.eta = eta, .hvp = {.method = HvpMethod::finite_difference}}), model, theta, batches);
  CHECK(relative_error(by_differences, exact) < 1e-6);
}

TEST_CASE("split_preference_batch: support and query are the leading and trailing pairs, margins included",
          "[strategy]") {
  const Model model(dim, {4});
  const index_t n = 7;
  for (index_t support : {index_t{0}, index_t{2}, index_t{6}}) {
    const index_t expected_support = support == 0 ? n / 2 : support;
    const Batches batches(91, n, expected_support);
    StepContext<Model, Sgd, cpu> context(model, Sgd{}, StepOptions{.centering = centering}, cpu::context{});
    const auto theta = initial_params(model, 92);
    std::copy(theta.begin(), theta.end(), context.params().data);
    context.set_batches(batches.pair_batch, batches.meta_batch);
    const auto split = context.split_preference_batch(support);
    CHECK(split.support.pairs() == expected_support);
    CHECK(split.query.pairs() == n - expected_support);
    CHECK(split.support.margins.size == expected_support);
    Objectives objectives{model, batches};
    std::vector<double> g_split(theta.size());
    CHECK(context.preference_loss_and_gradient(context.params(), test::view(g_split), split.support) ==
          Approx(objectives.preference_loss(theta, batches.first_pairs)).epsilon(1e-14));
    CHECK(relative_error(g_split, objectives.preference_gradient(theta, batches.first_pairs)) < 1e-14);
    CHECK(context.preference_loss(context.params(), split.query) ==
          Approx(objectives.preference_loss(theta, batches.rest_pairs)).epsilon(1e-14));
  }
  // Errors name what is wrong.
  const Batches one(93, 1, 0);
  StepContext<Model, Sgd, cpu> context(model, Sgd{}, StepOptions{}, cpu::context{});
  context.set_batches(one.pair_batch, one.meta_batch);
  test::require_error_naming([&] { context.split_preference_batch(0); }, {"split_preference_batch", "at least 2 pairs"});
  const Batches three(94, 3, 1);
  context.set_batches(three.pair_batch, three.meta_batch);
  test::require_error_naming([&] { context.split_preference_batch(3); }, {"'support_pairs'", "drop_last"});
  test::require_error_naming([&] { context.split_preference_batch(-1); }, {"'support_pairs'"});
}

TEST_CASE("second-order strategies reject bad options, naming them", "[strategy][errors]") {
  test::require_error_naming([] { MetaRM({.order = MetaGradient::finite_difference, .finite_difference_step = -1.0}); },
                             {"MetaRM", "finite_difference_step"});
  test::require_error_naming([] { Maml({.inner_steps = 0}); }, {"Maml", "'inner_steps'"});
  test::require_error_naming([] { Maml({.inner_learning_rate = -0.1}); }, {"'inner_learning_rate'"});
  test::require_error_naming([] { FirstOrderMaml({.support_pairs = -2}); }, {"FirstOrderMaml", "'support_pairs'"});
  test::require_error_naming([] { Reptile({.inner_steps = 0}); }, {"Reptile", "'inner_steps'"});
  test::require_error_naming([] { Reptile({.inner_learning_rate = 0.0}); }, {"'inner_learning_rate'"});
  test::require_error_naming([] { DotProductMetaRM(std::nan("")); }, {"DotProductMetaRM", "'eta'"});
  // MAML on a batch of one pair: no room for a query set.
  const Batches one(95, 1, 0);
  MetaLearner learner(Model(dim, {3}), Maml{}, Sgd{}, LearnerOptions{});
  test::require_error_naming([&] { learner.step(one.pair_batch); }, {"at least 2 pairs", "drop_last"});
}

namespace {

// A family of regression-style reward tasks (the sinusoids of Finn et al. 2017) seen through preferences:
// task (A, phase) scores x in [-5, 5] by A sin(x + phase), and of two responses the higher-scored one is
// chosen. What a task prefers is set by its phase, so no single reward model fits the family; a good
// initialisation is one that a few descent steps on a handful of pairs turn into the task's ordering.
struct SineTask {
  double amplitude, phase;
  double reward(double x) const { return amplitude * std::sin(x + phase); }
};

SineTask random_task(Rng& rng) { return {rng.uniform(0.1, 5.0), rng.uniform(0.0, 2.0 * 3.14159265358979)}; }

PreferenceSet<double> task_pairs(const SineTask& task, Rng& rng, index_t count) {
  PreferenceSet<double> set(1);
  for (index_t i = 0; i < count; ++i) {
    const double a = rng.uniform(-5.0, 5.0), b = rng.uniform(-5.0, 5.0);
    const std::vector<double> xa{a}, xb{b};
    if (task.reward(a) >= task.reward(b)) set.add(xa, xb); else set.add(xb, xa);
  }
  return set;
}

constexpr index_t support_size = 10, query_size = 15;
constexpr int adaptation_steps = 1;
constexpr double adaptation_rate = 0.3;

using SineModel = Mlp<Tanh, double>;

// Mean query loss over held-out tasks after adapting theta to each task's support pairs.
struct AdaptationCheck {
  double before_adaptation = 0.0;
  double after_adaptation = 0.0;
};

AdaptationCheck adaptation_loss(const SineModel& model, const std::vector<double>& theta) {
  Rng rng(2024);  // the same held-out tasks for every call
  cpu::context ctx;
  auto ws = model.make_workspace<cpu>(256);
  std::vector<double> d_rewards(256), grad(theta.size());
  PreferenceBatchBuffer<double, cpu> support_buffer, query_buffer;
  const BradleyTerryLoss loss;
  AdaptationCheck result;
  const int tasks = 50;
  for (int t = 0; t < tasks; ++t) {
    const SineTask task = random_task(rng);
    const auto support = task_pairs(task, rng, support_size), query = task_pairs(task, rng, 100);
    std::vector<index_t> s(support_size), q(100);
    std::iota(s.begin(), s.end(), 0);
    std::iota(q.begin(), q.end(), 0);
    const auto support_batch = support_buffer.gather(ctx, support, s), query_batch = query_buffer.gather(ctx, query, q);
    std::vector<double> phi = theta;
    result.before_adaptation += preference_loss_and_gradient<cpu>(ctx, model, loss, test::view(std::as_const(phi)),
                                                                  query_batch, ws, test::view(d_rewards), {});
    for (int i = 0; i < adaptation_steps; ++i) {
      preference_loss_and_gradient<cpu>(ctx, model, loss, test::view(std::as_const(phi)), support_batch, ws,
                                        test::view(d_rewards), test::view(grad));
      phi = axpy(-adaptation_rate, grad, phi);
    }
    result.after_adaptation += preference_loss_and_gradient<cpu>(ctx, model, loss, test::view(std::as_const(phi)),
                                                                 query_batch, ws, test::view(d_rewards), {});
  }
  result.before_adaptation /= tasks;
  result.after_adaptation /= tasks;
  return result;
}

// Meta-trains on `steps` random tasks, each step one task with its support pairs first.
template <class Strategy>
std::vector<double> meta_train(const SineModel& model, Strategy strategy, int steps) {
  // Tiny products: one thread is faster than several, and no slower on a loaded machine.
  MetaLearner learner(model, std::move(strategy), Adam{.learning_rate = 3e-3}, LearnerOptions{.seed = 7},
                      cpu::context(1));
  Rng rng(99);
  cpu::context ctx;
  PreferenceBatchBuffer<double, cpu> buffer;
  std::vector<index_t> idx(support_size + query_size);
  std::iota(idx.begin(), idx.end(), 0);
  for (int step = 0; step < steps; ++step) {
    const auto pairs = task_pairs(random_task(rng), rng, support_size + query_size);
    learner.step(buffer.gather(ctx, pairs, idx));
  }
  return learner.parameters();
}

}  // namespace

TEST_CASE("MAML on sinusoid reward tasks: post-adaptation loss on held-out tasks drops after meta-training",
          "[strategy][maml]") {
  const SineModel model(1, {40, 40});
  MetaLearner untrained(model, Vanilla{}, Sgd{}, LearnerOptions{.seed = 7});
  const auto theta0 = untrained.parameters();
  const int steps = 800;
  const Maml::Options maml{.inner_steps = adaptation_steps, .inner_learning_rate = adaptation_rate,
                           .support_pairs = support_size};
  const auto before = adaptation_loss(model, theta0);
  const auto after_maml = adaptation_loss(model, meta_train(model, Maml(maml), steps));
  const auto after_fomaml = adaptation_loss(
      model, meta_train(model,
                        FirstOrderMaml({.inner_steps = adaptation_steps, .inner_learning_rate = adaptation_rate,
                                        .support_pairs = support_size}),
                        steps));
  const auto after_reptile =
      adaptation_loss(model, meta_train(model, Reptile({.inner_steps = 5, .inner_learning_rate = 0.1}), steps));
  const auto after_joint = adaptation_loss(model, meta_train(model, Vanilla{}, steps));
  std::ostringstream report;
  report << "query loss on 50 held-out tasks, before -> after " << adaptation_steps << " adaptation steps on "
         << support_size << " pairs: untrained " << before.before_adaptation << " -> " << before.after_adaptation
         << "; MAML (" << steps << " tasks) " << after_maml.before_adaptation << " -> " << after_maml.after_adaptation
         << "; FOMAML " << after_fomaml.before_adaptation << " -> " << after_fomaml.after_adaptation
         << "; Reptile (5 inner steps at 0.1) "
         << after_reptile.before_adaptation << " -> " << after_reptile.after_adaptation
         << "; joint training (vanilla) " << after_joint.before_adaptation << " -> " << after_joint.after_adaptation;
  INFO(report.str());
  CHECK(after_maml.after_adaptation < before.after_adaptation - 0.05);
  CHECK(after_maml.after_adaptation < after_joint.after_adaptation);
  CHECK(after_maml.after_adaptation < after_maml.before_adaptation);
  WARN(report.str());
}

}  // namespace meta_learning_test
