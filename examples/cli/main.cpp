// SPDX-License-Identifier: Apache-2.0
// metarm: train, evaluate and apply reward models on text preference data from the command line, draw their
// figures, and run the HH-RLHF policy-shift benchmark. Exit status: 0 success, 1 an error in data or files
// (named with its file and line), 2 wrong usage (with a one-line reason). Under mpirun, train runs data parallel and bench-shift hands
// its runs out over the ranks (common/ranks.hpp); an error on any rank ends them all with its message.
#include <cstdio>
#include <exception>
#include <string>

#include <unistd.h>

#include <fmt/core.h>

#include "bench_shift.hpp"
#include "command_line.hpp"
#include "common/ranks.hpp"
#include "evaluate.hpp"
#include "plot.hpp"
#include "train.hpp"

int main(int argc, char** argv) {
  const options::ProgramRanks ranks(&argc, &argv, "metarm");
  if (argc < 2) {
    fmt::print(stderr, "metarm: missing command (train, eval, score, bench-shift, plot; metarm --help lists them)\n");
    return 2;
  }
  const std::string command = argv[1];
  cli::CommandLine line;
  try {
    switch (cli::parse_command_line(line, argc, argv)) {
      case cli::Command::help:
        fmt::print("{}", line.app.help());
        return 0;
      case cli::Command::version:
        fmt::print("metarm {}\nmatrix products: {}\nelementwise loops: {}\n", std::string(metarm::version),
                   metarm::cpu::product_kernels(), metarm::cpu::elementwise_kernels());
        return 0;
      case cli::Command::train: return cli::train_command(line.train, ranks);
      case cli::Command::eval: return cli::eval_command(line.eval);
      case cli::Command::score: return cli::score_command(line.score);
      case cli::Command::bench_shift: return cli::bench_shift_command(line.bench, ranks);
      case cli::Command::plot: return cli::plot_command(line.plot);
      case cli::Command::unknown: break;
    }
    fmt::print(stderr, "metarm: unknown command '{}' (train, eval, score, bench-shift, plot)\n", command);
    return 2;
  } catch (const cli::UsageError& e) {
    fmt::print(stderr, "metarm {}: {} (see metarm {} --help)\n", command, e.what(), command);
    return 2;
  } catch (const std::exception& e) {
    // The other ranks may be waiting for this one in a collective: end them all.
    ranks.abort_if_distributed("metarm " + command + ": error: " + e.what());
    // A progress bar may have left its line open on a terminal.
    fmt::print(stderr, "{}metarm {}: error: {}\n", isatty(2) ? "\n" : "", command, e.what());
    return 1;
  }
}
