// SPDX-License-Identifier: Apache-2.0
// metarm bench-shift: Vanilla vs MetaRM under the real policy shift of the HH-RLHF helpful splits.
//
//   source   helpful-base: 80% of prompt groups train, 20% held out
//   targets  helpful-rejection-sampled and helpful-online: each split by prompt group into a meta split
//            (40%, labels dropped; MetaRM's unlabelled shifted responses) and a labelled test split (60%)
//   control  harmless-base (all pairs), a different task
//
// Every seed draws its own splits, initialisation and data order; Vanilla and MetaRM share them, so their
// difference is paired. Each seed chooses eta from a grid by accuracy on its own meta split (whose labels are
// otherwise never used; MetaRM trains on those responses without them), so no seed's choice sees a label of
// its own test split; the test splits' labels only fill the table.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/core.h>

#include "command_line.hpp"
#include "common.hpp"
#include "common/parallel.hpp"
#include "common/ranks.hpp"

namespace cli {


// One HH-RLHF split as text (for lengths and prompt groups) and as features.
struct HhSplit {
  std::string name;
  std::vector<metarm::TextPair> text;
  std::vector<std::string> groups;  // prompt group of each pair: its first human turn
  metarm::SparsePreferenceSet<float> features;
};

// What one seed trains and tests on.
struct SeedData {
  std::uint64_t seed = 0;
  metarm::SparsePreferenceSet<float> train;
  int length_direction = +1;
  std::array<metarm::SparsePreferenceSet<float>, 4> tests;  // source held out, rejection-sampled, online, harmless
  std::array<double, 4> length_accuracy{};
  metarm::SparseMetaSet<float> meta;                        // both targets' meta splits, labels dropped
  metarm::SparsePreferenceSet<float> meta_labelled;         // the same pairs with labels: eta selection only
};

inline constexpr std::array<const char*, 4> bench_set_names{"helpful-base (held out)", "helpful-rejection-sampled",
                                                            "helpful-online", "harmless-base (control)"};

inline HhSplit load_hh_split(const std::string& dir, const std::string& name, const metarm::TextFeaturizer& featurizer,
                             std::int64_t max_pairs, bool quiet) {
  HhSplit split;
  split.name = name;
  metarm::TextReadOptions options;
  options.max_records = max_pairs;
  auto file = metarm::read_text_pairs(dir + "/" + name + "/test.jsonl.gz", options);
  if (!quiet) {
    fmt::print(stderr, "{:<26} {:5} pairs ({} with identical responses dropped)\n", name, file.pairs.size(),
               static_cast<long long>(file.dropped_identical));
  }
  split.text = std::move(file.pairs);
  for (const auto& pair : split.text) split.groups.emplace_back(metarm::first_human_turn(pair.prompt));
  split.features = metarm::featurize_pairs(featurizer, split.text);
  return split;
}

inline double length_accuracy_of(const HhSplit& split, const std::vector<index_t>& rows, int direction) {
  std::vector<metarm::TextPair> subset;
  subset.reserve(rows.size());
  for (index_t i : rows) subset.push_back(split.text[static_cast<std::size_t>(i)]);
  return length_rule_accuracy(subset, direction);
}

inline SeedData make_seed_data(const std::array<HhSplit, 4>& splits, std::uint64_t seed) {
  const metarm::Rng base(seed);
  SeedData d;
  d.seed = seed;
  const auto source = metarm::split_by_group(splits[0].groups, 0.8, base.stream(11).state().words[0]);
  d.train = metarm::select_pairs(splits[0].features, source.first);
  std::vector<metarm::TextPair> train_text;
  for (index_t i : source.first) train_text.push_back(splits[0].text[static_cast<std::size_t>(i)]);
  d.length_direction = length_direction(train_text);
  d.tests[0] = metarm::select_pairs(splits[0].features, source.second);
  d.length_accuracy[0] = length_accuracy_of(splits[0], source.second, d.length_direction);
  std::vector<index_t> meta_rows[2];
  for (int t = 0; t < 2; ++t) {
    const HhSplit& target = splits[static_cast<std::size_t>(1 + t)];
    const auto split = metarm::split_by_group(target.groups, 0.4, base.stream(12 + t).state().words[0]);
    meta_rows[t] = split.first;
    d.tests[static_cast<std::size_t>(1 + t)] = metarm::select_pairs(target.features, split.second);
    d.length_accuracy[static_cast<std::size_t>(1 + t)] = length_accuracy_of(target, split.second, d.length_direction);
  }
  std::vector<index_t> all(splits[3].text.size());
  std::iota(all.begin(), all.end(), index_t{0});
  d.tests[3] = metarm::select_pairs(splits[3].features, all);
  d.length_accuracy[3] = length_accuracy_of(splits[3], all, d.length_direction);
  d.meta_labelled = metarm::SparsePreferenceSet<float>(splits[0].features.dim());
  for (int t = 0; t < 2; ++t) {
    const auto part = metarm::select_pairs(splits[static_cast<std::size_t>(1 + t)].features, meta_rows[t]);
    for (index_t i = 0; i < part.size(); ++i) {
      d.meta_labelled.add(part.chosen_features().column_rows(i), part.chosen_features().column_values(i),
                          part.rejected_features().column_rows(i), part.rejected_features().column_values(i));
    }
  }
  d.meta = metarm::SparseMetaSet<float>::from_pairs(d.meta_labelled);
  return d;
}

// Trains one model (eta < 0: Vanilla) and returns its accuracy on each of `sets`.
inline std::vector<double> train_and_measure(const BenchSettings& s, const SeedData& d, double eta,
                                             const std::vector<const metarm::SparsePreferenceSet<float>*>& sets) {
  return with_model(s.model, s.features.dim(), [&](auto model) {
    const metarm::FitOptions<float, metarm::SparseInput<float>> fit{
        .epochs = s.epochs, .batch_size = s.batch, .meta_batch_size = s.meta_batch};
    const metarm::LearnerOptions options{.seed = d.seed};
    const metarm::AdamW optimizer{.learning_rate = s.lr, .weight_decay = s.weight_decay};
    std::vector<double> out;
    auto measure = [&](auto& learner) {
      for (const auto* set : sets) out.push_back(learner.evaluate(*set).at("accuracy"));
    };
    if (eta < 0) {
      Learner<decltype(model), metarm::Vanilla> learner(model, metarm::Vanilla{}, optimizer, options);
      learner.fit(d.train, nullptr, fit);
      measure(learner);
    } else {
      Learner<decltype(model), metarm::MetaRM> learner(model, metarm::MetaRM(eta), optimizer, options);
      learner.fit(d.train, &d.meta, fit);
      measure(learner);
    }
    return out;
  });
}

inline int bench_shift_command(BenchSettings s, const options::ProgramRanks& ranks) {
  if (!ranks.root()) s.quiet = true;  // rank 0 reports for all
  const auto started = std::chrono::steady_clock::now();
  const metarm::TextFeaturizer featurizer(s.features);
  const std::array<HhSplit, 4> splits{load_hh_split(s.hh_dir, "helpful-base", featurizer, s.max_pairs, s.quiet),
                                      load_hh_split(s.hh_dir, "helpful-rejection-sampled", featurizer, s.max_pairs, s.quiet),
                                      load_hh_split(s.hh_dir, "helpful-online", featurizer, s.max_pairs, s.quiet),
                                      load_hh_split(s.hh_dir, "harmless-base", featurizer, s.max_pairs, s.quiet)};
  metarm::cpu::context single(1);  // runs go in parallel instead; dense products stay on one thread each

  // ---- every seed: Vanilla and MetaRM at each eta of the grid ---------------------------------------------------
  // Each run reports its accuracy on the four test sets and on the seed's meta split; the meta-split accuracy
  // alone picks the seed's eta.
  const std::size_t seeds = static_cast<std::size_t>(s.seeds);
  std::vector<SeedData> data(seeds);
  for (std::size_t i = 0; i < seeds; ++i) data[i] = make_seed_data(splits, s.first_seed + i);
  const std::size_t candidates = 1 + s.eta_grid.size();  // Vanilla, then the grid
  std::vector<std::vector<double>> runs(seeds * candidates);
  if (!s.quiet) {
    fmt::print(stderr, "training {} seeds x (vanilla + {} eta)\n", seeds, s.eta_grid.size());
  }
  std::atomic<int> done{0};
  std::size_t own_runs = 0;  // this rank's share, which its progress counts
  for (std::size_t job = 0; job < runs.size(); ++job) own_runs += ranks.owns(job) ? 1 : 0;
  const bool terminal = isatty(fileno(stderr)) != 0;
  // Under mpirun each rank trains its share of the runs, and then every rank holds all results.
  options::run_parallel(runs.size(), s.threads, [&](std::size_t job) {
    if (!ranks.owns(job)) return;
    const std::size_t i = job / candidates, c = job % candidates;
    const SeedData& d = data[i];
    runs[job] = train_and_measure(s, d, c == 0 ? -1.0 : s.eta_grid[c - 1],
                                  {&d.tests[0], &d.tests[1], &d.tests[2], &d.tests[3], &d.meta_labelled});
    const int finished = ++done;
    if (s.quiet) return;
    // In place on a terminal; in a log, a line at every tenth of the runs.
    const std::size_t every = std::max<std::size_t>(1, own_runs / 10);
    if (terminal) {
      fmt::print(stderr, "\r  {}/{} runs\033[K", finished, own_runs);
    } else if (static_cast<std::size_t>(finished) % every == 0 || static_cast<std::size_t>(finished) == own_runs) {
      fmt::print(stderr, "  {}/{} runs\n", finished, own_runs);
    }
  });
  if (!s.quiet && terminal) fmt::print(stderr, "\n");
  ranks.gather(runs);
  if (!ranks.root()) return 0;
  std::vector<std::vector<double>> vanilla(seeds), metarm_results(seeds);
  std::vector<double> chosen_eta(seeds);
  std::vector<double> meta_accuracy(candidates, 0.0);  // mean over seeds, for the record
  for (std::size_t i = 0; i < seeds; ++i) {
    std::size_t best = 1;
    for (std::size_t c = 1; c < candidates; ++c) {
      if (runs[i * candidates + c][4] > runs[i * candidates + best][4]) best = c;
    }
    for (std::size_t c = 0; c < candidates; ++c) meta_accuracy[c] += runs[i * candidates + c][4] / static_cast<double>(seeds);
    vanilla[i] = runs[i * candidates];
    metarm_results[i] = runs[i * candidates + best];
    chosen_eta[i] = s.eta_grid[best - 1];
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // ---- the table ----------------------------------------------------------------------------------------------
  struct Row {
    double pairs = 0;
    metarm::MeanInterval vanilla, metarm, difference, length;
  };
  std::array<Row, 4> rows;
  for (std::size_t k = 0; k < 4; ++k) {
    std::vector<double> v, m, diff, len;
    for (std::size_t i = 0; i < seeds; ++i) {
      v.push_back(100.0 * vanilla[i][k]);
      m.push_back(100.0 * metarm_results[i][k]);
      diff.push_back(100.0 * (metarm_results[i][k] - vanilla[i][k]));
      len.push_back(100.0 * data[i].length_accuracy[k]);
      rows[k].pairs += static_cast<double>(data[i].tests[k].size()) / static_cast<double>(seeds);
    }
    rows[k] = {rows[k].pairs, metarm::mean_confidence_interval(v), metarm::mean_confidence_interval(m),
               metarm::mean_confidence_interval(diff), metarm::mean_confidence_interval(len)};
  }
  const auto interval = [](const metarm::MeanInterval& r, bool sign) {
    if (std::isnan(r.half_width)) return sign ? fmt::format("{:+.2f}", r.mean) : fmt::format("{:.2f}", r.mean);
    return sign ? fmt::format("{:+.2f} ± {:.2f}", r.mean, r.half_width)
                : fmt::format("{:.2f} ± {:.2f}", r.mean, r.half_width);
  };
  fmt::print("HH-RLHF policy shift: accuracy % (mean ± 95% CI over {} seeds; difference paired by seed)\n", seeds);
  fmt::print("model {}, features {}, {} epoch(s), batch {}, meta batch {}, AdamW lr {:g}, weight decay {:g}\n",
             s.model.text(), s.features.describe(), s.epochs, static_cast<long long>(s.batch),
             static_cast<long long>(s.meta_batch), s.lr, s.weight_decay);
  // How often each eta was chosen, e.g. "300 (6 seeds), 100 (3 seeds), 1000 (1 seed)".
  std::string eta_text;
  {
    std::vector<std::pair<std::size_t, double>> counts;
    for (double e : s.eta_grid) {
      const auto n = static_cast<std::size_t>(std::count(chosen_eta.begin(), chosen_eta.end(), e));
      if (n > 0) counts.emplace_back(n, e);
    }
    std::stable_sort(counts.begin(), counts.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    for (const auto& [n, e] : counts) {
      eta_text += fmt::format("{}{:g} ({} seed{})", eta_text.empty() ? "" : ", ", e, n, n == 1 ? "" : "s");
    }
  }
  if (s.eta_fixed) {
    fmt::print("MetaRM eta {}, given\n", eta_text);
  } else {
    fmt::print("MetaRM eta chosen per seed by accuracy on its own meta split: {}\n", eta_text);
    fmt::print("meta-split accuracy, mean over seeds: vanilla {:.2f}", 100.0 * meta_accuracy[0]);
    for (std::size_t c = 1; c < candidates; ++c) {
      fmt::print(", eta {:g} {:.2f}", s.eta_grid[c - 1], 100.0 * meta_accuracy[c]);
    }
    fmt::print("\n");
  }
  // Columns padded by displayed characters ("±" is two bytes, one column).
  const auto pad = [](std::string text, std::size_t width) {
    std::size_t shown = 0;
    for (unsigned char c : text) shown += (c & 0xC0) != 0x80;
    if (shown < width) text.append(width - shown, ' ');
    return text;
  };
  fmt::print("\n{:<27} {:>6}  {}  {}  {}  {}\n", "set", "pairs", pad("vanilla", 14), pad("metarm", 14),
             pad("metarm - vanilla", 16), "length-only");
  for (std::size_t k = 0; k < 4; ++k) {
    fmt::print("{:<27} {:6.0f}  {}  {}  {}  {}\n", bench_set_names[k], rows[k].pairs,
               pad(interval(rows[k].vanilla, false), 14), pad(interval(rows[k].metarm, false), 14),
               pad(interval(rows[k].difference, true), 16), interval(rows[k].length, false));
  }
  fmt::print("\nlength-only: the rule \"the {} response wins\", its direction fitted on each seed's training pairs\n",
             data.front().length_direction > 0 ? "longer" : "shorter");
  if (ranks.group().distributed()) {
    fmt::print("wall time {:.1f} s ({} ranks x {} thread(s))\n", seconds, ranks.group().size(), s.threads);
  } else {
    fmt::print("wall time {:.1f} s ({} thread(s))\n", seconds, s.threads);
  }

  if (!s.csv.empty()) {
    std::string text = "set,pairs,seeds,vanilla_mean,vanilla_ci95,metarm_mean,metarm_ci95,difference_mean,"
                       "difference_ci95,length_only_mean,length_only_ci95\n";
    for (std::size_t k = 0; k < 4; ++k) {
      const Row& r = rows[k];
      text += fmt::format("{},{:.1f},{},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f}\n", bench_set_names[k],
                          r.pairs, seeds, r.vanilla.mean, r.vanilla.half_width, r.metarm.mean, r.metarm.half_width,
                          r.difference.mean, r.difference.half_width, r.length.mean, r.length.half_width);
    }
    metarm::write_file_atomically(s.csv, text);
    fmt::print("table written to {}\n", s.csv);
  }
  if (!s.seeds_csv.empty()) {
    std::string text = "seed,eta,set,pairs,vanilla,metarm,length_only\n";
    for (std::size_t i = 0; i < seeds; ++i) {
      for (std::size_t k = 0; k < 4; ++k) {
        text += fmt::format("{},{:g},{},{},{:.6f},{:.6f},{:.6f}\n", data[i].seed, chosen_eta[i], bench_set_names[k],
                            data[i].tests[k].size(), vanilla[i][k], metarm_results[i][k], data[i].length_accuracy[k]);
      }
    }
    metarm::write_file_atomically(s.seeds_csv, text);
  }
  return 0;
}

}  // namespace cli
