// SPDX-License-Identifier: Apache-2.0
// grad/ (Hessian-vector products), with the loss/ pieces they are built from: every exact product (the
// losses' reward Hessians, MLPs of every activation, the linear model) against central differences of the
// matching gradient in double, their symmetry u.Hv = v.Hu, the finite-difference fallback, and a model
// without hvp. Each layer's own products are checked by check_layer (layer_test.cpp).
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>

using namespace metarm;
using test::index_t;

namespace hvp_test {

namespace {

// Norm-wise relative error ||a - b|| / ||b||.
double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, ref = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    ref += b[i] * b[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(ref), 1e-300);
}

// |u.Hv - v.Hu| relative to the larger of the two.
double asymmetry(const std::vector<double>& u, const std::vector<double>& hv, const std::vector<double>& v,
                 const std::vector<double>& hu) {
  const double a = test::dot(u, hv), b = test::dot(v, hu);
  return std::fabs(a - b) / std::max({std::fabs(a), std::fabs(b), 1e-300});
}

// The reference every exact product is checked against, written independently of the library's fallback:
// (g(x + h v) - g(x - h v)) / 2h with `gradient(x)` returning the gradient at x.
using GradientFn = std::function<std::vector<double>(const std::vector<double>&)>;
std::vector<double> central_difference_hvp(const GradientFn& gradient, const std::vector<double>& x,
                                           const std::vector<double>& v, double h = 1e-5) {
  std::vector<double> up = x, down = x;
  for (std::size_t i = 0; i < x.size(); ++i) {
    up[i] += h * v[i];
    down[i] -= h * v[i];
  }
  const auto g_up = gradient(up), g_down = gradient(down);
  std::vector<double> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = (g_up[i] - g_down[i]) / (2 * h);
  return out;
}

constexpr double hvp_tolerance = 1e-6;

}  // namespace

TEST_CASE("Bradley-Terry reward Hessian product matches finite differences, with margins and centering",
          "[hvp][loss]") {
  cpu::context ctx;
  Rng rng(63);
  for (double centering : {0.0, 0.3}) {
    for (bool with_margins : {false, true}) {
      const index_t n = 7;
      const BradleyTerryLoss loss(centering);
      const auto rewards = test::random_vector<double>(rng, 2 * n, 2.0);
      const auto margins = with_margins ? test::random_vector<double>(rng, n, 0.5) : std::vector<double>{};
      auto gradient = [&](const std::vector<double>& r) {
        std::vector<double> d(r.size());
        loss.value_and_gradient<cpu, double>(ctx, test::view(r), test::view(margins), test::view(d));
        return d;
      };
      auto exact = [&](const std::vector<double>& t) {
        std::vector<double> out(t.size());
        loss.hessian_product<cpu, double>(ctx, test::view(rewards), test::view(margins), test::view(t), test::view(out));
        return out;
      };
      const auto t = test::random_vector<double>(rng, 2 * n), u = test::random_vector<double>(rng, 2 * n);
      const auto ht = exact(t), hu = exact(u);
      const double error = relative_error(ht, central_difference_hvp(gradient, rewards, t));
      INFO("bradley-terry, centering " << centering << ", margins " << with_margins << ": relative error " << error
                                       << ", asymmetry " << asymmetry(u, ht, t, hu));
      CHECK(error < hvp_tolerance);
      CHECK(asymmetry(u, ht, t, hu) < 1e-12);
    }
  }
}

