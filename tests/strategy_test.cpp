// SPDX-License-Identifier: Apache-2.0
// strategy/: Vanilla and first-order MetaRM, their relation (eta = 0 is Vanilla, bit for bit), MetaRM
// against the update written out by hand, JointObjective against central differences of L - lambda J, and a
// user strategy plugged in without library changes.
#include "test_support.hpp"

#include <cstring>

using namespace metarm;
using test::index_t;

namespace strategy_test {

namespace {

constexpr index_t dim = 6;

struct Data {
  PreferenceSet<double> pairs;
  MetaSet<double> meta;
};

Data make_data(std::uint64_t seed) {
  Rng rng(seed);
  const auto w = test::random_vector<double>(rng, dim);
  return {test::separable_pairs<double>(rng, dim, 96, w), test::random_meta<double>(rng, dim, 40, {2, 3, 5})};
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

using Model = Mlp<Tanh, double>;

}  // namespace

TEST_CASE("MetaRM with eta = 0 equals Vanilla bit for bit over 50 steps", "[strategy]") {
  const auto data = make_data(1);
  const Model model(dim, {8, 8});
  FitOptions<double> fit{.epochs = 100, .batch_size = 8, .meta_batch_size = 4, .max_steps = 50};
  History vanilla_history, metarm_history;
  MetaLearner vanilla(model, Vanilla{}, Adam{.learning_rate = 0.01}, LearnerOptions{.seed = 3});
  MetaLearner meta(model, MetaRM(0.0), Adam{.learning_rate = 0.01}, LearnerOptions{.seed = 3});
  REQUIRE(same_bits(vanilla.parameters(), meta.parameters()));
  const auto r1 = vanilla.fit(data.pairs, &data.meta, fit, vanilla_history);
  const auto r2 = meta.fit(data.pairs, &data.meta, fit, metarm_history);
  REQUIRE(r1.steps == 50);
  REQUIRE(r2.steps == 50);
  CHECK(r1.stop.kind == StopReason::Kind::max_steps);
  for (std::size_t i = 0; i < 50; ++i) {
    CHECK(vanilla_history.steps()[i].loss == metarm_history.steps()[i].loss);
  }
  CHECK(same_bits(vanilla.parameters(), meta.parameters()));
  // and the parameters did move
  MetaLearner untouched(model, Vanilla{}, Adam{}, LearnerOptions{.seed = 3});
  CHECK_FALSE(same_bits(untouched.parameters(), meta.parameters()));
}

TEST_CASE("MetaRM step equals the hand-written sequence: backup, ascend, gradient at theta', restore, step",
          "[strategy]") {
  const auto data = make_data(2);
  const Model model(dim, {5});
  const double eta = 0.3;
  const Adam adam{.learning_rate = 0.02};
  MetaLearner learner(model, MetaRM(eta), adam, LearnerOptions{.seed = 4});

  // The same update written out with the model, objective and optimiser directly.
  cpu::context ctx;
  std::vector<double> theta = learner.parameters();
  const auto n = static_cast<std::size_t>(model.parameter_count());
  std::vector<double> backup(n), grad_j(n), grad_l(n), exp_avg(n, 0.0), exp_avg_sq(n, 0.0), d_rewards(64);
  auto ws = model.make_workspace<cpu>(64);

  PreferenceBatchBuffer<double, cpu> pair_buffer;
  MetaBatchBuffer<double, cpu> meta_buffer;
  for (int step = 0; step < 5; ++step) {
    std::vector<index_t> pair_idx, prompt_idx;
    for (index_t i = 0; i < 8; ++i) pair_idx.push_back((step * 8 + i) % data.pairs.size());
    for (index_t i = 0; i < 4; ++i) prompt_idx.push_back((step * 4 + i) % data.meta.prompts());
    const auto pairs = pair_buffer.gather(ctx, data.pairs, pair_idx);
    const auto meta = meta_buffer.gather(ctx, data.meta, prompt_idx);

    const StepStats stats = learner.step(pairs, meta);

    backup = theta;                                                             // backup theta
    const double j = difference_objective_and_gradient<cpu>(ctx, model, DifferenceObjective{}, test::view(std::as_const(theta)),
                                                            meta, ws, test::view(d_rewards), test::view(grad_j));
    for (std::size_t i = 0; i < n; ++i) theta[i] += eta * grad_j[i];           // ascend
    const double l = preference_loss_and_gradient<cpu>(ctx, model, BradleyTerryLoss{}, test::view(std::as_const(theta)),
                                                       pairs, ws, test::view(d_rewards), test::view(grad_l));
    theta = backup;                                                             // restore
    std::array<VectorView<double>, 2> state{test::view(exp_avg), test::view(exp_avg_sq)};
    adam.update<cpu, double>(ctx, test::view(theta), test::view(std::as_const(grad_l)),
                             std::span<const VectorView<double>>(state), adam.learning_rate, step + 1);  // step

    CHECK(stats.objective == j);
    CHECK(stats.loss == l);
    double grad_j_squared = 0.0, grad_l_squared = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      grad_j_squared += grad_j[i] * grad_j[i];
      grad_l_squared += grad_l[i] * grad_l[i];
    }
    CHECK(stats.ascent_norm == Approx(std::sqrt(grad_j_squared)).epsilon(1e-12));
    CHECK(stats.grad_norm == Approx(std::sqrt(grad_l_squared)).epsilon(1e-12));
    CHECK(same_bits(theta, learner.parameters()));
  }
}

TEST_CASE("MetaRM's ascent step is zero when every response of a prompt is identical", "[strategy]") {
  const Model model(dim, {4});
  Rng rng(5);
  const auto w = test::random_vector<double>(rng, dim);
  const auto pairs = test::separable_pairs<double>(rng, dim, 16, w);
  MetaSet<double> flat(dim);
  for (int p = 0; p < 8; ++p) {
    const auto x = test::random_vector<double>(rng, dim);
    std::vector<double> block;
    for (int k = 0; k < 3; ++k) block.insert(block.end(), x.begin(), x.end());
    flat.add_prompt(block);
  }
  FitOptions<double> fit{.epochs = 2, .batch_size = 4, .meta_batch_size = 2};
  History h;
  MetaLearner vanilla(model, Vanilla{}, Sgd{.learning_rate = 0.1}, LearnerOptions{.seed = 6});
  MetaLearner meta(model, MetaRM(5.0), Sgd{.learning_rate = 0.1}, LearnerOptions{.seed = 6});
  vanilla.fit(pairs, nullptr, fit);
  meta.fit(pairs, &flat, fit, h);
  CHECK(same_bits(vanilla.parameters(), meta.parameters()));
  for (const auto& s : h.steps()) {
    CHECK(s.ascent_norm == 0.0);
    CHECK(s.objective == Approx(1.0 / 3.0));  // (k - 1) / (2k) with k = 3
  }
}

TEST_CASE("MetaRM statistics: a small ascent step raises J and more inner steps raise it further", "[strategy]") {
  const auto data = make_data(7);
  const Model model(dim, {8});
  PreferenceBatchBuffer<double, cpu> pb;
  MetaBatchBuffer<double, cpu> mb;
  cpu::context ctx;
  const std::vector<index_t> idx{0, 1, 2, 3, 4, 5};
  const auto pairs = pb.gather(ctx, data.pairs, idx);
  const auto meta = mb.gather(ctx, data.meta, idx);

  MetaLearner one(model, MetaRM({.eta = 0.05, .measure_objective_after = true}), Sgd{}, LearnerOptions{.seed = 8});
  const StepStats s1 = one.step(pairs, meta);
  CHECK(s1.objective_after > s1.objective);
  CHECK(s1.ascent_norm > 0.0);
  CHECK(s1.grad_norm > 0.0);
  CHECK(s1.learning_rate == Sgd{}.learning_rate);

  MetaLearner three(model, MetaRM({.eta = 0.05, .inner_steps = 3, .measure_objective_after = true}), Sgd{},
                    LearnerOptions{.seed = 8});
  const StepStats s3 = three.step(pairs, meta);
  CHECK(s3.objective == s1.objective);
  CHECK(s3.objective_after > s1.objective_after);

  MetaLearner vanilla(model, Vanilla{}, Sgd{}, LearnerOptions{.seed = 8});
  const StepStats sv = vanilla.step(pairs);
  CHECK(std::isnan(sv.objective));
  CHECK(std::isnan(sv.objective_after));
}

TEST_CASE("JointObjective's update is the gradient of L - lambda J, against central differences in double",
          "[strategy]") {
  const auto data = make_data(12);
  const Model model(dim, {5, 4});
  cpu::context ctx;
  PreferenceBatchBuffer<double, cpu> pair_buffer;
  MetaBatchBuffer<double, cpu> meta_buffer;
  const std::vector<index_t> pair_index{0, 3, 5, 7, 11, 13, 17, 19};
  const std::vector<index_t> prompt_index{1, 2, 4, 8};
  const auto pairs = pair_buffer.gather(ctx, data.pairs, pair_index);
  const auto meta = meta_buffer.gather(ctx, data.meta, prompt_index);
  for (double lambda : {0.0, 0.7, 3.0}) {
    // With Sgd at learning rate 1, theta - theta_after is the direction the strategy handed to the optimiser.
    MetaLearner learner(model, JointObjective(lambda), Sgd{.learning_rate = 1.0}, LearnerOptions{.seed = 21});
    std::vector<double> theta = learner.parameters();
    for (auto& t : theta) t *= 2.0;  // larger weights: curvature matters
    learner.set_parameters(theta);
    const StepStats stats = learner.step(pairs, meta);
    std::vector<double> update = learner.parameters();
    for (std::size_t i = 0; i < update.size(); ++i) update[i] = theta[i] - update[i];

    auto ws = model.make_workspace<cpu>(32);
    std::vector<double> d_rewards(32);
    auto joint = [&](std::span<const double> at) {
      const VectorView<const double> p{at.data(), static_cast<index_t>(at.size())};
      const double loss = preference_loss_and_gradient<cpu>(ctx, model, BradleyTerryLoss{}, p, pairs, ws,
                                                            test::view(d_rewards), VectorView<double>{});
      const double j = difference_objective_and_gradient<cpu>(ctx, model, DifferenceObjective{}, p, meta, ws,
                                                              test::view(d_rewards), VectorView<double>{});
      return loss - lambda * j;
    };
    std::vector<double> at = theta;
    const auto check = check_gradient(joint, std::span<double>(at), update);
    INFO("lambda " << lambda << ": worst coordinate " << check.worst_index << ", update " << check.analytic_at_worst
                   << ", numeric " << check.numeric_at_worst);
    CHECK(check.max_error < test::gradient_tolerance);
    // The recorded statistics are L and J at theta.
    const VectorView<const double> p{theta.data(), static_cast<index_t>(theta.size())};
    CHECK(stats.loss == Approx(preference_loss_and_gradient<cpu>(ctx, model, BradleyTerryLoss{}, p, pairs, ws,
                                                                 test::view(d_rewards), VectorView<double>{}))
                            .epsilon(1e-13));
    CHECK(stats.objective == Approx(difference_objective_and_gradient<cpu>(ctx, model, DifferenceObjective{}, p, meta,
                                                                           ws, test::view(d_rewards),
                                                                           VectorView<double>{}))
                                 .epsilon(1e-13));
    CHECK(stats.ascent_norm > 0.0);
  }
  // lambda = 0 is Vanilla, bit for bit, over a fit.
  MetaLearner joint(Model(dim, {6}), JointObjective(0.0), Adam{.learning_rate = 0.01}, LearnerOptions{.seed = 3});
  MetaLearner vanilla(Model(dim, {6}), Vanilla{}, Adam{.learning_rate = 0.01}, LearnerOptions{.seed = 3});
  joint.fit(data.pairs, &data.meta, FitOptions<double>{.epochs = 2, .batch_size = 16});
  vanilla.fit(data.pairs, &data.meta, FitOptions<double>{.epochs = 2, .batch_size = 16});
  CHECK(same_bits(joint.parameters(), vanilla.parameters()));
  test::require_error_naming([] { JointObjective(-1.0); }, {"JointObjective", "'lambda'"});
  test::require_error_naming([] { JointObjective(std::nan("")); }, {"JointObjective", "'lambda'"});
}

TEST_CASE("MetaRM rejects bad options and needs a meta batch", "[strategy][errors]") {
  test::require_error_naming([] { MetaRM(-1.0); }, {"MetaRM", "'eta'"});
  test::require_error_naming([] { MetaRM({.inner_steps = 0}); }, {"'inner_steps'"});
  const auto data = make_data(9);
  MetaLearner learner(Model(dim, {3}), MetaRM(0.1), Sgd{}, LearnerOptions{});
  test::require_error_naming([&] { learner.fit(data.pairs, nullptr, FitOptions<double>{}); },
                             {"MetaLearner::fit", "metarm", "'meta'"});
  PreferenceBatchBuffer<double, cpu> pb;
  cpu::context ctx;
  const std::vector<index_t> idx{0, 1};
  const auto pairs = pb.gather(ctx, data.pairs, idx);
  test::require_error_naming([&] { learner.step(pairs); }, {"MetaLearner::step", "meta batch is empty"});
}

namespace {

// A strategy written outside the library: descend on L - lambda * J directly (what the library's
// JointObjective does), through the members that return their values on the host.
struct UserJoint {
  double lambda = 0.5;
  template <class Step>
  StepStats step(Step& s) {
    StepStats stats;
    auto g = s.scratch(0), gj = s.scratch(1);
    stats.loss = s.preference_loss_and_gradient(s.params(), g);
    stats.objective = s.difference_objective_and_gradient(s.params(), gj);
    s.axpy(-lambda, gj, g);
    stats.grad_norm = s.apply_update(g);
    return stats;
  }
};

}  // namespace

TEST_CASE("a user-defined strategy plugs into the learner unchanged", "[strategy]") {
  const auto data = make_data(10);
  MetaLearner learner(Model(dim, {6}), UserJoint{}, Adam{.learning_rate = 0.01}, LearnerOptions{.seed = 1});
  History history;
  const auto result = learner.fit(data.pairs, &data.meta, FitOptions<double>{.epochs = 3, .batch_size = 16}, history);
  CHECK(result.steps == 18);
  CHECK(history.steps().size() == 18);
  CHECK(history.steps().front().objective > 0.0);
  CHECK(learner.updates() == 18);
}

namespace {

// Each built-in strategy written again with the members that return their values on the host, to check that
// the values the built-in ones record in backend memory are the same.
struct ReturnedStatistics {
  template <class Step>
  static StepStats vanilla(Step& s) {
    StepStats stats;
    auto grad = s.scratch("gradient");
    stats.loss = s.preference_loss_and_gradient(s.params(), grad);
    stats.grad_norm = s.apply_update(grad);
    return stats;
  }
  template <class Step>
  static StepStats metarm(Step& s, double eta, int inner_steps) {
    StepStats stats;
    auto adapted = s.scratch("adapted");
    auto grad = s.scratch("gradient");
    s.copy(s.params(), adapted);
    for (int i = 0; i < inner_steps; ++i) {
      const double j = s.meta_objective_and_gradient(adapted, grad);
      if (i == 0) {
        stats.objective = j;
        stats.ascent_norm = s.norm(grad);
      }
      s.axpy(eta, grad, adapted);
    }
    stats.objective_after = s.meta_objective_value(adapted);
    stats.loss = s.preference_loss_and_gradient(adapted, grad);
    stats.grad_norm = s.apply_update(grad);
    return stats;
  }
  template <class Step>
  static StepStats reptile(Step& s, double alpha, int inner_steps) {
    StepStats stats;
    auto adapted = s.scratch("adapted");
    auto grad = s.scratch("gradient");
    s.copy(s.params(), adapted);
    for (int i = 0; i < inner_steps; ++i) {
      const double loss = s.preference_loss_and_gradient(adapted, grad);
      if (i == 0) stats.inner_loss = stats.loss = loss;
      s.axpy(-alpha, grad, adapted);
    }
    s.copy(s.params(), grad);
    s.axpy(-1.0, adapted, grad);
    stats.grad_norm = s.apply_update(grad);
    return stats;
  }
};

bool close_or_both_nan(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::abs(a - b) <= 1e-12 * std::max(std::abs(a), std::abs(b)) + 1e-15;
}

template <class Strategy, class Reference>
void check_recorded_against_returned(Strategy strategy, Reference reference, StepOptions options = {}) {
  const auto data = make_data(21);
  const Model model(dim, {5, 4});
  using Context = StepContext<Model, Adam, cpu>;
  Context recorded(model, Adam{.learning_rate = 0.05}, options, cpu::context{});
  Context returned(model, Adam{.learning_rate = 0.05}, options, cpu::context{});
  Rng init(5);
  std::vector<double> theta(static_cast<std::size_t>(model.parameter_count()));
  model.initialize(std::span<double>(theta), init);
  std::copy(theta.begin(), theta.end(), recorded.params().data);
  std::copy(theta.begin(), theta.end(), returned.params().data);
  cpu::context ctx;
  PreferenceBatchBuffer<double, cpu> pair_buffer;
  MetaBatchBuffer<double, cpu> meta_buffer;
  for (int step = 1; step <= 4; ++step) {
    std::vector<index_t> pair_idx, prompt_idx;
    for (index_t i = 0; i < 8; ++i) pair_idx.push_back((step * 8 + i) % data.pairs.size());
    for (index_t i = 0; i < 4; ++i) prompt_idx.push_back((step * 4 + i) % data.meta.prompts());
    const auto pairs = pair_buffer.gather(ctx, data.pairs, pair_idx);
    const auto meta = meta_buffer.gather(ctx, data.meta, prompt_idx);
    recorded.set_batches(pairs, meta);
    returned.set_batches(pairs, meta);
    StepStats got = strategy.step(recorded);
    recorded.recorded_statistics().end_step(recorded.backend_context());
    recorded.recorded_statistics().read(recorded.backend_context(), got, step);
    const StepStats want = reference(returned);
    INFO("step " << step);
    // Close rather than equal: the built-in MetaRM forms its first adapted point with add_scaled, the version
    // here with copy and axpy, which may round differently.
    CHECK(close_or_both_nan(got.loss, want.loss));
    CHECK(close_or_both_nan(got.inner_loss, want.inner_loss));
    CHECK(close_or_both_nan(got.objective, want.objective));
    CHECK(close_or_both_nan(got.objective_after, want.objective_after));
    CHECK(close_or_both_nan(got.grad_norm, want.grad_norm));
    CHECK(close_or_both_nan(got.ascent_norm, want.ascent_norm));
    CHECK(std::isfinite(got.loss));
    CHECK(std::isfinite(got.grad_norm));
    for (index_t i = 0; i < recorded.parameter_count(); ++i) {
      REQUIRE(recorded.params()[i] == Approx(returned.params()[i]).epsilon(1e-12).margin(1e-14));
    }
  }
}

}  // namespace

TEST_CASE("the statistics the built-in strategies record in backend memory equal the values returned on the host",
          "[strategy][statistics]") {
  SECTION("Vanilla") {
    check_recorded_against_returned(Vanilla{}, [](auto& s) { return ReturnedStatistics::vanilla(s); });
  }
  SECTION("MetaRM, two ascent steps, J after") {
    check_recorded_against_returned(MetaRM(MetaRM::Options{.eta = 0.2, .inner_steps = 2, .measure_objective_after = true}),
                                    [](auto& s) { return ReturnedStatistics::metarm(s, 0.2, 2); });
  }
  SECTION("MetaRM with clipping that bites") {
    check_recorded_against_returned(MetaRM(MetaRM::Options{.eta = 0.2, .measure_objective_after = true}),
                                    [](auto& s) { return ReturnedStatistics::metarm(s, 0.2, 1); },
                                    StepOptions{.clip_norm = 1e-3});
  }
  SECTION("Reptile") {
    check_recorded_against_returned(Reptile(Reptile::Options{.inner_steps = 3, .inner_learning_rate = 0.1}),
                                    [](auto& s) { return ReturnedStatistics::reptile(s, 0.1, 3); });
  }
}

TEST_CASE("recorded statistics: sums over the steps between reads, and a NaN named with its steps",
          "[strategy][statistics]") {
  cpu::context ctx;
  RecordedStatistics<cpu> statistics;
  StepStats stats;
  const double values[] = {1.5, 2.0, 4.0};
  for (double v : values) {
    statistics.begin_step();
    *statistics.slot(Statistic::loss) = v;
    *statistics.slot(Statistic::grad_norm) = v * v;  // squared, as recorded
    statistics.end_step(ctx);
  }
  const StatisticsReading reading = statistics.read(ctx, stats, 3);
  CHECK(reading.steps == 3);
  CHECK(reading.sum[static_cast<std::size_t>(Statistic::loss)] == 7.5);
  CHECK(reading.count[static_cast<std::size_t>(Statistic::loss)] == 3);
  CHECK(reading.count[static_cast<std::size_t>(Statistic::objective)] == 0);
  CHECK(stats.loss == 4.0);
  CHECK(stats.grad_norm == 4.0);
  CHECK(std::isnan(stats.objective));  // not recorded: left as the strategy returned it

  // The sums start again after a read; a NaN in any step since is reported with the steps it may come from.
  for (double v : {1.0, std::nan(""), 3.0}) {
    statistics.begin_step();
    *statistics.slot(Statistic::objective) = v;
    statistics.end_step(ctx);
  }
  StepStats later;
  try {
    statistics.read(ctx, later, 6);
    FAIL("a NaN objective was read without an error");
  } catch (const Error& e) {
    const std::string message = e.what();
    CHECK(message.find("objective was NaN in one of steps 4 to 6") != std::string::npos);
  }

  statistics.begin_step();
  test::require_error_naming([&] { statistics.copy(ctx, Statistic::loss, Statistic::inner_loss); },
                             {"'loss' is not recorded in this step"});
}

TEST_CASE("the record members reject a statistic of the wrong kind", "[strategy][statistics][errors]") {
  const auto data = make_data(22);
  const Model model(dim, {4});
  StepContext<Model, Sgd, cpu> s(model, Sgd{}, StepOptions{}, cpu::context{});
  cpu::context ctx;
  PreferenceBatchBuffer<double, cpu> pair_buffer;
  const std::vector<index_t> idx{0, 1, 2};
  s.set_batches(pair_buffer.gather(ctx, data.pairs, idx), {});
  auto grad = s.scratch("gradient");
  test::require_error_naming([&] { s.record_preference_loss_and_gradient(s.params(), grad, Statistic::grad_norm); },
                             {"must be a loss or objective statistic"});
  test::require_error_naming([&] { s.record_norm(as_const(grad), Statistic::loss); }, {"must be a norm statistic"});
  test::require_error_naming([&] { s.apply_update(grad, Statistic::objective); }, {"must be a norm"});
  test::require_error_naming([&] { s.record_meta_objective_and_gradient(s.params(), grad, Statistic::objective); },
                             {"no meta batch"});
}

TEST_CASE("add_scaled with a norm statistic writes y + alpha x and records |x|^2 in the same pass",
          "[strategy][statistics]") {
  const Model model(dim, {4});
  StepContext<Model, Sgd, cpu> s(model, Sgd{}, StepOptions{}, cpu::context{});
  auto y = s.scratch("y"), x = s.scratch("x"), fused = s.scratch("fused"), separate = s.scratch("separate");
  Rng rng(5);
  for (index_t i = 0; i < x.size; ++i) {
    x.data[i] = rng.uniform(-2.0, 2.0);
    y.data[i] = rng.uniform(-2.0, 2.0);
  }
  auto values = [](VectorView<double> v) { return std::vector<double>(v.data, v.data + v.size); };
  const double alpha = 0.37;
  s.add_scaled(as_const(y), alpha, as_const(x), separate);
  s.recorded_statistics().begin_step();
  s.add_scaled(as_const(y), alpha, as_const(x), fused, Statistic::ascent_norm);
  CHECK(same_bits(values(fused), values(separate)));
  double squared = 0.0;
  for (index_t i = 0; i < x.size; ++i) squared += x.data[i] * x.data[i];
  CHECK(*s.recorded_statistics().slot(Statistic::ascent_norm) == Approx(squared).epsilon(1e-14));
  CHECK(squared > 0.0);

  // `to` may be y itself.
  s.add_scaled(as_const(y), alpha, as_const(x), y, Statistic::grad_norm);
  CHECK(same_bits(values(y), values(separate)));

  test::require_error_naming([&] { s.add_scaled(as_const(y), alpha, as_const(x), fused, Statistic::loss); },
                             {"StepContext::add_scaled", "must be a norm statistic"});
  test::require_error_naming(
      [&] { s.add_scaled(as_const(y), alpha, as_const(x), fused.segment(0, fused.size - 1), Statistic::ascent_norm); },
      {"StepContext::add_scaled", "sizes differ"});
}

TEST_CASE("clipping decided in backend memory equals clipping decided on the host", "[optim][statistics]") {
  cpu::context ctx;
  Rng rng(8);
  const auto g = test::random_vector<double>(rng, 1000);
  double norm = 0.0;
  for (double v : g) norm += v * v;
  norm = std::sqrt(norm);
  for (const double max_norm : {0.0, norm / 3, norm * 2}) {
    INFO("max_norm " << max_norm);
    std::vector<double> on_host = g, in_memory = g;
    const double host_norm = clip_by_global_norm<cpu>(ctx, test::view(on_host), max_norm);
    double squared = -1.0;
    clip_by_global_norm_into<cpu>(ctx, test::view(in_memory), max_norm, &squared);
    CHECK(std::sqrt(squared) == Approx(host_norm).epsilon(1e-13));
    for (std::size_t i = 0; i < g.size(); ++i) {
      REQUIRE(in_memory[i] == Approx(on_host[i]).epsilon(1e-13));
    }
    CHECK((max_norm > 0.0 && max_norm < norm) == (in_memory[0] != g[0]));
  }
}

}  // namespace strategy_test
