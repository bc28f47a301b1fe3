#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end tests of the metarm program. Usage: cli_test.sh CASE METARM_BINARY [HH_RLHF_DIR]
# Each case prints what it checks and exits 0 (pass), 1 (fail) or 77 (skipped, with the reason).
set -uo pipefail

case_name=$1
metarm=$2
hh_dir=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_status() {  # expect_status WANT COMMAND...
  local want=$1; shift
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  [ "$got" -eq "$want" ] || { cat "$work/out" "$work/err" >&2; fail "'$*' exited $got, expected $want"; }
}
# shellcheck source=cli/pairs.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli/pairs.sh"

case "$case_name" in
usage)
  expect_status 2 "$metarm"
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "no-command message is not one line"
  expect_status 2 "$metarm" frobnicate
  grep -q "unknown command 'frobnicate'" "$work/err" || fail "unknown command not named"
  expect_status 2 "$metarm" train --pairs x.jsonl
  grep -q "missing required option --out" "$work/err" || fail "missing --out not named"
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "usage error is not one line"
  expect_status 2 "$metarm" train --pairs x --out y --colour blue
  grep -q "unknown option --colour" "$work/err" || fail "unknown option not named"
  expect_status 2 "$metarm" train --pairs x --out y --strategy metarm
  grep -q "needs --meta FILE" "$work/err" || fail "metarm without --meta not explained"
  expect_status 2 "$metarm" train --pairs x --out y --epochs zero
  grep -q -- "--epochs needs an integer" "$work/err" || fail "bad number not explained"
  expect_status 2 "$metarm" train --pairs x --out y --model mlp:0
  expect_status 2 "$metarm" train --pairs x --out y --features hash:99
  grep -q "features" "$work/err" || fail "bad --features not explained"
  expect_status 2 "$metarm" eval --model m.safetensors
  expect_status 2 "$metarm" bench-shift --hh "$work/absent"
  for command in train eval score bench-shift plot; do
    expect_status 0 "$metarm" "$command" --help
    grep -q "usage: metarm $command" "$work/out" || fail "$command --help prints no usage"
  done
  echo "usage errors exit 2 with one line; --help works for every command"
  ;;

