#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An error on one rank must end every rank, with that rank's message, within seconds, never a hang:
#   expect_abort.sh MPIEXEC RANKS PROGRAM ARGS... -- MESSAGE
# runs the program on RANKS ranks and passes when mpirun fails (not by the 60 s timeout) and its output holds
# MESSAGE.
set -uo pipefail
mpiexec=$1 ranks=$2 program=$3
shift 3
args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
shift
message=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s)
timeout --kill-after=5 60 "$mpiexec" --oversubscribe -np "$ranks" "$program" "${args[@]}" >"$out" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
cat "$out"
if [ "$rc" -eq 0 ]; then echo "expect_abort: the run succeeded; it should have failed" >&2; exit 1; fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "expect_abort: the run hung (killed after 60 s)" >&2; exit 1; fi
if ! grep -qF -- "$message" "$out"; then echo "expect_abort: the output does not hold '$message'" >&2; exit 1; fi
echo "expect_abort: every rank ended (exit status $rc) in ${took}s with the failing rank's message"
