// SPDX-License-Identifier: Apache-2.0
/// \file
/// The four routines of the reference BLAS interface that the CPU backend calls when the build links a BLAS
/// (METARM_BLAS): float and double matrix-matrix and matrix-vector products. They are declared here rather than
/// taken from Eigen's BLAS bindings (EIGEN_USE_BLAS), which a program would otherwise parse in every translation
/// unit (0.9 s of CPU each) for products the backend never asks Eigen for. The declarations match Eigen's own,
/// so a program that also defines EIGEN_USE_BLAS declares the same functions twice, which C++ allows.
#pragma once

#if defined(METARM_BLAS) || defined(EIGEN_USE_BLAS)
extern "C" {
int sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*, const int*,
           const float*, const int*, const float*, float*, const int*);
int dgemm_(const char*, const char*, const int*, const int*, const int*, const double*, const double*, const int*,
           const double*, const int*, const double*, double*, const int*);
int sgemv_(const char*, const int*, const int*, const float*, const float*, const int*, const float*, const int*,
           const float*, float*, const int*);
int dgemv_(const char*, const int*, const int*, const double*, const double*, const int*, const double*, const int*,
           const double*, double*, const int*);
#if defined(METARM_BLAS_OPENBLAS)
// OpenBLAS's own description of itself, and the kernels its run-time dispatch chose for this CPU.
char* openblas_get_config(void);
char* openblas_get_corename(void);
#endif
}
/// Defined when the CPU backend's float and double products go to a BLAS.
#define METARM_DETAIL_BLAS_PRODUCTS 1
#endif
