// SPDX-License-Identifier: Apache-2.0
// loss/ and grad/: the Bradley-Terry loss and the difference objective J, their values, their reward
// derivatives (every reward of both sides of every pair, every response of every prompt) and their
// parameter gradients through a model, all against finite differences in double.
#include "test_support.hpp"

#include <metarm/testing/check_loss.hpp>

using namespace metarm;
using test::index_t;

namespace loss_test {

namespace {

double sig(double z) { return 1.0 / (1.0 + std::exp(-z)); }

double bt_reference(const std::vector<double>& r, const std::vector<double>& m, double c) {
  const std::size_t n = r.size() / 2;
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double delta = r[i] - r[n + i] - (m.empty() ? 0.0 : m[i]);
    total += std::log1p(std::exp(-delta)) + c * (r[i] + r[n + i]) * (r[i] + r[n + i]);
  }
  return total / double(n);
}

}  // namespace

TEST_CASE("Bradley-Terry value and reward gradient, with margins and centering", "[loss][gradient]") {
  cpu::context ctx;
  Rng rng(51);
  for (double centering : {0.0, 0.01, 0.5}) {
    for (bool with_margins : {false, true}) {
      const index_t n = 6;
      auto rewards = test::random_vector<double>(rng, 2 * n, 2.0);
      const auto margins = with_margins ? test::random_vector<double>(rng, n, 0.5) : std::vector<double>{};
      const BradleyTerryLoss loss(centering);
      std::vector<double> d(rewards.size());
      const double value = loss.value_and_gradient<cpu, double>(ctx, test::view(std::as_const(rewards)),
                                                                test::view(margins), test::view(d));
      INFO("centering " << centering << ", margins " << with_margins);
      CHECK(value == Approx(bt_reference(rewards, margins, centering)).epsilon(1e-12));
      const auto result = check_gradient(
          [&](std::span<const double> r) {
            return loss.value<cpu, double>(ctx, {r.data(), 2 * n}, test::view(margins));
          },
          std::span<double>(rewards), d);
      CHECK(result.max_error < test::gradient_tolerance);
    }
  }
}

TEST_CASE("Bradley-Terry is stable for large reward gaps", "[loss]") {
  cpu::context ctx;
  const BradleyTerryLoss loss;
  const std::vector<double> confident{1000.0, -1000.0}, wrong{-1000.0, 1000.0};
  CHECK(loss.value<cpu, double>(ctx, test::view(confident), {}) == Approx(0.0).margin(1e-300));
  CHECK(loss.value<cpu, double>(ctx, test::view(wrong), {}) == Approx(2000.0));
}

TEST_CASE("Bradley-Terry rejects bad arguments, naming them", "[loss][errors]") {
  cpu::context ctx;
  test::require_error_naming([] { BradleyTerryLoss(-0.1); }, {"BradleyTerryLoss", "centering"});
  test::require_error_naming([] { BradleyTerryLoss(std::nan("")); }, {"centering"});
  const BradleyTerryLoss loss;
  const std::vector<double> empty, odd{1, 2, 3}, nan_rewards{1.0, std::nan("")}, two{1, 2}, three_margins{0, 0, 0};
  test::require_error_naming([&] { loss.value<cpu, double>(ctx, test::view(empty), {}); }, {"'rewards'", "n >= 1"});
  test::require_error_naming([&] { loss.value<cpu, double>(ctx, test::view(odd), {}); }, {"'rewards'"});
  test::require_error_naming([&] { loss.value<cpu, double>(ctx, test::view(nan_rewards), {}); },
                             {"'rewards'", "NaN"});
  test::require_error_naming([&] { loss.value<cpu, double>(ctx, test::view(two), test::view(three_margins)); },
                             {"'margins'"});
}

