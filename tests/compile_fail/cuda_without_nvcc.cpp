// SPDX-License-Identifier: Apache-2.0
// Must not compile: metarm::cuda used in a translation unit that nvcc does not compile. The test checks the
// static_assert's sentence.
#include <metarm/metarm.hpp>

int main() {
  metarm::MetaLearner<metarm::LinearModel<float>, metarm::Vanilla, metarm::Sgd, metarm::cuda> learner(
      metarm::LinearModel<float>(2), metarm::Vanilla{}, metarm::Sgd{});
  (void)learner;
}
