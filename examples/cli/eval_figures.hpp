// SPDX-License-Identifier: Apache-2.0
// What metarm eval measures and draws beyond the library's metrics: the calibration of the rewards read as
// Bradley-Terry probabilities (a reliability diagram and its expected calibration error) and, with --plot, the
// distribution of the reward differences between the two responses to each prompt, normalised by the rewards'
// standard deviation (as in the figures of the MetaRM paper, Dou et al. 2024).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <metarm/io.hpp>

#include "figures.hpp"

namespace cli {

// The pairs' rewards, chosen[i] against rejected[i].
struct PairRewards {
  std::vector<float> chosen, rejected;
  std::size_t size() const { return chosen.size(); }
};

// One bin of a reliability diagram.
struct CalibrationBin {
  double low = 0.0, high = 0.0;  // the predicted probabilities it holds: [low, high), the last bin [low, high]
  std::int64_t pairs = 0;
  double predicted_sum = 0.0;  // sum of the predicted probabilities
  double observed_sum = 0.0;   // pairs whose higher-rewarded response is the chosen one (a tie counts one half)

  double mean_predicted() const { return pairs > 0 ? predicted_sum / static_cast<double>(pairs) : std::nan(""); }
  double observed() const { return pairs > 0 ? observed_sum / static_cast<double>(pairs) : std::nan(""); }
};

// The rewards read as a classifier of which response is chosen: a pair's prediction is the Bradley-Terry
// probability sigmoid(r_chosen - r_rejected) that the chosen response wins, read in the order the model
// prefers, so that it is the probability p = sigmoid(|r_chosen - r_rejected|) >= 1/2 that the higher-rewarded
// response is the chosen one. (Read in the order chosen, rejected, every pair's outcome is "chosen wins"; over
// both orders, the diagram on [0, 1] is this one mirrored about 1/2, with the same error.) The pairs are binned
// by p in equal bins over [1/2, 1]; in each, the mean p is set against the share of pairs whose
// higher-rewarded response is the chosen one. The expected calibration error (Guo et al. 2017) is the mean
// over pairs of |observed - mean predicted| of their bin; 0 for calibrated rewards. The bins' observed shares,
// weighted by their pairs, average to the accuracy.
struct Calibration {
  std::vector<CalibrationBin> bins;
  std::int64_t pairs = 0;
  double error = 0.0;  // the expected calibration error
};

inline constexpr int calibration_bins = 10;

inline Calibration calibrate(const PairRewards& rewards, int bins = calibration_bins) {
  Calibration out;
  out.pairs = static_cast<std::int64_t>(rewards.size());
  for (int b = 0; b < bins; ++b) {
    out.bins.push_back({0.5 + 0.5 * b / bins, 0.5 + 0.5 * (b + 1) / bins});
  }
  for (std::size_t i = 0; i < rewards.size(); ++i) {
    const double difference = static_cast<double>(rewards.chosen[i]) - static_cast<double>(rewards.rejected[i]);
    const double p = 1.0 / (1.0 + std::exp(-std::fabs(difference)));
    const int b = std::min(bins - 1, static_cast<int>((p - 0.5) * 2.0 * bins));
    CalibrationBin& bin = out.bins[static_cast<std::size_t>(std::max(b, 0))];
    ++bin.pairs;
    bin.predicted_sum += p;
    bin.observed_sum += difference > 0 ? 1.0 : difference == 0 ? 0.5 : 0.0;
  }
  for (const CalibrationBin& bin : out.bins) {
    if (bin.pairs > 0) out.error += std::fabs(bin.observed() - bin.mean_predicted()) * static_cast<double>(bin.pairs);
  }
  out.error /= std::max<double>(1.0, static_cast<double>(out.pairs));
  return out;
}

// |r_chosen - r_rejected| / sd over the pairs, sd the population standard deviation of all their rewards (both
// responses; eval's rewards/std), in at most 40 equal bins from 0 past the largest value, each 0.05, 0.1, 0.25,
// 0.5, 1, 2.5, 5 or 10 wide, the narrowest of these that covers it (at least 0 to 0.5).
struct RewardGaps {
  metarm::Histogram histogram;
  double sd = 0.0, mean = 0.0, median = 0.0;  // mean and median of the normalised differences
};

inline RewardGaps reward_gaps(const PairRewards& rewards) {
  RewardGaps out;
  out.sd = metarm::summarize_preferences<float>(rewards.chosen, rewards.rejected).reward_std;
  std::vector<double> gaps(rewards.size());
  for (std::size_t i = 0; i < rewards.size(); ++i) {
    const double gap = std::fabs(static_cast<double>(rewards.chosen[i]) - static_cast<double>(rewards.rejected[i]));
    gaps[i] = out.sd > 0 ? gap / out.sd : 0.0;  // equal rewards throughout: every difference is 0
  }
  double largest = 0.0, sum = 0.0;
  for (const double g : gaps) {
    largest = std::max(largest, g);
    sum += g;
  }
  out.mean = sum / static_cast<double>(gaps.size());
  std::vector<double> sorted = gaps;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  out.median = n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  double width = 0.0;
  std::size_t bins = 0;
  for (const double w : {0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0}) {
    width = w;
    bins = std::max<std::size_t>(static_cast<std::size_t>(std::ceil(std::max(largest, 0.5) / w)), 1);
    if (bins <= 40) break;
  }
  out.histogram = metarm::histogram(gaps, bins, 0.0, width * static_cast<double>(bins));
  return out;
}

inline std::string calibration_csv(const Calibration& c) {
  std::string out = "bin_low,bin_high,pairs,mean_predicted,observed\n";
  for (const CalibrationBin& bin : c.bins) {
    out += fmt::format("{},{},{},{},{}\n", csv_number(bin.low), csv_number(bin.high), bin.pairs,
                       csv_number(bin.mean_predicted()), csv_number(bin.observed()));
  }
  return out;
}

inline std::string reward_gaps_csv(const RewardGaps& g) {
  std::string out = "bin_low,bin_high,pairs\n";
  for (std::size_t b = 0; b < g.histogram.counts.size(); ++b) {
    out += fmt::format("{},{},{}\n", csv_number(g.histogram.edges[b]), csv_number(g.histogram.edges[b + 1]),
                       g.histogram.counts[b]);
  }
  return out;
}

inline std::string calibration_script(const Calibration& c, const std::string& title) {
  std::string s = png_terminal(760, 560);
  s += "$bins << EOD\n";  // centre, pairs
  for (const CalibrationBin& bin : c.bins) s += fmt::format("{} {}\n", csv_number(0.5 * (bin.low + bin.high)), bin.pairs);
  s += "EOD\n$points << EOD\n";  // mean predicted, observed (bins holding pairs)
  for (const CalibrationBin& bin : c.bins) {
    if (bin.pairs > 0) s += fmt::format("{} {}\n", csv_number(bin.mean_predicted()), csv_number(bin.observed()));
  }
  s += "EOD\n";
  s += fmt::format("set title {}\n", gnuplot::quote(fmt::format("{}: calibration, ECE {:.4f} over {} pairs", title,
                                                                  c.error, c.pairs)));
  s += "set xlabel 'predicted: sigmoid(|r_chosen - r_rejected|), the probability that the higher reward is the chosen'\n";
  s += "set ylabel 'observed: share of pairs where the higher reward is the chosen'\n";
  s += "set y2label 'pairs per bin'\n";
  std::int64_t most = 1;
  for (const CalibrationBin& bin : c.bins) most = std::max(most, bin.pairs);
  // Room above the tallest bar for its count.
  s += fmt::format("set xrange [0.5:1]\nset yrange [0:1]\nset y2range [0:{}]\n", csv_number(1.15 * static_cast<double>(most)));
  s += "set ytics nomirror\nset y2tics\nset grid\n";
  s += fmt::format("set boxwidth {} absolute\n", csv_number(0.5 / static_cast<double>(c.bins.size())));
  s += "set key bottom right box opaque\n";
  s += "plot $bins using 1:2 axes x1y2 with boxes fill solid 0.3 noborder lc rgb '#999999' title 'pairs per bin', \\\n"
       "     $bins using 1:($2 > 0 ? $2 : NaN):(sprintf('%d', $2)) axes x1y2 with labels offset 0,0.7 font ',8' tc rgb '#666666' notitle, \\\n"
       "     x with lines dt 2 lc rgb 'black' title 'calibrated', \\\n"
       "     $points using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#d55e00' title 'observed'\n";
  return s;
}

inline std::string reward_gaps_script(const RewardGaps& g, const std::string& title) {
  const metarm::Histogram& h = g.histogram;
  std::string s = png_terminal(760, 480);
  s += "$gaps << EOD\n";  // bin centre, pairs
  for (std::size_t b = 0; b < h.counts.size(); ++b) {
    s += fmt::format("{} {}\n", csv_number(0.5 * (h.edges[b] + h.edges[b + 1])), h.counts[b]);
  }
  s += "EOD\n";
  s += fmt::format("set title {}\n",
                   gnuplot::quote(fmt::format("{}: reward differences within a prompt, {} pairs (sd of the rewards {:.4g})",
                                              title, h.total(), g.sd)));
  s += "set xlabel '|r_chosen - r_rejected| / sd'\nset ylabel 'pairs'\n";
  s += fmt::format("set xrange [0:{}]\nset yrange [0:*]\nset offsets 0,0,graph 0.08,0\nset grid ytics\n",
                   csv_number(h.edges.back()));
  s += fmt::format("set boxwidth {} absolute\n", csv_number(h.edges[1] - h.edges[0]));
  s += fmt::format("set arrow from {0},graph 0 to {0},graph 1 nohead front dt 2 lw 2 lc rgb 'black'\n", csv_number(g.mean));
  s += fmt::format("set arrow from {0},graph 0 to {0},graph 1 nohead front dt 3 lw 2 lc rgb '#d55e00'\n", csv_number(g.median));
  s += "set key top right\n";
  s += fmt::format("plot $gaps using 1:2 with boxes lc rgb '#0072b2' fill solid 0.6 border rgb '#1f4e79' notitle, \\\n"
                   "     NaN with lines dt 2 lw 2 lc rgb 'black' title {}, \\\n"
                   "     NaN with lines dt 3 lw 2 lc rgb '#d55e00' title {}\n",
                   gnuplot::quote(fmt::format("mean {:.3f}", g.mean)), gnuplot::quote(fmt::format("median {:.3f}", g.median)));
  return s;
}

// metarm eval --plot DIR: checks for gnuplot and makes DIR before any work, then draws each set's two figures,
// DIR/NAME.reward_gaps.png and DIR/NAME.calibration.png, with their .csv and .gp beside them (NAME from the set's
// file name, figure_names). Does nothing without --plot.
class EvalFigures {
 public:
  EvalFigures(const std::string& dir, const std::vector<std::string>& sets) : dir_(dir) {
    if (dir_.empty()) return;
    require_gnuplot("--plot");
    make_figure_folder(dir_);
    names_ = figure_names(sets);
  }

  // Draws set i's figures and prints where they went.
  void draw(std::size_t i, const PairRewards& rewards, const Calibration& calibration) const {
    if (dir_.empty()) return;
    const std::string& name = names_[i];
    const RewardGaps gaps = reward_gaps(rewards);
    const std::string gaps_png = write_figure(dir_, name + ".reward_gaps", reward_gaps_csv(gaps), reward_gaps_script(gaps, name));
    const std::string calibration_png =
        write_figure(dir_, name + ".calibration", calibration_csv(calibration), calibration_script(calibration, name));
    fmt::print("  |r_chosen - r_rejected| / sd: mean {:.4f}  median {:.4f}  (sd {:.4f})\n", gaps.mean, gaps.median, gaps.sd);
    fmt::print("  figures {} {} (data: .csv, gnuplot scripts: .gp)\n", gaps_png, calibration_png);
  }

 private:
  std::string dir_;
  std::vector<std::string> names_;
};

}  // namespace cli
