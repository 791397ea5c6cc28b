#!/usr/bin/env bash
# GPU check for the kernels (issue 3): on a machine with an NVIDIA GPU,
# configure with CUDA for that GPU's architecture only, build the kernel tests
# and the benchmark, run the CUDA tests against the CPU reference, then the
# cuBLAS GEMM and training-step benchmark (and PyTorch CUDA when importable),
# and print a short table last. Meant to finish in well under 5 minutes.
#   tools/gpu_check.sh [BUILD_DIR]        (default: build-gpu)
# Exit status: 0 when every test passed, 1 otherwise (77 from a test = skipped
# is reported as SKIP, and makes the exit status 1 too: a GPU was expected).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-gpu}
t0=$SECONDS
log=$(mktemp -d /tmp/gpu_check.XXXXXX)
[[ -x /usr/local/cuda/bin/nvcc ]] && export PATH=/usr/local/cuda/bin:$PATH

say() { printf '[gpu_check %3ds] %s\n' $((SECONDS - t0)) "$*"; }

gpu=$(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')
say "GPU: ${gpu:-none found by nvidia-smi}"
archs=${cc:-90}

if [[ ! -f $build/build.ninja ]]; then
  say "meson setup $build -Dcuda=enabled -Dgpu_archs=$archs"
  if ! meson setup "$build" "$root" -Dcuda=enabled -Dgpu_archs="$archs" -Dfuzz=disabled >"$log/setup.txt" 2>&1; then
    tail -20 "$log/setup.txt"
    say "configure failed (missing packages? run tools/install_deps.sh)"
    exit 1
  fi
fi
targets=(kernels/cuda_kernels_tests kernels/kernels_tests kernels/model_tests tools/bench/train_step/train_step_bench)
say "ninja ${targets[*]}"
if ! ninja -C "$build" -j"$(nproc)" "${targets[@]}" >"$log/build.txt" 2>&1; then
  grep -E 'error|FAILED' "$log/build.txt" | head -20
  say "build failed"
  exit 1
fi

declare -A result
status=0
run_test() {  # name, command...
  local name=$1; shift
  say "test $name"
  timeout 150 "$@" >"$log/$name.txt" 2>&1
  local rc=$?
  case $rc in
    0) result[$name]=PASS ;;
    77) result[$name]="SKIP ($(head -1 "$log/$name.txt"))"; status=1 ;;
    *) result[$name]="FAIL (exit $rc)"; status=1; tail -30 "$log/$name.txt" ;;
  esac
}
run_test cuda_kernels "$build/kernels/cuda_kernels_tests"
run_test cpu_kernels "$build/kernels/kernels_tests"
run_test model_gradcheck "$build/kernels/model_tests"

bench=$build/tools/bench/train_step/train_step_bench
peer=$root/tools/bench/train_step/torch_peer.py
say "benchmark: cuBLAS GEMM"
timeout 120 "$bench" cuda-gemm --repeats 3 >"$log/gemm.json" 2>>"$log/bench_err.txt"
for b in 64 512; do
  say "benchmark: training step, batch $b"
  timeout 60 "$bench" cuda-train --batch "$b" --repeats 5 >>"$log/train.json" 2>>"$log/bench_err.txt"
  timeout 60 "$bench" train --batch "$b" --threads 1 --repeats 3 >>"$log/train.json" 2>>"$log/bench_err.txt"
  for py in python3 /usr/bin/python3; do
    if timeout 60 "$py" "$peer" cuda-train --batch "$b" --repeats 5 >>"$log/train.json" 2>>"$log/bench_err.txt"; then
      break
    fi
  done
done

# The table (last).
python3 - "$log" "$gpu" "${result[cuda_kernels]}" "${result[cpu_kernels]}" "${result[model_gradcheck]}" \
  $((SECONDS - t0)) <<'PY'
import json, os, sys
log, gpu, cuda_t, cpu_t, model_t, secs = sys.argv[1:7]
def rows(name):
    p = os.path.join(log, name)
    return [json.loads(l) for l in open(p) if l.startswith("{")] if os.path.exists(p) else []
# Dense peaks (NVIDIA data sheets, no sparsity) for the GPUs this project is lent.
peaks = {"H200": {"fp32": 67, "tf32": 495, "bf16": 989}, "H100": {"fp32": 67, "tf32": 495, "bf16": 989}}
peak = next((v for k, v in peaks.items() if k in gpu), None)
print("\n==== gpu_check summary ====")
print(f"GPU: {gpu or 'none'}")
print(f"{'tests':34} cuda_kernels: {cuda_t} | cpu kernels: {cpu_t} | model gradcheck: {model_t}")
for r in rows("gemm.json"):
    kind = r["impl"].split("_")[-1]
    pct = f" ({100 * r['tflops'] / peak[kind]:.0f}% of {peak[kind]} peak)" if peak else ""
    print(f"{'cuBLAS ' + kind + ' GEMM n=' + str(r['n']):34} {r['tflops']:8.1f} TFLOP/s{pct}")
for r in rows("train.json"):
    us = r.get("step_us") or (1e6 * r["batch"] / r["samples_per_s"])
    print(f"{'step ' + r['impl'] + ' b' + str(r['batch']):34} {us:8.1f} us/step {r['samples_per_s']:12.0f} samples/s")
print(f"{'wall time':34} {secs} s")
PY
exit $status
