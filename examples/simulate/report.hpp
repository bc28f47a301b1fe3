// SPDX-License-Identifier: Apache-2.0
// What metarm-simulate writes: the per-round table on stdout, CSV files of every number, and a gnuplot
// script for the figures. Files are written to a temporary name and renamed, so an interrupted run never
// leaves a half-written file behind.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <metarm/metrics/difference_metrics.hpp>
#include <metarm/sim/rlhf_loop.hpp>
#include <metarm/sim/statistics.hpp>

#include <fmt/core.h>

#include "command_line.hpp"

namespace simulate {

using metarm::sim::Estimate;
using metarm::sim::RoundRecord;
using metarm::sim::SeedResult;

struct Arm {
  std::string name;  // "vanilla", "metarm eta 1", "metarm eta=1 order=exact", a spec's name=LABEL
  double eta = 0.0;  // the step of metarm and dot, else the adaptation step, else NaN (rounds.csv's eta column)
  metarm::sim::ArmSpec spec;
};

// results[arm][seed index]
using ResultGrid = std::vector<std::vector<SeedResult>>;

struct MetricColumn {
  const char* name;     // CSV name
  const char* heading;  // table heading
  double RoundRecord::*field;
  bool in_table;
};

inline const std::vector<MetricColumn>& metric_columns() {
  static const std::vector<MetricColumn> columns{
      {"shifted_accuracy", "shifted acc", &RoundRecord::shifted_accuracy, true},
      {"shifted_gold_accuracy", "gold-order acc", &RoundRecord::shifted_gold_accuracy, true},
      {"sft_accuracy", "SFT acc", &RoundRecord::sft_accuracy, true},
      {"sft_gold_accuracy", "SFT gold acc", &RoundRecord::sft_gold_accuracy, false},
      {"meta_accuracy", "meta-dist acc", &RoundRecord::meta_accuracy, false},
      {"difference_objective", "J", &RoundRecord::difference_objective, true},
      {"reward_gap", "|dr|/sd", &RoundRecord::reward_gap, true},
      {"gold_reward", "gold reward", &RoundRecord::gold_reward, true},
      {"kl_to_sft", "KL to SFT", &RoundRecord::kl_to_sft, true},
      {"proxy_reward", "proxy reward", &RoundRecord::proxy_reward, false},
      {"policy_std", "policy std", &RoundRecord::policy_std, false},
      {"shifted_label_agreement", "label agreement", &RoundRecord::shifted_label_agreement, false},
      {"train_loss", "train loss", &RoundRecord::train_loss, false},
      {"train_objective", "train J", &RoundRecord::train_objective, false},
      {"ascent_norm", "|grad J|", &RoundRecord::ascent_norm, false},
      {"meta_objective", "meta-set J", &RoundRecord::meta_objective, false},
      {"reward_scale", "reward sd", &RoundRecord::reward_scale, false},
  };
  return columns;
}

inline std::string number(double value) {
  if (std::isnan(value)) return "nan";
  return fmt::format("{:.10g}", value);
}

// Round 0 stands for all rounds: each seed's mean over its rounds.
inline constexpr int all_rounds = 0;

inline std::vector<double> metric_over_seeds(const std::vector<SeedResult>& seeds, int round, double RoundRecord::*field) {
  std::vector<double> values;
  values.reserve(seeds.size());
  for (const auto& s : seeds) {
    if (round == all_rounds) {
      double total = 0.0;
      for (const auto& r : s.rounds) total += r.*field;
      values.push_back(total / static_cast<double>(s.rounds.size()));
    } else {
      values.push_back(s.rounds[static_cast<std::size_t>(round - 1)].*field);
    }
  }
  return values;
}

inline std::vector<int> rounds_then_all(int rounds) {
  std::vector<int> out;
  for (int r = 1; r <= rounds; ++r) out.push_back(r);
  if (rounds > 1) out.push_back(all_rounds);
  return out;
}

inline std::string round_label(int round) { return round == all_rounds ? "all" : std::to_string(round); }

inline bool all_finite(std::span<const double> values) {
  return std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

// ---- files ------------------------------------------------------------------------------------------------

inline void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
  const std::filesystem::path temporary = path.string() + ".partial";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot open " + temporary.string() + " for writing");
    out << content;
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw std::runtime_error("cannot write " + temporary.string());
    }
  }
  std::filesystem::rename(temporary, path);
}

