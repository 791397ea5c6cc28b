"""PyTorch DistributedDataParallel peer of `troupe train examples/fashion_mnist.toml`:
784-256-128-10, Adam 1e-3 decayed linearly to 1e-4 over the run (as the
config's lr_final = 0.1), global batch 64 (2 ranks x 32), gloo, one thread per
rank, the same Fashion-MNIST files. Prints one JSON line:
{"samples_per_s", "time_to_088_s", "final_accuracy", "epochs", "accuracies"}.
Run with Debian's torch: OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 /usr/bin/python3 ddp_peer.py"""
import gzip, json, os, struct, sys, time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

DATA = "/usr/share/datasets/fashion-mnist"


def idx(path):
    b = gzip.open(path, "rb").read()
    nd = b[3]
    dims = struct.unpack(">" + "I" * nd, b[4:4 + 4 * nd])
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def rank_main(rank, world, epochs, batch, out):
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", "29517"
    dist.init_process_group("gloo", rank=rank, world_size=world)
    x = torch.from_numpy(idx(f"{DATA}/train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255)
    y = torch.from_numpy(idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64))
    tx = torch.from_numpy(idx(f"{DATA}/t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255)
    ty = torch.from_numpy(idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    torch.manual_seed(42)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(ddp.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(42)
    total = epochs * (len(x) // world // batch)
    # troupe's schedule: step t (1-based) runs at lr * (1 - 0.9 * (t - 1) / total)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 - 0.9 * min(t, total) / total)
    train_s, samples, accs, t088 = 0.0, 0, [], None
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=g)[rank::world]
        steps = len(perm) // batch
        dist.barrier()
        t0 = time.perf_counter()
        for s in range(steps):
            i = perm[s * batch:(s + 1) * batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(ddp(x[i]), y[i]).backward()
            opt.step()
            sched.step()
        dist.barrier()
        train_s += time.perf_counter() - t0
        samples += steps * batch * world
        with torch.no_grad():
            acc = (model(tx).argmax(1) == ty).float().mean().item()
        accs.append(acc)
        if t088 is None and acc >= 0.88:
            t088 = train_s
    if rank == 0:
        out.put({"samples_per_s": samples / train_s, "time_to_088_s": t088, "final_accuracy": accs[-1],
                 "epochs": epochs, "accuracies": accs, "train_seconds": train_s})
    dist.destroy_process_group()


if __name__ == "__main__":
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=rank_main, args=(r, 2, epochs, 32, q)) for r in range(2)]
    for p in procs:
        p.start()
    res = q.get()
    for p in procs:
        p.join()
    print(json.dumps(res))
