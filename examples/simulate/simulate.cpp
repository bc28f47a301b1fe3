// SPDX-License-Identifier: Apache-2.0
// metarm-simulate: the paper's iterative RLHF loop in miniature, measured over seeds (docs/simulation.md).
// Runs a vanilla arm and one MetaRM arm per eta on the same seeds, prints a per-round table of means with 95%
// confidence intervals (and MetaRM's paired difference to vanilla), and writes CSV files and figures. Under
// mpirun the seeds are handed out over the ranks and the tables are the same as in one process.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>  // hardware_concurrency
#include <vector>

#include <unistd.h>

#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <metarm/sim.hpp>

#include "command_line.hpp"
#include "common/gnuplot.hpp"
#include "common/parallel.hpp"
#include "common/ranks.hpp"
#include "report.hpp"

namespace {

using namespace simulate;

// The arms as parse settled them (the vanilla baseline first); --eta and --adapted arrive here as specs too.
std::vector<Arm> make_arms(const RunSettings& settings) {
  using Kind = metarm::sim::ArmSpec::Kind;
  std::vector<Arm> arms;
  for (const metarm::sim::ArmSpec& spec : settings.arms) {
    const bool has_eta = spec.kind == Kind::metarm || spec.kind == Kind::dot;
    arms.push_back({spec.name, has_eta ? spec.eta : spec.adapt > 0.0 ? spec.adapt : std::nan(""), spec});
  }
  return arms;
}

// A seed's results as numbers, so that ranks can gather them (common/ranks.hpp), and back. The seed and the
// arms' names are known to every rank and not sent.
using metarm::sim::RoundRecord;
using metarm::sim::SeedResult;
constexpr double RoundRecord::*round_fields[] = {
    &RoundRecord::shifted_accuracy, &RoundRecord::shifted_gold_accuracy, &RoundRecord::shifted_label_agreement,
    &RoundRecord::difference_objective, &RoundRecord::reward_gap, &RoundRecord::sft_accuracy,
    &RoundRecord::sft_gold_accuracy, &RoundRecord::meta_accuracy, &RoundRecord::gold_reward,
    &RoundRecord::proxy_reward, &RoundRecord::kl_to_sft, &RoundRecord::policy_std, &RoundRecord::train_loss,
    &RoundRecord::train_objective, &RoundRecord::ascent_norm, &RoundRecord::meta_objective,
    &RoundRecord::reward_scale};
static_assert(sizeof(RoundRecord) == sizeof(double) + std::size(round_fields) * sizeof(double) +
                                         sizeof(std::vector<double>),
              "a field added to RoundRecord must be added to round_fields and to the round's numbers here");

void append(const SeedResult& result, std::vector<double>& out) {
  out.insert(out.end(), {result.sft_gold_reward, result.sft_label_agreement, result.sft_expected_agreement,
                         static_cast<double>(result.rounds.size())});
  for (const RoundRecord& r : result.rounds) {
    out.push_back(r.round);
    for (auto field : round_fields) out.push_back(r.*field);
    out.push_back(static_cast<double>(r.reward_gaps.size()));
    out.insert(out.end(), r.reward_gaps.begin(), r.reward_gaps.end());
  }
}

SeedResult read_seed_result(const std::vector<double>& in, std::size_t& at, std::uint64_t seed, const std::string& arm) {
  SeedResult result;
  result.seed = seed;
  result.arm = arm;
  result.sft_gold_reward = in.at(at++);
  result.sft_label_agreement = in.at(at++);
  result.sft_expected_agreement = in.at(at++);
  result.rounds.resize(static_cast<std::size_t>(in.at(at++)));
  for (RoundRecord& r : result.rounds) {
    r.round = static_cast<int>(in.at(at++));
    for (auto field : round_fields) r.*field = in.at(at++);
    const auto gaps = static_cast<std::size_t>(in.at(at++));
    r.reward_gaps.assign(in.begin() + static_cast<std::ptrdiff_t>(at), in.begin() + static_cast<std::ptrdiff_t>(at + gaps));
    at += gaps;
  }
  return result;
}

// Runs every seed (all arms of a seed together) on a pool of threads, and under mpirun the seeds of this
// rank only, then gathers them; results land in a fixed place, so the output does not depend on the number
// of threads or ranks or on which finishes first.
ResultGrid run_all(const RunSettings& settings, const std::vector<Arm>& arms, const options::ProgramRanks& ranks) {
  std::vector<metarm::sim::RewardModelArm<metarm::ReLU>> recipes;
  for (const Arm& arm : arms) recipes.push_back(metarm::sim::make_arm<metarm::ReLU>(arm.spec));
  const std::size_t seeds = static_cast<std::size_t>(settings.seeds);
  ResultGrid grid(arms.size(), std::vector<SeedResult>(seeds));
  unsigned threads = settings.threads > 0 ? static_cast<unsigned>(settings.threads) : std::thread::hardware_concurrency();
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(seeds)));
  // Each worker runs its own simulation; Eigen's own threads would only contend with them.
  metarm::cpu::context single_threaded(1);

  std::atomic<std::size_t> done{0};
  std::mutex report_mutex;
  const auto start = std::chrono::steady_clock::now();
  const bool terminal = isatty(fileno(stderr)) != 0;
  std::size_t own_seeds = 0;  // this rank's share, which its progress counts
  for (std::size_t task = 0; task < seeds; ++task) own_seeds += ranks.owns(task) ? 1 : 0;
  std::vector<std::vector<double>> numbers(seeds);
  options::run_parallel(seeds, static_cast<int>(threads), [&](std::size_t task) {
    if (!ranks.owns(task)) return;
    const std::uint64_t seed = settings.first_seed + task;
    auto results = metarm::sim::simulate_rlhf(settings.sim, seed,
                                              std::span<const metarm::sim::RewardModelArm<metarm::ReLU>>(recipes));
    for (std::size_t a = 0; a < arms.size(); ++a) {
      if (ranks.group().distributed()) append(results[a], numbers[task]);
      grid[a][task] = std::move(results[a]);
    }
    const std::size_t finished = ++done;
    if (settings.quiet) return;
    std::lock_guard lock(report_mutex);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // On a terminal the line is rewritten in place; in a log, each seed gets a line of its own.
    fmt::print(stderr, "{}[{}/{}] seed {} done, {:.1f}s elapsed, about {:.0f}s left{}", terminal ? "\r" : "", finished,
               own_seeds, static_cast<unsigned long long>(seed), elapsed,
               elapsed / static_cast<double>(finished) * static_cast<double>(own_seeds - finished),
               terminal ? "   " : "\n");
    std::fflush(stderr);
  });
  if (!settings.quiet && terminal) fmt::print(stderr, "\n");
  if (ranks.group().distributed()) {
    ranks.gather(numbers);
    for (std::size_t task = 0; task < seeds; ++task) {
      std::size_t at = 0;
      for (std::size_t a = 0; a < arms.size(); ++a) {
        grid[a][task] = read_seed_result(numbers[task], at, settings.first_seed + task, arms[a].name);
      }
    }
  }
  return grid;
}

