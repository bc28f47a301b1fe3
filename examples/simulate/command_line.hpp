// SPDX-License-Identifier: Apache-2.0
// The command line of metarm-simulate: every knob of SimulationOptions plus the run's own settings. Wrong
// usage raises UsageError, which the program reports on one line and exits with status 2.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <metarm/sim/arm_spec.hpp>
#include <metarm/sim/options.hpp>

#include "common/options.hpp"

namespace simulate {

using options::UsageError;

struct RunSettings {
  metarm::sim::SimulationOptions sim;
  std::vector<double> etas;  // --eta: one MetaRM arm per value (1, 10 when neither --eta nor --arm is given)
  std::vector<std::string> arm_texts;      // --arm, as typed
  std::vector<metarm::sim::ArmSpec> arms;  // every arm, the vanilla baseline first (see finish())
  int seeds = 10;
  std::uint64_t first_seed = 1;
  int threads = 0;  // 0: one per core
  std::string out_dir = "simulation";
  std::string plot = "auto";  // auto | yes | no
  int bins = 40;
  bool adapted = false;  // also the arms scored at theta + eta grad J (MetaRM-trained and vanilla-trained)
  bool quiet = false;
  // As typed, for the lists and words read into `sim` and `etas` once the command line is parsed.
  std::string eta_text, rm_hidden_text = "64", policy = "independent";
  std::string settings;  // every option's effective value (TOML), written into the output directory
};

inline constexpr const char* description_text =
    "metarm-simulate: iterative RLHF in miniature. Vanilla and MetaRM reward models, each driving its own\n"
    "policy through R rounds of (sample meta set, train reward model, optimise policy, measure), over several\n"
    "seeds; prints a per-round table of means with 95% confidence intervals and writes CSV files and figures.";

// The options, bound to `s`; `s` must outlive the returned parser.
inline std::unique_ptr<CLI::App> command_line(RunSettings& s) {
  auto app = std::make_unique<CLI::App>("metarm-simulate: iterative RLHF in miniature, vanilla vs MetaRM", "metarm-simulate");
  options::describe(*app, "metarm-simulate [--flag value ...]", description_text);
  auto& o = s.sim;
  const options::Range non_negative{0.0}, positive{0.0, options::Range{}.high, true};
  auto group = [&](const char* name, auto add) {
    for (CLI::Option* option : add()) option->group(name);
  };
  group("world", [&] {
    return std::vector<CLI::Option*>{
        options::integer(*app, "--context-dim", o.context_dim, "N", "prompt features (default 8)", 1),
        options::integer(*app, "--response-dim", o.response_dim, "N", "response features (default 8)", 1),
        options::integer(*app, "--gold-hidden", o.gold_hidden, "N", "hidden width of the gold reward network (default 16)", 1),
        options::number(*app, "--beta", o.label_beta, "X",
                        "label temperature: P(a > b) = sigmoid(X (r*(a) - r*(b))) (default 2)", non_negative),
        options::number(*app, "--sft-mean-scale", o.sft_mean_scale, "X", "spread of the SFT policy's mean map (default 1)",
                        non_negative),
        options::number(*app, "--sft-std", o.sft_std, "X", "SFT policy's standard deviation per feature (default 1)", positive),
    };
  });
  group("data", [&] {
    return std::vector<CLI::Option*>{
        options::integer(*app, "--pairs", o.preference_pairs, "N",
                         "labelled preference pairs from the SFT policy (default 1000)", 1),
        options::integer(*app, "--meta-prompts", o.meta_prompts, "N",
                         "unlabelled prompts per round in the meta set (default 256)", 1),
        options::integer(*app, "--k", o.k, "N", "responses per prompt (meta and evaluation sets) (default 4)", 2),
        options::integer(*app, "--eval-prompts", o.eval_prompts, "N",
                         "prompts per evaluation set, all pairs labelled (default 1000)", 1),
    };
  });
  group("reward model", [&] {
    return std::vector<CLI::Option*>{
        app->add_option("--arm", s.arm_texts,
                        "an arm: kind[:key=value,...], repeatable; kinds vanilla, metarm\n"
                        "(eta, order=first|exact, inner_steps), dot (eta), joint\n"
                        "(lambda); every kind: loss=bt|margin|smoothed,\n"
                        "objective=difference|variance, adapt=X, name=LABEL.\n"
                        "Plain vanilla, the paired baseline, is added when missing\n"
                        "(docs/simulation.md, \"Arms\")")
            ->option_text("SPEC")
            ->default_str("")  // none given: finish() drops its line from the settings
            ->check(options::check([](const std::string& text) {
              try {
                metarm::sim::parse_arm_spec(text);
              } catch (const metarm::sim::ArmSpecError& e) {
                throw UsageError("--arm " + text + ": " + e.what());
              }
            })),
        app->add_option("--eta", s.eta_text,
                        "shorthand: vanilla and one arm metarm:eta=X per value\n(default 1,10; none when --arm is given)")
            ->option_text("X[,X...]")
            ->check(options::check([](const std::string& text) {
              if (!text.empty()) options::number_list("--eta", text, {0.0});
            })),
        app->add_flag("--adapted", s.adapted,
                      "per eta, two more arms scored at theta + eta grad J(theta; meta set):\n"
                      "\"metarm-adapted eta X\" (theta trained by MetaRM) and\n"
                      "\"vanilla-adapted eta X\" (theta trained by vanilla)"),
        app->add_option("--rm-hidden", s.rm_hidden_text,
                        "hidden widths of the ReLU reward model, none for a linear one (default 64)")
            ->option_text("N[,N...]")
            ->check(options::check([](const std::string& text) {
              if (text != "none") options::integer_list("--rm-hidden", text, 1, 1 << 20);
            })),
        options::number(*app, "--rm-lr", o.rm_learning_rate, "X", "Adam learning rate (default 0.001)", positive),
        options::integer(*app, "--rm-epochs", o.rm_epochs, "N", "epochs over the preference pairs per round (default 4)", 1),
        options::integer(*app, "--rm-batch", o.rm_batch, "N", "preference pairs per step (default 32)", 1),
        options::integer(*app, "--meta-batch", o.meta_batch, "N", "meta prompts per step (default 32)", 1),
    };
  });
  group("policy", [&] {
    return std::vector<CLI::Option*>{
        options::integer(*app, "--rounds", o.rounds, "N", "RLHF rounds (default 4)", 1),
        options::integer(*app, "--policy-steps", o.policy_steps, "N", "Adam steps per round (default 100)", 0),
        options::number(*app, "--policy-lr", o.policy_learning_rate, "X", "Adam learning rate (default 0.005)", non_negative),
        options::integer(*app, "--policy-batch", o.policy_batch, "N", "prompts per policy step (default 256)", 1),
        options::number(*app, "--kl", o.kl_weight, "X", "weight of KL(policy || SFT) (default 0.1)", non_negative),
        options::choice(*app, "--policy", s.policy, "MODE",
                        "independent: each reward model drives its own policy;\n"
                        "shared: the vanilla reward model drives one policy that\n"
                        "every reward model is trained and measured on (default independent)",
                        {"independent", "shared"}),
    };
  });
  group("run", [&] {
    return std::vector<CLI::Option*>{
        options::integer(*app, "--seeds", s.seeds, "N", "independent worlds (seeds first-seed ...) (default 10)", 1, 1 << 20),
        options::integer(*app, "--first-seed", s.first_seed, "N", "first seed (default 1)", 0),
        options::integer(*app, "--threads", s.threads, "N", "worker threads, 0 = one per core (default 0)", 0, 1 << 16),
        app->add_option("--out", s.out_dir, "output directory, created if missing (default simulation)")
            ->option_text("DIR")
            ->check(options::check([](const std::string& text) {
              if (text.empty()) throw UsageError("--out needs a directory name");
            })),
        options::choice(*app, "--plot", s.plot, "auto|yes|no", "draw figures with gnuplot (auto: when installed) (default auto)",
                        {"auto", "yes", "no"}),
        options::integer(*app, "--bins", s.bins, "N", "bins of the reward-difference histograms (default 40)", 1, 1 << 20),
        app->add_flag("--quiet", s.quiet, "no progress lines on stderr"),
    };
  });
  return app;
}

// After parsing: the lists and words into their fields, and the settings to write beside the results.
inline void finish(CLI::App& app, RunSettings& s) {
  options::apply_config(app);
  options::reject_extras(app);
  s.etas = !s.eta_text.empty()     ? options::number_list("--eta", s.eta_text, {0.0})
           : s.arm_texts.empty() ? std::vector<double>{1.0, 10.0}
                                 : std::vector<double>{};
  if (s.adapted && s.etas.empty()) {
    throw UsageError("--adapted adds arms per --eta, and --arm leaves --eta empty: give --eta, or write the arms "
                     "with adapt= (e.g. --arm metarm:eta=3,adapt=3)");
  }
  // --eta and --adapted expand to arms, named as before --arm existed; the --arm arms follow them.
  // parse_arm_specs puts the plain vanilla arm, the baseline, in front.
  std::vector<std::string> texts;
  for (double eta : s.etas) {
    const std::string x = metarm::sim::detail::spec_number_text(eta);
    texts.push_back("metarm:eta=" + x + ",name=metarm eta " + x);
  }
  if (s.adapted) {
    for (double eta : s.etas) {
      const std::string x = metarm::sim::detail::spec_number_text(eta);
      texts.push_back("metarm:eta=" + x + ",adapt=" + x + ",name=metarm-adapted eta " + x);
      texts.push_back("vanilla:adapt=" + x + ",name=vanilla-adapted eta " + x);
    }
  }
  texts.insert(texts.end(), s.arm_texts.begin(), s.arm_texts.end());
  try {
    s.arms = metarm::sim::parse_arm_specs(texts);
  } catch (const metarm::sim::ArmSpecError& e) {
    throw UsageError(std::string("--arm ") + e.what());
  }
  s.sim.rm_hidden.clear();
  if (s.rm_hidden_text != "none") {
    for (const std::int64_t h : options::integer_list("--rm-hidden", s.rm_hidden_text, 1, 1 << 20)) s.sim.rm_hidden.push_back(h);
  }
  s.sim.shared_policy = s.policy == "shared";
  s.settings = options::settings_text(app, "metarm-simulate");
  // With no --arm, CLI11 writes the empty list as arm="", which would read back as one empty spec.
  if (const auto at = s.settings.find("\narm=\"\"\n"); at != std::string::npos) s.settings.erase(at + 1, 7);
}

// Parses the command line into `s` and settles it (finish(), then the simulation's own checks); runs nothing.
// Returns false when --help was asked for: the caller prints app.help(). Throws UsageError on wrong usage and
// metarm::Error on settings the simulation refuses.
inline bool parse(CLI::App& app, RunSettings& s, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return false;
  } catch (const CLI::ParseError& e) {
    throw UsageError(options::one_line(e));
  }
  finish(app, s);
  s.sim.validate();
  return true;
}

}  // namespace simulate