TEST_CASE("difference objective closed forms for k = 2, 3, 5 and mixed k", "[loss]") {
  cpu::context ctx;
  const DifferenceObjective J;
  auto value = [&](const std::vector<double>& r, const std::vector<index_t>& offsets) {
    return J.value<cpu, double>(ctx, test::view(r), test::view(offsets));
  };
  // k = 2: (2/4) sigma(|d|)
  CHECK(value({0.0, 1.5}, {0, 2}) == Approx(0.5 * sig(1.5)).epsilon(1e-14));
  CHECK(value({1.5, 0.0}, {0, 2}) == Approx(0.5 * sig(1.5)).epsilon(1e-14));
  // k = 3: (2/9) (sigma(1) + sigma(3) + sigma(2)) for rewards 0, 1, 3
  CHECK(value({0.0, 1.0, 3.0}, {0, 3}) == Approx(2.0 / 9.0 * (sig(1) + sig(3) + sig(2))).epsilon(1e-14));
  // k = 5, all equal: (2/25) * 10 * 1/2 = 2/5 = (k - 1) / (2k)
  CHECK(value({0.7, 0.7, 0.7, 0.7, 0.7}, {0, 5}) == Approx(0.4).epsilon(1e-14));
  // k = 5, rewards 0..4: pairs with gap g occur 5 - g times
  const double k5 = 2.0 / 25.0 * (4 * sig(1) + 3 * sig(2) + 2 * sig(3) + 1 * sig(4));
  CHECK(value({0, 1, 2, 3, 4}, {0, 5}) == Approx(k5).epsilon(1e-14));
  // mixed k: the mean over prompts of each prompt's value
  const double mixed = (0.5 * sig(1.5) + 2.0 / 9.0 * (sig(1) + sig(3) + sig(2)) + k5) / 3.0;
  CHECK(value({0.0, 1.5, 0.0, 1.0, 3.0, 0, 1, 2, 3, 4}, {0, 2, 5, 10}) == Approx(mixed).epsilon(1e-14));
}

TEST_CASE("difference objective lies from (k-1)/(2k) up to but below (k-1)/k for fixed k", "[loss]") {
  cpu::context ctx;
  const DifferenceObjective J;
  Rng rng(61);
  for (index_t k : {2, 3, 5, 8}) {
    const double low = double(k - 1) / double(2 * k), high = double(k - 1) / double(k);
    for (double spread : {0.0, 0.1, 1.0, 5.0, 15.0}) {
      const index_t m = 4;
      const auto r = test::random_vector<double>(rng, m * k, spread);
      std::vector<index_t> offsets;
      for (index_t p = 0; p <= m; ++p) offsets.push_back(p * k);
      const double v = J.value<cpu, double>(ctx, test::view(r), test::view(offsets));
      INFO("k " << k << " spread " << spread << " J " << v);
      CHECK(v >= low);
      CHECK(v < high);
      if (spread == 0.0) CHECK(v == Approx(low).epsilon(1e-15));
    }
  }
}

TEST_CASE("difference objective: zero gradient when all rewards of a prompt are equal", "[loss]") {
  cpu::context ctx;
  const DifferenceObjective J;
  const std::vector<double> r{0.3, 0.3, 0.3, -1.0, -1.0};
  const std::vector<index_t> offsets{0, 3, 5};
  std::vector<double> d(r.size(), 99.0);
  J.value_and_gradient<cpu, double>(ctx, test::view(r), test::view(offsets), test::view(d));
  for (double g : d) CHECK(g == 0.0);
}

TEST_CASE("difference objective reward gradient matches finite differences for every response", "[loss][gradient]") {
  cpu::context ctx;
  const DifferenceObjective J;
  Rng rng(71);
  const std::vector<index_t> offsets{0, 2, 5, 10, 14};  // k = 2, 3, 5, 4
  auto r = test::random_vector<double>(rng, 14, 1.5);
  std::vector<double> d(r.size());
  J.value_and_gradient<cpu, double>(ctx, test::view(std::as_const(r)), test::view(offsets), test::view(d));
  const auto result = check_gradient(
      [&](std::span<const double> rr) { return J.value<cpu, double>(ctx, {rr.data(), 14}, test::view(offsets)); },
      std::span<double>(r), d);
  INFO("worst coordinate " << result.worst_index);
  CHECK(result.max_error < test::gradient_tolerance);
  for (double g : d) CHECK(g != 0.0);  // every response contributes
}

