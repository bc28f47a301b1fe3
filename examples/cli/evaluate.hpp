// SPDX-License-Identifier: Apache-2.0
// metarm eval (metrics of a checkpoint on labelled pairs) and metarm score (one reward per response).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "command_line.hpp"
#include "common.hpp"
#include "eval_figures.hpp"

namespace cli {

// A checkpoint's model, rebuilt and loaded, handed to f(learner, featurizer, checkpoint).
template <class F>
int with_checkpoint(const std::string& path, F&& f) {
  const metarm::Checkpoint checkpoint = metarm::Checkpoint::read(path);
  metarm::FeaturizerSettings features;
  try {
    features = metarm::FeaturizerSettings::parse(checkpoint.value("featurizer"));
  } catch (const metarm::Error& e) {
    throw metarm::Error(path, fmt::format("metadata \"featurizer\": {}", e.message()));
  }
  index_t dim = 0;
  const ModelSpec spec = ModelSpec::from_description(checkpoint.model_description(), dim, path);
  if (dim != features.dim()) {
    throw metarm::Error(path, fmt::format("model input {} does not match the featuriser's {} features", dim,
                                          features.dim()));
  }
  const metarm::TextFeaturizer featurizer(features);
  return with_model(spec, dim, [&](auto model) {
    Learner<decltype(model), metarm::Vanilla> learner(model, metarm::Vanilla{}, metarm::AdamW{});
    checkpoint.restore_parameters(learner);
    return f(learner, featurizer, checkpoint);
  });
}

inline int eval_command(const EvalSettings& s) {
  const EvalFigures figures(s.plot_dir, s.pairs);
  OutputFile json(s.json, "w");
  return with_checkpoint(s.model, [&](auto& learner, const metarm::TextFeaturizer& featurizer,
                                             const metarm::Checkpoint& checkpoint) {
    const int direction = checkpoint.has("length_direction") && checkpoint.value("length_direction") == "shorter" ? -1 : +1;
    fmt::print("model {}, features {}\n", checkpoint.model_description(), checkpoint.value("featurizer"));
    for (std::size_t set = 0; set < s.pairs.size(); ++set) {
      const std::string& path = s.pairs[set];
      const auto text = load_pairs(path, true);
      const auto pairs = metarm::featurize_pairs(featurizer, text.pairs);
      const auto as_meta = metarm::SparseMetaSet<float>::from_pairs(pairs);
      const metarm::Metrics m = learner.evaluate(pairs, &as_meta);
      const double length = length_rule_accuracy(text.pairs, direction);
      const PairRewards rewards{learner.score(pairs.chosen_features()), learner.score(pairs.rejected_features())};
      const Calibration calibration = calibrate(rewards);
      fmt::print("{}: {} pairs", path, text.pairs.size());
      if (text.dropped_identical > 0) fmt::print(" ({} identical dropped)",
                                                 static_cast<long long>(text.dropped_identical));
      fmt::print("\n  accuracy {:.4f}  margin {:.4f}  loss {:.4f}  length-only ({} wins) {:.4f}\n", m.at("accuracy"),
                 m.at("margin"), m.at("loss"), direction > 0 ? "longer" : "shorter", length);
      fmt::print("  rewards/chosen {:.4f}  rewards/rejected {:.4f}  rewards/mean {:.4f}  rewards/std {:.4f}  min "
                 "{:.4f}  max {:.4f}\n", m.at("rewards/chosen"), m.at("rewards/rejected"), m.at("rewards/mean"),
                 m.at("rewards/std"), m.at("rewards/min"), m.at("rewards/max"));
      fmt::print("  J {:.4f}  reward_gap {:.4f}\n", m.at("difference_objective"), m.at("reward_gap"));
      fmt::print("  calibration_error {:.4f} (sigmoid(r_chosen - r_rejected) as a probability, {} bins)\n",
                 calibration.error, calibration.bins.size());
      figures.draw(set, rewards, calibration);
      if (json.get() != nullptr) {
        nlohmann::json line{{"file", path}, {"pairs", text.pairs.size()}, {"length_only_accuracy", length}};
        for (const auto& [name, value] : m.items()) line[name] = value;
        line["calibration_error"] = calibration.error;
        fmt::print(json.get(), "{}\n", line.dump());
      }
    }
    return 0;
  });
}

inline int score_command(const ScoreSettings& s) {
  OutputFile out(s.out, "w");
  return with_checkpoint(s.model, [&](auto& learner, const metarm::TextFeaturizer& featurizer,
                                             const metarm::Checkpoint& checkpoint) {
    const double mean = checkpoint.has("reward_mean") ? checkpoint.number("reward_mean") : 0.0;
    const double std_dev = checkpoint.has("reward_std") ? checkpoint.number("reward_std") : 1.0;
    metarm::LineReader reader(s.input);
    std::string line;
    metarm::TextFeaturizer::Column column;
    std::int64_t lines = 0, responses = 0;
    while (reader.next(line)) {
      if (metarm::detail::blank_line(line)) continue;
      const std::string where = reader.where();
      const nlohmann::json object = metarm::parse_json_object(line, where);
      std::string prompt;
      std::vector<std::string> texts;
      if (metarm::has_field(object, "response")) {
        prompt = metarm::require_string(object, "prompt", where);
        texts.emplace_back(metarm::trim(metarm::require_string(object, "response", where)));
      } else if (metarm::has_field(object, "responses")) {
        prompt = metarm::require_string(object, "prompt", where);
        const auto& list = object.at("responses");
        if (!list.is_array() || list.empty()) throw metarm::Error(where, "field \"responses\" must be a non-empty array of strings");
        for (std::size_t i = 0; i < list.size(); ++i) {
          if (!list[i].is_string()) {
            throw metarm::Error(where, fmt::format("field \"responses\" item {} is not a string", i));
          }
          texts.emplace_back(metarm::trim(list[i].get_ref<const std::string&>()));
        }
      } else {
        metarm::TextPair pair;
        std::int64_t dropped = 0;
        metarm::TextReadOptions keep;
        keep.drop_identical = true;
        if (!metarm::detail::parse_pair(object, where, keep, pair, dropped)) {
          pair.rejected = pair.chosen;  // identical responses still get their (equal) rewards
        }
        prompt = std::move(pair.prompt);
        texts = {std::move(pair.chosen), std::move(pair.rejected)};
      }
      metarm::SparseColumns<float> features(featurizer.dim());
      for (const auto& text : texts) {
        featurizer.featurize(prompt, text, column);
        features.add(column.rows, column.values);
      }
      const auto rewards = learner.score(features);
      for (std::size_t i = 0; i < rewards.size(); ++i) {
        fmt::print(out.get(), "{{\"line\": {}, \"index\": {}, \"reward\": {:.9g}, \"normalized\": {:.9g}}}\n",
                   static_cast<long long>(reader.line_number()), i, static_cast<double>(rewards[i]),
                   std_dev > 0 ? (rewards[i] - mean) / std_dev : 0.0);
      }
      ++lines;
      responses += static_cast<std::int64_t>(rewards.size());
    }
    if (lines == 0) throw metarm::Error(s.input, "no records to score (the file is empty)");
    std::fflush(out.get());
    fmt::print(stderr, "scored {} responses on {} lines\n", static_cast<long long>(responses),
               static_cast<long long>(lines));
    return 0;
  });
}

}  // namespace cli
