// SPDX-License-Identifier: Apache-2.0
// Uses each thing the pkg-config files must supply: the headers and Eigen's (Cflags and Requires), the BLAS
// that product_kernels() asks for its configuration (Libs), OpenMP (the flag in both), and for metarm-io,
// zlib, through which LineReader reads even a plain file.
#include <cstdio>
#include <string>

#include <metarm/io.hpp>
#include <metarm/metarm.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: metarm_pkgconfig_consumer <text file>\n");
    return 2;
  }
  metarm::LineReader reader(argv[1]);
  std::string line;
  long lines = 0;
  while (reader.next(line)) ++lines;
  if (lines == 0) {
    std::printf("pkg-config consumer failed: no lines in %s\n", argv[1]);
    return 1;
  }
#ifdef _OPENMP
  const char* openmp = "yes";
#else
  const char* openmp = "no";
#endif
  std::printf("pkg-config consumer ok: metarm %s, openmp %s, %ld lines read, matrix products: %s\n",
              std::string(metarm::version).c_str(), openmp, lines, metarm::cpu::product_kernels().c_str());
  return 0;
}
