// SPDX-License-Identifier: Apache-2.0
// optim/: each optimiser against updates computed by hand, schedules at their boundaries, clipping.
#include "test_support.hpp"

using namespace metarm;
using test::index_t;

namespace optim_test {

namespace {

template <class Optimizer>
struct Harness {
  explicit Harness(Optimizer o, std::vector<double> p0) : optimizer(o), params(std::move(p0)) {
    for (auto& s : state) s.assign(params.size(), 0.0);
  }
  void update(std::vector<double> g, double lr) {
    std::array<VectorView<double>, Optimizer::state_names.size()> views;
    for (std::size_t i = 0; i < views.size(); ++i) views[i] = test::view(state[i]);
    ++step;
    optimizer.template update<cpu, double>(ctx, test::view(params), test::view(std::as_const(g)),
                                           std::span<const VectorView<double>>(views.data(), views.size()), lr, step);
  }
  cpu::context ctx;
  Optimizer optimizer;
  std::vector<double> params;
  std::array<std::vector<double>, Optimizer::state_names.size()> state;
  std::int64_t step = 0;
};

}  // namespace

TEST_CASE("SGD: p -= lr (g + wd p)", "[optim]") {
  Harness h(Sgd{.learning_rate = 0.1, .weight_decay = 0.01}, {1.0, -2.0});
  h.update({0.5, 0.25}, 0.1);
  CHECK(h.params[0] == Approx(1.0 - 0.1 * (0.5 + 0.01 * 1.0)).epsilon(1e-15));
  CHECK(h.params[1] == Approx(-2.0 - 0.1 * (0.25 - 0.02)).epsilon(1e-15));
}

TEST_CASE("Momentum: heavy ball and Nesterov over two updates", "[optim]") {
  Harness heavy(Momentum{.learning_rate = 0.1, .momentum = 0.9}, {1.0});
  heavy.update({2.0}, 0.1);  // b = 2, p = 1 - 0.2
  CHECK(heavy.params[0] == Approx(0.8).epsilon(1e-15));
  heavy.update({1.0}, 0.1);  // b = 0.9 * 2 + 1 = 2.8, p = 0.8 - 0.28
  CHECK(heavy.state[0][0] == Approx(2.8).epsilon(1e-15));
  CHECK(heavy.params[0] == Approx(0.52).epsilon(1e-14));

  Harness nesterov(Momentum{.learning_rate = 0.1, .momentum = 0.9, .nesterov = true}, {1.0});
  nesterov.update({2.0}, 0.1);  // b = 2, p = 1 - 0.1 (2 + 0.9 * 2) = 0.62
  CHECK(nesterov.params[0] == Approx(0.62).epsilon(1e-14));
  nesterov.update({1.0}, 0.1);  // b = 2.8, p = 0.62 - 0.1 (1 + 2.52) = 0.268
  CHECK(nesterov.params[0] == Approx(0.268).epsilon(1e-13));
}

TEST_CASE("Adam: first update moves by lr * g / (|g| + eps), second by the bias-corrected moments", "[optim]") {
  const double lr = 0.01, eps = 1e-8;
  Harness h(Adam{.learning_rate = lr}, {0.5, -0.5});
  h.update({0.2, -3.0}, lr);
  CHECK(h.params[0] == Approx(0.5 - lr * 0.2 / (0.2 + eps)).epsilon(1e-14));
  CHECK(h.params[1] == Approx(-0.5 + lr * 3.0 / (3.0 + eps)).epsilon(1e-14));
  const double p0 = h.params[0];
  h.update({-0.1, 1.0}, lr);
  // m = 0.9 * 0.1 * 0.2 + 0.1 * (-0.1) = 0.008; v = 0.999 * 0.001 * 0.04 + 0.001 * 0.01 = 4.996e-5
  const double m = 0.008, v = 4.996e-5, bc1 = 1 - 0.81, bc2 = 1 - 0.998001;
  CHECK(h.state[0][0] == Approx(m).epsilon(1e-14));
  CHECK(h.state[1][0] == Approx(v).epsilon(1e-12));
  CHECK(h.params[0] == Approx(p0 - (lr / bc1) * m / (std::sqrt(v) / std::sqrt(bc2) + eps)).epsilon(1e-13));
}

TEST_CASE("Adam adds L2 decay to the gradient and AdamW shrinks the parameters first", "[optim]") {
  const double lr = 0.1, wd = 0.5, eps = 1e-8;
  Harness adam(Adam{.learning_rate = lr, .weight_decay = wd}, {2.0});
  adam.update({0.5}, lr);  // g' = 0.5 + 0.5 * 2 = 1.5, first step moves lr * g'/(|g'| + eps)
  CHECK(adam.params[0] == Approx(2.0 - lr * 1.5 / (1.5 + eps)).epsilon(1e-14));
  Harness adamw(AdamW{.learning_rate = lr, .weight_decay = wd}, {2.0});
  adamw.update({0.5}, lr);  // p = 2 (1 - 0.05) - lr * 0.5 / (0.5 + eps)
  CHECK(adamw.params[0] == Approx(2.0 * (1 - lr * wd) - lr * 0.5 / (0.5 + eps)).epsilon(1e-14));
  CHECK(AdamW{}.weight_decay == 0.01);
  CHECK(Adam{}.weight_decay == 0.0);
}

TEST_CASE("optimisers reject bad hyperparameters, naming them", "[optim][errors]") {
  test::require_error_naming([] { Adam{.beta1 = 1.0}.validate(); }, {"Adam", "beta1"});
  test::require_error_naming([] { AdamW{.epsilon = 0.0}.validate(); }, {"AdamW", "epsilon"});
  test::require_error_naming([] { Sgd{.learning_rate = -1}.validate(); }, {"Sgd", "learning_rate"});
  test::require_error_naming([] { Momentum{.momentum = 1.0}.validate(); }, {"Momentum", "momentum"});
}

TEST_CASE("schedules at their boundaries", "[optim]") {
  CHECK(Schedule::constant().factor(0) == 1.0);
  CHECK(Schedule::constant().factor(1000000) == 1.0);

  const auto cosine = Schedule::warmup_cosine(10, 110);
  CHECK(cosine.factor(0) == Approx(0.1));
  CHECK(cosine.factor(4) == Approx(0.5));
  CHECK(cosine.factor(9) == Approx(1.0));
  CHECK(cosine.factor(10) == Approx(1.0));
  CHECK(cosine.factor(60) == Approx(0.5));
  CHECK(cosine.factor(110) == Approx(0.0).margin(1e-15));
  CHECK(cosine.factor(500) == Approx(0.0).margin(1e-15));

  const auto floored = Schedule::warmup_cosine(0, 100, 0.1);
  CHECK(floored.factor(0) == Approx(1.0));
  CHECK(floored.factor(100) == Approx(0.1));

  const auto linear = Schedule::warmup_linear(0, 100, 0.1);
  CHECK(linear.factor(0) == Approx(1.0));
  CHECK(linear.factor(50) == Approx(0.55));
  CHECK(linear.factor(100) == Approx(0.1));
  CHECK(linear.factor(101) == Approx(0.1));

  test::require_error_naming([] { Schedule::warmup_cosine(10, 5); }, {"'total'", "'warmup'"});
  test::require_error_naming([] { Schedule::warmup_linear(0, 5, 1.5); }, {"'floor'"});
  test::require_error_naming([] { Schedule::warmup_linear(-1, 5); }, {"'warmup'"});
}

TEST_CASE("clip by global norm rescales only above the bound and reports the norm before", "[optim]") {
  cpu::context ctx;
  std::vector<double> g{3.0, 4.0};
  CHECK(clip_by_global_norm<cpu>(ctx, test::view(g), 10.0) == Approx(5.0));
  CHECK(g == std::vector<double>{3.0, 4.0});
  CHECK(clip_by_global_norm<cpu>(ctx, test::view(g), 0.0) == Approx(5.0));
  CHECK(g == std::vector<double>{3.0, 4.0});
  CHECK(clip_by_global_norm<cpu>(ctx, test::view(g), 1.0) == Approx(5.0));
  CHECK(g[0] == Approx(3.0 / (5.0 + 1e-6)).epsilon(1e-14));
  CHECK(g[1] == Approx(4.0 / (5.0 + 1e-6)).epsilon(1e-14));
  CHECK(std::hypot(g[0], g[1]) < 1.0);
}

// The learner records the gradient norm from inside the optimiser's own pass when nothing clips: the update
// must be the one made without the slot, bit for bit, and the slot must hold the gradient's squared norm.
TEMPLATE_TEST_CASE("an update given a GradientNormSlot moves the parameters as without it and measures the gradient",
                   "[optim]", Sgd, Momentum, Adam, AdamW) {
  using Optimizer = TestType;
  Optimizer optimizer{};
  if constexpr (requires { optimizer.weight_decay; }) optimizer.weight_decay = 1e-2;
  if constexpr (requires { optimizer.nesterov; }) optimizer.nesterov = true;
  for (const index_t n : {index_t{1}, index_t{37}, index_t{50001}}) {  // one partial block to many blocks
    Rng rng(7);
    const auto p0 = test::random_vector<double>(rng, n), g = test::random_vector<double>(rng, n);
    Harness plain(optimizer, p0), measured(optimizer, p0);
    plain.update(g, 0.1);
    plain.update(g, 0.1);
    measured.update(g, 0.1);
    std::array<VectorView<double>, Optimizer::state_names.size()> views;
    for (std::size_t i = 0; i < views.size(); ++i) views[i] = test::view(measured.state[i]);
    double squared_norm = -1.0;
    measured.optimizer.template update<cpu, double>(
        measured.ctx, test::view(measured.params), test::view(g),
        std::span<const VectorView<double>>(views.data(), views.size()), 0.1, ++measured.step,
        GradientNormSlot{&squared_norm});
    double expected = 0.0;
    for (const double x : g) expected += x * x;
    INFO("n = " << n);
    CHECK(squared_norm == Approx(expected).epsilon(1e-13));
    CHECK(measured.params == plain.params);
    CHECK(measured.state == plain.state);
  }
  static_assert(OptimizerMeasuresGradient<Optimizer, cpu, double>);
}

}  // namespace optim_test
