#!/usr/bin/env bash
# Benchmark: trainer recovery under repeated SIGKILL (issue 5).
# Trains examples/fashion_mnist.toml with 4 trainers on the embedded cluster
# and SIGKILLs one trainer every 3 s, round robin (each trainer runs about 12 s
# between its kills, longer than the scheduler's 10 s backoff reset), 24 kills
# in all, and one aggregator shard once. Measures, per kill:
#   - recovery: from kill -9 to the first applied step that holds a gradient
#     of the replacement incarnation (the shard's contributors, system clock);
#   - step-rate recovery: until the applied-step rate over 0.5 s windows is
#     back to 90 % of the 2 s before the kill.
# Then (issue 12) split_brain.sh (calls answered by a replaced incarnation,
# target 0) and driver_wait (scheduler kill -9 to connection_lost at a waiting
# driver, target <= 2 heartbeats). Prints p50/p95 of each; the last line is one
# JSON object with every figure (the chaos run's, then split_brain_*, driver_*).
# The report (every kill, contributors of every observed step) stays in
# $OUT (default BUILD_DIR/bench-recovery).
#   tools/bench/recovery/run.sh [BUILD_DIR] [KILLS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=${1:-build}
kills=${2:-24}
out=${OUT:-$build/bench-recovery}  # chaos_report.json (every kill) and chaos_summary.txt stay here
rm -rf "$out"
epochs=$(( kills * 3 + 10 ))  # about 1.4 s per epoch with 4 trainers here: kills stop at 90 % of the steps
"$build/tests/faults/troupe_chaos" --config examples/fashion_mnist.toml --trainers 4 --epochs "$epochs" \
  --kills "$kills" --kill-every 3 --round-robin --shard-kill --no-baseline --checkpoint-every 200 --out "$out" \
  | grep -v 'serving at' | tee "$out.chaos.txt"
tools/bench/recovery/split_brain.sh "$build" "${SPLIT_ROUNDS:-3}" | tee "$out.split.txt"
"$build/tools/bench/recovery/driver_wait" "$build/tools/troupe" "${DRIVER_ROUNDS:-10}" | tee "$out.driver.txt"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
last = lambda name: json.loads(open(f"{out}.{name}.txt").read().strip().splitlines()[-1])
all = last("chaos")
all.update({f"split_brain_{k}": v for k, v in last("split").items()})
all.update({f"driver_{k}": v for k, v in last("driver").items()})
print(json.dumps(all))
PY
