#!/usr/bin/env bash
# Hosts as network namespaces on one machine (issue 5, items 3 and 4):
#  1. a partition cuts the host of an actor off: the old incarnation stops
#     serving when its lease runs out, before the heartbeat timeout after
#     which the actor is restarted on the other host (callers on both sides
#     of the cut count the calls each incarnation answered, and when); when
#     the link returns, the old incarnation is stopped;
#  2. a host is lost for good (every process in it killed): its actor moves on;
#  3. a training job (`troupe train --cluster`) while the host of one of its
#     trainers is cut off and comes back: the job finishes with a good model,
#     and the cut-off copies are stopped once the link returns;
#  4. a training job while the host of its aggregator shard, and later the
#     host of a trainer, are lost (every process killed): the job finishes
#     and every epoch's ledger trained every sample once (issue 12, item 5).
# Traffic stays inside namespaces this test creates. Needs root and iproute2:
# exits 77 (skip) where namespaces cannot be made.
set -euo pipefail
TROUPE=${TROUPE_BIN:?TROUPE_BIN must name the troupe binary}
SPAWN=${INSPECTION_SPAWN:?INSPECTION_SPAWN must name the spawn helper}
WATCH=${NETNS_WATCH:?NETNS_WATCH must name the watch helper}

if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then echo "skip: needs root and iproute2"; exit 77; fi
tag=tp$(( $$ % 100000 ))
net=10.77.$(( $$ % 250 ))
dir=$(mktemp -d)
# The hosts talk over non-loopback addresses: CURVE, with the run's keys
# (meson test sets TROUPE_KEYS), else a pair made for this run.
if [ -z "${TROUPE_KEYS:-}" ] || [ "$TROUPE_KEYS" = none ]; then
  "$TROUPE" keygen --dir "$dir/keys" >/dev/null
  export TROUPE_KEYS="$dir/keys"
fi
cleanup() {
  disown -a 2>/dev/null || true  # no "Killed" job notices for the processes we stop
  for h in s a b br; do
    local pids
    pids=$(ip netns pids "$tag-$h" 2>/dev/null || true)
    [[ -n "$pids" ]] && kill -9 $pids 2>/dev/null || true
    ip netns del "$tag-$h" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT
if ! ip netns add "$tag-br" 2>/dev/null; then echo "skip: cannot create network namespaces here"; exit 77; fi
ip -n "$tag-br" link add br0 type bridge
ip -n "$tag-br" link set br0 up
i=1
for h in s a b; do
  ip netns add "$tag-$h"
  ip link add "$tag-$h" type veth peer name "$tag-$h-br"
  ip link set "$tag-$h" netns "$tag-$h"
  ip link set "$tag-$h-br" netns "$tag-br"
  ip -n "$tag-$h" addr add "$net.$i/24" dev "$tag-$h"
  ip -n "$tag-$h" link set "$tag-$h" up
  ip -n "$tag-$h" link set lo up
  ip -n "$tag-br" link set "$tag-$h-br" master br0
  ip -n "$tag-br" link set "$tag-$h-br" up
  i=$((i + 1))
done
declare -A ip_of=([s]=$net.1 [a]=$net.2 [b]=$net.3)
addr="tcp://$net.1:7400"

fail() { echo "FAIL: $*"; for f in "$dir"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }
# Polls a condition (a shell command) until it holds or `seconds` pass.
eventually() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || return 1
    sleep 0.1
  done
}
in_s() { ip netns exec "$tag-s" "$@"; }
actor_field() {  # actor_field NAME FIELD
  in_s "$TROUPE" get actor "$1" --json --address "$addr" |
    /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}
node_host() {  # node_host ID → the IP of that node
  in_s "$TROUPE" list nodes --json --address "$addr" |
    /usr/bin/python3 -c "import json,sys; print([n['host'] for n in json.load(sys.stdin) if n['id']==$1][0])"
}
ns_of_ip() { for h in a b; do if [[ ${ip_of[$h]} == "$1" ]]; then echo "$h"; fi; done; }
alive_on_other_host() {  # alive_on_other_host NAME OLD_HOST MIN_INCARNATION
  [[ $(actor_field "$1" state) == ALIVE ]] && (( $(actor_field "$1" incarnation) >= $3 )) &&
    [[ $(node_host "$(actor_field "$1" node)") != "$2" ]]
}
pid_gone() { ! kill -0 "$1" 2>/dev/null; }

ip netns exec "$tag-s" "$TROUPE" scheduler --bind "$addr" --http-port -1 --heartbeat-timeout-ms 1500 \
  >"$dir/scheduler.log" 2>&1 &
for h in a b; do
  ip netns exec "$tag-$h" "$TROUPE" worker --scheduler "$addr" --host "${ip_of[$h]}" --cpus 1 \
    --log-dir "$dir/logs-$h" >"$dir/worker-$h.log" 2>&1 &
