// SPDX-License-Identifier: Apache-2.0
// layer/ and model/: every built-in layer through check_layer (gradients and exact Hessian-vector products
// against central differences in double, symmetry, held gradients, no allocation once sized), the harness
// failing on broken layers, Sequential and Mlp as compositions of the same layers, and the exact MetaRM
// meta-gradient of a network with every kind of layer under the hinge loss.
//
// This program counts allocations (count_allocations.hpp replaces operator new), so it is its own binary.
#include <metarm/testing/check_layer.hpp>
#include <metarm/testing/count_allocations.hpp>

#include "test_support.hpp"

#include <numeric>

using namespace metarm;
using test::index_t;

namespace {

template <class L>
void require_layer_passes(L layer, testing::LayerCheckOptions options = {}) {
  const testing::LayerCheckReport report = testing::check_layer<cpu>(std::move(layer), options);
  INFO(report.describe());
  CHECK(report.passed());
  REQUIRE(report.allocations_after_first.has_value());  // the counting operator new of this program is in place
  CHECK(*report.allocations_after_first == 0);
}

// Tanh with a second derivative that is off by a factor: first-order checks pass, second-order ones fail.
struct WrongCurvatureTanh : ElementwiseActivation<WrongCurvatureTanh> {
  static constexpr std::string_view name = "tanh with a wrong second derivative";
  static constexpr bool is_identity = false;
  template <class T>
  static T value(T z) {
    return std::tanh(z);
  }
  template <class T>
  static T derivative(T, T a) {
    return T(1) - a * a;
  }
  template <class T>
  static T second_derivative(T, T a) {
    return T(-1.5) * a * (T(1) - a * a);
  }
};

// A dense layer whose backward pass forgets the bias gradient.
template <class T>
struct NoBiasGradientDense : Dense<T> {
  using Dense<T>::Dense;
  std::string describe() const { return "dense without a bias gradient"; }
  template <class Backend, class Input>
  void backward(typename Backend::context& ctx, VectorView<const T> params, const Input& x, MatrixView<const T> y,
                MatrixView<const T> dy, VectorView<T> grad, MatrixView<T> dx, NoWorkspace& ws,
                GradientWrite write) const {
    std::vector<T> bias(static_cast<std::size_t>(this->outputs()));
    Backend::copy_to_host(ctx, as_const(this->bias(grad)), bias.data());
    Dense<T>::template backward<Backend>(ctx, params, x, y, dy, grad, dx, ws, write);
    Backend::copy_from_host(ctx, bias.data(), this->bias(grad));
  }
};

// ReLU that allocates a scratch vector in every forward pass.
struct AllocatingReLU : ElementwiseActivation<AllocatingReLU> {
  static constexpr std::string_view name = "relu that allocates";
  static constexpr bool is_identity = false;
  template <class T>
  static T value(T z) {
    return z > T(0) ? z : T(0);
  }
  template <class T>
  static T derivative(T z, T) {
    return z > T(0) ? T(1) : T(0);
  }
  template <class T>
  static T second_derivative(T, T) {
    return T(0);
  }
  template <class Backend, class T>
  void forward(typename Backend::context& ctx, VectorView<const T> params, MatrixView<const T> x, MatrixView<T> y,
               NoWorkspace& ws) const {
    std::vector<T> scratch(static_cast<std::size_t>(x.rows));
    ElementwiseActivation<AllocatingReLU>::forward<Backend>(ctx, params, x, y, ws);
    static_cast<void>(scratch.data());
  }
};

}  // namespace

