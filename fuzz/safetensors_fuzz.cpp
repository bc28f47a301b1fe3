// SPDX-License-Identifier: Apache-2.0
// The safetensors reader, and what reads on top of it: the embedding readers' tensors ("chosen", "rejected",
// "margin", "responses") and the checkpoint loader, restoring into a small fixed model (mlp<relu>(3,2,1) with
// Adam), the model of the checkpoints in the seed corpus.
#include <cstdint>
#include <string>
#include <vector>

#include "metarm/io/checkpoint.hpp"
#include "metarm/io/embedding_reader.hpp"
#include "metarm/io/safetensors.hpp"
#include "metarm/learner/meta_learner.hpp"
#include "metarm/metarm.hpp"

#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace metarm;
  std::vector<unsigned char> bytes(data, data + size);
  fuzz::expect_error_or_success([&] {
    const SafetensorsFile file = SafetensorsFile::parse("input.safetensors", std::move(bytes));
    for (const TensorInfo& t : file.tensors()) {
      fuzz::require(file.bytes(t).size() == static_cast<std::size_t>(t.elements()) * dtype_size(t.dtype),
                    "a tensor's bytes match its dtype and shape");
    }
    fuzz::expect_error_or_success([&] { read_embedding_pairs<float>(file); });
    fuzz::expect_error_or_success([&] { read_embedding_meta<double>(file); });
    fuzz::expect_error_or_success([&] {
      const Checkpoint checkpoint(file);
      for (const auto& entry : checkpoint.metadata()) {
        fuzz::expect_error_or_success([&] { checkpoint.number(entry.first); });
        fuzz::expect_error_or_success([&] { checkpoint.integer(entry.first); });
      }
      if (checkpoint.has_fit_state()) fuzz::expect_error_or_success([&] { checkpoint.fit_state(); });
      MetaLearner learner(Mlp<ReLU, float>(3, {2}), Vanilla{}, Adam{}, LearnerOptions{.seed = 1});
      checkpoint.restore_training_state(learner);
    });
  });
  return 0;
}