train-eval-score)
  write_pairs "$work/train.jsonl" 300 0
  write_pairs "$work/test.jsonl" 100 1000
  gzip -k "$work/test.jsonl"
  printf '{"prompt": "p", "responses": ["word1 thanks for asking", "word2 no idea", "word3 maybe"]}\n' >"$work/meta.jsonl"
  write_pairs "$work/shifted.jsonl" 40 5000
  cat "$work/shifted.jsonl" >>"$work/meta.jsonl"

  expect_status 0 "$metarm" train --pairs "$work/train.jsonl" --eval "$work/test.jsonl.gz" --out "$work/v.safetensors" \
    --features hash:12 --epochs 3 --batch 16 --lr 0.01 --log "$work/log.jsonl" --log-every 5
  [ -s "$work/v.safetensors" ] || fail "no checkpoint written"
  grep -q "step 57/57" "$work/err" || { cat "$work/err" >&2; fail "no progress lines (non-terminal output)"; }
  for name in '"loss"' '"accuracy"' '"margin"' '"rewards/chosen"' '"rewards/rejected"' '"eval_accuracy"' '"eval_loss"' \
              '"learning_rate"' '"train_runtime"'; do
    grep -q "$name" "$work/log.jsonl" || fail "log has no $name"
  done
  expect_status 0 "$metarm" eval --model "$work/v.safetensors" --pairs "$work/test.jsonl" "$work/train.jsonl" --json "$work/eval.jsonl"
  accuracy=$(grep -o '"accuracy":[0-9.e-]*' "$work/eval.jsonl" | head -1 | cut -d: -f2)
  awk -v a="$accuracy" 'BEGIN { exit !(a > 0.95) }' || fail "held-out accuracy $accuracy is not above 0.95"
  for name in '"margin"' '"rewards/mean"' '"rewards/std"' '"difference_objective"' '"length_only_accuracy"'; do
    grep -q "$name" "$work/eval.jsonl" || fail "eval output has no $name"
  done
  [ "$(wc -l <"$work/eval.jsonl")" -eq 2 ] || fail "eval wrote no line per file"
  grep -q "length-only" "$work/out" || fail "eval prints no length-only baseline"

  printf '{"prompt": "p", "response": "word5 thanks for asking"}\n{"prompt": "p", "responses": ["a", "word5 no idea", "c"]}\n' \
    >"$work/score.jsonl"
  head -2 "$work/test.jsonl" >>"$work/score.jsonl"
  expect_status 0 "$metarm" score --model "$work/v.safetensors" --input "$work/score.jsonl" --out "$work/rewards.jsonl"
  [ "$(wc -l <"$work/rewards.jsonl")" -eq 8 ] || fail "score wrote $(wc -l <"$work/rewards.jsonl") lines, expected 1 + 3 + 2 + 2"
  grep -q '"line": 2, "index": 2, "reward": ' "$work/rewards.jsonl" || fail "score lines lack line/index/reward"
  chosen=$(sed -n 5p "$work/rewards.jsonl" | grep -o '"reward": [-0-9.e]*' | cut -d' ' -f2)
  rejected=$(sed -n 6p "$work/rewards.jsonl" | grep -o '"reward": [-0-9.e]*' | cut -d' ' -f2)
  awk -v c="$chosen" -v r="$rejected" 'BEGIN { exit !(c > r) }' || fail "the chosen response does not score higher ($chosen vs $rejected)"

  expect_status 0 "$metarm" train --pairs "$work/train.jsonl" --meta "$work/meta.jsonl" --strategy metarm --eta 1 \
    --out "$work/m.safetensors" --features hash:12 --model mlp:8 --epochs 2 --quiet
  [ ! -s "$work/err" ] || { cat "$work/err" >&2; fail "--quiet still printed progress"; }
  expect_status 0 "$metarm" eval --model "$work/m.safetensors" --pairs "$work/test.jsonl"
  grep -q "mlp<relu>" "$work/out" || fail "eval does not describe the MLP"
  echo "train (vanilla, metarm with an MLP), eval and score work end to end"
  ;;

resume)
  write_pairs "$work/train.jsonl" 200 0
  write_pairs "$work/meta.jsonl" 50 7000
  common=(--pairs "$work/train.jsonl" --meta "$work/meta.jsonl" --strategy metarm --eta 0.5 --batch 16 --seed 3 --quiet)
  expect_status 0 "$metarm" train "${common[@]}" --features hash:10 --epochs 4 --out "$work/whole.safetensors"
  expect_status 0 "$metarm" train "${common[@]}" --features hash:10 --epochs 2 --out "$work/half.safetensors"
  expect_status 0 "$metarm" train "${common[@]}" --features hash:10 --epochs 4 --out "$work/resumed.safetensors" \
    --resume "$work/half.safetensors"
  write_pairs "$work/probe.jsonl" 30 9000
  expect_status 0 "$metarm" score --model "$work/whole.safetensors" --input "$work/probe.jsonl" --out "$work/a.jsonl"
  expect_status 0 "$metarm" score --model "$work/resumed.safetensors" --input "$work/probe.jsonl" --out "$work/b.jsonl"
  cut -d, -f1-3 "$work/a.jsonl" >"$work/a3"; cut -d, -f1-3 "$work/b.jsonl" >"$work/b3"
  cmp -s "$work/a3" "$work/b3" || { diff "$work/a3" "$work/b3" | head >&2; fail "resumed run differs from the uninterrupted one"; }
  expect_status 1 "$metarm" train "${common[@]}" --features hash:11 --epochs 4 --out "$work/x.safetensors" --resume "$work/half.safetensors"
  grep -q "trained with features hash:10" "$work/err" || fail "resuming with other features is not refused"
  echo "2 epochs, then resumed to 4, score exactly like 4 epochs at once"
  ;;

