// SPDX-License-Identifier: Apache-2.0
// The command line of the metarm program (examples/cli/command_line.hpp): parsing, the --config file, and the
// checks of each command's settings, up to the point where the program would start reading data. Wrong usage
// (options::UsageError, exit status 2) and a setting the library refuses (metarm::Error) are the expected
// refusals. Input: see cli_args.hpp.
#include <cstdint>

#include "cli/command_line.hpp"

#include "cli_args.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Arguments arguments(data, size, "metarm");
  if (arguments.argc() < 2) return 0;  // the program reports a missing command before any parsing
  try {
    fuzz::expect_error_or_success([&] {
      cli::CommandLine line;
      if (cli::parse_command_line(line, arguments.argc(), arguments.argv()) == cli::Command::help) line.app.help();
    });
  } catch (const options::UsageError&) {
    ++fuzz::refused;
  }
  return 0;
}
