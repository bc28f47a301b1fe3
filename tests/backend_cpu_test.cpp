// The backend-generic cases (backend_cases.hpp) on the CPU backend.
#define METARM_TEST_BACKEND ::metarm::cpu
#include "backend_cases.hpp"

// Long elementwise passes run in blocks spread over the context's threads; each element must come out the
// same whatever the split.
TEST_CASE("cpu: long elementwise passes give the same bits on one and two threads", "[backend][cpu]") {
  using metarm::cpu;
  using metarm::index_t;
  const index_t size = 300001;  // long enough to be split, and not a multiple of the block
  metarm::Rng rng(41);
  std::vector<float> p0(size), g(size), m0(size), v0(size);
  for (index_t i = 0; i < size; ++i) {
    p0[i] = float(rng.normal());
    g[i] = float(rng.normal());
    m0[i] = float(rng.normal()) * 0.1f;
    v0[i] = float(rng.uniform(0.0, 1.0));
  }
  auto view = [](std::vector<float>& x) { return metarm::VectorView<float>{x.data(), index_t(x.size())}; };
  auto cview = [](const std::vector<float>& x) { return metarm::VectorView<const float>{x.data(), index_t(x.size())}; };
  auto run = [&](int threads) {
    cpu::context ctx(threads);
    std::vector<float> p = p0, m = m0, v = v0, w = p0, z(size), c(size);
    cpu::adam_update(ctx, view(p), cview(g), view(m), view(v), 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f, true, 0.1f, 0.001f);
    cpu::sgd_update(ctx, view(w), cview(g), 1e-2f, 1e-3f);
    cpu::axpy(ctx, 0.5f, cview(g), view(w));
    cpu::add_scaled(ctx, cview(p0), 0.25f, cview(g), view(z));
    cpu::scale(ctx, 3.0f, view(z));
    cpu::copy(ctx, cview(z), view(c));
    return std::vector<std::vector<float>>{p, m, v, w, z, c};
  };
  const int threads_before = Eigen::nbThreads();
  const auto one = run(1);
  const auto two = run(2);
  Eigen::setNbThreads(threads_before);
  for (std::size_t k = 0; k < one.size(); ++k) {
    INFO("output " << k);
    CHECK(std::memcmp(one[k].data(), two[k].data(), one[k].size() * sizeof(float)) == 0);
  }
  // And the values are the formulas': AdamW (decoupled) and the plain passes, checked in double.
  const float* p = one[0].data();
  const float* w = one[3].data();
  const float* c = one[5].data();
  for (index_t i = 0; i < size; i += 997) {
    const double m = 0.9 * m0[i] + 0.1 * g[i];
    const double v = 0.999 * v0[i] + 0.001 * double(g[i]) * g[i];
    const double expected_p = p0[i] * (1.0 - 1e-3 * 1e-2) - (1e-3 / 0.1) * m / (std::sqrt(v) / std::sqrt(0.001) + 1e-8);
    CHECK(p[i] == Approx(expected_p).epsilon(1e-5).margin(1e-6));
    CHECK(w[i] == Approx(p0[i] - 1e-2 * (g[i] + 1e-3 * p0[i]) + 0.5 * g[i]).epsilon(1e-5).margin(1e-6));
    CHECK(c[i] == Approx(3.0 * (p0[i] + 0.25 * g[i])).epsilon(1e-5).margin(1e-6));
  }
}
