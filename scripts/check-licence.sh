#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fails, naming each file, when a source file of the project lacks its SPDX licence identifier.
#   scripts/check-licence.sh [repository root]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
tag='SPDX-License-Identifier: Apache-2.0'
missing=0
checked=0
while IFS= read -r -d '' f; do
  checked=$((checked + 1))
  # The identifier belongs at the top: the first line, or the second after a #! line.
  if ! head -n 2 "$f" | grep -qF "$tag"; then
    echo "check-licence: ${f#./} has no '$tag' in its first two lines" >&2
    missing=$((missing + 1))
  fi
done < <(find include examples tests benchmarks fuzz scripts cmake .ci -type f \
           \( -name '*.hpp' -o -name '*.cpp' -o -name '*.cu' -o -name '*.sh' -o -name '*.py' \
              -o -name '*.cmake' -o -name '*.in' -o -name 'CMakeLists.txt' -o -name Makefile -o -path '.ci/run' \) -not -path '*/licence_fixture/*' -print0 2>/dev/null;
         find . -maxdepth 1 -name CMakeLists.txt -print0)
if [ "$checked" -eq 0 ]; then
  echo "check-licence: found no source files under $root" >&2
  exit 1
fi
if [ "$missing" -ne 0 ]; then
  echo "check-licence: $missing of $checked files lack the identifier" >&2
  exit 1
fi
echo "check-licence: all $checked source files carry '$tag'"
