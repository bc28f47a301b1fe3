// SPDX-License-Identifier: Apache-2.0
// Trains every learner of metarm/learner/precompiled.hpp, and learners of a strategy of its own on the same step
// contexts, for a few steps and prints their parameters exactly (hexadecimal floating point), one block each. Built twice, once linking metarm::precompiled and once compiling the learners
// from the headers; precompiled_check.cmake runs both and requires the same output, and that the first
// program's object defines none of the learners' training code.
#include <cmath>
#include <cstdio>
#include <string_view>
#include <vector>

#include <metarm/metarm.hpp>

// The header-compiled program (METARM_TEST_ADAM_ONLY) trains the Adam learners only: compiling all of them from
// the headers would take as long as the library itself, and the other optimisers run the same learner code.
#if defined(METARM_TEST_ADAM_ONLY)
#undef METARM_PRECOMPILED_OPTIMIZERS
#define METARM_PRECOMPILED_OPTIMIZERS(X, scalar, strategy) X(scalar, strategy, Adam)
#endif

namespace {

template <class T>
struct Problem {
  metarm::PreferenceSet<T> pairs{6};
  metarm::MetaSet<T> meta{6};

  Problem() {
    metarm::Rng rng(11);
    std::vector<T> chosen(6), rejected(6), responses(6 * 3);
    for (int i = 0; i < 48; ++i) {
      for (int f = 0; f < 6; ++f) {
        rejected[f] = static_cast<T>(rng.normal());
        chosen[f] = rejected[f] + static_cast<T>(f == 0 ? 1.0 : 0.2 * rng.normal());
      }
      pairs.add(chosen, rejected);
    }
    for (int p = 0; p < 16; ++p) {
      for (T& x : responses) x = static_cast<T>(rng.normal());
      meta.add_prompt(responses);
    }
  }
};

template <class Learner>
void train_and_print(const char* name, Learner learner, const Problem<typename Learner::scalar_type>& problem) {
  using T = typename Learner::scalar_type;
  metarm::FitOptions<T> fit;
  fit.epochs = 2;
  fit.batch_size = 8;
  fit.meta_batch_size = 4;
  const metarm::FitResult result = learner.fit(problem.pairs, &problem.meta, fit);
  const metarm::Metrics metrics = learner.evaluate(problem.pairs, &problem.meta);
  std::printf("%s: %lld steps, loss %a, J %a\n", name, static_cast<long long>(result.steps), metrics.at("loss"),
              metrics.at("difference_objective"));
  const std::vector<T> parameters = learner.parameters();
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const bool line_end = i % 8 == 7 || i + 1 == parameters.size();
    std::printf("%a%c", static_cast<double>(parameters[i]), line_end ? '\n' : ' ');
  }
  std::printf("\n");
}

// A strategy of the program's own: its learner is compiled here, its step context comes from the library.
struct CurvedDescent {
  static constexpr std::string_view name = "curved-descent";
  double lambda = 0.3;

  template <class Step>
  metarm::StepStats step(Step& s) {
    using T = typename Step::scalar_type;
    metarm::StepStats stats;
    auto grad = s.scratch("gradient"), ascent = s.scratch("grad J"), curved = s.scratch("H_L grad J");
    stats.loss = s.preference_loss_and_gradient(s.params(), grad);
    stats.objective = s.meta_objective_and_gradient(s.params(), ascent);
    s.preference_hvp(s.params(), ascent, curved);
    s.axpy(T(lambda), curved, grad);
    stats.grad_norm = s.apply_update(grad);
    return stats;
  }
};

template <class Strategy>
Strategy make_strategy() {
  if constexpr (std::is_same_v<Strategy, metarm::Vanilla>) {
    return Strategy{};
  } else {
    return Strategy(0.5);
  }
}

}  // namespace

int main() try {
  const Problem<float> problem_float;
  const Problem<double> problem_double;
#define METARM_TEST_TRAIN(scalar, strategy, optimizer)                                                          \
  train_and_print(#scalar " " #strategy " " #optimizer,                                                         \
                  METARM_PRECOMPILED_LEARNER_TYPE(scalar, strategy, optimizer)(                                \
                      metarm::Mlp<metarm::ReLU, scalar>(6, {8}), make_strategy<metarm::strategy>(),            \
                      metarm::optimizer{.learning_rate = 0.01}, metarm::LearnerOptions{.seed = 3}),            \
                  problem_##scalar);
  METARM_PRECOMPILED_LEARNERS(METARM_TEST_TRAIN)
#define METARM_TEST_TRAIN_OWN(scalar, strategy, optimizer)                                                     \
  train_and_print(#scalar " CurvedDescent " #optimizer,                                                        \
                  metarm::MetaLearner(metarm::Mlp<metarm::ReLU, scalar>(6, {8}), CurvedDescent{},              \
                                      metarm::optimizer{.learning_rate = 0.01}, metarm::LearnerOptions{.seed = 3}), \
                  problem_##scalar);
  METARM_PRECOMPILED_OPTIMIZERS(METARM_TEST_TRAIN_OWN, float, Vanilla)
  METARM_PRECOMPILED_OPTIMIZERS(METARM_TEST_TRAIN_OWN, double, Vanilla)
  return 0;
} catch (const metarm::Error& e) {
  std::fprintf(stderr, "precompiled learners: %s\n", e.what());
  return 1;
}
