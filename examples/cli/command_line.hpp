// SPDX-License-Identifier: Apache-2.0
// The command line of metarm: each command's settings and options, and the parse that fills and checks them
// without reading any data or running anything, so that it can be called on its own (fuzz/cli_fuzz.cpp does).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"

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

// After parsing: the config file, the required options, and the checks that involve more than one option.
inline void settle_train(CLI::App& app, TrainSettings& s) {
  options::apply_config(app);
  options::require(app, {"--pairs", "--out"});
  options::reject_extras(app);
  if (s.strategy == "metarm" && s.meta_path.empty()) throw UsageError("--strategy metarm needs --meta FILE");
  if (s.strategy == "vanilla" && !s.meta_path.empty()) throw UsageError("--meta is only used by --strategy metarm");
  s.model = ModelSpec::parse(s.model_text);
  s.features = metarm::FeaturizerSettings::parse(s.features_text);
  s.settings = options::settings_text(app, "metarm train");
}

struct EvalSettings {
  std::string model, json;
  std::string plot_dir;  // --plot: figures of each set go here
  std::vector<std::string> pairs;
};

inline CLI::App* eval_options(CLI::App& top, EvalSettings& s) {
  CLI::App* app = top.add_subcommand(
      "eval", "accuracy, margin, reward statistics, J and the length-only baseline of a checkpoint");
  options::describe(*app, "metarm eval --model CKPT --pairs FILE... [--json FILE] [--plot DIR]",
                    "Evaluates a checkpoint on labelled pairs: accuracy, margin, loss, reward statistics, the difference "
                    "objective J over each pair's two responses, and the length-only baseline (the direction the "
                    "checkpoint's training pairs favoured: longer or shorter wins), and the calibration error of "
                    "sigmoid(r_chosen - r_rejected) as a probability.");
  app->add_option("--model", s.model, "checkpoint written by metarm train (required)")->option_text("CKPT");
  app->add_option("--pairs", s.pairs, "labelled pairs to evaluate, JSONL (.gz) (required)")->option_text("FILE...");
  app->add_option("--json", s.json, "also write one JSON line of metrics per file ('-': standard output)")
      ->option_text("FILE");
  app->add_option("--plot", s.plot_dir,
                  "draw each file's reward differences and calibration into DIR (created if missing) as PNG, with "
                  "their data as CSV and gnuplot scripts; needs gnuplot")
      ->option_text("DIR");
  return app;
}

inline void settle_eval(CLI::App& app) {
  options::apply_config(app);
  options::require(app, {"--model", "--pairs"});
  options::reject_extras(app);
}

struct ScoreSettings {
  std::string model, input, out = "-";
};

inline CLI::App* score_options(CLI::App& top, ScoreSettings& s) {
  CLI::App* app = top.add_subcommand("score", "one reward per response, as JSON lines");
  options::describe(*app, "metarm score --model CKPT --input FILE [--out FILE]",
                    "Writes one JSON line per response: {\"line\": L, \"index\": i, \"reward\": r, \"normalized\": z}, "
                    "where i counts the responses of input line L (0 = chosen, 1 = rejected for pairs) and z = (r - mean) "
                    "/ std with the reward statistics stored in the checkpoint.");
  app->add_option("--model", s.model, "checkpoint written by metarm train (required)")->option_text("CKPT");
  app->add_option("--input", s.input, "JSONL (.gz) lines: {prompt, response}, {prompt, responses: [...]}, or pairs (required)")
      ->option_text("FILE");
  app->add_option("--out", s.out, "where to write the rewards ('-': standard output) (default -)")->option_text("FILE");
  return app;
}

inline void settle_score(CLI::App& app) {
  options::apply_config(app);
  options::require(app, {"--model", "--input"});
  options::reject_extras(app);
}

struct BenchSettings {
  std::string hh_dir;
  int seeds = 10;
  std::uint64_t first_seed = 1;
  std::vector<double> eta_grid;
  bool eta_fixed = false;
  ModelSpec model;
  metarm::FeaturizerSettings features;
  int epochs = 2;
  index_t batch = 16, meta_batch = 16;
  double lr = 1e-3, weight_decay = 0.0;
  int threads = 1;
  std::int64_t max_pairs = 0;
  std::string csv = "bench-shift.csv", seeds_csv;
  bool quiet = false;
  double eta = 0.0;  // with --eta
  std::string eta_grid_text = "1,3,10,30,100,300,1000", model_text = "linear", features_text = "hash:18";
};

