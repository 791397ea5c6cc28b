#!/usr/bin/python3
"""The PyTorch half of tools/bench/train_step: the same training step and the
same GEMM shapes as train_step_bench, one JSON object per line on stdout.

    torch_peer.py train --batch B --threads T [--repeats R] [--seconds S]
    torch_peer.py gemm --threads T [--repeats R]
    torch_peer.py cuda-train --batch B        (when torch has CUDA)

Thread settings come from the caller's environment (run.py sets
OPENBLAS_CORETYPE, OPENBLAS_NUM_THREADS, OMP_NUM_THREADS for this process
only); torch.set_num_threads(T) is called too. Exit 77 when torch is missing.
"""
import argparse
import json
import os
import statistics
import sys
import time

try:
    import torch
except Exception as e:  # noqa: BLE001
    print(f"torch not importable under {sys.executable}: {e}", file=sys.stderr)
    sys.exit(77)


def rates(fn, repeats, seconds, sync=lambda: None):
    fn()
    sync()
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        sync()
        dt = time.perf_counter() - t0
        if dt > seconds / 4 or iters > 1 << 24:
            iters = max(1, int(iters * seconds / dt))
            break
        iters *= 2
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        sync()
        out.append(iters / (time.perf_counter() - t0))
    return out


def model_and_step(batch, device):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                torch.nn.ReLU(), torch.nn.Linear(128, 10)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.rand(batch, 784, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.4)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    env = {k: os.environ.get(k, "") for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                              "OMP_WAIT_POLICY")}
    if a.mode == "train":
        r = rates(model_and_step(a.batch, "cpu"), a.repeats, a.seconds)
        print(json.dumps({"kind": "train", "impl": "torch", "batch": a.batch, "threads": a.threads,
                          "samples_per_s": round(statistics.median(r) * a.batch, 1),
                          "runs_samples_per_s": [round(v * a.batch, 1) for v in r],
                          "torch": torch.__version__, "env": env}))
    elif a.mode == "gemm":
        for name, m, n, k in (("64x256x784", 64, 256, 784), ("256x784x64", 256, 784, 64),
                              ("512x256x784", 512, 256, 784), ("256x784x512", 256, 784, 512),
                              ("512x128x256", 512, 128, 256), ("1024x1024x1024", 1024, 1024, 1024)):
            A, B = torch.rand(m, k), torch.rand(k, n)
            C = torch.empty(m, n)
            r = rates(lambda: torch.mm(A, B, out=C), a.repeats, a.seconds / 2)
            flop = 2.0 * m * n * k
            print(json.dumps({"kind": "gemm", "impl": "torch_mm", "shape": name, "threads": a.threads,
                              "gflops": round(statistics.median(r) * flop * 1e-9, 1), "env": env}))
    elif a.mode == "cuda-train":
        if not torch.cuda.is_available():
            print("torch has no usable CUDA", file=sys.stderr)
            sys.exit(77)
        r = rates(model_and_step(a.batch, "cuda"), a.repeats, a.seconds, torch.cuda.synchronize)
        print(json.dumps({"kind": "cuda_train", "impl": "torch_cuda", "batch": a.batch,
                          "samples_per_s": round(statistics.median(r) * a.batch, 1),
                          "step_us": round(1e6 / statistics.median(r), 1)}))
    else:
        sys.exit(f"unknown mode {a.mode}")


if __name__ == "__main__":
    main()
