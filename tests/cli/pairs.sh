# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Synthetic preference data for the end-to-end tests of the metarm program; sourced, not run.

# A small TRL-style file whose chosen responses say "thanks" and whose rejected ones do not.
write_pairs() {  # write_pairs FILE COUNT OFFSET
  local i
  for ((i = $3; i < $3 + $2; i++)); do
    printf '{"prompt": "\\n\\nHuman: question %d\\n\\nAssistant:", "chosen": "word%d thanks for asking", "rejected": "word%d no idea"}\n' \
      "$i" "$((i % 13))" "$((i % 11))"
  done >"$1"
}
