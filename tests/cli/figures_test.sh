#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end tests of the figures of the metarm program: metarm eval --plot DIR and metarm plot LOG DIR.
# Usage: figures_test.sh CASE METARM_BINARY PNG_CHECK_BINARY
# Each case prints what it checks and exits 0 (pass) or 1 (fail). gnuplot is one of the packages
# scripts/install-deps.sh installs, so a machine without it fails here rather than skipping.
set -uo pipefail

case_name=$1
metarm=$2
png_check=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_status() {  # expect_status WANT COMMAND...
  local want=$1; shift
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  [ "$got" -eq "$want" ] || { cat "$work/out" "$work/err" >&2; fail "'$*' exited $got, expected $want"; }
}
one_line_error() {  # one_line_error PATTERN WHAT: the error output is one line and holds PATTERN
  [ "$(wc -l <"$work/err")" -eq 1 ] || { cat "$work/err" >&2; fail "$2: the error is not one line"; }
  grep -q -- "$1" "$work/err" || { cat "$work/err" >&2; fail "$2: the error does not say '$1'"; }
}
# json_number FILE LINE KEY: a number of one --json line
json_number() { sed -n "$2p" "$1" | grep -o "\"$3\":[-0-9.e+]*" | cut -d: -f2; }
# close_to A B [TOLERANCE]
close_to() { awk -v a="$1" -v b="$2" -v t="${3:-1e-9}" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= t) }'; }
no_temporaries() {  # no_temporaries DIR: no file left by an interrupted atomic write (NAME.tmp-XXXXXX)
  local f
  for f in "$1"/*.tmp-*; do
    [ -e "$f" ] && fail "temporary file left behind: $f"
  done
  return 0
}
# shellcheck source=pairs.sh
source "$(dirname "${BASH_SOURCE[0]}")/pairs.sh"

command -v gnuplot >/dev/null || fail "gnuplot is not installed (scripts/install-deps.sh installs gnuplot-nox)"

# A model and its log: MetaRM on the generated pairs, so the log holds J as well as loss and accuracy.
train_model() {
  write_pairs "$work/train.jsonl" 300 0
  write_pairs "$work/test.jsonl" 100 1000
  write_pairs "$work/meta.jsonl" 60 5000
  expect_status 0 "$metarm" train --pairs "$work/train.jsonl" --meta "$work/meta.jsonl" --strategy metarm --eta 1 \
    --eval "$work/test.jsonl" --out "$work/m.safetensors" --features hash:12 --epochs 3 --batch 16 --lr 0.003 \
    --log "$work/log.jsonl" --log-every 5 --quiet
}

case "$case_name" in
eval-plot)
  train_model
  # Two sets whose files share a name, in two folders, and one more: every figure gets its own name.
  mkdir -p "$work/a" "$work/b"
  write_pairs "$work/a/test.jsonl" 80 2000
  write_pairs "$work/b/test.jsonl" 70 3000
  gzip "$work/b/test.jsonl"
  dir="$work/figures/new"  # does not exist yet
  expect_status 0 "$metarm" eval --model "$work/m.safetensors" --pairs "$work/a/test.jsonl" "$work/b/test.jsonl.gz" \
    "$work/train.jsonl" --json "$work/eval.jsonl" --plot "$dir"
  cp "$work/out" "$work/eval.out"
  [ "$(wc -l <"$work/eval.jsonl")" -eq 3 ] || fail "eval wrote $(wc -l <"$work/eval.jsonl") JSON lines, expected 3"
  line=0
  for name in a-test b-test train; do
    line=$((line + 1))
    pairs=$(json_number "$work/eval.jsonl" $line pairs)
    accuracy=$(json_number "$work/eval.jsonl" $line accuracy)
    ece=$(json_number "$work/eval.jsonl" $line calibration_error)
    [ -n "$ece" ] || fail "the JSON line of $name has no calibration_error"
    for figure in reward_gaps calibration; do
      for ending in png csv gp; do
        [ -s "$dir/$name.$figure.$ending" ] || fail "no $dir/$name.$figure.$ending"
      done
      "$png_check" "$dir/$name.$figure.png" || fail "$name.$figure.png is not a whole PNG"
      grep -q "$dir/$name.$figure.png" "$work/eval.out" || fail "eval does not name $name.$figure.png"
    done
    # The histogram counts every pair once.
    sum=$(awk -F, 'NR > 1 { s += $3 } END { print s }' "$dir/$name.reward_gaps.csv")
    [ "$sum" -eq "$pairs" ] || fail "$name: the reward-difference histogram counts $sum pairs, eval $pairs"
    # So do the calibration bins; their error and their observed shares give eval's ECE and accuracy.
    read -r sum csv_ece csv_accuracy < <(awk -F, 'NR > 1 { n += $3; if ($3 > 0) { d = $5 - $4; if (d < 0) d = -d;
      e += $3 * d; a += $3 * $5 } } END { printf "%d %.17g %.17g\n", n, e / n, a / n }' "$dir/$name.calibration.csv")
    [ "$sum" -eq "$pairs" ] || fail "$name: the calibration bins count $sum pairs, eval $pairs"
    close_to "$csv_ece" "$ece" || fail "$name: the ECE from the CSV, $csv_ece, is not eval's $ece"
    close_to "$csv_accuracy" "$accuracy" || fail "$name: the bins' observed shares give accuracy $csv_accuracy, eval $accuracy"
    # Predicted probabilities lie in their bins, in [1/2, 1].
    awk -F, 'NR > 1 && $3 > 0 && ($4 < $1 || $4 > $2 || $1 < 0.5 || $2 > 1) { exit 1 }' "$dir/$name.calibration.csv" ||
      fail "$name: a bin's mean prediction lies outside it"
    printf '%s: %s pairs, ECE %s\n' "$name" "$pairs" "$ece"
  done
  # The printed ECE is the JSON one, rounded.
  printed=$(grep -o 'calibration_error [0-9.]*' "$work/eval.out" | head -1 | cut -d' ' -f2)
  first=$(json_number "$work/eval.jsonl" 1 calibration_error)
  close_to "$printed" "$first" 0.00005 || fail "eval prints ECE $printed, its JSON line says $first"
  # The script is self-contained: run again, it draws the same figure.
  (cd "$dir" && gnuplot a-test.calibration.gp >"$work/again.png") || fail "the written script does not run on its own"
  "$png_check" "$work/again.png" >/dev/null || fail "the written script draws no whole PNG"
  no_temporaries "$dir"
  # One file named twice: the second set's figures get "-2".
  expect_status 0 "$metarm" eval --model "$work/m.safetensors" --pairs "$work/test.jsonl" "$work/test.jsonl" --plot "$work/twice"
  for name in test test-2; do
    "$png_check" "$work/twice/$name.calibration.png" >/dev/null || fail "a file named twice: no whole $name.calibration.png"
  done
  echo "eval --plot draws both figures per set, whole PNGs whose CSV data add up to eval's pairs, ECE and accuracy"
  ;;

plot)
  train_model
  expect_status 0 "$metarm" plot "$work/log.jsonl" "$work/curves"
  cat "$work/out"
  for ending in png csv gp; do
    [ -s "$work/curves/log.curves.$ending" ] || fail "no log.curves.$ending"
  done
  "$png_check" "$work/curves/log.curves.png" || fail "log.curves.png is not a whole PNG"
  # Each curve has one point per log line that holds its metric as a number.
  for key in loss accuracy difference_objective eval_loss eval_accuracy eval_rewards/chosen; do
    logged=$(grep -c "\"$key\": [-0-9]" "$work/log.jsonl")
    drawn=$(grep -c "^$key," "$work/curves/log.curves.csv")
    [ "$logged" -gt 0 ] || fail "the log has no $key"
    [ "$drawn" -eq "$logged" ] || fail "$key: $drawn points in the CSV, $logged lines of the log hold it"
  done
  grep -q '^margin,\|^grad_norm,\|^learning_rate,' "$work/curves/log.curves.csv" && fail "training metrics other than loss, accuracy and J drawn"
  last=$(grep '"eval_accuracy"' "$work/log.jsonl" | tail -1 | grep -o '"eval_accuracy": [0-9.e-]*' | cut -d' ' -f2)
  csv_last=$(grep '^eval_accuracy,' "$work/curves/log.curves.csv" | tail -1 | cut -d, -f3)
  close_to "$last" "$csv_last" || fail "the last eval_accuracy is $csv_last in the CSV, $last in the log"

  # Missing keys and nulls leave gaps in one curve; a step logged twice keeps the later value; the last line
  # (no step) and blank lines are skipped.
  cat >"$work/gaps.jsonl" <<'EOF'
{"step": 10, "epoch": 0.5, "loss": 0.7, "accuracy": 0.5, "difference_objective": null}

{"step": 20, "epoch": 1, "loss": null, "accuracy": 0.75}
{"step": 20, "epoch": 1, "eval_loss": 0.65, "eval_accuracy": 0.6}
{"step": 20, "epoch": 1, "accuracy": 0.8}
{"train_runtime": 1.5, "stop": "completed all epochs"}
EOF
  expect_status 0 "$metarm" plot "$work/gaps.jsonl" "$work/curves"
  "$png_check" "$work/curves/gaps.curves.png" >/dev/null || fail "gaps.curves.png is not a whole PNG"
  printf 'metric,step,value\nloss,10,0.7\naccuracy,10,0.5\naccuracy,20,0.8\neval_accuracy,20,0.6\neval_loss,20,0.65\n' \
    >"$work/expected.csv"
  diff "$work/expected.csv" "$work/curves/gaps.curves.csv" >&2 || fail "the curves of a log with gaps are not the expected points"
  echo "plot draws loss, accuracy, J and the eval_ metrics of a train --log file, a whole PNG with its points as CSV"
  ;;

errors)
  train_model
  # A malformed line, a metric that is not a number, a missing log, an empty one, one with nothing to draw.
  head -3 "$work/log.jsonl" >"$work/bad.jsonl"
  printf '{"step": 20, "loss": \n' >>"$work/bad.jsonl"
  expect_status 1 "$metarm" plot "$work/bad.jsonl" "$work/out-dir"
  one_line_error "bad.jsonl:4: not valid JSON" "a malformed line"
  [ ! -e "$work/out-dir" ] || fail "a folder was made for a log that cannot be read"
  printf '{"step": 5, "loss": 0.5}\n{"step": 10, "loss": "low"}\n' >"$work/string.jsonl"
  expect_status 1 "$metarm" plot "$work/string.jsonl" "$work/out-dir"
  one_line_error 'string.jsonl:2: field "loss" must be a number or null, got string' "a metric that is a string"
  printf '{"step": "five", "loss": 0.5}\n' >"$work/step.jsonl"
  expect_status 1 "$metarm" plot "$work/step.jsonl" "$work/out-dir"
  one_line_error 'step.jsonl:1: field "step" must be an integer' "a step that is not a number"
  expect_status 1 "$metarm" plot "$work/absent.jsonl" "$work/out-dir"
  one_line_error "absent.jsonl: cannot open for reading" "a missing log"
  : >"$work/empty.jsonl"
  expect_status 1 "$metarm" plot "$work/empty.jsonl" "$work/out-dir"
  one_line_error "empty.jsonl: the log is empty" "an empty log"
  printf '\n{"train_runtime": 0.1, "stop": "completed all epochs"}\n{"step": 3, "grad_norm": 1.5}\n' >"$work/none.jsonl"
  expect_status 1 "$metarm" plot "$work/none.jsonl" "$work/out-dir"
  one_line_error "none.jsonl: no line has a metric to plot" "a log with nothing to draw"

  # Wrong usage: status 2, one line.
  expect_status 2 "$metarm" plot
  one_line_error "missing LOG" "no arguments"
  expect_status 2 "$metarm" plot "$work/log.jsonl"
  one_line_error "missing DIR" "no DIR"
  expect_status 2 "$metarm" plot "$work/log.jsonl" "$work/d" extra
  one_line_error "unexpected argument 'extra'" "a third argument"
  expect_status 2 "$metarm" plot "$work/log.jsonl" "$work/d" --colour blue
  one_line_error "unknown option --colour" "an unknown option"
  expect_status 2 "$metarm" eval --model "$work/m.safetensors" --pairs "$work/test.jsonl" --plot
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "--plot without DIR: the error is not one line"

  # A DIR that cannot be made (its parent is a file, which stops root too): status 1 naming it, before any work.
  : >"$work/file"
  expect_status 1 "$metarm" eval --model "$work/m.safetensors" --pairs "$work/test.jsonl" --plot "$work/file/figures"
  one_line_error "$work/file/figures: cannot create the folder" "eval --plot into a folder that cannot be made"
  [ ! -s "$work/out" ] || fail "eval evaluated before finding that --plot DIR cannot be made"
  expect_status 1 "$metarm" eval --model "$work/m.safetensors" --pairs "$work/test.jsonl" --plot "$work/file"
  one_line_error "$work/file: " "eval --plot into a file"
  expect_status 1 "$metarm" plot "$work/log.jsonl" "$work/file/figures"
  one_line_error "$work/file/figures: cannot create the folder" "plot into a folder that cannot be made"

  # No gnuplot on PATH: status 1, one line naming the package, before any work.
  expect_status 1 env PATH="$work/nowhere" "$metarm" eval --model "$work/m.safetensors" --pairs "$work/test.jsonl" \
    --plot "$work/figures"
  one_line_error "gnuplot-nox" "eval --plot without gnuplot"
  if [ -e "$work/figures" ] || [ -s "$work/out" ]; then fail "eval --plot without gnuplot did work first"; fi
  expect_status 1 env PATH="$work/nowhere" "$metarm" plot "$work/log.jsonl" "$work/figures"
  one_line_error "gnuplot-nox" "plot without gnuplot"
  # Without --plot, eval needs no gnuplot.
  expect_status 0 env PATH="$work/nowhere" "$metarm" eval --model "$work/m.safetensors" --pairs "$work/test.jsonl"

  # gnuplot failing: status 1 naming the script, with gnuplot's complaint; no PNG, no temporary file left.
  mkdir -p "$work/bin"
  cat >"$work/bin/gnuplot" <<'EOF'
#!/bin/sh
# gnuplot's way of failing: the offending line, a caret under it, then the file and line.
printf '\n  plot $x\n       ^\n"%s" line 3: something is wrong\n\n' "$1" >&2
exit 1
EOF
  chmod +x "$work/bin/gnuplot"
  expect_status 1 env PATH="$work/bin:$PATH" "$metarm" eval --model "$work/m.safetensors" --pairs "$work/test.jsonl" \
    --plot "$work/failing"
  one_line_error "gnuplot failed on $work/failing/test.reward_gaps.gp (exit status 1): .*line 3: something is wrong" \
    "gnuplot failing"
  [ -s "$work/failing/test.reward_gaps.gp" ] || fail "the script gnuplot failed on was not kept"
  [ ! -e "$work/failing/test.reward_gaps.png" ] || fail "a PNG was written although gnuplot failed"
  no_temporaries "$work/failing"
  expect_status 1 env PATH="$work/bin:$PATH" "$metarm" plot "$work/log.jsonl" "$work/failing"
  one_line_error "gnuplot failed on $work/failing/log.curves.gp" "gnuplot failing in plot"
  # gnuplot that succeeds without drawing anything.
  printf '#!/bin/sh\nexit 0\n' >"$work/bin/gnuplot"
  expect_status 1 env PATH="$work/bin:$PATH" "$metarm" plot "$work/log.jsonl" "$work/failing"
  one_line_error "gnuplot failed on $work/failing/log.curves.gp: it wrote no image" "gnuplot drawing nothing"
  echo "bad logs, DIRs that cannot be made and a missing or failing gnuplot: one-line errors naming the file, line or script"
  ;;

*)
  fail "unknown case '$case_name'"
  ;;
esac
