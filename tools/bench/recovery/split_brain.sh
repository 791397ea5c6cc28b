#!/usr/bin/env bash
# Benchmark: no two serving incarnations (issue 12, item 2). A scheduler and
# two workers as processes on loopback (default heartbeat: 500 ms interval,
# 3000 ms timeout, so a 2000 ms serving lease); a Tally actor is called in a
# loop (tests/netns/watch_actor.cpp) while its worker is SIGSTOPped for 8 s,
# ROUNDS times. Prints, per round and as p50/max: when the old incarnation
# answered its last call and when the new one answered its first (ms after the
# stop), and the calls answered by a replaced incarnation after its
# replacement had answered (target 0). Needs the build's test helpers
# (inspection_spawn, netns_watch). The last line is one JSON object.
#   tools/bench/recovery/split_brain.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=${1:-build}
rounds=${2:-5}
troupe=$build/tools/troupe
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
wait_for() {  # wait_for FILE PATTERN SECONDS
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1" 2>/dev/null; do (( SECONDS < deadline )) || { echo "timed out waiting for $2 in $1"; exit 1; }; sleep 0.05; done
}
"$troupe" scheduler --bind tcp://127.0.0.1:0 --http-port -1 >"$dir/scheduler.log" 2>&1 &
pids+=($!)
wait_for "$dir/scheduler.log" "control tcp://" 10
addr=$(sed -n 's/.*control \(tcp:\/\/[0-9.]*:[0-9]*\).*/\1/p' "$dir/scheduler.log" | head -1)
declare -A worker_pid
start_worker() {
  "$troupe" worker --scheduler "$addr" --cpus 1 --log-dir "$dir/logs-$1" >"$dir/worker-$1.log" 2>&1 &
  worker_pid[$1]=$!
  pids+=($!)
  wait_for "$dir/worker-$1.log" "node [0-9]* at" 10
}
start_worker a
start_worker b
now_ms() { /usr/bin/python3 -c 'import time; print(int(time.monotonic() * 1000))'; }
last=() first=() stale_total=0
for r in $(seq 1 "$rounds"); do
  name=leased-$r
  out=$("$build/tests/inspection/inspection_spawn" "$addr" "$name" 3 1)
  apid=$(sed -n 's/.* pid \([0-9]*\)$/\1/p' <<<"$out")
  ppid=$(ps -o ppid= -p "$apid" | tr -d ' ')
  "$build/tests/netns_watch" "$addr" "$name" 10 >"$dir/watch-$r.log" 2>&1 &
  watch=$!
  wait_for "$dir/watch-$r.log" ready 10
  t0=$(now_ms)
  kill -STOP "$ppid"
  sleep 8  # the stop itself is what is measured: the worker stays stopped this long
  kill -CONT "$ppid"
  wait "$watch"
  read -r l f s < <(/usr/bin/python3 - "$dir/watch-$r.log" "$t0" <<'PY'
import re, sys
old = new = None; stale = 0
for line in open(sys.argv[1]):
    m = re.match(r"incarnation (\d+) first_ms (-?\d+) last_ms (-?\d+)", line)
    if m and int(m[1]) == 0: old = int(m[3])
    if m and int(m[1]) >= 1 and new is None: new = int(m[2])
    m = re.match(r"stale_answers (\d+)", line)
    if m: stale = int(m[1])
t0 = int(sys.argv[2])
print(old - t0 if old else -1, new - t0 if new else -1, stale)
PY
)
  echo "round $r: old incarnation's last answer ${l} ms after SIGSTOP, new one's first answered call sent at ${f} ms; stale answers $s"
  last+=("$l"); first+=("$f"); stale_total=$((stale_total + s))
  "$troupe" kill "$name" --address "$addr" >/dev/null  # frees its worker's CPU for the next round
done
/usr/bin/python3 - "${last[*]}" "${first[*]}" "$stale_total" <<'PY'
import json, statistics, sys
last = [int(x) for x in sys.argv[1].split()]; first = [int(x) for x in sys.argv[2].split()]
print(f"old incarnation stops serving: p50 {statistics.median(last)} ms, max {max(last)} ms after SIGSTOP (lease 2000 ms)")
print(f"new incarnation serves from: p50 {statistics.median(first)} ms, min {min(first)} ms (heartbeat timeout 3000 ms)")
print(json.dumps({"rounds": len(last), "old_last_answer_p50_ms": statistics.median(last), "old_last_answer_max_ms": max(last),
                  "new_first_answer_p50_ms": statistics.median(first), "new_first_answer_min_ms": min(first),
                  "calls_answered_by_replaced_incarnation": int(sys.argv[3]),
                  "gap_min_ms": min(f - l for f, l in zip(first, last))}))
PY
