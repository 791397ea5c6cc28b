"""Pieces shared by the operations tests (Slurm, systemd, Prometheus, worker
upgrade): the inspection harness (process cleanup, deadline polling), a small
synthetic training job, free ports, and a sweep of every process that carries
this test's tag in its environment (daemons that double-fork, like
slurmstepd, escape process groups, never their environment)."""
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "inspection"))

from harness import TROUPE, Cluster, _children, check, main, troupe, wait_for  # noqa: E402,F401
from train_test import write_config  # noqa: E402


def skip(why):
    """Exit 77 (skipped) with one line saying why."""
    print(f"skip: {why}")
    sys.exit(77)


def free_ports(n):
    """n TCP ports free on 127.0.0.1 right now (bound to 0, then released)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def write_job(directory, stem, epochs, samples=4096, trainers=2, checkpoint_every=0):
    """The inspection suite's small synthetic job (train_test.write_config), 4096 samples by default."""
    return write_config(directory, stem, epochs, samples=samples, trainers=trainers, checkpoint_every=checkpoint_every)


def tagged_pids(tag):
    """Pids of processes whose environment holds TROUPE_OPS_TAG=tag: {pid: command line}."""
    needle = f"TROUPE_OPS_TAG={tag}".encode()
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                found[int(entry)] = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
    return found


def troupe_pids(tag):
    """The tagged processes that run the troupe binary (scheduler, workers, actors, drivers)."""
    return {p: c for p, c in tagged_pids(tag).items() if os.path.basename(c.split(" ")[0]) == "troupe"}


def kill_tagged(tag):
    """SIGKILLs every tagged process (the cleanup of last resort)."""
    for pid in tagged_pids(tag):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start(cmd, log, env=None, cwd=None):
    """Starts cmd in its own session (killed at the end of the test), output to log."""
    p = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env, cwd=cwd,
                         start_new_session=True)
    _children.append(p)
    return p


def tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return f"({e})"


def elapsed(t0):
    return f"{time.time() - t0:.1f} s"
