// SPDX-License-Identifier: Apache-2.0
// The .npy reader, and the embedding readers on .npy files: pairs (the input as both chosen and rejected
// array) and meta sets.
#include <cstdint>
#include <string>
#include <vector>

#include "metarm/io/embedding_reader.hpp"
#include "metarm/io/npy.hpp"

#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace metarm;
  const std::vector<unsigned char> bytes(data, data + size);
  fuzz::expect_error_or_success([&] {
    const NpyArray array = parse_npy("input.npy", bytes);
    fuzz::require(array.values.size() == static_cast<std::size_t>(array.elements()), "the values match the shape");
  });
  const std::string& path = fuzz::ScratchFile::write(data, size);
  fuzz::expect_error_or_success([&] { read_embedding_pairs<float>(path, path); });
  fuzz::expect_error_or_success([&] { read_embedding_meta<double>(path); });
  return 0;
}