TEST_CASE("difference objective reward Hessian product matches finite differences for mixed k", "[hvp][loss]") {
  cpu::context ctx;
  Rng rng(64);
  const DifferenceObjective objective;
  const std::vector<index_t> offsets{0, 2, 5, 10, 14};  // k = 2, 3, 5, 4
  const auto rewards = test::random_vector<double>(rng, 14, 1.5);
  auto gradient = [&](const std::vector<double>& r) {
    std::vector<double> d(r.size());
    objective.value_and_gradient<cpu, double>(ctx, test::view(r), test::view(offsets), test::view(d));
    return d;
  };
  auto exact = [&](const std::vector<double>& t) {
    std::vector<double> out(t.size());
    objective.hessian_product<cpu, double>(ctx, test::view(rewards), test::view(offsets), test::view(t), test::view(out));
    return out;
  };
  const auto t = test::random_vector<double>(rng, 14), u = test::random_vector<double>(rng, 14);
  const auto ht = exact(t), hu = exact(u);
  const double error = relative_error(ht, central_difference_hvp(gradient, rewards, t));
  INFO("difference objective: relative error " << error << ", asymmetry " << asymmetry(u, ht, t, hu));
  CHECK(error < hvp_tolerance);
  CHECK(asymmetry(u, ht, t, hu) < 1e-12);

  // Equal rewards sit on the kink of |d|: the product there is zero, like the subgradient.
  const std::vector<double> tied{0.5, 0.5, 0.5};
  std::vector<double> out(3, 7.0);
  const std::vector<index_t> one_prompt{0, 3};
  objective.hessian_product<cpu, double>(ctx, test::view(tied), test::view(one_prompt), test::view(t).segment(0, 3),
                                         test::view(out));
  CHECK(out == std::vector<double>{0.0, 0.0, 0.0});
}

TEST_CASE("loss Hessian products reject mismatched sizes, naming the argument", "[hvp][loss][errors]") {
  cpu::context ctx;
  const std::vector<double> r{1, 2, 3, 4}, t3{1, 2, 3};
  std::vector<double> out(4);
  test::require_error_naming(
      [&] { BradleyTerryLoss().hessian_product<cpu, double>(ctx, test::view(r), {}, test::view(t3), test::view(out)); },
      {"BradleyTerryLoss::hessian_product", "'tangent'"});
  const std::vector<index_t> offsets{0, 4};
  test::require_error_naming(
      [&] {
        DifferenceObjective().hessian_product<cpu, double>(ctx, test::view(r), test::view(offsets), test::view(t3),
                                                           test::view(out));
      },
      {"DifferenceObjective::hessian_product", "'tangent'"});
}

namespace {

struct ModelProblem {
  PreferenceSet<double> pairs;
  MetaSet<double> meta;
  PreferenceBatchBuffer<double, cpu> pair_buffer;
  MetaBatchBuffer<double, cpu> meta_buffer;
  PreferenceBatch<double> pair_batch;
  MetaBatch<double> meta_batch;

