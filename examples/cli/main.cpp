// SPDX-License-Identifier: Apache-2.0
// metarm: train, evaluate and apply reward models on text preference data from the command line, draw their
// figures, and run the HH-RLHF policy-shift benchmark. Exit status: 0 success, 1 an error in data or files
// (named with its file and line), 2 wrong usage (with a one-line reason). Under mpirun, train runs data parallel and bench-shift hands
// its runs out over the ranks (common/ranks.hpp); an error on any rank ends them all with its message.
#include <cstdio>
#include <exception>
#include <string>

#include <unistd.h>

#include "bench_shift.hpp"
#include "command_line.hpp"
#include "common/ranks.hpp"
#include "evaluate.hpp"
#include "plot.hpp"
#include "train.hpp"

int main(int argc, char** argv) {
  const options::ProgramRanks ranks(&argc, &argv, "metarm");
  if (argc < 2) {
    std::fprintf(stderr, "metarm: missing command (train, eval, score, bench-shift, plot; metarm --help lists them)\n");
    return 2;
  }
  const std::string command = argv[1];
  cli::CommandLine line;
  try {
    switch (cli::parse_command_line(line, argc, argv)) {
      case cli::Command::help:
        std::printf("%s", line.app.help().c_str());
        return 0;
      case cli::Command::version:
        std::printf("metarm %s\nmatrix products: %s\nelementwise loops: %s\n", std::string(metarm::version).c_str(),
                    metarm::cpu::product_kernels().c_str(), metarm::cpu::elementwise_kernels().c_str());
        return 0;
      case cli::Command::train: return cli::train_command(line.train, ranks);
      case cli::Command::eval: return cli::eval_command(line.eval);
      case cli::Command::score: return cli::score_command(line.score);
      case cli::Command::bench_shift: return cli::bench_shift_command(line.bench, ranks);
      case cli::Command::plot: return cli::plot_command(line.plot);
      case cli::Command::unknown: break;
    }
    std::fprintf(stderr, "metarm: unknown command '%s' (train, eval, score, bench-shift, plot)\n", command.c_str());
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
