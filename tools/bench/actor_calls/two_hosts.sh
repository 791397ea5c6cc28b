#!/usr/bin/env bash
# tools/bench/actor_calls across two "hosts": two network namespaces joined by
# a veth. Host A runs `troupe scheduler` + `troupe worker` and two raw ZeroMQ
# echo servers (plain, CURVE); host B runs the driver (`actor_calls --remote`),
# which prints troupe secured (CURVE set-up + sealed data plane) beside raw
# ZeroMQ plain and CURVE over the same link; its last line is one JSON object.
# troupe itself cannot run unsecured between hosts (without keys it refuses
# non-loopback binds): raw ZeroMQ plain is the unsecured reference.
#   two_hosts.sh BUILD_DIR [actor_calls options...]
# Needs root and iproute2; prints one line and exits 77 where namespaces
# cannot be made.
set -euo pipefail
build=${1:?usage: two_hosts.sh BUILD_DIR [options]}
shift
troupe=$build/tools/troupe
bench=$build/tools/bench/actor_calls/actor_calls
if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
  echo "two_hosts: skipped: needs root and iproute2 (ip netns)"; exit 77
fi
tag=aead-$(( $$ % 100000 ))
net=10.78.$(( $$ % 250 ))
dir=$(mktemp -d)
cleanup() {
  for h in a b; do
    pids=$(ip netns pids "$tag-$h" 2>/dev/null || true)
    [[ -n "$pids" ]] && kill -9 $pids 2>/dev/null || true
    ip netns del "$tag-$h" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT
if ! ip netns add "$tag-a" 2>/dev/null; then
  echo "two_hosts: skipped: cannot create network namespaces here"; exit 77
fi
ip netns add "$tag-b"
ip link add "$tag-a" type veth peer name "$tag-b"
ip link set "$tag-a" netns "$tag-a"
ip link set "$tag-b" netns "$tag-b"
ip -n "$tag-a" addr add "$net.1/24" dev "$tag-a"
ip -n "$tag-b" addr add "$net.2/24" dev "$tag-b"
for h in a b; do
  ip -n "$tag-$h" link set "$tag-$h" up
  ip -n "$tag-$h" link set lo up
done
if [ -z "${TROUPE_KEYS:-}" ] || [ "$TROUPE_KEYS" = none ]; then
  "$troupe" keygen --dir "$dir/keys" >/dev/null
  export TROUPE_KEYS="$dir/keys"
fi
in_a() { ip netns exec "$tag-a" "$@"; }
in_b() { ip netns exec "$tag-b" "$@"; }
in_a "$troupe" scheduler --bind "tcp://$net.1:7400" --http-port -1 >"$dir/scheduler.log" 2>&1 &
in_a "$bench" --echo-server "tcp://$net.1:7501" >/dev/null 2>&1 &
in_a "$bench" --echo-server "tcp://$net.1:7502" --curve 1 >/dev/null 2>&1 &
for _ in $(seq 50); do grep -q "control tcp://" "$dir/scheduler.log" 2>/dev/null && break; sleep 0.1; done
in_a "$troupe" worker --scheduler "tcp://$net.1:7400" --host "$net.1" --cpus 2 --log-dir "$dir/w" >"$dir/worker.log" 2>&1 &
# The worker prints its node once registered. (The echo servers need no wait:
# a ZeroMQ client's messages queue until its server binds.)
for _ in $(seq 100); do grep -q "troupe worker: node" "$dir/worker.log" 2>/dev/null && break; sleep 0.1; done
grep -q "troupe worker: node" "$dir/worker.log" || { echo "two_hosts: the worker did not register: $(cat "$dir/worker.log")"; exit 1; }
in_b "$bench" --remote "tcp://$net.1:7400" --raw-host "$net.1" "$@"
