#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash-safety tests of metarm train. Usage: crash_test.sh CASE METARM_BINARY
#   sigkill    kills training with SIGKILL at seeded random moments; the checkpoint left on disk loads, and
#              --resume from it ends with a checkpoint byte-identical to an uninterrupted run's
#   full-disk  a checkpoint write that runs out of space fails naming the file and leaves the previous
#              checkpoint as it was (needs a mount namespace for a small tmpfs; skipped, saying why, without)
# Each case prints what it checks and exits 0 (pass), 1 (fail) or 77 (skipped, with the reason).
set -uo pipefail

case_name=$1
metarm=$(realpath "$2")
here=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
work=$(mktemp -d)
trap 'umount "$work/disk" 2>/dev/null; rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIPPED: $*"; exit 77; }
expect_status() {  # expect_status WANT COMMAND...
  local want=$1; shift
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  [ "$got" -eq "$want" ] || { cat "$work/out" "$work/err" >&2; fail "'$*' exited $got, expected $want"; }
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
temporaries() { find "$1" -maxdepth 1 -name '*.tmp-*' -printf '%f\n' | sort; }
# shellcheck source=cli/pairs.sh
source "$here/cli/pairs.sh"

case "$case_name" in
sigkill)
  write_pairs "$work/train.jsonl" 240 0
  write_pairs "$work/meta.jsonl" 60 7000
  write_pairs "$work/probe.jsonl" 10 9000
  # MetaRM, so that the checkpoint carries both data orders and both generators; one thread, so that the run
  # is a function of its inputs alone. hash:15 makes each checkpoint about 400 kB, long enough to write that
  # some kills land inside a write.
  train=("$metarm" train --pairs "$work/train.jsonl" --meta "$work/meta.jsonl" --strategy metarm --eta 0.5
         --features hash:15 --epochs 6 --batch 4 --meta-batch 4 --seed 11 --threads 1 --save-every 9 --quiet)
  start=$(now_ms)
  expect_status 0 "${train[@]}" --out "$work/reference.safetensors"
  duration=$(($(now_ms) - start))
  [ "$duration" -ge 50 ] || fail "the uninterrupted run took ${duration} ms, too short to interrupt"

  RANDOM=14  # the delays are the same on every run of the test
  # A run that ends before its kill (a machine less loaded than when the length was measured) tests only
  # determinism, so the runs go on until 20 were killed, up to 40.
  kills=20 killed=0 resumed=0 restarted=0 mid_write=0
  mkdir "$work/run"
  for ((i = 1; killed < kills && i <= 2 * kills; i++)); do
    rm -f "$work/run/"*
    # A delay between 5% and 95% of the uninterrupted run's time.
    delay=$((duration * 5 / 100 + (RANDOM * 32768 + RANDOM) % (duration * 90 / 100)))
    "${train[@]}" --out "$work/run/v.safetensors" >"$work/out" 2>"$work/err" &
    pid=$!
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null  # bash reports the kill itself; the status says enough
    status=$?
    [ "$status" -eq 0 ] || [ "$status" -eq 137 ] || { cat "$work/err" >&2; fail "run $i exited $status, not 0 or 137 (SIGKILL)"; }
    [ "$status" -eq 137 ] && killed=$((killed + 1))
    # The checkpoint's and the settings' (v.toml, written once the training ends) temporaries may be left by a
    # kill inside their write; anything else is stray.
    stray=$(temporaries "$work/run" | grep -v -E '^v\.(safetensors|toml)\.tmp-' || true)
    [ -z "$stray" ] || fail "run $i left a stray temporary file: $stray"
    [ -n "$(temporaries "$work/run")" ] && mid_write=$((mid_write + 1))
    if [ -e "$work/run/v.safetensors" ]; then
      expect_status 0 "$metarm" eval --model "$work/run/v.safetensors" --pairs "$work/probe.jsonl"
      # A temporary file named like an interrupted write's, which the resumed run's first write removes; a
      # file that only looks similar stays.
      : >"$work/run/v.safetensors.tmp-Ab12Yz"
      : >"$work/run/v.safetensors.tmp-keep"
      expect_status 0 "${train[@]}" --out "$work/run/v.safetensors" --resume "$work/run/v.safetensors"
      resumed=$((resumed + 1)) how="resumed"
      [ -e "$work/run/v.safetensors.tmp-keep" ] || fail "run $i: the resumed run removed a file that is not its temporary"
      rm "$work/run/v.safetensors.tmp-keep"
    else
      expect_status 0 "${train[@]}" --out "$work/run/v.safetensors"
      restarted=$((restarted + 1)) how="restarted (no checkpoint yet)"
    fi
    left=$(temporaries "$work/run")
    [ -z "$left" ] || fail "run $i (killed after ${delay} ms): temporary files left beside the checkpoint: $left"
    cmp -s "$work/reference.safetensors" "$work/run/v.safetensors" ||
      fail "run $i (killed after ${delay} ms, status $status): the final checkpoint differs from the uninterrupted run's"
    if [ "$status" -eq 137 ]; then what="killed after ${delay} ms"; else what="finished before its kill at ${delay} ms"; fi
    echo "run $i: $what, $how; the final checkpoint is identical"
  done
  [ "$killed" -eq "$kills" ] || fail "only $killed of $((i - 1)) runs were still going when killed"
  [ "$resumed" -ge 1 ] || fail "no kill came after the first checkpoint, so nothing was resumed"
  echo "$((i - 1)) runs, ${duration} ms uninterrupted: $killed killed ($mid_write inside a checkpoint write), $resumed resumed," \
       "$restarted restarted with no checkpoint yet; every final checkpoint is byte-identical to the uninterrupted run's"
  ;;