TEST_CASE("every built-in layer passes check_layer: gradients, HVPs, symmetry, held gradients, no allocation",
          "[layer][gradient][hvp]") {
  SECTION("dense") { require_layer_passes(Dense<double>(4)); }
  SECTION("scalar head") { require_layer_passes(ScalarHead<double>()); }
  SECTION("identity") { require_layer_passes(Identity{}); }
  SECTION("relu") { require_layer_passes(ReLU{}); }
  SECTION("tanh") { require_layer_passes(Tanh{}); }
  SECTION("gelu") { require_layer_passes(GELU{}); }
  SECTION("silu") { require_layer_passes(SiLU{}); }
  SECTION("sigmoid") { require_layer_passes(Sigmoid{}); }
  SECTION("layer norm") { require_layer_passes(LayerNorm<double>()); }
  SECTION("layer norm, large epsilon, wide") {
    require_layer_passes(LayerNorm<double>(0.5), {.input_width = 11, .columns = 3});
  }
  SECTION("residual") { require_layer_passes(Residual(Dense<double>(6), Tanh{})); }
  SECTION("residual of a normalised block") {
    require_layer_passes(Residual(LayerNorm<double>(), GELU{}, Dense<double>(6)));
  }
  SECTION("chain") { require_layer_passes(Chain(Dense<double>(5), SiLU{}, Dense<double>(3))); }
  SECTION("repeat") {
    require_layer_passes(
        Repeat<Chain<Dense<double>, Sigmoid>>({Chain(Dense<double>(5), Sigmoid{}), Chain(Dense<double>(4), Sigmoid{})}));
  }
}

TEST_CASE("check_layer fails a wrong second derivative, a missing gradient and an allocating pass", "[layer]") {
  const auto curvature = testing::check_layer<cpu>(WrongCurvatureTanh{});
  INFO(curvature.describe());
  CHECK(curvature.gradient_error < 1e-7);
  CHECK(curvature.hvp_error > 1e-3);
  CHECK_FALSE(curvature.passed());

  const auto bias = testing::check_layer<cpu>(NoBiasGradientDense<double>(3));
  INFO(bias.describe());
  CHECK(bias.gradient_error > 1e-3);
  CHECK_FALSE(bias.passed());

  const auto allocating = testing::check_layer<cpu>(AllocatingReLU{});
  INFO(allocating.describe());
  REQUIRE(allocating.allocations_after_first.has_value());
  CHECK(*allocating.allocations_after_first > 0);
  CHECK_FALSE(allocating.passed());
}

TEST_CASE("Sequential names blocks by position, Mlp by hidden layer, and both describe themselves", "[layer][model]") {
  const Sequential model(3, Dense<double>(4), LayerNorm<double>(), GELU{}, Residual(Dense<double>(4), Tanh{}),
                         ScalarHead<double>());
  std::vector<std::string> names;
  for (const ParamBlock& b : model.layout().blocks()) names.push_back(b.name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "3.0.weight", "3.0.bias",
                                          "4.weight", "4.bias"});
  CHECK(model.parameter_count() == 4 * 3 + 4 + 4 + 4 + 4 * 4 + 4 + 4 + 1);
  CHECK(model.describe() == "sequential(3;dense(4),layer_norm,gelu,residual(dense(4),tanh),head)");

  const Mlp<ReLU, double> mlp(3, {5, 2});
  names.clear();
  for (const ParamBlock& b : mlp.layout().blocks()) names.push_back(b.name);
  CHECK(names == std::vector<std::string>{"hidden.0.weight", "hidden.0.bias", "hidden.1.weight", "hidden.1.bias",
                                          "head.weight", "head.bias"});
  CHECK(mlp.describe() == "mlp<relu>(3,5,2,1)");
}

TEST_CASE("layers and models format with fmt as their descriptions", "[layer][model]") {
  CHECK(fmt::format("{}", Dense<double>(4)) == "dense(4)");
  CHECK(fmt::format("{}", LayerNorm<double>(1e-3)) == "layer_norm(0.001000)");
  CHECK(fmt::format("{} {}", ReLU{}, ScalarHead<float>()) == "relu head");
  CHECK(fmt::format("[{}]", Residual(Dense<double>(4), Tanh{})) == "[residual(dense(4),tanh)]");
  const Sequential model(3, Dense<double>(4), GELU{}, ScalarHead<double>());
  CHECK(fmt::format("{}", model) == "sequential(3;dense(4),gelu,head)");
  CHECK(fmt::format("model {}", Mlp<ReLU, double>(3, {5, 2})) == "model mlp<relu>(3,5,2,1)");
  CHECK(fmt::format("{}", LinearModel<float>(6)) == "mlp<identity>(6,1)");
}

