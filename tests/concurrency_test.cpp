// SPDX-License-Identifier: Apache-2.0
// Re-entrancy: learners on different threads, each with its own cpu::context, do not disturb one another.
// Its own program, so that it also builds alone under ThreadSanitizer (scripts/test.sh --tsan).
#include "test_support.hpp"

#include <cstring>
#include <thread>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

using namespace metarm;
using test::index_t;

namespace {

struct Problem {
  PreferenceSet<double> train;
  MetaSet<double> meta;
  Mlp<Tanh, double> model;
};

// Wide enough that the products of a step reach gemm's split over threads (256 x 128 x 64 = 2^21
// multiply-adds), small enough to stay quick under a sanitizer.
Problem make_problem(std::uint64_t seed) {
  Rng rng(seed);
  const index_t d = 64;
  const auto w = test::random_vector<double>(rng, d);
  return {test::separable_pairs<double>(rng, d, 384, w), test::random_meta<double>(rng, d, 64, {4}),
          Mlp<Tanh, double>(d, {256})};
}

std::vector<double> train(const Problem& problem, int threads, std::uint64_t seed, bool fit = true) {
  MetaLearner learner(problem.model, MetaRM(0.3), Adam{.learning_rate = 1e-3}, LearnerOptions{.seed = seed},
                      cpu::context(threads));
  if (fit) {
    learner.fit(problem.train, &problem.meta,
                FitOptions<double>{.epochs = 1, .batch_size = 128, .meta_batch_size = 8});
  }
  return learner.parameters();
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

int own_openmp_default() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace

TEST_CASE("two learners trained at once on two threads get the bits each gets alone", "[concurrency]") {
  const Problem first = make_problem(11), second = make_problem(12);
  const int openmp_before = own_openmp_default();
  const int eigen_before = Eigen::nbThreads();

  const auto first_alone = train(first, 1, 5);
  const auto second_alone = train(second, 2, 6);
  // Training moved the parameters, and the two runs differ, so equal bits below are not a vacuous match.
  CHECK_FALSE(same_bits(first_alone, train(first, 1, 5, false)));
  CHECK_FALSE(same_bits(first_alone, second_alone));

  for (int round = 0; round < 2; ++round) {
    std::vector<double> first_together, second_together;
    std::thread a([&] { first_together = train(first, 1, 5); });
    std::thread b([&] { second_together = train(second, 2, 6); });
    a.join();
    b.join();
    INFO("round " << round);
    CHECK(same_bits(first_together, first_alone));
    CHECK(same_bits(second_together, second_alone));
  }

  // Nothing process-wide moved: not this thread's OpenMP default, not Eigen's thread count.
  CHECK(own_openmp_default() == openmp_before);
  CHECK(Eigen::nbThreads() == eigen_before);
}

TEST_CASE("a context's thread count is its own", "[concurrency]") {
  cpu::context one(1), two(2), unset;
  CHECK(one.threads() == 1);
  CHECK(two.threads() == 2);
  CHECK(unset.threads() == own_openmp_default());
  one.set_threads(3);
  CHECK(two.threads() == 2);
  CHECK(unset.threads() == own_openmp_default());

  // A product on one thread leaves the calling thread's OpenMP default as it found it.
  const int before = own_openmp_default();
  const std::vector<double> a(300 * 200, 0.5), b(200 * 100, 0.25);
  std::vector<double> c(300 * 100);
  cpu::context serial(1);
  cpu::gemm<double>(serial, Trans::no, Trans::no, 1.0, test::matrix(a, 300, 200), test::matrix(b, 200, 100), 0.0,
                    test::matrix(c, 300, 100));
  CHECK(c[0] == Approx(200 * 0.125));
  CHECK(own_openmp_default() == before);
}
