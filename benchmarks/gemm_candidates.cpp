// SPDX-License-Identifier: Apache-2.0
// Float32 matrix products of a training step's own shapes, timed on one product library: Eigen's kernels, or,
// when built with METARM_GEMM_CANDIDATE_BLAS, whatever BLAS the program is linked with (OpenBLAS, BLIS, ...)
// through the Fortran sgemm_ every BLAS exports. benchmarks/gemm_candidates.sh builds one program per library
// and prints their GFLOP/s side by side, so that the default product library is chosen on these shapes and
// not only on a square product.
//
// The shapes are those of the MLP Linear(d, h) - ReLU - Linear(h, h) - ReLU - Linear(h, 1) with c batch
// columns (2n for a preference batch of n pairs, m k for a meta batch): forward W X (h x d by d x c), the
// weight gradient dZ X^T (h x c by c x d) and the input gradient W^T dZ (d x h by h x c), plus a square 2048^3
// product for the peak.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#if defined(METARM_GEMM_CANDIDATE_BLAS)
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                       const float* beta, float* c, const int* ldc);
#else
#include <Eigen/Core>
#endif

namespace {

struct Shape {
  const char* what;
  int m, n, k;
  bool trans_a, trans_b;
};

// C (m x n) = op(A) op(B), column-major, op(A) m x k.
void product(const Shape& s, const float* a, const float* b, float* c) {
#if defined(METARM_GEMM_CANDIDATE_BLAS)
  const char ta = s.trans_a ? 'T' : 'N', tb = s.trans_b ? 'T' : 'N';
  const int lda = s.trans_a ? s.k : s.m, ldb = s.trans_b ? s.n : s.k;
  const float one = 1.0f, zero = 0.0f;
  sgemm_(&ta, &tb, &s.m, &s.n, &s.k, &one, a, &lda, b, &ldb, &zero, c, &s.m);
#else
  using Matrix = Eigen::Map<const Eigen::MatrixXf>;
  Eigen::Map<Eigen::MatrixXf> C(c, s.m, s.n);
  const Matrix A(a, s.trans_a ? s.k : s.m, s.trans_a ? s.m : s.k);
  const Matrix B(b, s.trans_b ? s.n : s.k, s.trans_b ? s.k : s.n);
  if (s.trans_a && s.trans_b) {
    C.noalias() = A.transpose() * B.transpose();
  } else if (s.trans_a) {
    C.noalias() = A.transpose() * B;
  } else if (s.trans_b) {
    C.noalias() = A * B.transpose();
  } else {
    C.noalias() = A * B;
  }
#endif
}

// Median GFLOP/s over repetitions of at least 0.2 s of products each.
double gflops(const Shape& s) {
  std::vector<float> a(static_cast<std::size_t>(s.m) * s.k), b(static_cast<std::size_t>(s.k) * s.n),
      c(static_cast<std::size_t>(s.m) * s.n);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i * 7 % 13) - 6) * 0.01f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 5 % 11) - 5) * 0.01f;
  using clock = std::chrono::steady_clock;
  product(s, a.data(), b.data(), c.data());
  std::vector<double> rates;
  for (int rep = 0; rep < 5; ++rep) {
    int count = 0;
    const auto start = clock::now();
    double elapsed = 0;
    while (elapsed < 0.2) {
      product(s, a.data(), b.data(), c.data());
      ++count;
      elapsed = std::chrono::duration<double>(clock::now() - start).count();
    }
    rates.push_back(2.0 * s.m * s.n * static_cast<double>(s.k) * count / elapsed * 1e-9);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const char* label = argc > 1 ? argv[1] : "candidate";
  std::vector<Shape> shapes;
  for (const auto [d, h] : {std::pair{768, 256}, std::pair{4096, 1024}}) {
    for (int c : {64, 128}) {
      shapes.push_back({"forward W X", h, c, d, false, false});
      shapes.push_back({"weight grad dZ X^T", h, d, c, false, true});
      shapes.push_back({"input grad W^T dZ", d, c, h, true, false});
    }
  }
  shapes.push_back({"square", 2048, 2048, 2048, false, false});
  for (const auto& s : shapes) {
    std::printf("%s\t%s\t%d\t%d\t%d\t%.1f\n", label, s.what, s.m, s.n, s.k, gflops(s));
    std::fflush(stdout);
  }
  return 0;
}
