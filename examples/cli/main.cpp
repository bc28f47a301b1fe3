// SPDX-License-Identifier: Apache-2.0
// metarm: train, evaluate and apply reward models on text preference data from the command line, and run the
// HH-RLHF policy-shift benchmark. Exit status: 0 success, 1 an error in data or files (named with its file
// and line), 2 wrong usage (with a one-line reason).
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <unistd.h>

#include "bench_shift.hpp"
#include "evaluate.hpp"
#include "train.hpp"

namespace {

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: metarm COMMAND [options]   (metarm COMMAND --help for its options)\n\n"
               "commands:\n"
               "  train        train a reward model (vanilla or MetaRM) on text preference pairs\n"
               "  eval         accuracy, margin, reward statistics, J and the length-only baseline of a checkpoint\n"
               "  score        one reward per response, as JSON lines\n"
               "  bench-shift  Vanilla vs MetaRM under the HH-RLHF policy shift, over several seeds\n"
               "  version      print the library version\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "metarm: missing command (train, eval, score, bench-shift; metarm --help lists them)\n");
    return 2;
  }
  const std::string command = argv[1];
  try {
    if (command == "--help" || command == "-h" || command == "help") {
      print_usage(stdout);
      return 0;
    }
    if (command == "version" || command == "--version") {
      std::printf("metarm %s\nmatrix products: %s\n", std::string(metarm::version).c_str(),
                  metarm::cpu::product_kernels().c_str());
      return 0;
    }
    if (command == "train") return cli::train_command(argc, argv);
    if (command == "eval") return cli::eval_command(argc, argv);
    if (command == "score") return cli::score_command(argc, argv);
    if (command == "bench-shift") return cli::bench_shift_command(argc, argv);
    std::fprintf(stderr, "metarm: unknown command '%s' (train, eval, score, bench-shift)\n", command.c_str());
    return 2;
  } catch (const cli::UsageError& e) {
    std::fprintf(stderr, "metarm %s: %s (see metarm %s --help)\n", command.c_str(), e.what(), command.c_str());
    return 2;
  } catch (const metarm::Error& e) {
    // A progress bar may have left its line open on a terminal.
    std::fprintf(stderr, "%smetarm %s: error: %s\n", isatty(2) ? "\n" : "", command.c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%smetarm %s: error: %s\n", isatty(2) ? "\n" : "", command.c_str(), e.what());
    return 1;
  }
}
