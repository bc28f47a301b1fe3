// SPDX-License-Identifier: Apache-2.0
// metarm train: fit a reward model on text preference pairs (Vanilla or MetaRM) and save a checkpoint.
#pragma once

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common.hpp"
#include "common/ranks.hpp"

namespace cli {

struct TrainSettings {
  std::string pairs_path, meta_path, out, log_path, resume;
  std::vector<std::string> eval_paths;
  std::string strategy = "vanilla";
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
  std::string model_text = "linear", features_text = "hash:18";
  std::string settings;  // every option's effective value (TOML), written beside the checkpoint
};

inline CLI::App* train_options(CLI::App& top, TrainSettings& s) {
  CLI::App* app = top.add_subcommand("train", "train a reward model (vanilla or MetaRM) on text preference pairs");
  options::describe(*app, "metarm train --pairs FILE --out CKPT [options]",
                    "Trains a reward model on text preference pairs with hashed n-gram features and writes a safetensors "
                    "checkpoint holding the parameters, the optimiser state, the featuriser settings and reward "
                    "statistics; its settings go beside it as TOML (v.safetensors: v.toml), which --config reads back.");
  app->add_option("--pairs", s.pairs_path,
                  "labelled preference pairs, JSONL (.gz): HH-RLHF transcripts or {prompt, chosen, rejected} (required)")
      ->option_text("FILE");
  app->add_option("--meta", s.meta_path,
                  "unlabelled shifted-distribution responses: {prompt, responses: [...]} lines or pairs (labels dropped)")
      ->option_text("FILE");
  options::choice(*app, "--strategy", s.strategy, "NAME", "vanilla or metarm (default vanilla)", {"vanilla", "metarm"});
  options::number(*app, "--eta", s.eta, "X",
                  "MetaRM ascent step size; bench-shift picks 100 most often for a linear model on hash:18 features "
                  "(docs/math.md, 'Choosing eta') (default 100)",
                  {0.0, 1e9});
  app->add_option("--model", s.model_text, "linear, or mlp:H[,H...] with ReLU hidden layers (default linear)")
      ->option_text("SPEC")
      ->check(model_check());
  app->add_option("--features", s.features_text, "hash:BITS[,ngrams:N][,structure:0|1][,seed:S] (default hash:18)")
      ->option_text("SPEC")
      ->check(features_check());
  options::integer(*app, "--epochs", s.epochs, "N", "passes over the pairs (default 2)", 1, 1000000);
  options::integer(*app, "--batch", s.batch, "N", "pairs per step, over all ranks under mpirun (default 16)", 1, 1 << 24);
  options::integer(*app, "--meta-batch", s.meta_batch, "N",
                   "meta prompts per step (MetaRM), over all ranks under mpirun (default 16)", 1, 1 << 24);
  options::number(*app, "--lr", s.lr, "X", "AdamW learning rate (default 1e-3)", {0.0, 1e6});
  options::number(*app, "--weight-decay", s.weight_decay, "X", "AdamW decoupled weight decay (default 0)", {0.0, 1e6});
  options::number(*app, "--clip", s.clip, "X", "clip gradients to this global norm (0: off) (default 0)", {0.0, 1e30});
  options::integer(*app, "--seed", s.seed, "S", "initialisation and data order (default 0)", 0, INT64_MAX);
  options::integer(*app, "--threads", s.threads, "T", "threads for dense matrix products (0: all cores) (default 0)", 0, 4096);
  app->add_option("--out", s.out, "checkpoint to write (safetensors); rewritten at every epoch end (required)")
      ->option_text("CKPT");
  app->add_option("--eval", s.eval_paths,
                  "held-out pairs evaluated at every epoch end; the first also sets the reward statistics")
      ->option_text("FILE...");
  app->add_option("--log", s.log_path, "JSON lines of metrics (TRL names: loss, accuracy, margin, rewards/chosen, ..., eval_*)")
      ->option_text("FILE");
  options::integer(*app, "--log-every", s.log_every, "N", "steps between training lines in --log (default 10)", 1, INT64_MAX);
  options::integer(*app, "--save-every", s.save_every, "N", "also checkpoint every N steps (0: only at epoch ends) (default 0)",
                   0, INT64_MAX);
  app->add_option("--resume", s.resume, "continue the run saved in CKPT (same data and settings; --epochs may grow)")
      ->option_text("CKPT");
  app->add_flag("--quiet", s.quiet, "no progress output");
  return app;
}

// Where train writes its settings: beside the checkpoint, "v.safetensors" -> "v.toml".
inline std::string settings_path(const std::string& checkpoint) {
  return std::filesystem::path(checkpoint).replace_extension(".toml").string();
}

template <class Model, class Strategy>
int run_training(const TrainSettings& s, const options::ProgramRanks& ranks, Model model, Strategy strategy) {
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
            metarm::cpu::context(ranks.threads_for(s.threads)));
  // Under mpirun: --batch and --meta-batch are the global batches, each rank trains on its share of them, and
  // rank 0 alone logs and writes the checkpoint and the settings.
  learner.set_communicator(ranks.group());

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

