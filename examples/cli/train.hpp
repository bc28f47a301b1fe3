// SPDX-License-Identifier: Apache-2.0
// metarm train: fit a reward model on text preference pairs (Vanilla or MetaRM) and save a checkpoint.
#pragma once

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "common.hpp"

namespace cli {

inline Arguments train_arguments() {
  Arguments a("train", {
      {"pairs", "FILE", "labelled preference pairs, JSONL (.gz): HH-RLHF transcripts or {prompt, chosen, rejected}", "", false, true},
      {"meta", "FILE", "unlabelled shifted-distribution responses: {prompt, responses: [...]} lines or pairs (labels dropped)", ""},
      {"strategy", "NAME", "vanilla or metarm", "vanilla"},
      {"eta", "X", "MetaRM ascent step size; bench-shift picks 100 most often for a linear model on hash:18 "
                   "features (docs/math.md, 'Choosing eta')", "100"},
      {"model", "SPEC", "linear, or mlp:H[,H...] with ReLU hidden layers", "linear"},
      {"features", "SPEC", "hash:BITS[,ngrams:N][,structure:0|1][,seed:S]", "hash:18"},
      {"epochs", "N", "passes over the pairs", "2"},
      {"batch", "N", "pairs per step", "16"},
      {"meta-batch", "N", "meta prompts per step (MetaRM)", "16"},
      {"lr", "X", "AdamW learning rate", "1e-3"},
      {"weight-decay", "X", "AdamW decoupled weight decay", "0"},
      {"clip", "X", "clip gradients to this global norm (0: off)", "0"},
      {"seed", "S", "initialisation and data order", "0"},
      {"threads", "T", "threads for dense matrix products (0: all cores)", "0"},
      {"out", "CKPT", "checkpoint to write (safetensors); rewritten at every epoch end", "", false, true},
      {"eval", "FILE", "held-out pairs evaluated at every epoch end; the first also sets the reward statistics", "", true},
      {"log", "FILE", "JSON lines of metrics (TRL names: loss, accuracy, margin, rewards/chosen, ..., eval_*)", ""},
      {"log-every", "N", "steps between training lines in --log", "10"},
      {"save-every", "N", "also checkpoint every N steps (0: only at epoch ends)", "0"},
      {"resume", "CKPT", "continue the run saved in CKPT (same data and settings; --epochs may grow)", ""},
      {"quiet", "", "no progress output", ""},
  });
  a.set_summary("--pairs FILE --out CKPT [options]",
                "Trains a reward model on text preference pairs with hashed n-gram features and writes a safetensors "
                "checkpoint holding the parameters, the optimiser state, the featuriser settings and reward statistics.");
  return a;
}

struct TrainSettings {
  std::string pairs_path, meta_path, out, log_path, resume;
  std::vector<std::string> eval_paths;
  std::string strategy;
  double eta = 100;
  ModelSpec model;
  metarm::FeaturizerSettings features;
  int epochs = 2;
  index_t batch = 16, meta_batch = 16;
  double lr = 1e-3, weight_decay = 0.0, clip = 0.0;
  std::uint64_t seed = 0;
  int threads = 0;
  std::int64_t log_every = 10, save_every = 0;
  bool quiet = false;
};

template <class Model, class Strategy>
int run_training(const TrainSettings& s, Model model, Strategy strategy) {
  using L = Learner<Model, Strategy>;
  constexpr bool uses_meta = metarm::strategy_uses_meta_batch<Strategy>();
  const metarm::TextFeaturizer featurizer(s.features);

  const auto train_text = load_pairs(s.pairs_path, s.quiet);
  const auto train = metarm::featurize_pairs(featurizer, train_text.pairs);
  metarm::SparseMetaSet<float> meta;
  if (uses_meta) {
    const auto prompts = metarm::read_text_prompts(s.meta_path);
    if (!s.quiet) std::fprintf(stderr, "read %zu meta prompts from %s\n", prompts.prompts.size(), s.meta_path.c_str());
    meta = metarm::featurize_prompts(featurizer, prompts.prompts);
  }
  std::vector<metarm::TextPairFile> eval_text;
  std::vector<metarm::SparsePreferenceSet<float>> eval_sets;
  for (const auto& path : s.eval_paths) {
    eval_text.push_back(load_pairs(path, s.quiet));
    eval_sets.push_back(metarm::featurize_pairs(featurizer, eval_text.back().pairs));
  }

  metarm::LearnerOptions options{.seed = s.seed, .step = {.clip_norm = s.clip}};
  L learner(model, std::move(strategy), metarm::AdamW{.learning_rate = s.lr, .weight_decay = s.weight_decay}, options,
            metarm::cpu::context(s.threads));

  const int direction = length_direction(train_text.pairs);
  std::map<std::string, std::string> metadata{
      {"featurizer", s.features.describe()},
      {"length_direction", direction > 0 ? "longer" : "shorter"},
      {"train.pairs", s.pairs_path},
      {"train.pair_count", std::to_string(train.size())},
      {"train.meta", uses_meta ? s.meta_path : ""},
      {"train.eta", uses_meta ? format_number(s.eta) : ""},
      {"train.epochs", std::to_string(s.epochs)},
      {"train.batch", std::to_string(s.batch)},
      {"train.meta_batch", std::to_string(s.meta_batch)},
      {"train.lr", format_number(s.lr)},
      {"train.weight_decay", format_number(s.weight_decay)},
      {"train.seed", std::to_string(s.seed)},
  };

  metarm::FitOptions<float, metarm::SparseInput<float>> fit{
      .epochs = s.epochs, .batch_size = s.batch, .meta_batch_size = s.meta_batch,
      .eval_pairs = eval_sets.empty() ? nullptr : &eval_sets.front()};
  metarm::FitState resume_state;
  if (!s.resume.empty()) {
    const auto checkpoint = metarm::Checkpoint::read(s.resume);
    if (checkpoint.value("featurizer") != s.features.describe()) {
      throw metarm::Error(s.resume, "was trained with features " + checkpoint.value("featurizer") + ", not " +
                                        s.features.describe());
    }
    checkpoint.restore_training_state(learner);
    resume_state = checkpoint.fit_state();
    fit.resume = &resume_state;
    if (!s.quiet) {
      std::fprintf(stderr, "resuming %s at epoch %d, step %lld\n", s.resume.c_str(), resume_state.epoch,
                   static_cast<long long>(resume_state.steps));
    }
  }

  OutputFile log(s.log_path, s.resume.empty() ? "w" : "a");
  metarm::ProgressBar progress(stderr);
  metarm::MetricsLog metrics_log(log.get() != nullptr ? log.get() : stderr, s.log_every);
  metarm::SaveCheckpoints<L> saver(learner, s.out, s.save_every, metadata);
  const metarm::FitResult result =
      learner.fit(train, uses_meta ? &meta : nullptr, fit, Maybe(s.quiet ? nullptr : &progress), saver,
                  Maybe(log.get() != nullptr ? &metrics_log : nullptr));

  // Reward statistics for normalising scores: on the first --eval set, else on the training pairs.
  const auto& stats_set = eval_sets.empty() ? train : eval_sets.front();
  const metarm::Metrics stats = learner.evaluate(stats_set);
  metadata["reward_mean"] = format_number(stats.at("rewards/mean"));
  metadata["reward_std"] = format_number(stats.at("rewards/std"));
  metadata["reward_stats_on"] = eval_sets.empty() ? s.pairs_path : s.eval_paths.front();
  metadata["train.stop"] = result.stop.describe();
  metarm::save_checkpoint(s.out, learner, metadata);

  std::printf("trained %s on %lld pairs: %lld steps, %s; checkpoint %s\n", learner.model().describe().c_str(),
              static_cast<long long>(train.size()), static_cast<long long>(result.steps), result.stop.describe().c_str(),
              s.out.c_str());
  const metarm::Metrics on_train = learner.evaluate(train);
  std::printf("  %-40s accuracy %.4f  loss %.4f\n", ("train " + s.pairs_path).c_str(), on_train.at("accuracy"),
              on_train.at("loss"));
  for (std::size_t i = 0; i < eval_sets.size(); ++i) {
    const metarm::Metrics m = learner.evaluate(eval_sets[i]);
    std::printf("  %-40s accuracy %.4f  loss %.4f  length-only %.4f\n", ("eval " + s.eval_paths[i]).c_str(),
                m.at("accuracy"), m.at("loss"), length_rule_accuracy(eval_text[i].pairs, direction));
  }
  return 0;
}

inline int train_command(int argc, char** argv) {
  Arguments a = train_arguments();
  if (!a.parse(argc, argv, 2)) return 0;
  TrainSettings s;
  s.pairs_path = a.get("pairs");
  s.meta_path = a.get("meta");
  s.out = a.get("out");
  s.log_path = a.get("log");
  s.resume = a.get("resume");
  s.eval_paths = a.all("eval");
  s.strategy = a.get("strategy");
  if (s.strategy != "vanilla" && s.strategy != "metarm") {
    throw UsageError("--strategy must be vanilla or metarm, got '" + s.strategy + "'");
  }
  if (s.strategy == "metarm" && s.meta_path.empty()) throw UsageError("--strategy metarm needs --meta FILE");
  if (s.strategy == "vanilla" && !s.meta_path.empty()) throw UsageError("--meta is only used by --strategy metarm");
  s.eta = a.number("eta", 0.0, 1e9);
  s.model = ModelSpec::parse(a.get("model"));
  try {
    s.features = metarm::FeaturizerSettings::parse(a.get("features"));
  } catch (const metarm::Error& e) {
    throw UsageError("--features: " + e.message());
  }
  s.epochs = static_cast<int>(a.integer("epochs", 1, 1000000));
  s.batch = a.integer("batch", 1, 1 << 24);
  s.meta_batch = a.integer("meta-batch", 1, 1 << 24);
  s.lr = a.number("lr", 0.0, 1e6);
  s.weight_decay = a.number("weight-decay", 0.0, 1e6);
  s.clip = a.number("clip", 0.0, 1e30);
  s.seed = static_cast<std::uint64_t>(a.integer("seed", 0, INT64_MAX));
  s.threads = static_cast<int>(a.integer("threads", 0, 4096));
  s.log_every = a.integer("log-every", 1, INT64_MAX);
  s.save_every = a.integer("save-every", 0, INT64_MAX);
  s.quiet = a.flag("quiet");
  return with_model(s.model, s.features.dim(), [&](auto model) {
    if (s.strategy == "metarm") return run_training(s, std::move(model), metarm::MetaRM(s.eta));
    return run_training(s, std::move(model), metarm::Vanilla{});
  });
}

}  // namespace cli