  ModelProblem(index_t d, std::uint64_t seed, bool margins) : pairs(d) {
    Rng rng(seed);
    meta = test::random_meta<double>(rng, d, 5, {2, 3, 4});
    for (index_t i = 0; i < 6; ++i) {
      const auto a = test::random_vector<double>(rng, d), b = test::random_vector<double>(rng, d);
      if (margins) {
        pairs.add(a, b, rng.uniform(0.0, 0.5));
      } else {
        pairs.add(a, b);
      }
    }
    cpu::context ctx;
    std::vector<index_t> idx(6);
    std::iota(idx.begin(), idx.end(), 0);
    pair_batch = pair_buffer.gather(ctx, pairs, idx);
    meta_batch = meta_buffer.gather(ctx, meta, std::span<const index_t>(idx.data(), 5));
  }
};

// The worst relative error of exact model HVPs of L and of J, checked against central differences of the
// library's gradients, plus symmetry.
template <class Model>
double check_model_hvp(const Model& model, const char* label, double centering = 0.1) {
  Rng rng(65);
  cpu::context ctx;
  const index_t d = model.input_dim();
  ModelProblem problem(d, 66, true);
  const BradleyTerryLoss loss(centering);
  const DifferenceObjective objective;
  std::vector<double> params(static_cast<std::size_t>(model.parameter_count()));
  Rng init(3);
  model.initialize(params, init);
  for (auto& p : params) p *= 2.0;  // larger weights: the nonlinearities' curvature shows
  auto ws = model.template make_workspace<cpu>(16);
  std::vector<double> d_rewards(16);

  double worst = 0.0;
  for (int which = 0; which < 2; ++which) {
    const char* name = which == 0 ? "preference loss" : "difference objective";
    auto gradient = [&](const std::vector<double>& at) {
      std::vector<double> g(at.size());
      if (which == 0) {
        preference_loss_and_gradient<cpu>(ctx, model, loss, test::view(at), problem.pair_batch, ws,
                                          test::view(d_rewards), test::view(g));
      } else {
        difference_objective_and_gradient<cpu>(ctx, model, objective, test::view(at), problem.meta_batch, ws,
                                               test::view(d_rewards), test::view(g));
      }
      return g;
    };
    auto exact = [&](const std::vector<double>& v) {
      std::vector<double> hv(v.size(), 123.0);  // overwritten, not accumulated
      if (which == 0) {
        preference_loss_hvp<cpu>(ctx, model, loss, test::view(params), problem.pair_batch, ws, test::view(d_rewards),
                                 test::view(v), test::view(hv));
      } else {
        difference_objective_hvp<cpu>(ctx, model, objective, test::view(params), problem.meta_batch, ws,
                                      test::view(d_rewards), test::view(v), test::view(hv));
      }
      return hv;
    };
    const auto v = test::random_vector<double>(rng, model.parameter_count());
    const auto u = test::random_vector<double>(rng, model.parameter_count());
    const auto hv = exact(v), hu = exact(u);
    const double error = relative_error(hv, central_difference_hvp(gradient, params, v));
    INFO(label << ", " << name << ": relative error " << error << ", asymmetry " << asymmetry(u, hv, v, hu));
    CHECK(error < hvp_tolerance);
    CHECK(asymmetry(u, hv, v, hu) < 1e-10);
    worst = std::max(worst, error);
  }
  return worst;
}

}  // namespace

TEST_CASE("3-layer MLP: exact HVPs of L and J match finite differences and are symmetric, every activation",
          "[hvp][model][grad]") {
  const index_t d = 5;
  const double relu = check_model_hvp(Mlp<ReLU, double>(d, {7, 4}), "mlp<relu>(5,7,4,1)");
  const double tanh = check_model_hvp(Mlp<Tanh, double>(d, {7, 4}), "mlp<tanh>(5,7,4,1)");
  const double gelu = check_model_hvp(Mlp<GELU, double>(d, {7, 4}), "mlp<gelu>(5,7,4,1)");
  const double identity = check_model_hvp(Mlp<Identity, double>(d, {7, 4}), "mlp<identity>(5,7,4,1)");
  const double deep = check_model_hvp(Mlp<Tanh, double>(d, {6, 5, 4}), "mlp<tanh>(5,6,5,4,1)", 0.0);
  const double linear = check_model_hvp(LinearModel<double>(d), "linear(5,1)");
  INFO("worst relative errors: relu " << relu << ", tanh " << tanh << ", gelu " << gelu << ", identity " << identity
                                      << ", 4-layer tanh " << deep << ", linear " << linear);
  CHECK(std::max({relu, tanh, gelu, identity, deep, linear}) < hvp_tolerance);
}

