#!/usr/bin/env bash
# Benchmark: `troupe train examples/fashion_mnist.toml` (2 trainers, 2 loaders,
# 1 shard, global batch 64, 10 epochs) against PyTorch DDP (gloo, 2 ranks x 1
# thread, same model, global batch, epochs and data). The peer gets its best
# configuration here: Debian's torch with OPENBLAS_CORETYPE=SkylakeX and
# OPENBLAS_NUM_THREADS=1 set for its process only (TOOLCHAIN.md).
# Prints samples/s, time to 0.88 test accuracy and final accuracy for both, the
# ratio, the aggregator's time per step next to a memcpy of the same bytes, and
# each trainer's time per step computing (forward/backward, its gradient
# buckets pushed on the way) and waiting (weights of the next version, batch).
# BUCKET_BYTES sets [training] bucket_bytes (default: the config's, else
# 65536; 1073741824: one push per step, as before buckets).
# The job runs twice on the embedded cluster, secured (its default: loopback
# PLAIN, authenticated) and unsecured (TROUPE_KEYS=none), to show what
# security costs (docs/SECURITY.md).
# The last line is one JSON object with every figure.
#   tools/bench/train/run.sh [BUILD_DIR] [EPOCHS] [BUCKET_BYTES]
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=${1:-build}
epochs=${2:-10}
bucket_bytes=${3:-}
out=$(mktemp -d /tmp/troupe-bench-train.XXXXXX)
trap 'rm -rf "$out"' EXIT
sed "s/^epochs = .*/epochs = $epochs/" examples/fashion_mnist.toml > "$out/job.toml"
if [ -n "$bucket_bytes" ]; then
  sed -i "/^bucket_bytes = /d; s/^\[training\]\$/[training]\nbucket_bytes = $bucket_bytes/" "$out/job.toml"
fi

"$build/tools/troupe" train "$out/job.toml" --output "$out/run" --progress none | tee "$out/troupe.log"
TROUPE_KEYS=none "$build/tools/troupe" train "$out/job.toml" --output "$out/run-unsecured" --progress none \
  | tee "$out/troupe-unsecured.log"
peer='{}'
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  peer=$(OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
         /usr/bin/python3 tools/bench/train/ddp_peer.py "$epochs" | tail -1)
fi
/usr/bin/python3 - "$out" "$peer" <<'PY'
import json, sys, time
import numpy as np
out, peer = sys.argv[1], json.loads(sys.argv[2])
epochs = [json.loads(l) for l in open(f"{out}/run/epochs.jsonl")]
unsecured_epochs = [json.loads(l) for l in open(f"{out}/run-unsecured/epochs.jsonl")]
unsecured_steps = [json.loads(l) for l in open(f"{out}/run-unsecured/steps.jsonl")]
steps = [json.loads(l) for l in open(f"{out}/run/steps.jsonl")]
import glob, re
trainers = []  # the summary line each trainer writes to its log (actors/training/trainer.cpp)
for f in sorted(glob.glob(f"{out}/run/logs/**/*.log", recursive=True)):
    for l in open(f, errors="replace"):
        m = re.search(r"trainer (\d+): summary: steps=(\d+) compute_us=([\d.]+) wait_us=([\d.]+) buckets=(\d+)", l)
        if m:
            trainers.append({"slot": int(m[1]), "steps": int(m[2]), "compute_us": float(m[3]),
                             "wait_us": float(m[4]), "buckets": int(m[5])})
train_s = sum(e["seconds"] for e in epochs)
samples = sum(s["samples"] for s in steps)
t088, acc_t = None, 0.0
for e in epochs:
    acc_t += e["seconds"]
    if t088 is None and (e["test_accuracy"] or 0) >= 0.88:
        t088 = acc_t
apply = sorted(s["apply_us"] for s in steps)
nbytes = 235146 * 4
a = np.ones(nbytes // 4, dtype=np.float32); b = np.empty_like(a)
ts = []
for _ in range(200):
    t = time.perf_counter(); np.copyto(b, a); ts.append(time.perf_counter() - t)
memcpy_us = sorted(ts)[len(ts) // 2] * 1e6
r = {
    "troupe_samples_per_s": samples / train_s,
    "troupe_time_to_088_s": t088,
    "troupe_final_accuracy": epochs[-1]["test_accuracy"],
    "ddp_samples_per_s": peer.get("samples_per_s"),
    "ddp_time_to_088_s": peer.get("time_to_088_s"),
    "ddp_final_accuracy": peer.get("final_accuracy"),
    "aggregator_step_p50_us": apply[len(apply) // 2],
    "aggregator_step_mean_us": sum(apply) / len(apply),
    "memcpy_same_bytes_p50_us": memcpy_us,
    "gradient_bytes": nbytes,
    "epochs": len(epochs),
    "trainer_compute_us": sum(t["compute_us"] for t in trainers) / len(trainers) if trainers else None,
    "trainer_wait_us": sum(t["wait_us"] for t in trainers) / len(trainers) if trainers else None,
    "buckets_per_step": trainers[0]["buckets"] if trainers else None,
}
r["troupe_unsecured_samples_per_s"] = sum(s["samples"] for s in unsecured_steps) / sum(e["seconds"] for e in unsecured_epochs)
r["secured_over_unsecured_samples_per_s"] = r["troupe_samples_per_s"] / r["troupe_unsecured_samples_per_s"]
r["samples_per_s_ratio"] = r["troupe_samples_per_s"] / r["ddp_samples_per_s"] if r["ddp_samples_per_s"] else None
print(f"troupe: {r['troupe_samples_per_s']:.0f} samples/s, 0.88 after {r['troupe_time_to_088_s']} s, final accuracy {r['troupe_final_accuracy']:.4f}")
print(f"troupe unsecured (TROUPE_KEYS=none): {r['troupe_unsecured_samples_per_s']:.0f} samples/s; "
      f"secured/unsecured {r['secured_over_unsecured_samples_per_s']:.3f} (target >= 0.90)")
if peer:
    print(f"ddp:    {r['ddp_samples_per_s']:.0f} samples/s, 0.88 after {r['ddp_time_to_088_s']} s, final accuracy {r['ddp_final_accuracy']:.4f}")
    print(f"ratio:  {r['samples_per_s_ratio']:.2f}x troupe/ddp samples/s")
print(f"aggregator: {r['aggregator_step_p50_us']} us/step p50 (mean {r['aggregator_step_mean_us']:.0f}) vs memcpy of the same {nbytes} bytes {memcpy_us:.0f} us")
for t in sorted(trainers, key=lambda t: t["slot"]):
    print(f"trainer {t['slot']}: {t['steps']} steps, {t['compute_us']:.0f} us/step computing (forward/backward, "
          f"{t['buckets']} bucket push(es) on the way), {t['wait_us']:.0f} us/step waiting (weights, batch)")
print(json.dumps(r))
PY
