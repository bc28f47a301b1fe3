// SPDX-License-Identifier: Apache-2.0
// Runs a fuzz target on the files of a seed corpus without libFuzzer, so that the normal build's tests replay
// every seed (and every input that once crashed a target) under the compiler and flags of that build.
//   fuzz_replay_<target> DIR_OR_FILE...
// Fails when it finds no input, when the corpus holds no input the reader accepts or none it refuses (each
// corpus is meant to hold both), and, by escaping, on any outcome other than success or a metarm::Error.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz.hpp"

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path given = argv[i];
    if (std::filesystem::is_directory(given)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(given)) {
        if (entry.is_regular_file()) inputs.push_back(entry.path());
      }
    } else if (std::filesystem::is_regular_file(given)) {
      inputs.push_back(given);
    } else {
      std::fprintf(stderr, "replay: %s is neither a file nor a directory\n", argv[i]);
      return 1;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::fprintf(stderr, "replay: no input files given\n");
    return 1;
  }
  for (const auto& input : inputs) {
    std::ifstream in(input, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.eof() && in.fail()) {
      std::fprintf(stderr, "replay: cannot read %s\n", input.c_str());
      return 1;
    }
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", input.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("replay: %zu inputs; %zu parses accepted, %zu refused with metarm::Error\n", inputs.size(),
              fuzz::accepted, fuzz::refused);
  if (fuzz::accepted == 0 || fuzz::refused == 0) {
    std::fprintf(stderr, "replay: the corpus must hold inputs the target accepts and inputs it refuses\n");
    return 1;
  }
  return 0;
}