done
eventually 15 grep -q "node [0-9]* at" "$dir/worker-a.log" || fail "worker a did not register"
eventually 15 grep -q "node [0-9]* at" "$dir/worker-b.log" || fail "worker b did not register"

# --- 1. partition ---
out=$(in_s "$SPAWN" "$addr" p1 3 1) || fail "spawn failed: $out"
old_pid=$(sed -n 's/.* pid \([0-9]*\)$/\1/p' <<<"$out")
host=$(node_host "$(actor_field p1 node)")
h=$(ns_of_ip "$host")
# One caller on the cut-off host (it reaches only the old incarnation), one beside the scheduler.
ip netns exec "$tag-$h" "$WATCH" "$addr" p1 12 >"$dir/watch-cut.log" 2>&1 &
watch_cut=$!
in_s "$WATCH" "$addr" p1 12 >"$dir/watch-main.log" 2>&1 &
watch_main=$!
eventually 15 grep -q ready "$dir/watch-cut.log" || fail "the watcher on host $h got no answer"
eventually 15 grep -q ready "$dir/watch-main.log" || fail "the watcher beside the scheduler got no answer"
echo "p1 runs on host $h ($host), pid $old_pid; cutting $h off"
ip -n "$tag-br" link set "$tag-$h-br" down
cut_ms=$(/usr/bin/python3 -c 'import time; print(int(time.monotonic() * 1000))')
eventually 20 alive_on_other_host p1 "$host" 1 || fail "p1 was not restarted on the other host"
echo "p1 restarted as incarnation $(actor_field p1 incarnation) on the other host"
kill -0 "$old_pid" 2>/dev/null && echo "the cut-off copy (pid $old_pid) still runs, isolated"
wait "$watch_cut" "$watch_main" || fail "a watcher failed"
/usr/bin/python3 - "$dir/watch-cut.log" "$dir/watch-main.log" "$cut_ms" <<'PY' || fail "two incarnations of p1 served at once"
import re, sys
def spans(path):
    out = {}
    for line in open(path):
        m = re.match(r"incarnation (\d+) first_ms (-?\d+) last_ms (-?\d+) answers (\d+)", line)
        if m: out[int(m[1])] = (int(m[2]), int(m[3]), int(m[4]))
        m = re.match(r"refused (\d+) first_ms (-?\d+)", line)
        if m: out["refused"] = (int(m[2]), int(m[1]))
    return out
cut, main, t_cut = spans(sys.argv[1]), spans(sys.argv[2]), int(sys.argv[3])
last_old = max(s[1] for k, s in list(cut.items()) + list(main.items()) if k == 0)
first_new = min(s[0] for k, s in list(cut.items()) + list(main.items()) if k != "refused" and k >= 1)
refused = cut.get("refused", (-1, 0))
print(f"partition: the old incarnation answered its last call {last_old - t_cut} ms after the cut, "
      f"refused {refused[1]} call(s) for its lease from {refused[0] - t_cut} ms; the new one answered "
      f"from {first_new - t_cut} ms")
assert refused[1] > 0, "the cut-off copy never refused a call"
assert last_old < first_new, (last_old, first_new)
assert 1 not in cut, "the caller on the cut-off host reached the new incarnation"
PY
ip -n "$tag-br" link set "$tag-$h-br" up
eventually 20 pid_gone "$old_pid" || fail "the old incarnation (pid $old_pid) was not stopped after the link returned"
grep -q "stopping actor" "$dir/worker-$h.log" || fail "worker $h did not report fencing"
[[ $(actor_field p1 state) == ALIVE && $(actor_field p1 incarnation) == 1 ]] || fail "p1 changed after healing"
echo "after healing: the old copy is stopped; p1 incarnation 1 serves"

# --- 2. host lost ---
now_host=$(node_host "$(actor_field p1 node)")
lost=$(ns_of_ip "$now_host")
echo "losing host $lost ($now_host) for good"
kill -9 $(ip netns pids "$tag-$lost")
eventually 20 alive_on_other_host p1 "$now_host" 2 || fail "p1 was not restarted after its host was lost"
echo "p1 incarnation $(actor_field p1 incarnation) serves on the remaining host"

# --- 3. training across a partition ---
for h in a b; do
  pids=$(ip netns pids "$tag-$h")
  [[ -n "$pids" ]] && kill -9 $pids
  ip netns exec "$tag-$h" "$TROUPE" worker --scheduler "$addr" --host "${ip_of[$h]}" --cpus 4 \
    --log-dir "$dir/logs-$h-3" >"$dir/worker-$h-3.log" 2>&1 &
done
eventually 15 grep -q "node [0-9]* at" "$dir/worker-a-3.log" || fail "worker a did not register again"
eventually 15 grep -q "node [0-9]* at" "$dir/worker-b-3.log" || fail "worker b did not register again"
sed -e 's/^epochs = .*/epochs = 10/' -e "s|^dir = .*|dir = \"$dir/run\"|" \
  "$(dirname "$0")/../../examples/fashion_mnist.toml" >"$dir/job.toml"
