// SPDX-License-Identifier: Apache-2.0
#include <cstdio>

#include <metarm/metarm.hpp>
#ifdef METARM_CONSUMER_IO
#include <metarm/io.hpp>
#endif

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
#ifdef METARM_CONSUMER_IO
  // Featurise text, and round-trip the trained learner through a checkpoint in memory.
  const TextFeaturizer featurizer(FeaturizerSettings{.bits = 8});
  if (featurizer.featurize("", "hello world").rows.empty()) {
    std::printf("consumer failed: no text features\n");
    return 1;
  }
  SafetensorsWriter writer;
  const auto params = learner.parameters();
  writer.add<float>("params", {static_cast<std::int64_t>(params.size())}, params);
  const auto read = SafetensorsFile::parse("memory", writer.serialize()).values<float>("params");
  if (read != params) {
    std::printf("consumer failed: safetensors round trip\n");
    return 1;
  }
  std::printf("consumer ok: metarm %s with io\n", std::string(metarm::version).c_str());
#else
  std::printf("consumer ok: metarm %s\n", std::string(metarm::version).c_str());
#endif
  return 0;
}
