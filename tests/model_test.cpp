// SPDX-License-Identifier: Apache-2.0
// model/: the activations' derivatives, and the MLP end to end, checked against central finite differences
// in double, plus shapes and errors. Every layer on its own goes through check_layer (layer_test.cpp).
#include "test_support.hpp"

using namespace metarm;
using test::index_t;

namespace model_test {

namespace {

template <class Activation>
void check_activation_derivatives() {
  Rng rng(21);
  for (int i = 0; i < 200; ++i) {
    double z = rng.uniform(-3.0, 3.0);
    if (std::fabs(z) < 1e-2) z += 0.1;  // stay away from ReLU's kink
    const double h = 1e-5;
    const double a = Activation::value(z);
    const double fd1 = (Activation::value(z + h) - Activation::value(z - h)) / (2 * h);
    const double fd2 =
        (Activation::derivative(z + h, Activation::value(z + h)) - Activation::derivative(z - h, Activation::value(z - h))) /
        (2 * h);
    INFO(Activation::name << " at z = " << z);
    CHECK(gradient_error(Activation::derivative(z, a), fd1) < test::gradient_tolerance);
    CHECK(gradient_error(Activation::second_derivative(z, a), fd2) < test::gradient_tolerance);
  }
}

}  // namespace

TEST_CASE("activation derivatives match finite differences", "[model][gradient]") {
  check_activation_derivatives<Identity>();
  check_activation_derivatives<ReLU>();
  check_activation_derivatives<Tanh>();
  check_activation_derivatives<GELU>();
  check_activation_derivatives<SiLU>();
  check_activation_derivatives<Sigmoid>();
}

TEST_CASE("activation values", "[model]") {
  CHECK(ReLU::value(-2.0) == 0.0);
  CHECK(ReLU::value(3.0) == 3.0);
  CHECK(ReLU::derivative(0.0, 0.0) == 0.0);
  CHECK(GELU::value(0.0) == 0.0);
  CHECK(GELU::value(1.0) == Approx(0.8413447460685429));  // 1 * Phi(1)
  CHECK(Tanh::value(0.5) == Approx(std::tanh(0.5)));
  CHECK(SiLU::value(1.0) == Approx(1.0 / (1.0 + std::exp(-1.0))));
  CHECK(Sigmoid::value(0.0) == 0.5);
}

namespace {

template <class Activation>
void check_mlp_gradients() {
  Rng rng(41);
  cpu::context ctx;
  const index_t d = 5, n = 6;
  const Mlp<Activation, double> model(d, {7, 4});  // three Dense layers
  REQUIRE(model.layout().blocks().size() == 6);
  auto params = std::vector<double>(static_cast<std::size_t>(model.parameter_count()));
  Rng init(1);
  model.initialize(params, init);
  auto x = test::random_vector<double>(rng, d * n);
  const auto c = test::random_vector<double>(rng, n);
  auto ws = model.template make_workspace<cpu>(n);

  auto objective = [&](std::span<const double> p, std::span<const double> xx) {
    const auto rewards = model.template forward<cpu>(ctx, VectorView<const double>{p.data(), model.parameter_count()},
                                                     MatrixView<const double>{xx.data(), d, n, d}, ws);
    double s = 0;
    for (index_t j = 0; j < n; ++j) s += c[j] * rewards[j];
    return s;
  };
  objective(params, x);
  std::vector<double> grad(params.size(), 0.0), dx(x.size());
  model.template backward<cpu>(ctx, test::view(std::as_const(params)), test::matrix(std::as_const(x), d, n), ws,
                               test::view(c), test::view(grad), test::matrix(dx, d, n));
  const auto by_params =
      check_gradient([&](std::span<const double> p) { return objective(p, x); }, std::span<double>(params), grad);
  INFO(Activation::name << " params: worst " << by_params.worst_index << " analytic " << by_params.analytic_at_worst
                        << " numeric " << by_params.numeric_at_worst);
  CHECK(by_params.max_error < test::gradient_tolerance);
  const auto by_input =
      check_gradient([&](std::span<const double> xx) { return objective(params, xx); }, std::span<double>(x), dx);
  INFO(Activation::name << " input");
  CHECK(by_input.max_error < test::gradient_tolerance);
}

}  // namespace

TEST_CASE("3-layer MLP end to end: gradients match finite differences", "[model][gradient]") {
  check_mlp_gradients<ReLU>();
  check_mlp_gradients<GELU>();
  check_mlp_gradients<Tanh>();
  check_mlp_gradients<Identity>();
}

TEST_CASE("linear model gradients match finite differences", "[model][gradient]") {
  Rng rng(43);
  cpu::context ctx;
  const index_t d = 6, n = 3;
  const LinearModel<double> model(d);
  CHECK(model.parameter_count() == d + 1);
  auto params = test::random_vector<double>(rng, model.parameter_count());
  const auto x = test::random_vector<double>(rng, d * n);
  const auto c = test::random_vector<double>(rng, n);
  auto ws = model.make_workspace<cpu>(n);
  auto objective = [&](std::span<const double> p) {
    const auto r = model.forward<cpu>(ctx, {p.data(), model.parameter_count()}, test::matrix(x, d, n), ws);
    double s = 0;
    for (index_t j = 0; j < n; ++j) s += c[j] * r[j];
    return s;
  };
  objective(params);
  std::vector<double> grad(params.size(), 0.0);
  model.backward<cpu>(ctx, test::view(std::as_const(params)), test::matrix(x, d, n), ws, test::view(c), test::view(grad));
  CHECK(check_gradient(objective, std::span<double>(params), grad).max_error < test::gradient_tolerance);
}

TEMPLATE_TEST_CASE("MLP forward equals the layer-by-layer formula", "[model]", float, double) {
  using T = TestType;
  cpu::context ctx;
  const Mlp<Tanh, T> model(2, {2});
  // hidden.0.weight (2x2), hidden.0.bias (2), head.weight (1x2), head.bias (1)
  const std::vector<T> p{T(0.1), T(0.2), T(-0.3), T(0.4), T(0.5), T(-0.6), T(1.5), T(-2.0), T(0.25)};
  const std::vector<T> x{T(1), T(2), T(-1), T(0.5)};
  auto ws = model.template make_workspace<cpu>(1);
  const auto r = model.template forward<cpu>(ctx, test::view(p), test::matrix(x, 2, 2), ws);
  REQUIRE(r.size == 2);
  for (int j = 0; j < 2; ++j) {
    const double x0 = x[2 * j], x1 = x[2 * j + 1];
    const double h0 = std::tanh(0.1 * x0 + (-0.3) * x1 + 0.5);
    const double h1 = std::tanh(0.2 * x0 + 0.4 * x1 - 0.6);
    CHECK(r[j] == Approx(1.5 * h0 - 2.0 * h1 + 0.25).epsilon(1e-6));
  }
  CHECK(model.describe() == "mlp<tanh>(2,2,1)");
  CHECK(model.layout().block("head.weight").offset == 6);
  CHECK(ws.capacity() == 2);  // grew to the batch
}

TEST_CASE("MLP rejects inputs of the wrong dimension and bad sizes", "[model][errors]") {
  cpu::context ctx;
  const Mlp<ReLU, double> model(3, {4});
  std::vector<double> p(static_cast<std::size_t>(model.parameter_count())), x(8);
  auto ws = model.make_workspace<cpu>(4);
  test::require_error_naming([&] { model.forward<cpu>(ctx, test::view(std::as_const(p)), test::matrix(x, 2, 4), ws); },
                             {"mlp<relu>(3,4,1) forward", "2 features", "expects 3"});
  std::vector<double> short_p(3);
  test::require_error_naming(
      [&] { model.forward<cpu>(ctx, test::view(std::as_const(short_p)), test::matrix(x, 3, 2), ws); },
      {"argument 'params'"});
  test::require_error_naming([] { Mlp<ReLU, double>(0); }, {"input_dim"});
  test::require_error_naming([] { Mlp<ReLU, double>(3, {4, 0}); }, {"hidden[1]"});
}

}  // namespace model_test