TEST_CASE("Mlp::hvp accumulates into hv and keeps its tangent buffers through a larger batch", "[hvp][model]") {
  Rng rng(67);
  cpu::context ctx;
  const Mlp<GELU, double> model(3, {4});
  const auto params = test::random_vector<double>(rng, model.parameter_count());
  const auto v = test::random_vector<double>(rng, model.parameter_count());
  auto ws = model.make_workspace<cpu>(2);
  const auto d_rewards = test::random_vector<double>(rng, 8);
  auto product = [](VectorView<const double> t, VectorView<double> out) {
    for (index_t i = 0; i < t.size; ++i) out[i] = 2.0 * t[i];
  };
  for (index_t n : {2, 8, 3}) {  // grows past the workspace's first capacity, then shrinks
    const auto x = test::random_vector<double>(rng, 3 * n);
    model.forward<cpu>(ctx, test::view(params), test::matrix(x, 3, n), ws);
    std::vector<double> once(params.size(), 0.0), twice(params.size(), 0.0);
    const VectorView<const double> dr{d_rewards.data(), n};
    model.hvp<cpu>(ctx, test::view(params), test::matrix(x, 3, n), ws, test::view(v), dr, product, test::view(once));
    model.hvp<cpu>(ctx, test::view(params), test::matrix(x, 3, n), ws, test::view(v), dr, product, test::view(twice));
    model.hvp<cpu>(ctx, test::view(params), test::matrix(x, 3, n), ws, test::view(v), dr, product, test::view(twice));
    for (std::size_t i = 0; i < once.size(); ++i) CHECK(twice[i] == Approx(2 * once[i]).epsilon(1e-12));
    // After a backward pass with another reward derivative, hvp must not reuse that pass's gradients.
    std::vector<double> grad(params.size(), 0.0), after_backward(params.size(), 0.0);
    const auto other = test::random_vector<double>(rng, n);
    model.backward<cpu>(ctx, test::view(params), test::matrix(x, 3, n), ws, test::view(other), test::view(grad));
    model.hvp<cpu>(ctx, test::view(params), test::matrix(x, 3, n), ws, test::view(v), dr, product,
                   test::view(after_backward));
    CHECK(after_backward == once);
    // With the same one it may, and the product is the same.
    model.backward<cpu>(ctx, test::view(params), test::matrix(x, 3, n), ws, dr, test::view(grad));
    std::fill(after_backward.begin(), after_backward.end(), 0.0);
    model.hvp<cpu>(ctx, test::view(params), test::matrix(x, 3, n), ws, test::view(v), dr, product,
                   test::view(after_backward));
    CHECK(after_backward == once);
  }
  const std::vector<double> short_v(3);
  std::vector<double> hv(params.size());
  test::require_error_naming(
      [&] {
        model.hvp<cpu>(ctx, test::view(params), test::matrix(std::vector<double>(9), 3, 3), ws, test::view(short_v),
                       VectorView<const double>{d_rewards.data(), 3}, product, test::view(hv));
      },
      {"mlp<gelu>(3,4,1) hvp", "'v'"});
}

namespace {

// A user's model without an hvp member: it forwards everything else to an Mlp.
struct PlainModel {
  using scalar_type = double;
  template <class Backend>
  using workspace = Mlp<Tanh, double>::workspace<Backend>;

  Mlp<Tanh, double> inner;

  const Layout& layout() const { return inner.layout(); }
  index_t input_dim() const { return inner.input_dim(); }
  std::string describe() const { return "plain-model"; }
  void initialize(std::span<double> params, Rng& rng) const { inner.initialize(params, rng); }
  template <class Backend>
  workspace<Backend> make_workspace(index_t capacity) const {
    return inner.make_workspace<Backend>(capacity);
  }
  template <class Backend, class Input>
  VectorView<const double> forward(typename Backend::context& ctx, VectorView<const double> params, const Input& x,
                                   workspace<Backend>& ws) const {
    return inner.forward<Backend>(ctx, params, x, ws);
  }
  template <class Backend, class Input>
  void backward(typename Backend::context& ctx, VectorView<const double> params, const Input& x, workspace<Backend>& ws,
                VectorView<const double> d_rewards, VectorView<double> grad) const {
    inner.backward<Backend>(ctx, params, x, ws, d_rewards, grad);
  }
};

static_assert(HasExactHvp<Mlp<ReLU, float>, cpu>);
static_assert(HasExactHvp<LinearModel<double>, cpu>);
static_assert(!HasExactHvp<PlainModel, cpu>);

template <class Model>
StepContext<Model, Sgd, cpu> make_context(Model model, ModelProblem& problem) {
  StepContext<Model, Sgd, cpu> context(std::move(model), Sgd{}, StepOptions{.centering = 0.05}, cpu::context{});
  std::vector<double> params(static_cast<std::size_t>(context.parameter_count()));
  Rng init(5);
  context.model().initialize(params, init);
  std::copy(params.begin(), params.end(), context.params().data);
  context.set_batches(problem.pair_batch, problem.meta_batch);
  return context;
}

}  // namespace

