// SPDX-License-Identifier: Apache-2.0
// metarm train: fit a reward model on text preference pairs (Vanilla or MetaRM) and save a checkpoint.
#pragma once

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "command_line.hpp"
#include "common.hpp"
#include "common/ranks.hpp"

namespace cli {


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
    if (!s.quiet) fmt::print(stderr, "read {} meta prompts from {}\n", prompts.prompts.size(), s.meta_path);
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
      throw metarm::Error(s.resume, fmt::format("was trained with features {}, not {}", checkpoint.value("featurizer"),
                                                s.features.describe()));
    }
    checkpoint.restore_training_state(learner);
    resume_state = checkpoint.fit_state();
    fit.resume = &resume_state;
    if (!s.quiet) {
      fmt::print(stderr, "resuming {} at epoch {}, step {}\n", s.resume, resume_state.epoch,
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
    throw metarm::Error(e.context(), fmt::format("{}; {}", e.message(), last_good));
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
  fmt::print("trained {} on {} pairs: {} steps, {}; checkpoint {}, settings {}\n", learner.model().describe(),
             static_cast<long long>(train.size()), static_cast<long long>(result.steps), result.stop.describe(), s.out,
             settings_path(s.out));
  const metarm::Metrics on_train = learner.evaluate(train);
  fmt::print("  {:<40} accuracy {:.4f}  loss {:.4f}\n", ("train " + s.pairs_path), on_train.at("accuracy"),
             on_train.at("loss"));
  for (std::size_t i = 0; i < eval_sets.size(); ++i) {
    const metarm::Metrics m = learner.evaluate(eval_sets[i]);
    fmt::print("  {:<40} accuracy {:.4f}  loss {:.4f}  length-only {:.4f}\n", ("eval " + s.eval_paths[i]),
               m.at("accuracy"), m.at("loss"), length_rule_accuracy(eval_text[i].pairs, direction));
  }
  return 0;
}

// The run, on settings that settle_train has checked.
inline int train_command(TrainSettings s, const options::ProgramRanks& ranks) {
  if (!ranks.root()) s.quiet = true;  // rank 0 reports progress for all
  return with_model(s.model, s.features.dim(), [&](auto model) {
    if (s.strategy == "metarm") return run_training(s, ranks, std::move(model), metarm::MetaRM(s.eta));
    return run_training(s, ranks, std::move(model), metarm::Vanilla{});
  });
}

}  // namespace cli
