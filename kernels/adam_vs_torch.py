#!/usr/bin/python3
"""Replays the trace of adam_trace (argv[1]) in torch.optim.Adam and compares.

Exit 0: every parameter after every step agrees within torch.allclose(rtol=5e-7,
atol=1e-6), i.e. a few float ulps; 1: mismatch; 77: torch is not importable (skip).
"""
import json
import subprocess
import sys

try:
    import torch
except Exception as e:  # noqa: BLE001 - any import failure means "no torch here"
    print(f"skip: torch not importable under {sys.executable}: {e}")
    sys.exit(77)

trace = json.loads(subprocess.run([sys.argv[1]], check=True, capture_output=True, text=True).stdout)
worst = 0.0
for cfg in trace["configs"]:
    p = torch.nn.Parameter(torch.tensor(cfg["p0"], dtype=torch.float32))
    opt = torch.optim.Adam([p], lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"],
                           weight_decay=cfg["weight_decay"])
    for t, step in enumerate(cfg["steps"], 1):
        p.grad = torch.tensor(step["g"], dtype=torch.float32)
        opt.step()
        ours = torch.tensor(step["p"], dtype=torch.float32)
        abs_err = (ours - p.detach()).abs().max().item()
        worst = max(worst, abs_err)
        if not torch.allclose(ours, p.detach(), rtol=5e-7, atol=1e-6):
            i = (ours - p.detach()).abs().argmax().item()
            print(f"MISMATCH lr={cfg['lr']} step {t}: element {i}: troupe {ours[i].item()!r} "
                  f"torch {p.detach()[i].item()!r}")
            sys.exit(1)
print(f"ok: troupe AdamState == torch {torch.__version__} optim.Adam over {len(trace['configs'])} configs x "
      f"{len(trace['configs'][0]['steps'])} steps; max abs diff {worst:.3g}")
