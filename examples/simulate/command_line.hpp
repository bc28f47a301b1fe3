// SPDX-License-Identifier: Apache-2.0
// The command line of metarm-simulate: every knob of SimulationOptions plus the run's own settings. Wrong
// usage raises UsageError, which the program reports on one line and exits with status 2.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <metarm/sim/options.hpp>

namespace simulate {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RunSettings {
  metarm::sim::SimulationOptions sim;
  std::vector<double> etas{1.0, 10.0};  // one MetaRM arm per value, each paired with the vanilla arm
  int seeds = 10;
  std::uint64_t first_seed = 1;
  int threads = 0;  // 0: one per core
  std::string out_dir = "simulation";
  std::string plot = "auto";  // auto | yes | no
  int bins = 40;
  bool adapted = false;  // also the arms scored at theta + eta grad J (MetaRM-trained and vanilla-trained)
  bool quiet = false;
  bool help = false;
};

inline const char* usage_text() {
  return R"(metarm-simulate: iterative RLHF in miniature. Vanilla and MetaRM reward models, each driving its own
policy through R rounds of (sample meta set, train reward model, optimise policy, measure), over several
seeds; prints a per-round table of means with 95% confidence intervals and writes CSV files and figures.

usage: metarm-simulate [--flag value ...]

world
  --context-dim N        prompt features                                   (default 8)
  --response-dim N       response features                                 (default 8)
  --gold-hidden N        hidden width of the gold reward network           (default 16)
  --beta X               label temperature: P(a > b) = sigmoid(X (r*(a) - r*(b)))   (default 2)
  --sft-mean-scale X     spread of the SFT policy's mean map               (default 1)
  --sft-std X            SFT policy's standard deviation per feature       (default 1)
data
  --pairs N              labelled preference pairs from the SFT policy     (default 1000)
  --meta-prompts N       unlabelled prompts per round in the meta set      (default 256)
  --k N                  responses per prompt (meta and evaluation sets)   (default 4)
  --eval-prompts N       prompts per evaluation set, all pairs labelled    (default 1000)
reward model
  --eta X[,X...]         MetaRM ascent step sizes, one arm each            (default 1,10)
  --adapted              per eta, two more arms scored at theta + eta grad J(theta; meta set):
                         "metarm-adapted eta X" (theta trained by MetaRM) and
                         "vanilla-adapted eta X" (theta trained by vanilla)
  --rm-hidden N[,N...]   hidden widths of the ReLU reward model            (default 64)
  --rm-lr X              Adam learning rate                                (default 0.001)
  --rm-epochs N          epochs over the preference pairs per round        (default 4)
  --rm-batch N           preference pairs per step                         (default 32)
  --meta-batch N         meta prompts per step                             (default 32)
policy
  --rounds N             RLHF rounds                                       (default 4)
  --policy-steps N       Adam steps per round                              (default 100)
  --policy-lr X          Adam learning rate                                (default 0.005)
  --policy-batch N       prompts per policy step                           (default 256)
  --kl X                 weight of KL(policy || SFT)                       (default 0.1)
  --policy MODE          independent: each reward model drives its own policy;
                         shared: the vanilla reward model drives one policy that
                         every reward model is trained and measured on     (default independent)
run
  --seeds N              independent worlds (seeds first-seed ...)         (default 10)
  --first-seed N         first seed                                        (default 1)
  --threads N            worker threads, 0 = one per core                  (default 0)
  --out DIR              output directory, created if missing              (default simulation)
  --plot auto|yes|no     draw figures with gnuplot (auto: when installed)  (default auto)
  --bins N               bins of the reward-difference histograms          (default 40)
  --quiet                no progress lines on stderr
  --help                 this text
)";
}

namespace detail {

inline long long parse_integer(std::string_view flag, const std::string& text, long long low) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0) {
    throw UsageError(std::string(flag) + " expects an integer, got '" + text + "'");
  }
  if (value < low) {
    throw UsageError(std::string(flag) + " must be >= " + std::to_string(low) + ", got " + text);
  }
  return value;
}

inline double parse_real(std::string_view flag, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(value)) {
    throw UsageError(std::string(flag) + " expects a finite number, got '" + text + "'");
  }
  return value;
}

inline std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

inline std::vector<std::string> split_list(std::string_view flag, const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    items.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  for (const auto& item : items) {
    if (item.empty()) throw UsageError(std::string(flag) + " has an empty item in '" + text + "'");
  }
  return items;
}

}  // namespace detail