TEST_CASE("Mlp and the Sequential of the same layers give the same rewards, gradients and HVPs, bit for bit",
          "[layer][model][hvp]") {
  const index_t d = 7, n = 9;
  const Mlp<GELU, double> mlp(d, {8, 5});
  const Sequential seq(d, Dense<double>(8), GELU{}, Dense<double>(5), GELU{}, ScalarHead<double>());
  REQUIRE(mlp.parameter_count() == seq.parameter_count());
  Rng rng(3);
  std::vector<double> params(static_cast<std::size_t>(mlp.parameter_count()));
  mlp.initialize(params, rng);
  std::vector<double> seq_params(params.size());
  Rng same(3);
  seq.initialize(seq_params, same);
  CHECK(seq_params == params);  // the same draws in the same order
  const auto x = test::random_vector<double>(rng, d * n);
  const auto c = test::random_vector<double>(rng, n);
  const auto v = test::random_vector<double>(rng, mlp.parameter_count());
  cpu::context ctx;
  auto passes = [&](const auto& model) {
    auto ws = model.template make_workspace<cpu>(n);
    const auto r = model.template forward<cpu>(ctx, test::view(std::as_const(params)), test::matrix(x, d, n), ws);
    std::vector<double> out(r.data, r.data + r.size);
    std::vector<double> grad(params.size()), hv(params.size());
    model.template backward<cpu>(ctx, test::view(std::as_const(params)), test::matrix(x, d, n), ws, test::view(c),
                                 test::view(grad));
    model.template hvp<cpu>(
        ctx, test::view(std::as_const(params)), test::matrix(x, d, n), ws, test::view(v), test::view(c),
        [](VectorView<const double> t, VectorView<double> o) {
          for (index_t i = 0; i < t.size; ++i) o[i] = 0.5 * t[i];
        },
        test::view(hv));
    out.insert(out.end(), grad.begin(), grad.end());
    out.insert(out.end(), hv.begin(), hv.end());
    return out;
  };
  CHECK(passes(mlp) == passes(seq));
}

TEST_CASE("layers and networks reject bad shapes, naming them", "[layer][errors]") {
  test::require_error_naming([] { Sequential(4, Dense<double>(3), Residual(Dense<double>(2)), ScalarHead<double>()); },
                             {"Residual", "width 3 to 2"});
  test::require_error_naming([] { Sequential(4, Dense<double>(3), Tanh{}); }, {"3 outputs", "ScalarHead"});
  test::require_error_naming([] { Dense<double>(0); }, {"outputs"});
  test::require_error_naming([] { LayerNorm<double>(0.0); }, {"epsilon"});
  test::require_error_naming([] { Sequential(0, ScalarHead<double>()); }, {"input_dim"});
}

namespace {

// Pairs and prompts for the network case below, gathered once.
struct NetworkProblem {
  static constexpr index_t dim = 5;
  PreferenceSet<double> pairs{dim};
  MetaSet<double> meta{dim};
  cpu::context ctx;
  PreferenceBatchBuffer<double, cpu> pair_buffer;
  MetaBatchBuffer<double, cpu> meta_buffer;
  PreferenceBatch<double> pair_batch;
  MetaBatch<double> meta_batch;