inline std::string default_hh_dir() {
  for (const char* candidate : {"../shared/data/hh-rlhf", "../../shared/data/hh-rlhf"}) {
    if (std::filesystem::is_directory(candidate)) return candidate;
  }
  return "";
}

inline CLI::App* bench_shift_options(CLI::App& top, BenchSettings& s) {
  CLI::App* app = top.add_subcommand("bench-shift", "Vanilla vs MetaRM under the HH-RLHF policy shift, over several seeds");
  options::describe(*app, "metarm bench-shift [--hh DIR] [options]",
                    "Compares Vanilla and MetaRM under the HH-RLHF policy shift (base -> rejection-sampled -> online), "
                    "with harmless-base as a control; prints accuracy per set (mean and 95% CI over seeds), the paired "
                    "MetaRM - Vanilla difference and the length-only baseline, and writes the table as CSV.");
  app->add_option("--hh", s.hh_dir,
                  "HH-RLHF test splits (helpful-base, helpful-rejection-sampled, helpful-online, harmless-base) "
                  "(default ../shared/data/hh-rlhf if present)")
      ->option_text("DIR")
      ->check(CLI::ExistingDirectory);
  options::integer(*app, "--seeds", s.seeds, "N", "evaluation seeds (each draws its own splits, initialisation and order) "
                   "(default 10)", 1, 100000);
  options::integer(*app, "--first-seed", s.first_seed, "S", "first evaluation seed (default 1)", 0, INT64_MAX / 2);
  // No default: without --eta, eta is chosen per seed.
  options::number(*app, "--eta", s.eta, "X", "use this eta for every seed instead of choosing it", {0.0, 1e9})
      ->default_str("");
  app->add_option("--eta-grid", s.eta_grid_text,
                  "candidates for eta, chosen per seed by accuracy on its meta split (default 1,3,10,30,100,300,1000)")
      ->option_text("LIST")
      ->check(options::check([](const std::string& text) { options::number_list("--eta-grid", text, {0.0, 1e9}); }));
  app->add_option("--model", s.model_text, "linear, or mlp:H[,H...] (default linear)")->option_text("SPEC")->check(model_check());
  app->add_option("--features", s.features_text, "hash:BITS[,ngrams:N][,structure:0|1][,seed:S] (default hash:18)")
      ->option_text("SPEC")
      ->check(features_check());
  options::integer(*app, "--epochs", s.epochs, "N", "passes over the training pairs (default 2)", 1, 100000);
  options::integer(*app, "--batch", s.batch, "N", "pairs per step (default 16)", 1, 1 << 24);
  options::integer(*app, "--meta-batch", s.meta_batch, "N", "meta prompts per step (default 16)", 1, 1 << 24);
  options::number(*app, "--lr", s.lr, "X", "AdamW learning rate (default 1e-3)", {0.0, 1e6});
  options::number(*app, "--weight-decay", s.weight_decay, "X", "AdamW decoupled weight decay (default 0)", {0.0, 1e6});
  options::integer(*app, "--threads", s.threads, "T", "training runs in parallel (default 1)", 1, 1024);
  options::integer(*app, "--max-pairs", s.max_pairs, "N", "read at most N pairs per split (a quick, reduced run) (default 0)",
                   0, INT64_MAX);
  app->add_option("--csv", s.csv, "write the table as CSV (default bench-shift.csv)")->option_text("FILE");
  app->add_option("--seeds-csv", s.seeds_csv, "write every seed's accuracies as CSV")->option_text("FILE");
  app->add_flag("--quiet", s.quiet, "no progress output");
  return app;
}

inline void settle_bench_shift(CLI::App& app, BenchSettings& s) {
  options::apply_config(app);
  options::reject_extras(app);
  if (s.hh_dir.empty()) s.hh_dir = default_hh_dir();
  if (s.hh_dir.empty()) throw UsageError("no --hh DIR given and ../shared/data/hh-rlhf does not exist");
  if (app.count("--eta") > 0) {
    s.eta_grid = {s.eta};
    s.eta_fixed = true;
  } else {
    s.eta_grid = options::number_list("--eta-grid", s.eta_grid_text, {0.0, 1e9});
  }
  s.model = ModelSpec::parse(s.model_text);
  s.features = metarm::FeaturizerSettings::parse(s.features_text);
}

