// SPDX-License-Identifier: Apache-2.0
// The JSONL readers of pairs (HH-RLHF transcripts and {prompt, chosen, rejected}) and of meta prompts, plain
// or gzip-compressed, and the featuriser on what they read (small hash tables: the hashing is the same at any
// size, and a small table keeps each input fast).
#include <cstdint>
#include <string>

#include "metarm/data/text_featurizer.hpp"
#include "metarm/io/text_reader.hpp"

#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace metarm;
  static const TextFeaturizer words(FeaturizerSettings{.bits = 8, .ngrams = 1, .structure = false, .seed = 0});
  static const TextFeaturizer ngrams(FeaturizerSettings{.bits = 10, .ngrams = 3, .structure = true, .seed = 7});
  const std::string& path = fuzz::ScratchFile::write(data, size);
  fuzz::expect_error_or_success([&] {
    const TextPairFile file = read_text_pairs(path);
    featurize_pairs(words, file.pairs);
    featurize_pairs(ngrams, file.pairs);
    featurize_prompts(ngrams, prompts_from_pairs(file.pairs));
  });
  fuzz::expect_error_or_success([&] {
    const TextPromptFile file = read_text_prompts(path, TextReadOptions{.drop_identical = false, .max_records = 64});
    featurize_prompts(ngrams, file.prompts);
  });
  return 0;
}
