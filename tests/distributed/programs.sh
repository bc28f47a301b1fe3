#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The programs under mpirun. Usage: programs.sh CASE MPIEXEC METARM METARM_SIMULATE [HH_RLHF_DIR]
#   train     metarm train on 2 ranks gives the model of one process (the same evaluation to 4 decimals), with
#             one log, one checkpoint and one report
#   simulate  metarm-simulate on 2 ranks prints the tables and writes the files of one process
#   bench     metarm bench-shift on 2 ranks (a reduced run) prints the table and writes the CSV of one process;
#             skipped (77), saying why, without the HH-RLHF data
#   errors    a global batch that does not divide among the ranks, and an unreadable file, end every rank with
#             exit status 1 and the reason, within seconds
set -uo pipefail

case_name=$1 mpiexec=$2 metarm=$3 simulate=$4 hh_dir=${5:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }
ranks() { timeout --kill-after=5 120 "$mpiexec" --oversubscribe -np "$@"; }
# shellcheck source=../cli/pairs.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cli/pairs.sh"
write_pairs train.jsonl 96 0
write_pairs meta.jsonl 32 500
write_pairs eval.jsonl 40 900

case "$case_name" in
train)
  common=(train --pairs train.jsonl --meta meta.jsonl --strategy metarm --eta 10 --batch 16 --meta-batch 8
          --epochs 3 --features hash:12 --eval eval.jsonl --log-every 1)
  "$metarm" "${common[@]}" --out one.safetensors --log one.jsonl >one.out 2>one.err || { cat one.err; fail "one process failed"; }
  ranks 2 "$metarm" "${common[@]}" --out two.safetensors --log two.jsonl >two.out 2>two.err ||
    { cat two.out two.err; fail "2 ranks failed"; }
  cat two.out
  [ -s two.safetensors ] && [ -s two.toml ] || fail "2 ranks wrote no checkpoint or settings"
  [ "$(grep -c '^trained' two.out)" -eq 1 ] || fail "the report is not printed once"
  [ "$(wc -l <two.jsonl)" -eq "$(wc -l <one.jsonl)" ] ||
    fail "the log has $(wc -l <two.jsonl) lines on 2 ranks, $(wc -l <one.jsonl) in one process"
  grep "eval eval.jsonl" one.out >one.eval
  grep "eval eval.jsonl" two.out >two.eval
  [ -s one.eval ] || fail "no evaluation line"
  diff one.eval two.eval || fail "2 ranks evaluate differently from one process"
  [ "$(grep -c 'steps' two.out)" -ge 1 ] && grep -q "18 steps" two.out || fail "expected 18 steps of the global batch 16"
  echo "2 ranks: the evaluation of one process ($(cat two.eval | tr -s ' '))"
  ;;
simulate)
  options=(--seeds 3 --rounds 2 --pairs 200 --meta-prompts 32 --eval-prompts 100 --plot no --quiet --threads 1)
  "$simulate" "${options[@]}" --out one >one.out 2>one.err || { cat one.err; fail "one process failed"; }
  ranks 2 "$simulate" "${options[@]}" --out two >two.out 2>two.err || { cat two.out two.err; fail "2 ranks failed"; }
  # The last line holds the wall time.
  diff <(sed '$d' one.out) <(sed '$d' two.out | sed 's|two/|one/|') || fail "the tables differ"
  for file in rounds summary worlds reward_gaps; do
    cmp "one/$file.csv" "two/$file.csv" || fail "$file.csv differs"
  done
  echo "2 ranks: the same tables and CSV files as one process ($(grep -c . two.out) lines)"
  ;;
bench)
  [ -n "$hh_dir" ] && [ -d "$hh_dir" ] || { echo "skipped: the HH-RLHF data is not at '$hh_dir'"; exit 77; }
  options=(bench-shift --hh "$hh_dir" --seeds 2 --max-pairs 150 --eta 10 --epochs 1 --features hash:12 --quiet)
  "$metarm" "${options[@]}" --csv one.csv >one.out 2>one.err || { cat one.err; fail "one process failed"; }
  ranks 2 "$metarm" "${options[@]}" --csv two.csv >two.out 2>two.err || { cat two.out two.err; fail "2 ranks failed"; }
  diff <(grep -v -e '^wall time' -e '^table written' one.out) <(grep -v -e '^wall time' -e '^table written' two.out) ||
    fail "the tables differ"
  cmp one.csv two.csv || fail "the CSV files differ"
  echo "2 ranks: the table and CSV of one process"
  ;;
errors)
  start=$(date +%s)
  ranks 2 "$metarm" train --pairs train.jsonl --batch 15 --out bad.safetensors --features hash:12 >out 2>err
  status=$?
  cat err
  [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$status" -ne 137 ] || fail "exit status $status"
  grep -q "global batch of 15 pairs (argument 'batch_size') does not divide among 2 ranks" err ||
    fail "the reason is not given"
  [ ! -e bad.safetensors ] || fail "a checkpoint was written"
  # Rank 1 alone cannot read its file: the others are stopped too.
  ranks 2 bash -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then p=missing.jsonl; else p=train.jsonl; fi
                   exec "$0" train --pairs "$p" --batch 16 --epochs 1000 --out x.safetensors --features hash:12 --quiet' \
    "$metarm" >out 2>err
  status=$?
  cat err
  [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$status" -ne 137 ] || fail "exit status $status with one rank failing"
  grep -q "rank 1 of 2: metarm train: error: .*missing.jsonl" err || fail "rank 1's reason is not given"
  echo "errors end every rank in $(( $(date +%s) - start ))s with the reason"
  ;;
*)
  fail "unknown case '$case_name'"
  ;;
esac
