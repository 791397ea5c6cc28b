#!/usr/bin/python3
"""tools/bench/train_step driver: troupe's CPU training step and GEMM next to
PyTorch and the GEMM alternatives, measured in the same run on this machine.

    tools/bench/train_step/run.py --bench BUILD/tools/bench/train_step/train_step_bench
        [--quick] [--cuda]

Prints tables, then as its LAST line one JSON object holding every figure
printed (units in the key names). Use tools/bench/train_step/run.sh to build
and run in one go.

Configuration of each side (printed too):
- troupe: no environment variable needed; oneDNN picks its kernel from the CPU.
  OPENBLAS_* and OMP_WAIT_POLICY are removed from its environment.
- PyTorch (Debian python3-torch under /usr/bin/python3, BLAS = OpenBLAS): its
  own process gets OPENBLAS_CORETYPE=SkylakeX, OPENBLAS_NUM_THREADS=T,
  OMP_NUM_THREADS=T and torch.set_num_threads(T).
- Two-thread GEMM runs use OMP_WAIT_POLICY=passive. Two-thread training rows
  are measured twice for both sides: with the default OpenMP
  wait policy (threads spin) and with OMP_WAIT_POLICY=passive, because on a
  loaded 2-core machine spinning threads can lose whole time slices; each
  side's best is used for the ratios.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "torch_peer.py")
TORCH_PY = "/usr/bin/python3"


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OPENBLAS_") and k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")}
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


def run_lines(cmd, env, timeout=600):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode == 77:
        return None
    if p.returncode != 0:
        sys.stderr.write(f"run.py: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}\n")
        return []
    if p.stderr.strip():
        sys.stderr.write(p.stderr)
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
        flags = next(l.split(":", 1)[1] for l in out.splitlines() if l.startswith("Flags"))
        isa = "avx512" if "avx512f" in flags else ("avx2" if "avx2" in flags else "sse")
        return f"{model}, {os.cpu_count()} CPUs, {isa}" + (", amx" if "amx_tile" in flags else "")
    except Exception:  # noqa: BLE001
        return f"{os.cpu_count()} CPUs"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (for smoke tests)")
    ap.add_argument("--cuda", action="store_true", help="also the CUDA step and cuBLAS GEMM (needs a GPU)")
    a = ap.parse_args()
    reps = ["--repeats", "3" if a.quick else "5"]
    secs = ["--seconds", "0.15" if a.quick else "0.4"]
    figures = {}
    load_before = loadavg()
    t_start = time.time()
    print(f"machine: {cpu_model()}; load average at start {load_before:.2f}")

    # 1. Vectorisation of the elementwise kernels.
    rows = run_lines([a.bench, "elementwise"] + reps, clean_env()) or []
    print("\n## Elementwise CPU kernels, 1 thread (GB/s; 'scalar' = the same loop with GCC's vectoriser off)")
    print(f"{'op':8} {'n':>9} {'vectorised':>11} {'scalar':>8} {'speedup':>8}   memcpy")
    by = {(r["op"], r["impl"], r["n"]): r["gb_per_s"] for r in rows}
    for n in sorted({r["n"] for r in rows}):
        mc = by.get(("memcpy", "libc", n), 0)
        figures[f"memcpy_n{n}_gb_per_s"] = mc
        for op in ("relu", "axpy", "adam"):
            v, s = by.get((op, "vectorised", n), 0), by.get((op, "scalar", n), 0)
            figures[f"{op}_n{n}_vectorised_gb_per_s"] = v
            figures[f"{op}_n{n}_scalar_gb_per_s"] = s
            print(f"{op:8} {n:>9} {v:>11.1f} {s:>8.1f} {v / s if s else 0:>7.1f}x   {mc:.1f}")

    # 2. GEMM shoot-out.
    gemm = []
    for t in (1, 2):
        # two OpenMP threads spin-wait by default; on this loaded 2-core machine
        # that collapses (see the training table), so t=2 uses passive waiting
        wait = "passive" if t == 2 else None
        gemm += run_lines([a.bench, "gemm", "--impl", "local", "--threads", str(t)] + reps + secs,
                          clean_env(OMP_WAIT_POLICY=wait)) or []
        gemm += [dict(r, impl="openblas_default(" + r["impl"].split("_", 1)[1] + ")") for r in
                 run_lines([a.bench, "gemm", "--impl", "openblas", "--threads", str(t)] + reps + secs,
                           clean_env(OPENBLAS_NUM_THREADS=t)) or []]
        gemm += [dict(r, impl="openblas_SkylakeX") for r in
                 run_lines([a.bench, "gemm", "--impl", "openblas", "--threads", str(t)] + reps + secs,
                           clean_env(OPENBLAS_NUM_THREADS=t, OPENBLAS_CORETYPE="SkylakeX")) or []]
        gemm += run_lines([TORCH_PY, PEER, "gemm", "--threads", str(t)] + reps + secs,
                          clean_env(OPENBLAS_NUM_THREADS=t, OMP_NUM_THREADS=t, OPENBLAS_CORETYPE="SkylakeX",
                                    OMP_WAIT_POLICY=wait)) or []
    shapes = list(dict.fromkeys(r["shape"] for r in gemm))
    impls = list(dict.fromkeys(r["impl"] for r in gemm))
    print("\n## sgemm GFLOP/s (M x N x K, row-major NN), median; 1 thread / 2 threads")
    print(f"{'implementation':32}" + "".join(f"{s:>16}" for s in shapes))
    for impl in impls:
        cells = []
        for s in shapes:
            vals = []
            for t in (1, 2):
                g = next((r["gflops"] for r in gemm if r["impl"] == impl and r["shape"] == s and r["threads"] == t),
                         None)
                vals.append("-" if g is None else f"{g:.0f}")
                if g is not None:
                    key = impl.replace("(", "_").replace(")", "").lower()
                    figures[f"gemm_{key}_{s}_t{t}_gflops"] = g
            cells.append("/".join(vals))
        print(f"{impl:32}" + "".join(f"{c:>16}" for c in cells))
    print("(oneDNN = troupe's choice; openblas_default = no OPENBLAS_CORETYPE; torch_mm = Debian torch with "
          "OPENBLAS_CORETYPE=SkylakeX; 2-thread runs with OMP_WAIT_POLICY=passive)")

    # 3. Full training step.
    print("\n## Training step 784-256-128-10, forward + backward + Adam (samples/s, median of "
          f"{reps[1]} runs x {1 if a.quick else 3} alternating rounds per side)")
    # Ours and the peer alternate, round after round, so that load from other
    # processes on this shared machine hits both sides alike; the figure of a
    # side is the median over all its runs.
    rounds = 1 if a.quick else 3
    runs = {}
    for _ in range(rounds):
        for batch in (64, 512):
            for t in (1, 2):
                for pol in ([None] if t == 1 else [None, "passive"]):
                    ours = run_lines([a.bench, "train", "--batch", str(batch), "--threads", str(t)] + reps + secs,
                                     clean_env(OMP_WAIT_POLICY=pol))
                    peer = run_lines([TORCH_PY, PEER, "train", "--batch", str(batch), "--threads", str(t)] + reps +
                                     secs, clean_env(OPENBLAS_NUM_THREADS=t, OMP_NUM_THREADS=t,
                                                     OPENBLAS_CORETYPE="SkylakeX", OMP_WAIT_POLICY=pol))
                    o, p = runs.setdefault((batch, t, pol), ([], []))
                    o += ours[0]["runs_samples_per_s"] if ours else []
                    p += peer[0]["runs_samples_per_s"] if peer else []
    train = {k: (statistics.median(o) if o else None, statistics.median(p) if p else None)
             for k, (o, p) in runs.items()}
    print(f"{'batch':>5} {'threads':>7} {'omp wait':>8} {'troupe':>10} {'pytorch':>10} {'ratio':>7}")
    for (batch, t, pol), (o, p) in train.items():
        tag = f"b{batch}_t{t}" + ("_passive" if pol else "")
        figures[f"troupe_{tag}_samples_per_s"] = o
        figures[f"torch_{tag}_samples_per_s"] = p
        ratio = o / p if o and p else None
        figures[f"ratio_{tag}"] = round(ratio, 2) if ratio else None
        print(f"{batch:>5} {t:>7} {pol or 'default':>8} {o or 0:>10.0f} {p or 0:>10.0f} "
              f"{ratio or 0:>6.2f}x")
    print("\nBest configuration of each side per batch (any thread count / wait policy):")
    for batch, target in ((64, 1.5), (512, 1.0)):
        o_best = max((v[0] or 0, k) for k, v in train.items() if k[0] == batch)
        p_best = max((v[1] or 0, k) for k, v in train.items() if k[0] == batch)
        ratio = o_best[0] / p_best[0] if p_best[0] else 0
        figures[f"troupe_b{batch}_best_samples_per_s"] = o_best[0]
        figures[f"torch_b{batch}_best_samples_per_s"] = p_best[0]
        figures[f"ratio_b{batch}_best"] = round(ratio, 2)
        describe = lambda k: f"{k[1]} thread(s){', passive' if k[2] else ''}"  # noqa: E731
        print(f"  batch {batch}: troupe {o_best[0]:.0f} ({describe(o_best[1])}) vs PyTorch {p_best[0]:.0f} "
              f"({describe(p_best[1])}): {ratio:.2f}x (target >= {target}x: {'met' if ratio >= target else 'NOT met'})")

    if a.cuda:
        print("\n## CUDA")
        rows = run_lines([a.bench, "cuda-gemm"] + reps, clean_env())
        for r in rows or []:
            figures[f"cuda_gemm_{r['impl']}_n{r['n']}_tflops"] = r["tflops"]
            print(f"  {r['impl']:14} n={r['n']:<5} {r['tflops']:8.2f} TFLOP/s")
        for batch in (64, 512):
            for r in (run_lines([a.bench, "cuda-train", "--batch", str(batch)] + reps + secs, clean_env()) or []) + \
                     (run_lines([TORCH_PY, PEER, "cuda-train", "--batch", str(batch)] + reps + secs, clean_env())
                      or []):
                figures[f"{r['impl']}_b{batch}_step_us"] = r["step_us"]
                figures[f"{r['impl']}_b{batch}_samples_per_s"] = r["samples_per_s"]
                print(f"  {r['impl']:20} batch {batch:<4} {r['step_us']:9.1f} us/step {r['samples_per_s']:11.0f} "
                      "samples/s")

    figures["load_average_start"] = load_before
    figures["load_average_end"] = loadavg()
    figures["bench_wall_s"] = round(time.time() - t_start, 1)
    print(f"\nload average: {load_before:.2f} at start, {figures['load_average_end']:.2f} at end; "
          f"{figures['bench_wall_s']} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