full-disk)
  # A tmpfs of its own needs a mount namespace: root's, or a user namespace's where those are allowed.
  if [ -z "${METARM_CRASH_TEST_NAMESPACE:-}" ]; then
    command -v unshare >/dev/null || skip "no unshare program to make a mount namespace for a small tmpfs"
    for how in -m -Urm; do
      if unshare "$how" true 2>/dev/null; then
        METARM_CRASH_TEST_NAMESPACE=1 exec unshare "$how" bash "${BASH_SOURCE[0]}" "$@"
      fi
    done
    skip "cannot make a mount namespace (unshare -m needs root, unshare -Urm user namespaces) for a small tmpfs"
  fi
  write_pairs "$work/train.jsonl" 100 0
  mkdir "$work/disk"
  # hash:10 checkpoints take about 15 kB, hash:16 ones about 800 kB: the first fits in 256 kB, the second not.
  mount -t tmpfs -o size=256k tmpfs "$work/disk" 2>"$work/err" || skip "cannot mount a tmpfs: $(cat "$work/err")"
  ckpt=$work/disk/v.safetensors
  common=(--pairs "$work/train.jsonl" --epochs 2 --batch 8 --threads 1 --quiet --out "$ckpt")
  expect_status 0 "$metarm" train "${common[@]}" --features hash:10
  cp "$ckpt" "$work/good.safetensors"
  check_refused() {  # check_refused WHAT: the write failed cleanly and the previous checkpoint is untouched
    grep -q "$ckpt: .*No space left on device" "$work/err" || { cat "$work/err" >&2; fail "$1: the error does not name the checkpoint and the full disk"; }
    [ "$(wc -l <"$work/err")" -le 2 ] || { cat "$work/err" >&2; fail "$1: the error is not short"; }
    cmp -s "$work/good.safetensors" "$ckpt" || fail "$1: the previous checkpoint was changed"
    left=$(temporaries "$work/disk")
    [ -z "$left" ] || fail "$1: temporary files left beside the checkpoint: $left"
  }
  # A bigger model that does not fit.
  expect_status 1 "$metarm" train "${common[@]}" --features hash:16
  check_refused "a checkpoint bigger than the free space"
  echo "bigger checkpoint: $(cat "$work/err")"
  # A disk filled by another program, then freed again.
  dd if=/dev/zero of="$work/disk/filler" bs=4k 2>/dev/null
  [ "$(df --output=avail -k "$work/disk" | tail -1)" -eq 0 ] || fail "dd did not fill the tmpfs"
  expect_status 1 "$metarm" train "${common[@]}" --features hash:10 --seed 1
  check_refused "a full disk"
  echo "full disk: $(cat "$work/err")"
  rm "$work/disk/filler"
  expect_status 0 "$metarm" train "${common[@]}" --features hash:10 --seed 1
  cmp -s "$work/good.safetensors" "$ckpt" && fail "the run after the disk was freed did not write its checkpoint"
  expect_status 0 "$metarm" eval --model "$ckpt" --pairs "$work/train.jsonl"
  echo "a write to a full disk fails naming the checkpoint; the previous one is kept whole, no temporary file is left"
  ;;

*)
  fail "unknown case '$case_name'"
  ;;
esac
