// SPDX-License-Identifier: Apache-2.0
// Writes what the PyTorch peer (benchmarks/peer/torch_step.py check) needs to replay metarm's training step:
// for each strategy (vanilla, metarm first order) x optimiser (SGD, Adam) x size (d, h), one safetensors file
// <dir>/<strategy>_<optimizer>_d<d>_h<h>.safetensors holding
//   initial.<block>, final.<block>   the parameters before and after `steps` steps, one row-major tensor per
//                                    layout block (hidden.<l>.weight is [out, in] like nn.Linear's weight)
//   chosen, rejected [n, d], meta [m*k, d]   the batches every step uses (meta: prompt p's k responses are
//                                    rows p*k .. p*k+k-1)
//   loss [steps]                     StepStats::loss of each step: L(theta), or L(theta') at MetaRM's adapted
//                                    point
//   objective [steps]                MetaRM only: J(theta) before each step
//   __metadata__                     d, h, n, m, k, steps, strategy, optimizer, lr, eta, model, library_version
// The model is Mlp<ReLU, float>(d, {h, h}) with LearnerOptions' defaults, as in step_benchmark.cpp, but with
// learning rates large enough that three steps move the parameters measurably.
//
// Usage: metarm_same_math OUTPUT_DIR
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include <metarm/io.hpp>

namespace {

using namespace metarm;

constexpr index_t n = 32, m = 32, k = 4;
constexpr int steps = 3;
constexpr double sgd_learning_rate = 1e-2, adam_learning_rate = 1e-3, eta = 1e-1;

std::string number_text(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", x);
  return text;
}

// The flat (column-major per block) parameter vector as one row-major tensor per block.
void add_parameters(SafetensorsWriter& writer, const std::string& prefix, const Layout& layout,
                    std::span<const float> flat) {
  for (const ParamBlock& b : layout.blocks()) {
    std::vector<float> tensor(static_cast<std::size_t>(b.size()));
    for (index_t i = 0; i < b.rows; ++i) {
      for (index_t j = 0; j < b.cols; ++j) {
        tensor[static_cast<std::size_t>(i * b.cols + j)] = flat[static_cast<std::size_t>(b.offset + i + j * b.rows)];
      }
    }
    std::vector<std::int64_t> shape{b.rows};
    if (b.cols != 1) shape.push_back(b.cols);
    writer.add<float>(prefix + b.name, shape, tensor);
  }
}

template <class Strategy, class Optimizer>
void write_case(const std::filesystem::path& dir, index_t d, index_t h, Strategy strategy, Optimizer optimizer,
                double strategy_eta) {
  // Standard normal features from a fixed seed: n chosen and n rejected columns, then m prompts of k.
  Rng rng(1);
  std::vector<float> chosen(static_cast<std::size_t>(n * d)), rejected(chosen.size());
  std::vector<float> meta_features(static_cast<std::size_t>(m * k * d));
  PreferenceSet<float> pairs(d);
  for (index_t i = 0; i < n; ++i) {
    const std::span<float> a(chosen.data() + i * d, static_cast<std::size_t>(d));
    const std::span<float> b(rejected.data() + i * d, static_cast<std::size_t>(d));
    for (auto& x : a) x = float(rng.normal());
    for (auto& x : b) x = float(rng.normal());
    pairs.add(a, b);
  }
  MetaSet<float> meta(d);
  for (index_t p = 0; p < m; ++p) {
    const std::span<float> block(meta_features.data() + p * k * d, static_cast<std::size_t>(k * d));
    for (auto& x : block) x = float(rng.normal());
    meta.add_prompt(block);  // column-major d x k: response j is rows p*k + j of the [m*k, d] tensor
  }

  cpu::context ctx;
  PreferenceBatchBuffer<float, cpu> pb;
  MetaBatchBuffer<float, cpu> mb;
  std::vector<index_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  const auto pair_batch = pb.gather(ctx, pairs, idx);
  const auto meta_batch = mb.gather(ctx, meta, idx);

  MetaLearner learner(Mlp<ReLU, float>(d, {h, h}), std::move(strategy), optimizer, LearnerOptions{});
  const Layout& layout = learner.step_context().layout();

  SafetensorsWriter writer;
  add_parameters(writer, "initial.", layout, learner.parameters());
  writer.add<float>("chosen", {n, d}, chosen);
  writer.add<float>("rejected", {n, d}, rejected);
  writer.add<float>("meta", {m * k, d}, meta_features);

  std::vector<double> losses, objectives;
  for (int s = 0; s < steps; ++s) {
    const StepStats stats = learner.step(pair_batch, meta_batch);
    losses.push_back(stats.loss);
    objectives.push_back(stats.objective);
  }
  add_parameters(writer, "final.", layout, learner.parameters());
  writer.add<double>("loss", {steps}, losses);
  const std::string strategy_name(Strategy::name);
  if (strategy_name == "metarm") writer.add<double>("objective", {steps}, objectives);

  const std::map<std::string, std::string> metadata{
      {"d", std::to_string(d)},
      {"h", std::to_string(h)},
      {"n", std::to_string(n)},
      {"m", std::to_string(m)},
      {"k", std::to_string(k)},
      {"steps", std::to_string(steps)},
      {"strategy", strategy_name},
      {"optimizer", std::string(Optimizer::name)},
      {"lr", number_text(optimizer.learning_rate)},
      {"eta", number_text(strategy_eta)},
      {"model", learner.model().describe()},
      {"library_version", std::string(version)},
  };
  for (const auto& [key, value] : metadata) writer.set_metadata(key, value);
  const auto path = dir / (strategy_name + "_" + std::string(Optimizer::name) + "_d" + std::to_string(d) + "_h" +
                           std::to_string(h) + ".safetensors");
  writer.write(path.string());
  std::printf("%s\n", path.string().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path dir(argv[1]);
    std::filesystem::create_directories(dir);
    for (const auto& [d, h] : {std::pair<index_t, index_t>{64, 64}, {768, 256}}) {
      write_case(dir, d, h, Vanilla{}, Sgd{.learning_rate = sgd_learning_rate}, 0.0);
      write_case(dir, d, h, Vanilla{}, Adam{.learning_rate = adam_learning_rate}, 0.0);
      write_case(dir, d, h, MetaRM({.eta = eta}), Sgd{.learning_rate = sgd_learning_rate}, eta);
      write_case(dir, d, h, MetaRM({.eta = eta}), Adam{.learning_rate = adam_learning_rate}, eta);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "metarm_same_math: %s\n", e.what());
    return 1;
  }
  return 0;
}