struct PlotSettings {
  std::string log, dir;
};

inline CLI::App* plot_options(CLI::App& top, PlotSettings& s) {
  CLI::App* app = top.add_subcommand("plot", "training curves of a metarm train --log file, as PNG");
  options::describe(*app, "metarm plot LOG DIR",
                    "Draws the curves of a metarm train --log file against the step: loss, accuracy, J "
                    "(difference_objective) and every eval_ metric. Writes DIR/NAME.curves.png (NAME: LOG's file name "
                    "without .jsonl and .gz), the points as CSV (NAME.curves.csv) and the gnuplot script that draws "
                    "them (NAME.curves.gp). A line that lacks a metric, or holds null for it, is skipped for that "
                    "curve only. Needs gnuplot.");
  app->set_config();  // nothing to read from a file: the two arguments are the whole command
  app->add_option("LOG", s.log, "JSON lines written by metarm train --log, plain or gzip (required)")->type_name("");
  app->add_option("DIR", s.dir, "folder for the figure and its data, created if missing (required)")->type_name("");
  return app;
}

inline void settle_plot(CLI::App& app, const PlotSettings& s) {
  options::reject_extras(app);
  if (s.log.empty()) throw UsageError("missing LOG, the file written by metarm train --log");
  if (s.dir.empty()) throw UsageError("missing DIR, the folder for the figure");
}

// The command that argv[1] names.
enum class Command { help, version, train, eval, score, bench_shift, plot, unknown };

// Every command's settings with the parser that fills them. Neither copied nor moved: the parser holds
// references into the settings.
struct CommandLine {
  TrainSettings train;
  EvalSettings eval;
  ScoreSettings score;
  BenchSettings bench;
  PlotSettings plot;
  CLI::App app{"", "metarm"};
  CLI::App* train_app = nullptr;
  CLI::App* eval_app = nullptr;
  CLI::App* score_app = nullptr;
  CLI::App* bench_app = nullptr;
  CLI::App* plot_app = nullptr;
  CLI::App* version_app = nullptr;

  CommandLine() {
    app.formatter(std::make_shared<options::Layout>("metarm COMMAND [options]   (metarm COMMAND --help for its options)", ""));
    app.option_defaults()->group("options");
    app.set_help_flag("-h,--help", "this text");
    app.allow_extras();  // an unknown command is named by the program, in its own words
    train_app = train_options(app, train);
    eval_app = eval_options(app, eval);
    score_app = score_options(app, score);
    bench_app = bench_shift_options(app, bench);
    plot_app = plot_options(app, plot);
    version_app = app.add_subcommand("version", "print the library version");
    version_app->formatter(
        std::make_shared<options::Layout>("metarm version", "Prints the library version and the matrix products it uses."));
    version_app->option_defaults()->group("options");
    version_app->set_help_flag("-h,--help", "this text");
    for (CLI::App* sub : {train_app, eval_app, score_app, bench_app, plot_app, version_app}) sub->group("commands");
  }
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;
};

// Parses argv (argc >= 2, argv[1] the command) into `line` and settles the chosen command's settings: its
// --config file, unknown arguments and the checks between options. Reads no data and runs nothing. Throws
// UsageError on wrong usage and metarm::Error on a setting the library refuses; Command::help means the
// caller prints line.app.help().
inline Command parse_command_line(CommandLine& line, int argc, char** argv) {
  const std::string command = argv[1];
  if (command == "help" || command == "--version") {
    // Older spellings of "--help" and "version".
    argv[1] = const_cast<char*>(command == "help" ? "--help" : "version");
  }
  try {
    line.app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return Command::help;
  } catch (const CLI::ParseError& e) {
    throw UsageError(options::one_line(e));
  }
  if (*line.version_app) {
    options::reject_extras(*line.version_app);
    return Command::version;
  }
  if (*line.train_app) {
    settle_train(*line.train_app, line.train);
    return Command::train;
  }
  if (*line.eval_app) {
    settle_eval(*line.eval_app);
    return Command::eval;
  }
  if (*line.score_app) {
    settle_score(*line.score_app);
    return Command::score;
  }
  if (*line.bench_app) {
    settle_bench_shift(*line.bench_app, line.bench);
    return Command::bench_shift;
  }
  if (*line.plot_app) {
    settle_plot(*line.plot_app, line.plot);
    return Command::plot;
  }
  return Command::unknown;
}

}  // namespace cli