# `ip netns exec` execs troupe: $! is the driver's pid, which names its actors.
ip netns exec "$tag-s" "$TROUPE" train "$dir/job.toml" --cluster "$addr" --progress lines >"$dir/train.log" 2>&1 &
train_pid=$!
t1="train-$train_pid-trainer-1"
eventually 60 grep -q "^epoch 1/" "$dir/train.log" || fail "training did not get through its first epoch"
host=$(node_host "$(actor_field "$t1" node)")
h=$(ns_of_ip "$host")
old_pids=$(ip netns pids "$tag-$h" | tr '\n' ' ')
echo "training: $t1 runs on host $h ($host); cutting $h off"
ip -n "$tag-br" link set "$tag-$h-br" down
eventually 30 alive_on_other_host "$t1" "$host" 1 || fail "$t1 was not restarted on the other host"
echo "training: $t1 restarted as incarnation $(actor_field "$t1" incarnation) on the other host"
ip -n "$tag-br" link set "$tag-$h-br" up
for pid in $old_pids; do  # the cut-off host's actor processes (its worker stays)
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q " actor " || continue
  eventually 20 pid_gone "$pid" || fail "a cut-off actor process (pid $pid) still runs after the link returned"
done
wait "$train_pid" || fail "troupe train failed (exit $?)"
acc=$(sed -n 's/^final test accuracy \([0-9.]*\)$/\1/p' "$dir/train.log")
[[ -n "$acc" ]] || fail "troupe train printed no final accuracy"
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$acc') >= 0.85 else 1)" || fail "final accuracy $acc < 0.85"
echo "training: finished across the partition, test accuracy $acc; the cut-off copies were stopped"

# --- 4. training across the loss of the shard's host, then of a trainer's host ---
restart_worker() {  # restart_worker HOST TAG
  ip netns exec "$tag-$1" "$TROUPE" worker --scheduler "$addr" --host "${ip_of[$1]}" --cpus 4 \
    --log-dir "$dir/logs-$1-$2" >"$dir/worker-$1-$2.log" 2>&1 &
  eventually 15 grep -q "node [0-9]* at" "$dir/worker-$1-$2.log" || fail "worker $1 did not register ($2)"
}
epoch_lines() { grep -c "^epoch [0-9]*/[0-9]*: train loss" "$dir/train4.log" || true; }
more_epochs_than() { (( $(epoch_lines) > $1 )); }
sed -e 's/^epochs = .*/epochs = 4/' -e "s|^dir = .*|dir = \"$dir/run4\"|" \
  "$(dirname "$0")/../../examples/fashion_mnist.toml" >"$dir/job4.toml"
# Shard checkpoints on storage both hosts see (one file system here), as a real cluster would configure.
printf '\n[checkpoint]\ndir = "%s/ckpt4"\ninterval = 100\n' "$dir" >>"$dir/job4.toml"
ip netns exec "$tag-s" "$TROUPE" train "$dir/job4.toml" --cluster "$addr" --progress lines >"$dir/train4.log" 2>&1 &
train_pid=$!
shard="train-$train_pid-shard-0"
eventually 60 more_epochs_than 0 || fail "training (4) did not get through its first epoch"
for what in shard trainer; do
  name=$shard
  [[ $what == trainer ]] && name="train-$train_pid-trainer-0"
  host=$(node_host "$(actor_field "$name" node)")
  h=$(ns_of_ip "$host")
  inc=$(actor_field "$name" incarnation)
  seen=$(epoch_lines)
  echo "training (4): losing host $h ($host), which runs the $what $name"
  kill -9 $(ip netns pids "$tag-$h")
  eventually 30 alive_on_other_host "$name" "$host" $((inc + 1)) || fail "$name was not restarted after its host was lost"
  eventually 90 more_epochs_than "$seen" || fail "training (4) made no progress after losing host $h"
  restart_worker "$h" "4$what"
done
wait "$train_pid" || fail "troupe train (4) failed (exit $?)"
grep -q "^final test accuracy" "$dir/train4.log" || fail "troupe train (4) printed no final accuracy"
/usr/bin/python3 - "$dir/run4/epochs.jsonl" <<'PY' || fail "an epoch did not train every sample once"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 4, rows
for r in rows:
    assert r["samples_expected"] == 60000 and r["samples_trained"] == 60000, r
    assert r["samples_skipped"] == 0 and r["samples_duplicated"] == 0, r
print("training (4): every epoch trained 60000 of 60000 samples once;",
      sum(r["batches_redone"] for r in rows), "batch(es) redone after the faults")
PY
echo "training (4): finished across the loss of the shard's host and a trainer's host: $(grep '^samples:' "$dir/train4.log")"
echo "netns: 4 passed, 0 failed"