inline std::string rounds_csv(const std::vector<Arm>& arms, const ResultGrid& grid) {
  std::string out = "seed,strategy,eta,round";
  for (const auto& c : metric_columns()) out += std::string(",") + c.name;
  out += "\n";
  for (std::size_t a = 0; a < arms.size(); ++a) {
    for (const auto& seed : grid[a]) {
      for (const auto& r : seed.rounds) {
        out += std::to_string(seed.seed) + "," + arms[a].name + "," + number(arms[a].eta) + "," + std::to_string(r.round);
        for (const auto& c : metric_columns()) out += "," + number(r.*(c.field));
        out += "\n";
      }
    }
  }
  return out;
}

inline std::string worlds_csv(const ResultGrid& grid) {
  std::string out = "seed,sft_gold_reward,sft_label_agreement,sft_expected_agreement\n";
  for (const auto& seed : grid.front()) {
    out += std::to_string(seed.seed) + "," + number(seed.sft_gold_reward) + "," + number(seed.sft_label_agreement) + "," +
           number(seed.sft_expected_agreement) + "\n";
  }
  return out;
}

// Long format: one row per (comparison, round, metric). comparison is an arm's name for its mean over seeds,
// or "<arm> - vanilla" for the paired difference; round "all" is each seed's mean over the rounds.
inline std::string summary_csv(const std::vector<Arm>& arms, const ResultGrid& grid, int rounds) {
  std::string out = "comparison,kind,round,metric,n,mean,sd,ci_low,ci_high\n";
  auto row = [&](const std::string& comparison, const char* kind, int round, const char* metric, const Estimate& e) {
    out += comparison + "," + kind + "," + round_label(round) + "," + metric + "," + std::to_string(e.n) + "," +
           number(e.mean) + "," + number(e.sd) + "," + number(e.low()) + "," + number(e.high()) + "\n";
  };
  for (int r : rounds_then_all(rounds)) {
    for (const auto& c : metric_columns()) {
      const auto control = metric_over_seeds(grid[0], r, c.field);
      for (std::size_t a = 0; a < arms.size(); ++a) {
        const auto values = metric_over_seeds(grid[a], r, c.field);
        if (!all_finite(values)) continue;  // a quantity this arm does not measure
        row(arms[a].name, "mean", r, c.name, metarm::sim::estimate_mean(values));
        if (a > 0 && all_finite(control)) {
          row(arms[a].name + " - vanilla", "paired_difference", r, c.name,
              metarm::sim::estimate_paired_difference(values, control));
        }
      }
    }
  }
  return out;
}

// Reward-difference histograms per arm and round, pooled over seeds, on one common range so panels compare.
struct GapHistograms {
  double upper = 1.0;
  int bins = 40;
  // [arm][round - 1]
  std::vector<std::vector<metarm::Histogram>> histograms;
};

