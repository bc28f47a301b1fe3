// SPDX-License-Identifier: Apache-2.0
// metarm: train, evaluate and apply reward models on text preference data from the command line, and run the
// HH-RLHF policy-shift benchmark. Exit status: 0 success, 1 an error in data or files (named with its file
// and line), 2 wrong usage (with a one-line reason). Under mpirun, train runs data parallel and bench-shift hands
// its runs out over the ranks (common/ranks.hpp); an error on any rank ends them all with its message.
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include <unistd.h>

#include "bench_shift.hpp"
#include "common/ranks.hpp"
#include "evaluate.hpp"
#include "train.hpp"

int main(int argc, char** argv) {
  const options::ProgramRanks ranks(&argc, &argv, "metarm");
  if (argc < 2) {
    std::fprintf(stderr, "metarm: missing command (train, eval, score, bench-shift; metarm --help lists them)\n");
    return 2;
  }
  const std::string command = argv[1];
  CLI::App app("", "metarm");
  app.formatter(std::make_shared<options::Layout>("metarm COMMAND [options]   (metarm COMMAND --help for its options)", ""));
  app.option_defaults()->group("options");
  app.set_help_flag("-h,--help", "this text");
  app.allow_extras();  // an unknown command is named below, in the program's words
  cli::TrainSettings train;
  cli::EvalSettings eval;
  cli::ScoreSettings score;
  cli::BenchSettings bench;
  CLI::App* train_app = cli::train_options(app, train);
  CLI::App* eval_app = cli::eval_options(app, eval);
  CLI::App* score_app = cli::score_options(app, score);
  CLI::App* bench_app = cli::bench_shift_options(app, bench);
  CLI::App* version_app = app.add_subcommand("version", "print the library version");
  version_app->formatter(std::make_shared<options::Layout>("metarm version", "Prints the library version and the matrix products it uses."));
  version_app->option_defaults()->group("options");
  version_app->set_help_flag("-h,--help", "this text");
  for (CLI::App* sub : {train_app, eval_app, score_app, bench_app, version_app}) sub->group("commands");
  try {
    try {
      if (command == "help" || command == "--version") {
        // Older spellings of "--help" and "version".
        argv[1] = const_cast<char*>(command == "help" ? "--help" : "version");
      }
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      std::printf("%s", app.help().c_str());
      return 0;
    } catch (const CLI::ParseError& e) {
      throw cli::UsageError(options::one_line(e));
    }
    if (*version_app) {
      options::reject_extras(*version_app);
      std::printf("metarm %s\nmatrix products: %s\nelementwise loops: %s\n", std::string(metarm::version).c_str(),
                  metarm::cpu::product_kernels().c_str(), metarm::cpu::elementwise_kernels().c_str());
      return 0;
    }
    if (*train_app) return cli::train_command(*train_app, train, ranks);
    if (*eval_app) return cli::eval_command(*eval_app, eval);
    if (*score_app) return cli::score_command(*score_app, score);
    if (*bench_app) return cli::bench_shift_command(*bench_app, bench, ranks);
    std::fprintf(stderr, "metarm: unknown command '%s' (train, eval, score, bench-shift)\n", command.c_str());
    return 2;
  } catch (const cli::UsageError& e) {
    std::fprintf(stderr, "metarm %s: %s (see metarm %s --help)\n", command.c_str(), e.what(), command.c_str());
    return 2;
  } catch (const std::exception& e) {
    // The other ranks may be waiting for this one in a collective: end them all.
    ranks.abort_if_distributed("metarm " + command + ": error: " + e.what());
    // A progress bar may have left its line open on a terminal.
    std::fprintf(stderr, "%smetarm %s: error: %s\n", isatty(2) ? "\n" : "", command.c_str(), e.what());
    return 1;
  }
}