diverge)
  # An update that diverges: with AdamW's decoupled decay, learning rate times weight decay 1e10 multiplies the
  # weights by about -1e10 a step, so float32 overflows within a few steps. The run stops naming the step, the
  # parameter block and the last good checkpoint, which stays loadable.
  write_pairs "$work/train.jsonl" 64 0
  expect_status 1 "$metarm" train --pairs "$work/train.jsonl" --batch 8 --epochs 50 --lr 1e5 --weight-decay 1e5 --save-every 1 \
    --features hash:10 --quiet --out "$work/rm.safetensors"
  cat "$work/err"
  grep -q "in step [0-9]" "$work/err" || fail "the step is not named"
  grep -q "parameter block 'head.[a-z]*'.*diverged" "$work/err" || fail "the diverged parameter block is not named"
  grep -q "the last good checkpoint is $work/rm.safetensors, saved at step [0-9]" "$work/err" ||
    fail "the last good checkpoint is not named"
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "the error is not one line"
  expect_status 0 "$metarm" eval --model "$work/rm.safetensors" --pairs "$work/train.jsonl"
  echo "a diverging run names the step, the block and the last good checkpoint, which loads"
  ;;
config)
  write_pairs "$work/train.jsonl" 200 0
  write_pairs "$work/meta.jsonl" 50 7000
  write_pairs "$work/test.jsonl" 60 1000
  # Every setting away from its default, so that one the written file lacks changes the model.
  expect_status 0 "$metarm" train --pairs "$work/train.jsonl" --meta "$work/meta.jsonl" --strategy metarm --eta 0.5 \
    --model mlp:4 --features hash:10,ngrams:1 --epochs 3 --batch 8 --meta-batch 4 --lr 0.02 --weight-decay 0.01 \
    --clip 5 --seed 7 --eval "$work/test.jsonl" "$work/train.jsonl" --quiet --out "$work/flags.safetensors"
  sed "s|$work/||g; s|flags\.safetensors|CKPT|g; s|flags\.toml|SETTINGS|g" "$work/out" >"$work/flags.out"
  [ -s "$work/flags.toml" ] || fail "no settings written beside the checkpoint"
  for line in 'strategy="metarm"' 'eta=0.5' 'model="mlp:4"' 'features="hash:10,ngrams:1"' 'epochs=3' 'batch=8' \
              'meta-batch=4' 'seed=7' 'clip=5' "eval=[\"$work/test.jsonl\", \"$work/train.jsonl\"]"; do
    grep -qxF "$line" "$work/flags.toml" || { cat "$work/flags.toml" >&2; fail "the settings lack the line $line"; }
  done
  expect_status 0 "$metarm" train --config "$work/flags.toml" --out "$work/again.safetensors"
  sed "s|$work/||g; s|again\.safetensors|CKPT|g; s|again\.toml|SETTINGS|g" "$work/out" >"$work/again.out"
  cmp -s "$work/flags.out" "$work/again.out" || { diff "$work/flags.out" "$work/again.out" >&2; fail "the run from --config reports differently"; }
  diff <(grep -v '^out=' "$work/flags.toml") <(grep -v '^out=' "$work/again.toml") >&2 || fail "the run from --config has other settings"
  expect_status 0 "$metarm" score --model "$work/flags.safetensors" --input "$work/test.jsonl" --out "$work/a.jsonl"
  expect_status 0 "$metarm" score --model "$work/again.safetensors" --input "$work/test.jsonl" --out "$work/b.jsonl"
  cmp -s "$work/a.jsonl" "$work/b.jsonl" || fail "the model trained from --config scores differently"
  # The command line wins over the file; a value from the file is checked as if typed; unknown keys are named.
  expect_status 0 "$metarm" train --config "$work/flags.toml" --epochs 1 --out "$work/short.safetensors"
  grep -qx 'epochs=1' "$work/short.toml" || fail "--epochs on the command line did not win over the file"
  sed 's/^epochs=3$/epochs=zero/' "$work/flags.toml" >"$work/bad.toml"
  expect_status 2 "$metarm" train --config "$work/bad.toml"
  grep -q -- "--epochs needs an integer" "$work/err" || fail "a bad value in the file is not explained"
  printf 'colour="blue"\n' >>"$work/bad.toml"
  sed -i 's/^epochs=zero$/epochs=3/' "$work/bad.toml"
  expect_status 2 "$metarm" train --config "$work/bad.toml"
  grep -q "unknown option 'colour'" "$work/err" || fail "an unknown key in the file is not named"
  expect_status 2 "$metarm" train --config "$work/absent.toml"
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "a missing --config file is not reported on one line"
  # Values CLI11 itself refuses are wrong usage too, named with the file: two values for a one-value option,
  # a flag that is neither true nor false.
  printf 'pairs=["a.jsonl","b.jsonl"]\nout="x.safetensors"\n' >"$work/list.toml"
  expect_status 2 "$metarm" train --config "$work/list.toml"
  grep -q -- "--config $work/list.toml: --pairs" "$work/err" || fail "two values for --pairs in the file are not named"
  printf 'quiet=maybe\n' >"$work/flag.toml"
  expect_status 2 "$metarm" train --config "$work/flag.toml" --pairs a.jsonl --out x.safetensors
  grep -q -- "--config $work/flag.toml: .*quiet" "$work/err" || fail "a bad flag value in the file is not named"
  echo "train writes its settings beside the checkpoint; --config with them trains the same model"
  ;;

