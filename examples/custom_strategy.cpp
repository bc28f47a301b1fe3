// A strategy written outside the library: the "dot-product" reading of MetaRM.
//
// A first-order expansion of MetaRM's meta-objective gives L(theta + eta grad J) ~ L + eta grad L . grad J,
// so one may minimise  F(theta) = L(theta) + eta * grad L(theta) . grad J(theta)  directly. Its gradient is
//   grad F = grad L + eta (H_L grad J + H_J grad L),
// and each Hessian-vector product is the change of a gradient along a direction, so to first order in eta
//   grad F ~ grad L(theta + eta grad J) + grad J(theta + eta grad L) - grad J(theta).
// Three gradient evaluations and no second derivatives: the first term is exactly MetaRM's update, the other
// two add the curvature of J that first-order MetaRM leaves out.
#include <cstdio>

#include <metarm/metarm.hpp>

#include "synthetic_shift.hpp"

struct DotProductMetaRM {
  static constexpr std::string_view name = "dot-product";
  double eta = 0.5;

  template <class Step>
  metarm::StepStats step(Step& s) {
    using T = typename Step::scalar_type;
    metarm::StepStats stats;
    auto theta = s.params();
    auto grad_j = s.scratch(0), grad_l = s.scratch(1), point = s.scratch(2), update = s.scratch(3);

    stats.objective = s.difference_objective_and_gradient(theta, grad_j);  // grad J(theta)
    s.preference_loss_and_gradient(theta, grad_l);                         // grad L(theta)

    s.copy(theta, point);  // grad L(theta + eta grad J)
    s.axpy(T(eta), grad_j, point);
    stats.loss = s.preference_loss_and_gradient(point, update);

    s.axpy(T(-1), grad_j, update);  // - grad J(theta)
    s.copy(theta, point);           // + grad J(theta + eta grad L)
    s.axpy(T(eta), grad_l, point);
    s.difference_objective_and_gradient(point, grad_j);
    s.axpy(T(1), grad_j, update);

    stats.grad_norm = s.apply_update(update);
    return stats;
  }
};

int main() {
  using namespace metarm;
  example::ShiftProblem problem(/*seed=*/7);
  const auto train = problem.pairs(4000, false);
  const auto shifted_test = problem.pairs(2000, true);
  const auto shifted_meta = problem.meta(1000, 4);

  MetaLearner learner(Mlp<ReLU>(example::ShiftProblem::dim, {32}), DotProductMetaRM{.eta = 0.5},
                      Adam{.learning_rate = 1e-3}, LearnerOptions{.seed = 1});
  const auto result = learner.fit(train, &shifted_meta, FitOptions<float>{.epochs = 5}, ProgressLine(stdout, 500));
  const Metrics m = learner.evaluate(shifted_test, &shifted_meta);
  std::printf("dot-product MetaRM after %lld steps: shifted accuracy %.4f, shifted J %.4f\n",
              static_cast<long long>(result.steps), m.at("accuracy"), m.at("difference_objective"));
}