bool gnuplot_available() { return gnuplot::available(); }

int run(const RunSettings& settings, const options::ProgramRanks& ranks) {
  settings.sim.validate();
  const std::vector<Arm> arms = make_arms(settings);
  const std::filesystem::path out_dir = settings.out_dir;
  if (ranks.root()) std::filesystem::create_directories(out_dir);

  const auto& o = settings.sim;
  fmt::print("metarm {} simulate: {} seeds x {} reward models, {} rounds; world {}+{} features, beta {:g}; "
             "{} SFT pairs, meta set {} prompts x {}; reward model {}; policy {} steps/round, KL weight {:g}{}\n",
             metarm::version, settings.seeds, arms.size(), o.rounds, o.context_dim, o.response_dim, o.label_beta,
             o.preference_pairs, o.meta_prompts, o.k,
             metarm::Mlp<metarm::ReLU, double>(o.context_dim + o.response_dim, o.rm_hidden).describe(),
             o.policy_steps, o.kl_weight, o.shared_policy ? "; one policy, driven by the vanilla reward model" : "");
  std::vector<std::string> arm_names;
  for (const Arm& arm : arms) arm_names.push_back(arm.name);
  fmt::print("arms: {} (the first is the baseline of the paired differences)\n", fmt::join(arm_names, "; "));
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  const ResultGrid grid = run_all(settings, arms, ranks);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!ranks.root()) return 0;  // rank 0 prints and writes for all

  double agreement = 0.0, expected = 0.0;
  for (const auto& seed : grid[0]) {
    agreement += seed.sft_label_agreement;
    expected += seed.sft_expected_agreement;
  }
  fmt::print("labels on SFT pairs agree with the gold order {:.3f} of the time (label model predicts {:.3f})\n\n",
             agreement / settings.seeds, expected / settings.seeds);
  fmt::print("{}", table(arms, grid, o.rounds));
  fmt::print("\nmean ± 95% CI half-width over {} seeds; '- vanilla' rows: paired difference on the same seeds; round "
             "'all': each seed's mean over the rounds.\n", settings.seeds);

  write_file_atomically(out_dir / "rounds.csv", rounds_csv(arms, grid));
  write_file_atomically(out_dir / "summary.csv", summary_csv(arms, grid, o.rounds));
  write_file_atomically(out_dir / "worlds.csv", worlds_csv(grid));
  write_file_atomically(out_dir / "options.csv", options_csv(settings));
  write_file_atomically(out_dir / "config.toml", settings.settings);
  const GapHistograms gaps = gap_histograms(arms, grid, o.rounds, settings.bins);
  write_file_atomically(out_dir / "reward_gaps.csv", histograms_csv(arms, gaps));
  fmt::print("wrote {}/{{rounds,summary,worlds,options,reward_gaps}}.csv, config.toml", out_dir.string());

  const std::filesystem::path script = out_dir / "figures.gp";
  write_file_atomically(script, gnuplot_script(arms, grid, o.rounds, gaps, out_dir.string()));
  const bool plot = settings.plot == "yes" || (settings.plot == "auto" && gnuplot_available());
  if (settings.plot == "yes" && !gnuplot_available()) {
    fmt::print("\n");
    fmt::print(stderr, "metarm-simulate: --plot yes, but gnuplot is not installed (Debian: gnuplot-nox)\n");
    return 1;
  }
  if (plot) {
    const std::string command = "gnuplot '" + script.string() + "'";
    if (std::system(command.c_str()) != 0) {
      fmt::print("\n");
      fmt::print(stderr, "metarm-simulate: gnuplot failed on {}\n", script.string());
      return 1;
    }
    for (const char* figure : {"shifted_accuracy.png", "reward_gaps.png", "policy.png"}) {
      std::filesystem::rename(out_dir / (std::string(figure) + ".partial"), out_dir / figure);
    }
    fmt::print(", figures {{shifted_accuracy,reward_gaps,policy}}.png");
  } else {
    fmt::print(", figures.gp (figures skipped: {})", settings.plot == "no" ? "--plot no" : "gnuplot not installed");
  }
  fmt::print(" ({:.1f}s)\n", seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const options::ProgramRanks ranks(&argc, &argv, "metarm-simulate");
  simulate::RunSettings settings;
  const auto app = simulate::command_line(settings);
  try {
    if (!simulate::parse(*app, settings, argc, argv)) {
      fmt::print("{}", app->help());
      return 0;
    }
  } catch (const simulate::UsageError& e) {
    fmt::print(stderr, "metarm-simulate: {}\n", e.what());
    return 2;
  } catch (const metarm::Error& e) {
    fmt::print(stderr, "metarm-simulate: {}\n", e.what());
    return 2;
  }
  if (!ranks.root()) settings.quiet = true;  // rank 0 reports progress
  try {
    return run(settings, ranks);
  } catch (const std::exception& e) {
    ranks.abort_if_distributed(std::string("metarm-simulate: ") + e.what());
    fmt::print(stderr, "metarm-simulate: {}\n", e.what());
    return 1;
  }
}