  OutputFile log(ranks.root() ? s.log_path : std::string(), s.resume.empty() ? "w" : "a");
  metarm::ProgressBar progress(stderr);
  metarm::MetricsLog metrics_log(log.get() != nullptr ? log.get() : stderr, s.log_every);
  metarm::SaveCheckpoints<L> saver(learner, s.out, s.save_every, metadata);
  metarm::FitResult result;
  try {
    result = learner.fit(train, uses_meta ? &meta : nullptr, fit, Maybe(s.quiet || !ranks.root() ? nullptr : &progress),
                         saver, Maybe(log.get() != nullptr ? &metrics_log : nullptr));
  } catch (const metarm::Error& e) {
    // Where the user can go back to: a diverged step writes no checkpoint over a good one.
    const std::string last_good =
        saver.saved() > 0 ? "the last good checkpoint is " + s.out + ", saved at step " +
                                std::to_string(saver.last_saved_step())
        : !s.resume.empty() ? "the last good checkpoint is still " + s.resume
                            : "no checkpoint was written";
    throw metarm::Error(e.context(), e.message() + "; " + last_good);
  }

  // Reward statistics for normalising scores: on the first --eval set, else on the training pairs.
  const auto& stats_set = eval_sets.empty() ? train : eval_sets.front();
  const metarm::Metrics stats = learner.evaluate(stats_set);
  metadata["reward_mean"] = format_number(stats.at("rewards/mean"));
  metadata["reward_std"] = format_number(stats.at("rewards/std"));
  metadata["reward_stats_on"] = eval_sets.empty() ? s.pairs_path : s.eval_paths.front();
  metadata["train.stop"] = result.stop.describe();
  metarm::save_checkpoint(s.out, learner, metadata);
  if (ranks.root()) metarm::write_file_atomically(settings_path(s.out), s.settings);

  if (!ranks.root()) return 0;  // every rank holds the same model; rank 0 reports on it
  std::printf("trained %s on %lld pairs: %lld steps, %s; checkpoint %s, settings %s\n",
              learner.model().describe().c_str(), static_cast<long long>(train.size()),
              static_cast<long long>(result.steps), result.stop.describe().c_str(), s.out.c_str(),
              settings_path(s.out).c_str());
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

// After parsing: the checks that involve more than one option, then the run.
inline int train_command(CLI::App& app, TrainSettings& s, const options::ProgramRanks& ranks) {
  options::apply_config(app);
  options::require(app, {"--pairs", "--out"});
  options::reject_extras(app);
  if (!ranks.root()) s.quiet = true;  // rank 0 reports progress for all
  if (s.strategy == "metarm" && s.meta_path.empty()) throw UsageError("--strategy metarm needs --meta FILE");
  if (s.strategy == "vanilla" && !s.meta_path.empty()) throw UsageError("--meta is only used by --strategy metarm");
  s.model = ModelSpec::parse(s.model_text);
  s.features = metarm::FeaturizerSettings::parse(s.features_text);
  s.settings = options::settings_text(app, "metarm train");
  return with_model(s.model, s.features.dim(), [&](auto model) {
    if (s.strategy == "metarm") return run_training(s, ranks, std::move(model), metarm::MetaRM(s.eta));
    return run_training(s, ranks, std::move(model), metarm::Vanilla{});
  });
}

}  // namespace cli
