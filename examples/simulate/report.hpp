// What metarm-simulate writes: the per-round table on stdout, CSV files of every number, and a gnuplot
// script for the figures. Files are written to a temporary name and renamed, so an interrupted run never
// leaves a half-written file behind.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <metarm/metrics/difference_metrics.hpp>
#include <metarm/sim/rlhf_loop.hpp>
#include <metarm/sim/statistics.hpp>

#include "command_line.hpp"

namespace simulate {

using metarm::sim::Estimate;
using metarm::sim::RoundRecord;
using metarm::sim::SeedResult;

struct Arm {
  enum class Kind { vanilla, metarm, metarm_adapted, vanilla_adapted };
  std::string name;  // "vanilla", "metarm eta 1", "metarm-adapted eta 1", "vanilla-adapted eta 1"
  double eta = 0.0;  // NaN for vanilla
  Kind kind = Kind::vanilla;
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
  char text[40];
  std::snprintf(text, sizeof text, "%.10g", value);
  return text;
}

inline std::vector<double> metric_over_seeds(const std::vector<SeedResult>& seeds, int round, double RoundRecord::*field) {
  std::vector<double> values;
  values.reserve(seeds.size());
  for (const auto& s : seeds) values.push_back(s.rounds[static_cast<std::size_t>(round - 1)].*field);
  return values;
}

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
// or "<arm> - vanilla" for the paired difference.
inline std::string summary_csv(const std::vector<Arm>& arms, const ResultGrid& grid, int rounds) {
  std::string out = "comparison,kind,round,metric,n,mean,sd,ci_low,ci_high\n";
  auto row = [&](const std::string& comparison, const char* kind, int round, const char* metric, const Estimate& e) {
    out += comparison + "," + kind + "," + std::to_string(round) + "," + metric + "," + std::to_string(e.n) + "," +
           number(e.mean) + "," + number(e.sd) + "," + number(e.low()) + "," + number(e.high()) + "\n";
  };
  for (int r = 1; r <= rounds; ++r) {
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
  char text[48];
  if (std::isnan(e.half_width)) {
    std::snprintf(text, sizeof text, signed_value ? "%+.3f" : "%.3f", e.mean);
  } else {
    std::snprintf(text, sizeof text, signed_value ? "%+.3f±%.3f" : "%.3f±%.3f", e.mean, e.half_width);
  }
  return text;
}

inline std::string table(const std::vector<Arm>& arms, const ResultGrid& grid, int rounds) {
  std::vector<const MetricColumn*> shown;
  for (const auto& c : metric_columns()) {
    if (c.in_table) shown.push_back(&c);
  }
  constexpr int name_width = 34, column_width = 15;
  std::string out;
  char cell[96];
  std::snprintf(cell, sizeof cell, "%-5s %-*s", "round", name_width, "reward model");
  out += cell;
  for (const auto* c : shown) {
    std::snprintf(cell, sizeof cell, " %*s", column_width, c->heading);
    out += cell;
  }
  out += "\n";
  for (int r = 1; r <= rounds; ++r) {
    auto line = [&](const std::string& name, auto&& estimate_of, bool signed_value) {
      std::snprintf(cell, sizeof cell, "%-5d %-*s", r, name_width, name.c_str());
      out += cell;
      for (const auto* c : shown) {
        std::snprintf(cell, sizeof cell, " %*s", column_width, format_estimate(estimate_of(*c), signed_value).c_str());
        out += cell;
      }
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
                            bool with_round_zero, double round_zero) {
    block(name, [&] {
      if (with_round_zero) s += number(0.0 + offset(a)) + " " + number(round_zero) + " 0\n";
      for (int r = 1; r <= rounds; ++r) {
        const auto values = metric_over_seeds(grid[a], r, field);
        const Estimate e = paired ? metarm::sim::estimate_paired_difference(values, metric_over_seeds(grid[0], r, field))
                                  : metarm::sim::estimate_mean(values);
        s += number(r + offset(a)) + " " + number(e.mean) + " " + number(std::isnan(e.half_width) ? 0.0 : e.half_width) + "\n";
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
      estimate_block("dgold" + id, a, &RoundRecord::shifted_gold_accuracy, true, false, 0.0);
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
  auto title = [&](std::size_t a) { return "title \"" + arms[a].name + "\""; };
  auto plot_arms = [&](const std::string& prefix, std::size_t first, const std::string& style) {
    std::string p = "plot ";
    for (std::size_t a = first; a < arm_count; ++a) {
      if (a > first) p += ", \\\n     ";
      p += "$" + prefix + std::to_string(a) + " using 1:2:3 " + style + " lc " + std::to_string(a + 1) + " " + title(a);
    }
    return p + "\n";
  };
  const std::string xrange = "set xrange [0.5:" + std::to_string(rounds) + ".5]\nset xtics 1\n";
  s += "set terminal pngcairo size 1500,480 font 'DejaVu Sans,11'\n";
  s += "set grid\nset key bottom left\nset xlabel 'round'\n";
  s += "set output '" + dir + "/shifted_accuracy.png.partial'\n";
  s += "set multiplot layout 1,3 title 'Reward models on fresh samples of the policy they produced (mean and 95% CI over seeds)'\n";
  s += xrange;
  s += "set title 'accuracy against sampled labels'\nset ylabel 'accuracy'\n";
  s += plot_arms("acc", 0, "with yerrorlines lw 2 pt 7");
  s += "set title 'accuracy against the gold order'\n";
  s += plot_arms("gold", 0, "with yerrorlines lw 2 pt 7");
  s += "set title 'MetaRM minus vanilla (paired)'\nset ylabel 'accuracy difference'\nset key top left\n";
  if (arm_count > 1) {
    std::string p = "plot 0 with lines lc 'black' dt 2 notitle";
    for (std::size_t a = 1; a < arm_count; ++a) {
      p += ", \\\n     $dacc" + std::to_string(a) + " using 1:2:3 with yerrorlines lw 2 pt 7 lc " + std::to_string(a + 1) +
           " title \"" + arms[a].name + ", labels\"";
      p += ", \\\n     $dgold" + std::to_string(a) + " using 1:2:3 with yerrorlines lw 2 pt 6 dt 3 lc " +
           std::to_string(a + 1) + " title \"" + arms[a].name + ", gold order\"";
    }
    s += p + "\n";
  }
  s += "unset multiplot\nset output\n";

  const int columns = std::min(rounds, 4);
  const int rows = (rounds + columns - 1) / columns;
  s += "set terminal pngcairo size " + std::to_string(420 * columns + 60) + "," + std::to_string(360 * rows + 60) +
       " font 'DejaVu Sans,11'\n";
  s += "set output '" + dir + "/reward_gaps.png.partial'\n";
  s += "set multiplot layout " + std::to_string(rows) + "," + std::to_string(columns) +
       " title 'Reward differences between responses to the same prompt, |r_i - r_j| / sd of rewards on SFT responses'\n";
  s += "set key top right\nset xlabel '|Δr| / sd'\nset ylabel 'density'\nset xrange [0:" + number(gaps.upper) +
       "]\nset xtics auto\nset yrange [0:*]\n";
  for (int r = 1; r <= rounds; ++r) {
    s += "set title 'round " + std::to_string(r) + "'\nplot ";
    for (std::size_t a = 0; a < arm_count; ++a) {
      if (a > 0) s += ", \\\n     ";
      s += "$gap" + std::to_string(a) + "_" + std::to_string(r) + " using 1:2 with steps lw 2 lc " + std::to_string(a + 1) +
           " " + title(a);
    }
    s += "\n";
  }
  s += "unset multiplot\nset output\n";

  s += "set terminal pngcairo size 1100,460 font 'DejaVu Sans,11'\n";
  s += "set output '" + dir + "/policy.png.partial'\n";
  s += "set multiplot layout 1,2 title 'The policy after each round (round 0: SFT; mean and 95% CI over seeds)'\n";
  s += "set xrange [-0.5:" + std::to_string(rounds) + ".5]\nset xtics 1\nset yrange [*:*]\nset xlabel 'round'\nset key top left\n";
  s += "set title 'gold reward of its responses'\nset ylabel 'mean r*'\n";
  s += plot_arms("goldreward", 0, "with yerrorlines lw 2 pt 7");
  s += "set title 'KL to the SFT policy'\nset ylabel 'nats'\n";
  s += plot_arms("kl", 0, "with yerrorlines lw 2 pt 7");
  s += "unset multiplot\nset output\n";
  return s;
}

}  // namespace simulate
