// SPDX-License-Identifier: Apache-2.0
// Comparisons the data-parallel test programs make across ranks and against one process.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace rank_checks {

// The largest element-wise difference; infinite when the sizes differ.
inline double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = a.size() == b.size() ? 0.0 : INFINITY;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

// Whether every rank holds the bits rank 0 holds.
inline bool same_on_every_rank(const std::vector<double>& values, MPI_Comm comm) {
  std::vector<double> root = values;
  MPI_Bcast(root.data(), static_cast<int>(root.size()), MPI_DOUBLE, 0, comm);
  int same = std::memcmp(root.data(), values.data(), values.size() * sizeof(double)) == 0 ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_MIN, comm);
  return same == 1;
}

}  // namespace rank_checks