TEST_CASE("difference objective rejects bad arguments, naming them", "[loss][errors]") {
  cpu::context ctx;
  const DifferenceObjective J;
  const std::vector<double> r{1, 2, 3}, nan_r{1, std::nan(""), 0};
  const std::vector<index_t> k1{0, 1, 3}, ok{0, 3}, wrong_end{0, 2}, single{0};
  test::require_error_naming([&] { J.value<cpu, double>(ctx, test::view(r), test::view(k1)); },
                             {"'offsets'", "prompt 0", "k = 1", "k >= 2"});
  test::require_error_naming([&] { J.value<cpu, double>(ctx, test::view(r), test::view(wrong_end)); }, {"'offsets'"});
  test::require_error_naming([&] { J.value<cpu, double>(ctx, test::view(r), test::view(single)); },
                             {"'offsets'", "at least one prompt"});
  test::require_error_naming([&] { J.value<cpu, double>(ctx, test::view(nan_r), test::view(ok)); },
                             {"'rewards'", "NaN"});
}

TEST_CASE("parameter gradients of both objectives through an MLP match finite differences", "[grad][gradient]") {
  cpu::context ctx;
  Rng rng(81);
  const index_t d = 4, n = 5;
  const Mlp<GELU, double> model(d, {6, 3});
  std::vector<double> params(static_cast<std::size_t>(model.parameter_count()));
  Rng init(2);
  model.initialize(params, init);
  auto ws = model.make_workspace<cpu>(16);
  std::vector<double> d_rewards(16), grad(params.size());

  const auto pair_x = test::random_vector<double>(rng, d * 2 * n);
  const auto margins = test::random_vector<double>(rng, n, 0.3);
  const PreferenceBatch<double> pairs{test::matrix(pair_x, d, 2 * n), test::view(margins)};
  const BradleyTerryLoss loss(0.05);
  preference_loss_and_gradient<cpu>(ctx, model, loss, test::view(std::as_const(params)), pairs, ws,
                                    test::view(d_rewards), test::view(grad));
  auto bt = [&](std::span<const double> p) {
    return preference_loss_and_gradient<cpu>(ctx, model, loss, {p.data(), model.parameter_count()}, pairs, ws,
                                             test::view(d_rewards), VectorView<double>{});
  };
  CHECK(check_gradient(bt, std::span<double>(params), grad).max_error < test::gradient_tolerance);

  const auto meta_x = test::random_vector<double>(rng, d * 9);
  const std::vector<index_t> offsets{0, 2, 5, 9};
  const MetaBatch<double> meta{test::matrix(meta_x, d, 9), test::view(offsets)};
  const DifferenceObjective objective;
  difference_objective_and_gradient<cpu>(ctx, model, objective, test::view(std::as_const(params)), meta, ws,
                                         test::view(d_rewards), test::view(grad));
  auto j = [&](std::span<const double> p) {
    return difference_objective_and_gradient<cpu>(ctx, model, objective, {p.data(), model.parameter_count()}, meta, ws,
                                                  test::view(d_rewards), VectorView<double>{});
  };
  CHECK(check_gradient(j, std::span<double>(params), grad).max_error < test::gradient_tolerance);
}

namespace {

// A preference loss's value against a reference, and its reward gradient and reward Hessian product
// against central differences, in double.
template <class Loss, class Reference>
void check_preference_loss(const Loss& loss, Reference&& reference, std::uint64_t seed, double scale = 2.0) {
  cpu::context ctx;
  Rng rng(seed);
  const index_t n = 7;
  auto rewards = test::random_vector<double>(rng, 2 * n, scale);
  const auto margins = test::random_vector<double>(rng, n, 0.3);
  std::vector<double> d(rewards.size());
  const double value = loss.template value_and_gradient<cpu, double>(ctx, test::view(std::as_const(rewards)),
                                                                     test::view(margins), test::view(d));
  INFO(Loss::name);
  CHECK(value == Approx(reference(rewards, margins)).epsilon(1e-12));
  auto value_at = [&](std::span<const double> r) {
    return loss.template value<cpu, double>(ctx, {r.data(), 2 * n}, test::view(margins));
  };
  CHECK(check_gradient(value_at, std::span<double>(rewards), d).max_error < test::gradient_tolerance);
  // The Hessian product against differences of the gradient along t.
  const auto t = test::random_vector<double>(rng, 2 * n);
  std::vector<double> ht(t.size()), up(t.size()), down(t.size());
  loss.template hessian_product<cpu, double>(ctx, test::view(std::as_const(rewards)), test::view(margins),
                                             test::view(t), test::view(ht));
  const double h = 1e-5;
  std::vector<double> r_up = rewards, r_down = rewards;
  for (std::size_t i = 0; i < t.size(); ++i) {
    r_up[i] += h * t[i];
    r_down[i] -= h * t[i];
  }
  loss.template value_and_gradient<cpu, double>(ctx, test::view(std::as_const(r_up)), test::view(margins), test::view(up));
  loss.template value_and_gradient<cpu, double>(ctx, test::view(std::as_const(r_down)), test::view(margins),
                                                test::view(down));
  for (std::size_t i = 0; i < t.size(); ++i) {
    CHECK(gradient_error(ht[i], (up[i] - down[i]) / (2 * h)) < test::gradient_tolerance);
  }
}

}  // namespace