TEST_CASE("StepContext HVPs: exact, finite differences, and the fallback for a model without hvp agree",
          "[hvp][grad]") {
  const index_t d = 4;
  ModelProblem problem(d, 68, false);
  auto with_hvp = make_context(Mlp<Tanh, double>(d, {6, 3}), problem);
  auto without_hvp = make_context(PlainModel{Mlp<Tanh, double>(d, {6, 3})}, problem);
  static_assert(decltype(with_hvp)::has_exact_hvp);
  static_assert(!decltype(without_hvp)::has_exact_hvp);
  Rng rng(69);
  const auto v = test::random_vector<double>(rng, with_hvp.parameter_count());
  const auto n = v.size();
  for (int which = 0; which < 2; ++which) {
    std::vector<double> exact(n), fd(n), fallback(n), automatic(n);
    auto run = [&](auto& context, std::vector<double>& out, HvpOptions options) {
      if (which == 0) {
        context.preference_hvp(context.params(), test::view(v), test::view(out), options);
      } else {
        context.difference_hvp(context.params(), test::view(v), test::view(out), options);
      }
    };
    run(with_hvp, exact, {.method = HvpMethod::exact});
    run(with_hvp, fd, {.method = HvpMethod::finite_difference});
    run(without_hvp, fallback, {});
    run(with_hvp, automatic, {});
    const char* name = which == 0 ? "preference_hvp" : "difference_hvp";
    INFO(name << ": finite differences vs exact " << relative_error(fd, exact) << ", fallback vs exact "
              << relative_error(fallback, exact));
    CHECK(relative_error(fd, exact) < hvp_tolerance);
    CHECK(relative_error(fallback, exact) < hvp_tolerance);
    CHECK(automatic == exact);  // automatic picks the exact product when the model has one
    CHECK(fallback == fd);      // and finite differences when it does not
  }
  std::vector<double> out(n);
  test::require_error_naming(
      [&] {
        without_hvp.preference_hvp(without_hvp.params(), test::view(v), test::view(out), {.method = HvpMethod::exact});
      },
      {"StepContext::preference_hvp", "HvpMethod::exact", "plain-model", "hvp"});
  test::require_error_naming(
      [&] { with_hvp.difference_hvp(with_hvp.params(), test::view(v), with_hvp.params()); }, {"must not alias"});
  test::require_error_naming(
      [&] { with_hvp.preference_hvp(with_hvp.params(), test::view(v), test::view(out), {.finite_difference_step = -1}); },
      {"finite_difference_step"});
}

TEST_CASE("finite-difference HVP in float stays close to the exact product", "[hvp][grad]") {
  Rng rng(70);
  cpu::context ctx;
  const index_t d = 6;
  const Mlp<Tanh, float> model(d, {8, 8});
  PreferenceSet<float> pairs(d);
  for (int i = 0; i < 16; ++i) pairs.add(test::random_vector<float>(rng, d), test::random_vector<float>(rng, d));
  PreferenceBatchBuffer<float, cpu> buffer;
  std::vector<index_t> idx(16);
  std::iota(idx.begin(), idx.end(), 0);
  const auto batch = buffer.gather(ctx, pairs, idx);
  const BradleyTerryLoss loss;
  std::vector<float> params(static_cast<std::size_t>(model.parameter_count()));
  Rng init(1);
  model.initialize(params, init);
  auto ws = model.make_workspace<cpu>(32);
  std::vector<float> d_rewards(32), point(params.size()), scratch(params.size()), exact(params.size()),
      fd(params.size());
  const auto v = test::random_vector<float>(rng, model.parameter_count());
  preference_loss_hvp<cpu>(ctx, model, loss, test::view(std::as_const(params)), batch, ws, test::view(d_rewards),
                           test::view(v), test::view(exact));
  finite_difference_hvp<cpu, float>(
      ctx,
      [&](VectorView<const float> at, VectorView<float> g) {
        preference_loss_and_gradient<cpu>(ctx, model, loss, at, batch, ws, test::view(d_rewards), g);
      },
      test::view(std::as_const(params)), test::view(v), test::view(point), test::view(scratch), test::view(fd));
  const std::vector<double> exact_d(exact.begin(), exact.end()), fd_d(fd.begin(), fd.end());
  const double error = relative_error(fd_d, exact_d);
  INFO("float finite differences vs exact: relative error " << error);
  CHECK(error < 1e-2);
}

