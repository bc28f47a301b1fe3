// Settings of a MetaLearner and of one fit.
#pragma once

#include <cstdint>

#include "metarm/core/config.hpp"
#include "metarm/data/meta_set.hpp"
#include "metarm/data/preference_set.hpp"
#include "metarm/strategy/step_context.hpp"

namespace metarm {

struct LearnerOptions {
  std::uint64_t seed = 0;  // parameter initialisation and data order
  StepOptions step{};      // centering, gradient clipping, learning-rate schedule
};

template <class T>
struct FitOptions {
  int epochs = 1;
  index_t batch_size = 16;       // preference pairs per step (n)
  index_t meta_batch_size = 16;  // meta prompts per step (m); the meta set is cycled, reshuffled each pass
  bool drop_last = false;        // drop the last, smaller batch of each epoch
  std::int64_t max_steps = 0;    // stop after this many steps; 0 = no limit
  // Evaluation on held-out data: every `eval_every` steps, or at each epoch's end when 0.
  const PreferenceSet<T>* eval_pairs = nullptr;
  const MetaSet<T>* eval_meta = nullptr;
  std::int64_t eval_every = 0;
};

}  // namespace metarm