TEST_CASE("margin-ranking (hinge) loss: value, reward gradient and Hessian product", "[loss][gradient][hvp]") {
  for (double gamma : {0.0, 1.0}) {
    for (double centering : {0.0, 0.1}) {
      const MarginRankingLoss loss(gamma, centering);
      CHECK(loss.term().gamma == gamma);
      check_preference_loss(
          loss,
          [&](const std::vector<double>& r, const std::vector<double>& m) {
            const std::size_t n = r.size() / 2;
            double total = 0;
            for (std::size_t i = 0; i < n; ++i) {
              total += std::max(0.0, gamma - (r[i] - r[n + i] - m[i])) + centering * (r[i] + r[n + i]) * (r[i] + r[n + i]);
            }
            return total / double(n);
          },
          61);
    }
  }
  cpu::context ctx;
  // A pair whose chosen reward leads by more than gamma costs nothing and pulls no further.
  const std::vector<double> settled{3.0, 1.0};
  std::vector<double> d(2, 9.0);
  CHECK(MarginRankingLoss(1.0).value_and_gradient<cpu, double>(ctx, test::view(settled), {}, test::view(d)) == 0.0);
  CHECK(d == std::vector<double>{0.0, 0.0});
  test::require_error_naming([] { MarginRankingLoss(-1.0); }, {"MarginRankingLoss", "'gamma'"});
}

TEST_CASE("label-smoothed Bradley-Terry: value, gradient, Hessian product, and epsilon = 0 is Bradley-Terry",
          "[loss][gradient][hvp]") {
  for (double epsilon : {0.05, 0.2}) {
    const LabelSmoothedBradleyTerryLoss loss(epsilon, 0.02);
    check_preference_loss(
        loss,
        [&](const std::vector<double>& r, const std::vector<double>& m) {
          const std::size_t n = r.size() / 2;
          double total = 0;
          for (std::size_t i = 0; i < n; ++i) {
            const double delta = r[i] - r[n + i] - m[i], s = r[i] + r[n + i];
            total += -(1 - epsilon) * std::log(sig(delta)) - epsilon * std::log(sig(-delta)) + 0.02 * s * s;
          }
          return total / double(n);
        },
        62);
  }
  cpu::context ctx;
  Rng rng(63);
  const auto r = test::random_vector<double>(rng, 10, 2.0);
  const auto m = test::random_vector<double>(rng, 5, 0.3);
  std::vector<double> d0(10), d1(10);
  CHECK(LabelSmoothedBradleyTerryLoss(0.0).value_and_gradient<cpu, double>(ctx, test::view(r), test::view(m),
                                                                           test::view(d0)) ==
        Approx(BradleyTerryLoss().value_and_gradient<cpu, double>(ctx, test::view(r), test::view(m), test::view(d1)))
            .epsilon(1e-15));
  for (std::size_t i = 0; i < d0.size(); ++i) CHECK(d0[i] == Approx(d1[i]).epsilon(1e-14));
  // Smoothing bounds the loss below: a pair confidently ranked still costs epsilon * gap.
  const std::vector<double> confident{20.0, 0.0};
  CHECK(LabelSmoothedBradleyTerryLoss(0.1).value<cpu, double>(ctx, test::view(confident), {}) ==
        Approx(0.1 * 20.0).epsilon(1e-6));
  test::require_error_naming([] { LabelSmoothedBradleyTerryLoss(0.5); }, {"LabelSmoothedBradleyTerryLoss", "'epsilon'"});
}