inline GapHistograms gap_histograms(const std::vector<Arm>& arms, const ResultGrid& grid, int rounds, int bins) {
  GapHistograms out;
  out.bins = bins;
  // The range covers the 99th percentile of every (arm, round), rounded up to a multiple of 0.5.
  double upper = 0.5;
  std::vector<std::vector<std::vector<double>>> pooled(arms.size(), std::vector<std::vector<double>>(static_cast<std::size_t>(rounds)));
  for (std::size_t a = 0; a < arms.size(); ++a) {
    for (int r = 1; r <= rounds; ++r) {
      auto& values = pooled[a][static_cast<std::size_t>(r - 1)];
      for (const auto& seed : grid[a]) {
        const auto& gaps = seed.rounds[static_cast<std::size_t>(r - 1)].reward_gaps;
        values.insert(values.end(), gaps.begin(), gaps.end());
      }
      std::vector<double> sorted = values;
      const std::size_t at = std::min(sorted.size() - 1, static_cast<std::size_t>(0.99 * static_cast<double>(sorted.size())));
      std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(at), sorted.end());
      upper = std::max(upper, std::ceil(sorted[at] * 2.0) / 2.0);
    }
  }
  out.upper = upper;
  out.histograms.resize(arms.size());
  for (std::size_t a = 0; a < arms.size(); ++a) {
    for (int r = 1; r <= rounds; ++r) {
      out.histograms[a].push_back(
          metarm::histogram(pooled[a][static_cast<std::size_t>(r - 1)], static_cast<std::size_t>(bins), 0.0, upper));
    }
  }
  return out;
}

inline double density(const metarm::Histogram& h, std::size_t bin) {
  const double width = h.edges[bin + 1] - h.edges[bin];
  return static_cast<double>(h.counts[bin]) / (static_cast<double>(h.total()) * width);
}

inline std::string histograms_csv(const std::vector<Arm>& arms, const GapHistograms& g) {
  std::string out = "strategy,round,bin_low,bin_high,count,density\n";
  for (std::size_t a = 0; a < arms.size(); ++a) {
    for (std::size_t r = 0; r < g.histograms[a].size(); ++r) {
      const auto& h = g.histograms[a][r];
      const std::string prefix = arms[a].name + "," + std::to_string(r + 1) + ",";
      for (std::size_t b = 0; b < h.counts.size(); ++b) {
        out += prefix + number(h.edges[b]) + "," + number(h.edges[b + 1]) + "," + std::to_string(h.counts[b]) + "," +
               number(density(h, b)) + "\n";
      }
      // Values beyond the common range, so the counts add up to every pair measured.
      out += prefix + number(g.upper) + ",inf," + std::to_string(h.overflow) + ",nan\n";
    }
  }
  return out;
}

inline std::string options_csv(const RunSettings& s) {
  const auto& o = s.sim;
  std::string hidden;
  for (std::size_t i = 0; i < o.rm_hidden.size(); ++i) hidden += (i ? ";" : "") + std::to_string(o.rm_hidden[i]);
  std::string etas;
  for (std::size_t i = 0; i < s.etas.size(); ++i) etas += (i ? ";" : "") + number(s.etas[i]);
  std::string out = "knob,value\n";
  auto add = [&](const char* knob, const std::string& value) { out += std::string(knob) + "," + value + "\n"; };
  add("context_dim", std::to_string(o.context_dim));
  add("response_dim", std::to_string(o.response_dim));
  add("gold_hidden", std::to_string(o.gold_hidden));
  add("beta", number(o.label_beta));
  add("sft_mean_scale", number(o.sft_mean_scale));
  add("sft_std", number(o.sft_std));
  add("pairs", std::to_string(o.preference_pairs));
  add("meta_prompts", std::to_string(o.meta_prompts));
  add("k", std::to_string(o.k));
  add("eval_prompts", std::to_string(o.eval_prompts));
  add("eta", etas);
  std::string arm_names;
  for (const metarm::sim::ArmSpec& arm : s.arms) arm_names += (arm_names.empty() ? "" : "|") + arm.name;
  add("arms", arm_names);
  add("rm_hidden", hidden.empty() ? "none" : hidden);
  add("rm_lr", number(o.rm_learning_rate));
  add("rm_epochs", std::to_string(o.rm_epochs));
  add("rm_batch", std::to_string(o.rm_batch));
  add("meta_batch", std::to_string(o.meta_batch));
  add("rounds", std::to_string(o.rounds));
  add("policy_steps", std::to_string(o.policy_steps));
  add("policy_lr", number(o.policy_learning_rate));
  add("policy_batch", std::to_string(o.policy_batch));
  add("kl", number(o.kl_weight));
  add("policy", o.shared_policy ? "shared" : "independent");
  add("seeds", std::to_string(s.seeds));
  add("first_seed", std::to_string(s.first_seed));
  return out;
}

