// SPDX-License-Identifier: Apache-2.0
// Must not compile: the strategy has no step() member. The test checks the static_assert's sentence.
#include <metarm/metarm.hpp>

struct NotAStrategy {
  int update() { return 0; }
};

int main() {
  metarm::MetaLearner learner(metarm::LinearModel<double>(2), NotAStrategy{}, metarm::Sgd{});
  (void)learner;
}