TEST_CASE("reward-variance meta objective: value, reward gradient and Hessian product", "[loss][gradient][hvp]") {
  cpu::context ctx;
  const RewardVarianceObjective V;
  CHECK(V.value<cpu, double>(ctx, test::view(std::vector<double>{1.0, 3.0}), test::view(std::vector<index_t>{0, 2})) ==
        Approx(1.0));  // mean 2, deviations +-1
  Rng rng(64);
  auto r = test::random_vector<double>(rng, 10, 1.5);
  const std::vector<index_t> offsets{0, 2, 5, 10};
  std::vector<double> d(10);
  const double value = V.value_and_gradient<cpu, double>(ctx, test::view(std::as_const(r)), test::view(offsets),
                                                        test::view(d));
  double expected = 0;
  for (std::size_t p = 0; p + 1 < offsets.size(); ++p) {
    const auto b = static_cast<std::size_t>(offsets[p]), e = static_cast<std::size_t>(offsets[p + 1]);
    double mean = 0, var = 0;
    for (std::size_t i = b; i < e; ++i) mean += r[i] / double(e - b);
    for (std::size_t i = b; i < e; ++i) var += (r[i] - mean) * (r[i] - mean) / double(e - b);
    expected += var / 3.0;
  }
  CHECK(value == Approx(expected).epsilon(1e-13));
  auto value_at = [&](std::span<const double> rr) {
    return V.value<cpu, double>(ctx, {rr.data(), 10}, test::view(offsets));
  };
  CHECK(check_gradient(value_at, std::span<double>(r), d).max_error < test::gradient_tolerance);
  const auto t = test::random_vector<double>(rng, 10);
  std::vector<double> ht(10);
  V.hessian_product<cpu, double>(ctx, test::view(std::as_const(r)), test::view(offsets), test::view(t), test::view(ht));
  // V is quadratic in r: its gradient is linear, so the product is exactly the change of the gradient along t.
  std::vector<double> r_t = r, d_t(10);
  for (std::size_t i = 0; i < 10; ++i) r_t[i] += t[i];
  V.value_and_gradient<cpu, double>(ctx, test::view(std::as_const(r_t)), test::view(offsets), test::view(d_t));
  for (std::size_t i = 0; i < 10; ++i) CHECK(ht[i] == Approx(d_t[i] - d[i]).epsilon(1e-12).margin(1e-14));
  test::require_error_naming(
      [&] {
        V.value<cpu, double>(ctx, test::view(std::vector<double>{1, 2, 3}), test::view(std::vector<index_t>{0, 1, 3}));
      },
      {"RewardVarianceObjective", "k = 1", "k >= 2"});
}

namespace {

// Bradley-Terry whose reward Hessian forgets the centering term: gradients right, curvature wrong.
struct CurvatureWithoutCentering {
  static constexpr std::string_view name = "bradley-terry without centering curvature";
  BradleyTerryLoss inner{0.5};
  template <class Backend, class T>
  T value_and_gradient(typename Backend::context& ctx, VectorView<const T> r, VectorView<const T> m,
                       VectorView<T> d) const {
    return inner.value_and_gradient<Backend, T>(ctx, r, m, d);
  }
  template <class Backend, class T>
  void hessian_product(typename Backend::context& ctx, VectorView<const T> r, VectorView<const T> m,
                       VectorView<const T> t, VectorView<T> out) const {
    BradleyTerryLoss().hessian_product<Backend, T>(ctx, r, m, t, out);
  }
};

}  // namespace

TEST_CASE("every built-in loss and meta objective passes its harness, and a wrong curvature fails it",
          "[loss][gradient][hvp]") {
  auto require_passes = [](const testing::LossCheckReport& report) {
    INFO(report.describe());
    CHECK(report.passed());
  };
  require_passes(testing::check_preference_loss<cpu>(BradleyTerryLoss(0.1)));
  require_passes(testing::check_preference_loss<cpu>(MarginRankingLoss(0.5, 0.1)));
  require_passes(testing::check_preference_loss<cpu>(LabelSmoothedBradleyTerryLoss(0.1, 0.1)));
  require_passes(testing::check_meta_objective<cpu>(DifferenceObjective{}));
  require_passes(testing::check_meta_objective<cpu>(RewardVarianceObjective{}));

  const auto broken = testing::check_preference_loss<cpu>(CurvatureWithoutCentering{});
  INFO(broken.describe());
  CHECK(broken.gradient_error < 1e-7);
  CHECK(broken.hessian_error > 1e-3);
  CHECK_FALSE(broken.passed());
}

}  // namespace loss_test