data-errors)
  write_pairs "$work/train.jsonl" 20 0
  printf '{"prompt": "p", "chosen": "a", "rejected": 5}\n' >>"$work/train.jsonl"
  expect_status 1 "$metarm" train --pairs "$work/train.jsonl" --out "$work/x.safetensors" --quiet
  grep -q "train.jsonl:21: field \"rejected\" must be a string" "$work/err" || { cat "$work/err" >&2; fail "error does not name file, line and field"; }
  [ ! -e "$work/x.safetensors" ] || fail "a checkpoint was written despite the error"
  printf 'garbage' >"$work/bad.safetensors"
  expect_status 1 "$metarm" eval --model "$work/bad.safetensors" --pairs "$work/train.jsonl"
  grep -q "bad.safetensors" "$work/err" || fail "bad checkpoint not named"
  head -c 300 "$work/train.jsonl" | gzip >"$work/cut.jsonl.gz"
  head -c 40 "$work/cut.jsonl.gz" >"$work/truncated.jsonl.gz"
  expect_status 1 "$metarm" train --pairs "$work/truncated.jsonl.gz" --out "$work/y.safetensors" --quiet
  grep -q "truncated" "$work/err" || fail "truncated gzip not reported"
  echo "data errors exit 1 naming the file and line; nothing half-written"
  ;;

hh-vanilla)
  if [ -z "$hh_dir" ] || [ ! -d "$hh_dir/helpful-base" ]; then
    echo "SKIPPED: HH-RLHF data not found at '${hh_dir}' (set METARM_HH_RLHF_DIR to run this test)"
    exit 77
  fi
  # A reduced configuration of the benchmark: 3 seeds, eta fixed (no tuning).
  expect_status 0 "$metarm" bench-shift --hh "$hh_dir" --seeds 3 --eta 30 --threads 2 --csv "$work/table.csv" --quiet
  cat "$work/out"
  row=$(grep '^helpful-base (held out)' "$work/out") || fail "no helpful-base row"
  vanilla=$(echo "$row" | awk '{print $5}')
  # The band: a pure-Python hashed-bigram Bradley-Terry model measured 62.5%; three seeds of 470 pairs vary by
  # about +-2 points.
  awk -v v="$vanilla" 'BEGIN { exit !(v >= 58.5 && v <= 66.5) }' || fail "vanilla helpful-base accuracy $vanilla is outside [58.5, 66.5]"
  [ "$(wc -l <"$work/table.csv")" -eq 5 ] || fail "CSV does not hold a header and 4 rows"
  grep -q '^helpful-online,' "$work/table.csv" || fail "CSV has no helpful-online row"
  echo "vanilla accuracy on held-out helpful-base: $vanilla% (band 58.5 - 66.5)"
  ;;

*)
  fail "unknown case '$case_name'"
  ;;
esac