// ---- the table ----------------------------------------------------------------------------------------------

inline std::string format_estimate(const Estimate& e, bool signed_value) {
  if (std::isnan(e.half_width)) return signed_value ? fmt::format("{:+.3f}", e.mean) : fmt::format("{:.3f}", e.mean);
  return signed_value ? fmt::format("{:+.3f}±{:.3f}", e.mean, e.half_width)
                      : fmt::format("{:.3f}±{:.3f}", e.mean, e.half_width);
}

inline std::string table(const std::vector<Arm>& arms, const ResultGrid& grid, int rounds) {
  std::vector<const MetricColumn*> shown;
  for (const auto& c : metric_columns()) {
    if (c.in_table) shown.push_back(&c);
  }
  constexpr std::size_t column_width = 15;
  std::size_t name_width = 34;  // wider when an arm's name (and " - vanilla") needs it
  for (const Arm& arm : arms) name_width = std::max(name_width, arm.name.size() + 12);
  std::string out;
  const auto cell = [&](std::string_view text) {
    // Padded to the column's width in bytes, as the table always was: an estimate's "±" is two bytes.
    out += ' ';
    if (text.size() < column_width) out.append(column_width - text.size(), ' ');
    out += text;
  };
  out += fmt::format("{:<5} {:<{}}", "round", "reward model", name_width);
  for (const auto* c : shown) cell(c->heading);
  out += "\n";
  for (int r : rounds_then_all(rounds)) {
    auto line = [&](const std::string& name, auto&& estimate_of, bool signed_value) {
      out += fmt::format("{:<5} {:<{}}", round_label(r), name, name_width);
      for (const auto* c : shown) cell(format_estimate(estimate_of(*c), signed_value));
      out += "\n";
    };
    for (std::size_t a = 0; a < arms.size(); ++a) {
      line(arms[a].name, [&](const MetricColumn& c) {
        return metarm::sim::estimate_mean(metric_over_seeds(grid[a], r, c.field));
      }, false);
    }
    for (std::size_t a = 1; a < arms.size(); ++a) {
      line("  " + arms[a].name + " - vanilla", [&](const MetricColumn& c) {
        return metarm::sim::estimate_paired_difference(metric_over_seeds(grid[a], r, c.field),
                                                       metric_over_seeds(grid[0], r, c.field));
      }, true);
    }
  }
  return out;
}

// ---- figures ------------------------------------------------------------------------------------------------

