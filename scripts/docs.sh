#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the API reference (HTML) from the headers' comments with doxygen (docs/Doxyfile), and fails on any
# warning: an undocumented public name, a markup error, a reference that does not resolve.
#   scripts/docs.sh [output folder]      (default build/api-reference; open index.html in it)
# Runs scripts/install-deps.sh first when doxygen is missing; DOXYGEN names another doxygen to run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/api-reference}
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac

doxygen=${DOXYGEN:-doxygen}
if ! command -v "$doxygen" >/dev/null; then
  "$root/scripts/install-deps.sh"  # doxygen is among the packages it installs
fi

# The version, from version.hpp, which a ctest case keeps equal to the CMake project version.
version=$(sed -n 's/^#define METARM_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
            "$root/include/metarm/core/version.hpp" | paste -sd.)

# A folder left by an earlier build is replaced, so that pages of removed names do not linger; any other
# non-empty folder is refused rather than emptied.
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  if [ -f "$out/index.html" ] && [ -f "$out/doxygen.css" ]; then
    rm -rf "$out"
  else
    echo "docs: $out exists and is not an earlier API reference; give an empty or new folder" >&2
    exit 1
  fi
fi
mkdir -p "$out"

cd "$root"
start=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
{ cat docs/Doxyfile
  echo "PROJECT_NUMBER = $version"
  echo "OUTPUT_DIRECTORY = $(dirname "$out")"
  echo "HTML_OUTPUT = $(basename "$out")"
} | "$doxygen" - >/dev/null 2>"$log" || status=$?
seconds=$(( $(date +%s) - start ))
warnings=$(grep -c 'warning:\|error:' "$log" || true)
if [ "$status" -ne 0 ] || [ -s "$log" ]; then
  cat "$log" >&2
  echo "docs: FAILED: doxygen $("$doxygen" --version) exited with status $status, $warnings warning(s), in ${seconds}s" >&2
  exit 1
fi
echo "docs: metarm $version API reference in $out/index.html: 0 warnings, ${seconds}s"