  explicit NetworkProblem(std::uint64_t seed) {
    Rng rng(seed);
    for (index_t i = 0; i < 6; ++i) {
      pairs.add(test::random_vector<double>(rng, dim), test::random_vector<double>(rng, dim), rng.uniform(0.0, 0.2));
    }
    meta = test::random_meta<double>(rng, dim, 3, {3, 4, 2});
    std::vector<index_t> all(6);
    std::iota(all.begin(), all.end(), 0);
    pair_batch = pair_buffer.gather(ctx, pairs, all);
    const std::vector<index_t> prompts{0, 1, 2};
    meta_batch = meta_buffer.gather(ctx, meta, prompts);
  }
};

}  // namespace

TEST_CASE("Dense -> LayerNorm -> GELU -> Residual(Dense -> Tanh) -> head, hinge loss: the exact MetaRM meta-gradient "
          "equals central differences of theta -> L(theta + eta grad J(theta))",
          "[layer][strategy][hvp]") {
  using Network = Sequential<Dense<double>, LayerNorm<double>, GELU, Residual<Dense<double>, Tanh>, ScalarHead<double>>;
  const Network model(NetworkProblem::dim, Dense<double>(6), LayerNorm<double>(), GELU{},
                      Residual(Dense<double>(6), Tanh{}), ScalarHead<double>());
  const NetworkProblem problem(91);
  const MarginRankingLoss loss(/*gamma=*/4.0, /*centering=*/0.05);  // every pair short of its lead: l' = -1 everywhere
  const double eta = 0.3;

  std::vector<double> theta(static_cast<std::size_t>(model.parameter_count()));
  Rng rng(92);
  model.initialize(theta, rng);
  for (double& t : theta) t += 0.4 * rng.normal();  // away from LayerNorm's gamma = 1, beta = 0

  // theta -> L(theta + eta grad J(theta)), with the library's free functions.
  cpu::context ctx;
  auto ws = model.make_workspace<cpu>(16);
  std::vector<double> d_rewards(16);
  auto meta_loss = [&](std::span<const double> at) {
    std::vector<double> point(at.begin(), at.end()), grad_j(at.size());
    difference_objective_and_gradient<cpu>(ctx, model, DifferenceObjective{}, {at.data(), static_cast<index_t>(at.size())},
                                           problem.meta_batch, ws, test::view(d_rewards), test::view(grad_j));
    for (std::size_t i = 0; i < point.size(); ++i) point[i] += eta * grad_j[i];
    return preference_loss_and_gradient<cpu>(ctx, model, loss, test::view(std::as_const(point)), problem.pair_batch, ws,
                                             test::view(d_rewards), VectorView<double>{});
  };

  // The update exact MetaRM hands to SGD at learning rate 1.
  MetaLearner learner(model, MetaRM({.eta = eta, .order = MetaGradient::exact}), Sgd{.learning_rate = 1.0},
                      LearnerOptions{}, loss);
  learner.set_parameters(theta);
  learner.step(problem.pair_batch, problem.meta_batch);
  std::vector<double> update = learner.parameters();
  for (std::size_t i = 0; i < update.size(); ++i) update[i] = theta[i] - update[i];

  std::vector<double> at = theta;
  const auto numeric = numeric_gradient(meta_loss, std::span<double>(at));
  double worst = 0, scale = 0, first_order_gap = 0;
  for (std::size_t i = 0; i < numeric.size(); ++i) {
    worst = std::max(worst, std::fabs(update[i] - numeric[i]));
    scale = std::max(scale, std::fabs(numeric[i]));
  }
  INFO("max |exact - numeric| = " << worst << " against max |numeric| = " << scale);
  CHECK(worst / scale < 1e-7);

  // The first-order update differs: the check above sees the second-order term.
  MetaLearner first(model, MetaRM(eta), Sgd{.learning_rate = 1.0}, LearnerOptions{}, loss);
  first.set_parameters(theta);
  first.step(problem.pair_batch, problem.meta_batch);
  const auto after_first = first.parameters();
  for (std::size_t i = 0; i < numeric.size(); ++i) {
    first_order_gap = std::max(first_order_gap, std::fabs(theta[i] - after_first[i] - numeric[i]));
  }
  CHECK(first_order_gap / scale > 1e-4);
}