namespace {

// Forwards everything, hvp included, to an Mlp and counts forward passes.
struct CountingModel : PlainModel {
  std::shared_ptr<int> forwards = std::make_shared<int>(0);

  template <class Backend, class Input>
  VectorView<const double> forward(typename Backend::context& ctx, VectorView<const double> params, const Input& x,
                                   workspace<Backend>& ws) const {
    ++*forwards;
    return inner.forward<Backend>(ctx, params, x, ws);
  }
  template <class Backend, class Input, class Product>
  void hvp(typename Backend::context& ctx, VectorView<const double> params, const Input& x, workspace<Backend>& ws,
           VectorView<const double> v, VectorView<const double> d_rewards, Product&& product,
           VectorView<double> hv) const {
    inner.hvp<Backend>(ctx, params, x, ws, v, d_rewards, product, hv);
  }
};

}  // namespace

TEST_CASE("an exact HVP reuses the forward pass of the last gradient at the same point and batch, and only then",
          "[hvp][grad]") {
  const index_t d = 4;
  ModelProblem problem(d, 71, true);
  ModelProblem other(d, 72, true);
  CountingModel model{PlainModel{Mlp<Tanh, double>(d, {5, 3})}};
  auto context = make_context(model, problem);
  static_assert(decltype(context)::has_exact_hvp);
  const int& forwards = *model.forwards;
  Rng rng(73);
  const auto n = static_cast<std::size_t>(context.parameter_count());
  const auto v = test::random_vector<double>(rng, context.parameter_count());
  std::vector<double> theta(context.params().data, context.params().data + n), grad(n), first(n), again(n);

  // Nothing to reuse before an objective's first product: until then its gradients keep no copy of their point.
  context.difference_objective_and_gradient(test::view(std::as_const(theta)), test::view(grad));
  context.preference_loss_and_gradient(test::view(std::as_const(theta)), test::view(grad));
  int before = forwards;
  context.difference_hvp(context.params(), test::view(v), test::view(first));
  context.preference_hvp(context.params(), test::view(v), test::view(again));
  CHECK(forwards == before + 2);

  // Gradient at the same point (another copy of it), a preference pass in between: the product reuses.
  context.difference_objective_and_gradient(test::view(std::as_const(theta)), test::view(grad));
  context.preference_loss_and_gradient(context.params(), test::view(grad));
  before = forwards;
  context.difference_hvp(context.params(), test::view(v), test::view(again));
  CHECK(forwards == before);
  CHECK(again == first);
  context.preference_hvp(context.params(), test::view(v), test::view(again));
  CHECK(forwards == before);

  // A point that differs in one bit is recomputed, and gives its own product.
  context.difference_objective_and_gradient(test::view(std::as_const(theta)), test::view(grad));
  std::vector<double> moved = theta;
  moved[3] = std::nextafter(moved[3], 1.0);
  before = forwards;
  context.difference_hvp(test::view(std::as_const(moved)), test::view(v), test::view(again));
  CHECK(forwards == before + 1);
  CHECK(again != first);

  // A value-only pass overwrites the workspace; new batches invalidate everything.
  context.difference_objective_and_gradient(test::view(std::as_const(theta)), test::view(grad));
  context.difference_objective(test::view(std::as_const(moved)));
  before = forwards;
  context.difference_hvp(context.params(), test::view(v), test::view(again));
  CHECK(forwards == before + 1);
  CHECK(again == first);
  context.preference_loss_and_gradient(context.params(), test::view(grad));
  context.set_batches(other.pair_batch, other.meta_batch);
  before = forwards;
  context.preference_hvp(context.params(), test::view(v), test::view(again));
  CHECK(forwards == before + 1);
}