// A self-contained gnuplot script (data inline) that draws the three PNG figures into `dir`.
inline std::string gnuplot_script(const std::vector<Arm>& arms, const ResultGrid& grid, int rounds,
                                  const GapHistograms& gaps, const std::string& dir) {
  std::string s;
  auto block = [&](const std::string& name, auto&& rows) {
    s += "$" + name + " << EOD\n";
    rows();
    s += "EOD\n";
  };
  const std::size_t arm_count = arms.size();
  // Small horizontal offsets keep the arms' error bars apart.
  auto offset = [&](std::size_t a) { return (static_cast<double>(a) - 0.5 * static_cast<double>(arm_count - 1)) * 0.06; };
  auto estimate_block = [&](const std::string& name, std::size_t a, double RoundRecord::*field, bool paired,
                            bool with_round_zero, double round_zero, double nudge = 0.0) {
    block(name, [&] {
      if (with_round_zero) s += number(0.0 + offset(a)) + " " + number(round_zero) + " 0\n";
      for (int r = 1; r <= rounds; ++r) {
        const auto values = metric_over_seeds(grid[a], r, field);
        const Estimate e = paired ? metarm::sim::estimate_paired_difference(values, metric_over_seeds(grid[0], r, field))
                                  : metarm::sim::estimate_mean(values);
        s += number(r + offset(a) + nudge) + " " + number(e.mean) + " " + number(std::isnan(e.half_width) ? 0.0 : e.half_width) + "\n";
      }
    });
  };
  for (std::size_t a = 0; a < arm_count; ++a) {
    const std::string id = std::to_string(a);
    double sft_gold = 0.0;
    for (const auto& seed : grid[a]) sft_gold += seed.sft_gold_reward;
    sft_gold /= static_cast<double>(grid[a].size());
    estimate_block("acc" + id, a, &RoundRecord::shifted_accuracy, false, false, 0.0);
    estimate_block("gold" + id, a, &RoundRecord::shifted_gold_accuracy, false, false, 0.0);
    estimate_block("goldreward" + id, a, &RoundRecord::gold_reward, false, true, sft_gold);
    estimate_block("kl" + id, a, &RoundRecord::kl_to_sft, false, true, 0.0);
    if (a > 0) {
      estimate_block("dacc" + id, a, &RoundRecord::shifted_accuracy, true, false, 0.0);
      estimate_block("dgold" + id, a, &RoundRecord::shifted_gold_accuracy, true, false, 0.0, 0.025);
    }
    for (int r = 1; r <= rounds; ++r) {
      const auto& h = gaps.histograms[a][static_cast<std::size_t>(r - 1)];
      block("gap" + id + "_" + std::to_string(r), [&] {
        for (std::size_t b = 0; b < h.counts.size(); ++b) {
          s += number(0.5 * (h.edges[b] + h.edges[b + 1])) + " " + number(density(h, b)) + "\n";
        }
      });
    }
  }
  // Each figure: a grid of panels placed by hand, then one key below them listing every arm once (gnuplot's
  // layout mode has no figure-wide key). Colours stay with the arm throughout.
  static constexpr const char* palette[] = {"#7b2cbf", "#009e73", "#56b4e9", "#e69f00", "#0072b2", "#d55e00",
                                            "#cc79a7", "#000000", "#b8a000", "#808080", "#8b4513", "#2e8b57"};
  auto colour = [](std::size_t a) { return std::string("lc rgb '") + palette[a % std::size(palette)] + "'"; };
  const int key_columns = 4;
  const int key_rows = static_cast<int>((arm_count + key_columns - 1) / key_columns);
  struct Grid {
    int rows = 1, columns = 1;
    double key_height = 0.0, panel_height = 0.0;
  } grid_of_panels;
  auto begin_figure = [&](const std::string& file, int width, int panels_height, int rows_of_panels,
                          int columns_of_panels, const std::string& figure_title) {
    const int key_pixels = 22 * key_rows + 16;
    const int height = panels_height + key_pixels + 40;
    grid_of_panels = {rows_of_panels, columns_of_panels, static_cast<double>(key_pixels) / height,
                      static_cast<double>(panels_height) / height / rows_of_panels};
    s += "set terminal pngcairo size " + std::to_string(width) + "," + std::to_string(height) +
         " font 'DejaVu Sans,11'\n";
    s += "set output '" + dir + "/" + file + ".partial'\n";
    s += "set multiplot title '" + figure_title + "'\n";
    s += "set border\nset tics\nset grid\nunset key\nset lmargin -1\nset rmargin -1\nset tmargin -1\nset bmargin -1\n";
  };
  auto panel = [&](int index) {
    const int row = index / grid_of_panels.columns, column = index % grid_of_panels.columns;
    const double width = 1.0 / grid_of_panels.columns;
    s += "set origin " + number(column * width) + "," +
         number(grid_of_panels.key_height + (grid_of_panels.rows - 1 - row) * grid_of_panels.panel_height) + "\n";
    s += "set size " + number(width) + "," + number(grid_of_panels.panel_height) + "\n";
  };
  auto end_figure = [&](const std::string& style) {
    s += "set origin 0,0\nset size 1," + number(grid_of_panels.key_height) + "\n";
    s += "unset border\nunset tics\nunset grid\nunset title\nunset xlabel\nunset ylabel\n";
    s += "set xrange [0:1]\nset yrange [0:1]\nset lmargin 0\nset rmargin 0\nset tmargin 0\nset bmargin 0\n";
    s += "set key center center horizontal maxcols " + std::to_string(key_columns) + " samplen 3\nplot ";
    for (std::size_t a = 0; a < arm_count; ++a) {
      if (a > 0) s += ", \\\n     ";
      s += "2 with " + style + " " + colour(a) + " title \"" + arms[a].name + "\"";
    }
    s += "\nunset multiplot\nset output\n";
  };
  auto plot_arms = [&](const std::string& prefix, const std::string& style) {
    std::string p = "plot ";
    for (std::size_t a = 0; a < arm_count; ++a) {
      if (a > 0) p += ", \\\n     ";
      p += "$" + prefix + std::to_string(a) + " using 1:2:3 " + style + " " + colour(a) + " notitle";
    }
    return p + "\n";
  };
  const std::string with_error_bars = "with yerrorlines lw 2 pt 7";

  begin_figure("shifted_accuracy.png", 1500, 440, 1, 3,
               "Reward models on fresh samples of the policy they produced (mean and 95% CI over seeds)");
  s += "set xrange [0.5:" + std::to_string(rounds) + ".5]\nset yrange [*:*]\nset xtics 1\nset xlabel 'round'\n";
  panel(0);
  s += "set title 'accuracy against sampled labels'\nset ylabel 'accuracy'\n";
  s += plot_arms("acc", with_error_bars);
  panel(1);
  s += "set title 'accuracy against the gold order'\n";
  s += plot_arms("gold", with_error_bars);
  panel(2);
  s += "set title 'minus vanilla, paired (dotted: gold order)'\nset ylabel 'accuracy difference'\n";
  {
    std::string p = "plot 0 with lines lc 'black' dt 2 notitle";
    for (std::size_t a = 1; a < arm_count; ++a) {
      p += ", \\\n     $dacc" + std::to_string(a) + " using 1:2:3 with yerrorlines lw 2 pt 7 " + colour(a) + " notitle";
      p += ", \\\n     $dgold" + std::to_string(a) + " using 1:2:3 with yerrorlines lw 2 pt 6 dt 3 " + colour(a) +
           " notitle";
    }
    s += p + "\n";
  }
  end_figure("linespoints lw 2 pt 7");

  const int columns = std::min(rounds, 4);
  const int rows = (rounds + columns - 1) / columns;
  begin_figure("reward_gaps.png", 420 * columns + 60, 330 * rows, rows, columns,
               "Reward differences between responses to the same prompt: |r_i - r_j| / sd of the rewards on SFT responses");
  s += "set xlabel '|Δr| / sd'\nset ylabel 'density'\nset xrange [0:" + number(gaps.upper) +
       "]\nset yrange [0:*]\nset xtics auto\n";
  for (int r = 1; r <= rounds; ++r) {
    panel(r - 1);
    s += "set title 'round " + std::to_string(r) + "'\nplot ";
    for (std::size_t a = 0; a < arm_count; ++a) {
      if (a > 0) s += ", \\\n     ";
      s += "$gap" + std::to_string(a) + "_" + std::to_string(r) + " using 1:2 with steps lw 2 " + colour(a) + " notitle";
    }
    s += "\n";
  }
  end_figure("lines lw 2");

  begin_figure("policy.png", 1100, 420, 1, 2, "The policy after each round (round 0: SFT; mean and 95% CI over seeds)");
  s += "set xrange [-0.5:" + std::to_string(rounds) + ".5]\nset yrange [*:*]\nset xtics 1\nset xlabel 'round'\n";
  panel(0);
  s += "set title 'gold reward of its responses'\nset ylabel 'mean r*'\n";
  s += plot_arms("goldreward", with_error_bars);
  panel(1);
  s += "set title 'KL to the SFT policy'\nset ylabel 'nats'\n";
  s += plot_arms("kl", with_error_bars);
  end_figure("linespoints lw 2 pt 7");
  return s;
}

}  // namespace simulate
