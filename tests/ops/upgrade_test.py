"""Upgrading a worker while a training job runs (issue 14, item 4; the
procedure of docs/OPERATIONS.md): `troupe scheduler` (30 s heartbeat timeout,
so nothing here waits for it) and two `troupe worker`s; `troupe train
--cluster` trains (60 short epochs); the worker holding trainer 0 gets SIGTERM (what `systemctl
stop`, or a Slurm job's end, sends): it stops its actors, exits 0 and leaves
(node DEAD, "left: worker stopped") within seconds; its actors come back on
the other worker; a new worker (the upgraded binary) registers; the job keeps
stepping and finishes DONE with every sample of every epoch trained once
(the final `samples:` line: 0 skipped)."""
import json
import os
import re
import shutil
import signal
import tempfile
import time

from ops_support import TROUPE, check, elapsed, free_ports, main, skip, start, tail, troupe, wait_for, write_job

EPOCHS = 60  # about 10 s here: the upgrade (under 1 s) happens well inside the run


def rows(kind, addr):
    code, out, err = troupe("list", kind, "--json", "--address", addr)
    check(code == 0, f"list {kind}: {err}")
    return json.loads(out)


def test():
    if not TROUPE:
        skip("TROUPE_BIN is not set")
    t0 = time.time()
    work = tempfile.mkdtemp(prefix="troupe-upgrade-")
    port, = free_ports(1)
    addr = f"tcp://127.0.0.1:{port}"
    start([TROUPE, "scheduler", "--bind", addr, "--http-port", "-1", "--heartbeat-timeout-ms", "30000"],
          f"{work}/scheduler.log")
    workers = {}

    def start_worker(name):
        p = start([TROUPE, "worker", "--scheduler", addr, "--cpus", "3", "--log-dir", f"{work}/{name}"],
                  f"{work}/{name}.log")
        line = wait_for(f"worker {name} registered", lambda: re.search(r"node (\d+) at", open(f"{work}/{name}.log").read()),
                        timeout=30)
        workers[int(line.group(1))] = p
        return int(line.group(1))
    start_worker("a")
    start_worker("b")

    config = write_job(work, "upjob", epochs=EPOCHS, checkpoint_every=20)  # a moved shard resumes
    log = f"{work}/train.log"
    driver = start([TROUPE, "train", config, "--cluster", addr], log)

    def job():
        if driver.poll() is not None and driver.returncode != 0:
            raise AssertionError(f"troupe train exited {driver.returncode}: {tail(log)}")
        return {j["name"]: j for j in rows("jobs", addr)}.get("upjob")
    before = wait_for("the job RUNNING past step 50", lambda: (j := job()) and j["state"] == "RUNNING" and
                      j["step"] >= 50 and j, timeout=60, interval=0.2)
    actors = {a["name"]: a for a in rows("actors", addr) if a["name"].startswith("train-")}
    trainer0 = next(a for n, a in actors.items() if n.endswith("trainer-0"))
    node = trainer0["node"]
    moved = {n: a["incarnation"] for n, a in actors.items() if a["node"] == node and a["state"] == "ALIVE"}
    pids = [a["pid"] for a in actors.values() if a["node"] == node]

    # Drain: SIGTERM to the worker of trainer 0.
    t_drain = time.time()
    workers[node].send_signal(signal.SIGTERM)
    code = workers[node].wait(timeout=15)
    check(code == 0, f"the drained worker exited {code}: {tail(f'{work}/a.log')}{tail(f'{work}/b.log')}")
    stopped = time.time() - t_drain
    gone = next(n for n in rows("nodes", addr) if n["id"] == node)
    check(gone["state"] == "DEAD" and gone["death_reason"] == "left: worker stopped", f"the node left: {gone}")
    check(all(not os.path.exists(f"/proc/{p}") for p in pids), f"its actor processes are gone: {pids}")

    def back():
        now = {a["name"]: a for a in rows("actors", addr)}
        return all(now[n]["state"] == "ALIVE" and now[n]["incarnation"] > inc and now[n]["node"] != node
                   for n, inc in moved.items()) and now
    wait_for(f"{sorted(moved)} ALIVE again on the other worker", back, timeout=20, interval=0.2)
    recovered = time.time() - t_drain

    # Restart (the upgraded binary) and rejoin.
    new_node = start_worker("a2")
    check(next(n for n in rows("nodes", addr) if n["id"] == new_node)["state"] == "ALIVE", "the new worker is ALIVE")
    during = job()
    check(during["state"] == "RUNNING", f"the job still trains when the new worker joins: {during}")

    code = driver.wait(timeout=90)
    out = open(log).read()
    check(code == 0, f"troupe train exited {code}: {out[-2000:]}")
    m = re.search(r"samples: (\d+) of (\d+) trained once per epoch \((\d+) duplicated, (\d+) skipped\)", out)
    check(m and m.group(1) == m.group(2) and m.group(4) == "0", f"the ledger:\n{out[-2000:]}")
    done = job()
    check(done["state"] == "DONE" and done["epoch"] == EPOCHS and done["step"] > before["step"], f"the job: {done}")
    print(f"worker of {sorted(moved)} stopped in {stopped:.2f} s, actors back in {recovered:.2f} s, "
          f"new node {new_node} joined; job DONE: {m.group(0)}; total {elapsed(t0)}")
    shutil.rmtree(work, ignore_errors=True)  # kept when the test fails


if __name__ == "__main__":
    main(test)