namespace sparse_input {

// A minimal compressed-column input with the two overloads Dense reaches its input through, as a sparse
// feature type provides them: exact HVPs need nothing more from it.
struct Columns {
  index_t rows = 0;
  index_t cols = 0;
  std::vector<index_t> starts;  // cols + 1 offsets into rows_of / values
  std::vector<index_t> rows_of;
  std::vector<double> values;
};

template <class Backend, class T>
void input_product(typename Backend::context&, MatrixView<const T> weight, const Columns& x, MatrixView<T> z) {
  for (index_t j = 0; j < x.cols; ++j) {
    for (index_t i = 0; i < z.rows; ++i) z(i, j) = 0;
    for (index_t k = x.starts[j]; k < x.starts[j + 1]; ++k) {
      for (index_t i = 0; i < z.rows; ++i) z(i, j) += weight(i, x.rows_of[k]) * x.values[k];
    }
  }
}

template <class Backend, class T>
void accumulate_weight_gradient(typename Backend::context&, MatrixView<const T> dz, const Columns& x,
                                MatrixView<T> d_weight) {
  for (index_t j = 0; j < x.cols; ++j) {
    for (index_t k = x.starts[j]; k < x.starts[j + 1]; ++k) {
      for (index_t i = 0; i < dz.rows; ++i) d_weight(i, x.rows_of[k]) += dz(i, j) * x.values[k];
    }
  }
}

}  // namespace sparse_input

TEST_CASE("an input type with its own input_product and accumulate_weight_gradient gets exact HVPs unchanged",
          "[hvp][model]") {
  Rng rng(74);
  cpu::context ctx;
  const index_t d = 12, n = 6;
  sparse_input::Columns sparse{d, n, {0}, {}, {}};
  std::vector<double> dense(static_cast<std::size_t>(d * n), 0.0);
  for (index_t j = 0; j < n; ++j) {
    for (index_t r = j % 3; r < d; r += 4) {  // three nonzeros per column
      const double value = rng.normal();
      sparse.rows_of.push_back(r);
      sparse.values.push_back(value);
      dense[static_cast<std::size_t>(r + j * d)] = value;
    }
    sparse.starts.push_back(static_cast<index_t>(sparse.values.size()));
  }
  const Mlp<GELU, double> model(d, {5, 4});
  const auto params = test::random_vector<double>(rng, model.parameter_count(), 0.5);
  const auto v = test::random_vector<double>(rng, model.parameter_count());
  const auto d_rewards = test::random_vector<double>(rng, n);
  auto product = [](VectorView<const double> t, VectorView<double> out) {
    for (index_t i = 0; i < t.size; ++i) out[i] = 0.5 * t[i];
  };
  auto ws = model.make_workspace<cpu>(n);
  std::vector<double> from_sparse(params.size(), 0.0), from_dense(params.size(), 0.0);
  model.forward<cpu>(ctx, test::view(params), sparse, ws);
  model.hvp<cpu>(ctx, test::view(params), sparse, ws, test::view(v), test::view(d_rewards), product,
                 test::view(from_sparse));
  model.forward<cpu>(ctx, test::view(params), test::matrix(dense, d, n), ws);
  model.hvp<cpu>(ctx, test::view(params), test::matrix(dense, d, n), ws, test::view(v), test::view(d_rewards), product,
                 test::view(from_dense));
  static_assert(HasExactHvp<Mlp<GELU, double>, cpu, sparse_input::Columns>);
  double diff = 0, ref = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    diff = std::max(diff, std::fabs(from_sparse[i] - from_dense[i]));
    ref = std::max(ref, std::fabs(from_dense[i]));
  }
  INFO("max |sparse - dense| " << diff << " of max |Hv| " << ref);
  CHECK(diff <= 1e-13 * ref);
}

}  // namespace hvp_test
