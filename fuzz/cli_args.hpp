// SPDX-License-Identifier: Apache-2.0
// The input of the command-line targets: NUL-separated fields, the first the text of a --config file and the
// others the arguments after the program's name; an argument "CONFIG" stands for that file's path, so that
// the fuzzer reaches the config reader through any option order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz.hpp"

namespace fuzz {

class Arguments {
 public:
  Arguments(const std::uint8_t* data, std::size_t size, const char* program) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    const std::size_t end_of_config = std::min(input.find('\0'), input.size());
    const std::string& config = ScratchFile::write(data, end_of_config);
    strings_.push_back(program);
    for (std::size_t start = end_of_config + 1; start <= input.size() && end_of_config < input.size();) {
      const std::size_t end = std::min(input.find('\0', start), input.size());
      const std::string field = input.substr(start, end - start);
      strings_.push_back(field == "CONFIG" ? config : field);
      start = end + 1;
    }
    for (std::string& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }

  int argc() const { return static_cast<int>(strings_.size()); }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

}  // namespace fuzz