inline RunSettings parse_command_line(int argc, char** argv) {
  RunSettings s;
  auto& o = s.sim;
  using Setter = std::function<void(std::string_view, const std::string&)>;
  auto integer = [](auto& field, long long low) {
    return Setter([&field, low](std::string_view flag, const std::string& v) {
      field = static_cast<std::remove_reference_t<decltype(field)>>(detail::parse_integer(flag, v, low));
    });
  };
  auto real = [](double& field, double low, bool strict) {
    return Setter([&field, low, strict](std::string_view flag, const std::string& v) {
      const double value = detail::parse_real(flag, v);
      if (strict ? !(value > low) : !(value >= low)) {
        throw UsageError(std::string(flag) + " must be " + (strict ? "> " : ">= ") + detail::format_number(low) + ", got " + v);
      }
      field = value;
    });
  };
  const std::map<std::string, Setter, std::less<>> flags{
      {"--context-dim", integer(o.context_dim, 1)},
      {"--response-dim", integer(o.response_dim, 1)},
      {"--gold-hidden", integer(o.gold_hidden, 1)},
      {"--beta", real(o.label_beta, 0.0, false)},
      {"--sft-mean-scale", real(o.sft_mean_scale, 0.0, false)},
      {"--sft-std", real(o.sft_std, 0.0, true)},
      {"--pairs", integer(o.preference_pairs, 1)},
      {"--meta-prompts", integer(o.meta_prompts, 1)},
      {"--k", integer(o.k, 2)},
      {"--eval-prompts", integer(o.eval_prompts, 1)},
      {"--eta", Setter([&s](std::string_view flag, const std::string& v) {
         s.etas.clear();
         for (const auto& item : detail::split_list(flag, v)) {
           const double eta = detail::parse_real(flag, item);
           if (eta < 0.0) throw UsageError(std::string(flag) + " values must be >= 0, got " + item);
           s.etas.push_back(eta);
         }
       })},
      {"--rm-hidden", Setter([&o](std::string_view flag, const std::string& v) {
         o.rm_hidden.clear();
         if (v == "none") return;  // a linear reward model
         for (const auto& item : detail::split_list(flag, v)) o.rm_hidden.push_back(detail::parse_integer(flag, item, 1));
       })},
      {"--rm-lr", real(o.rm_learning_rate, 0.0, true)},
      {"--rm-epochs", integer(o.rm_epochs, 1)},
      {"--rm-batch", integer(o.rm_batch, 1)},
      {"--meta-batch", integer(o.meta_batch, 1)},
      {"--rounds", integer(o.rounds, 1)},
      {"--policy-steps", integer(o.policy_steps, 0)},
      {"--policy-lr", real(o.policy_learning_rate, 0.0, false)},
      {"--policy-batch", integer(o.policy_batch, 1)},
      {"--kl", real(o.kl_weight, 0.0, false)},
      {"--policy", Setter([&o](std::string_view flag, const std::string& v) {
         if (v != "independent" && v != "shared") {
           throw UsageError(std::string(flag) + " expects independent or shared, got '" + v + "'");
         }
         o.shared_policy = v == "shared";
       })},
      {"--seeds", integer(s.seeds, 1)},
      {"--first-seed", integer(s.first_seed, 0)},
      {"--threads", integer(s.threads, 0)},
      {"--out", Setter([&s](std::string_view flag, const std::string& v) {
         if (v.empty()) throw UsageError(std::string(flag) + " needs a directory name");
         s.out_dir = v;
       })},
      {"--plot", Setter([&s](std::string_view flag, const std::string& v) {
         if (v != "auto" && v != "yes" && v != "no") {
           throw UsageError(std::string(flag) + " expects auto, yes or no, got '" + v + "'");
         }
         s.plot = v;
       })},
      {"--bins", integer(s.bins, 1)},
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      s.help = true;
      continue;
    }
    if (arg == "--adapted") {
      s.adapted = true;
      continue;
    }
    if (arg == "--quiet") {
      s.quiet = true;
      continue;
    }
    std::string value;
    bool has_value = false;
    if (const auto eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      has_value = true;
    }
    const auto found = flags.find(arg);
    if (found == flags.end()) {
      throw UsageError("unknown argument '" + arg + "' (see --help)");
    }
    if (!has_value) {
      if (i + 1 >= argc) throw UsageError(arg + " needs a value");
      value = argv[++i];
    }
    found->second(arg, value);
  }
  return s;
}

}  // namespace simulate
