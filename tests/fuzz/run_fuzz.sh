#!/bin/sh
# Runs a libFuzzer target for a bounded time (meson test fuzz_decoder).
# usage: run_fuzz.sh FUZZER CORPUS_DIR SEED_DIR
# TROUPE_FUZZ_SECONDS: how long to fuzz (default 60).
set -eu
fuzzer=$1 corpus=$2 seeds=$3
mkdir -p "$corpus"
exec "$fuzzer" -max_total_time="${TROUPE_FUZZ_SECONDS:-60}" -rss_limit_mb=2048 -timeout=10 \
  -max_len=8192 -print_final_stats=1 "$corpus" "$seeds"
