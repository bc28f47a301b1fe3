#include <cstdio>

#include <metarm/metarm.hpp>

int main() {
  using namespace metarm;
  PreferenceSet<float> pairs(2);
  pairs.add(std::vector<float>{1.0f, 0.0f}, std::vector<float>{0.0f, 1.0f});
  pairs.add(std::vector<float>{0.8f, 0.1f}, std::vector<float>{0.1f, 0.9f});
  MetaLearner learner(LinearModel<float>(2), Vanilla{}, Sgd{.learning_rate = 0.5f});
  learner.fit(pairs, nullptr, FitOptions<float>{.epochs = 20, .batch_size = 2});
  const double accuracy = learner.evaluate(pairs).at("accuracy");
  if (accuracy != 1.0) {
    std::printf("consumer failed: accuracy %.3f\n", accuracy);
    return 1;
  }
  std::printf("consumer ok: metarm %s\n", std::string(metarm::version).c_str());
  return 0;
}
