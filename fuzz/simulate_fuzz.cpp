// SPDX-License-Identifier: Apache-2.0
// The command line of metarm-simulate (examples/simulate/command_line.hpp): parsing, the --config file, and
// the checks of the simulation's settings, up to the point where the program would start simulating. Wrong
// usage (options::UsageError) and settings the simulation refuses (metarm::Error), both exit status 2, are the
// expected refusals. Input: see cli_args.hpp.
#include <cstdint>

#include "simulate/command_line.hpp"

#include "cli_args.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Arguments arguments(data, size, "metarm-simulate");
  try {
    fuzz::expect_error_or_success([&] {
      simulate::RunSettings settings;
      const auto app = simulate::command_line(settings);
      if (!simulate::parse(*app, settings, arguments.argc(), arguments.argv())) app->help();
    });
  } catch (const options::UsageError&) {
    ++fuzz::refused;
  }
  return 0;
}
