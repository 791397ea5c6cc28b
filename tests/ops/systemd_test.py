"""troupe under systemd (issue 14, item 2):
  1. `systemd-analyze verify` accepts tools/systemd/troupe-scheduler.service
     and an instance of troupe-worker@.service (ExecStart pointed at this
     build's binary) without a word about them;
  2. Type=notify, for real: `troupe scheduler` and `troupe worker` started
     with NOTIFY_SOCKET (a datagram socket this test binds, as systemd does)
     send READY=1 once bound / once the scheduler lists the node ALIVE; on
     SIGTERM the worker sends STOPPING=1, stops its actor process and leaves:
     the node is DEAD ("left: worker stopped") long before the scheduler's
     60 s heartbeat timeout, and the worker exits 0; so does the scheduler.
     The worker runs with CUDA_VISIBLE_DEVICES=5,7 (as a unit's Environment=
     or Slurm's GRES sets it): its 1-GPU actor sees its device by that list;
  3. where systemd is PID 1: the scheduler as a transient Type=notify unit
     (systemd-run) reaches `active` and stops cleanly.
Exits 77 when systemd-analyze is missing or troupe was built without
libsystemd (no sd_notify)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from ops_support import (ROOT, TROUPE, check, elapsed, free_ports, main, skip, start, tail, troupe, wait_for)

UNITS = os.path.join(ROOT, "tools", "systemd")
SPAWN = os.environ.get("INSPECTION_SPAWN", "")


def verify_units(work):
    d = os.path.join(work, "units")
    os.makedirs(d)
    for name in ("troupe-scheduler.service", "troupe-worker@.service"):
        text = open(os.path.join(UNITS, name)).read().replace("/usr/local/bin/troupe", TROUPE)
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", "./troupe-scheduler.service",
                        "./troupe-worker@sched1.service"], cwd=d, capture_output=True, text=True, timeout=30)
    said = [line for line in (r.stdout + r.stderr).splitlines() if "troupe" in line]
    check(r.returncode == 0 and not said, f"systemd-analyze verify exited {r.returncode}: {r.stdout}{r.stderr}")


class NotifySocket:
    """The manager's side of sd_notify: an AF_UNIX datagram socket."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.messages = []

    def poll(self):
        try:
            while True:
                self.messages.append(self.sock.recv(4096).decode())
        except (socket.timeout, BlockingIOError):
            pass
        return self.messages

    def saw(self, key):
        return next((m for m in self.poll() if key in m.split("\n")), None)


def node_rows(addr):
    code, out, err = troupe("list", "nodes", "--json", "--address", addr)
    check(code == 0, f"list nodes: {err}")
    return json.loads(out)


def notify(work, t0):
    ns = NotifySocket(os.path.join(work, "sched.sock"))
    env = dict(os.environ, NOTIFY_SOCKET=ns.path)
    port, = free_ports(1)
    sched = start([TROUPE, "scheduler", "--bind", f"tcp://127.0.0.1:{port}", "--http-port", "-1",
                   "--heartbeat-timeout-ms", "60000"], f"{work}/scheduler.log", env=env)
    ready = wait_for("READY=1 from the scheduler", lambda: ns.saw("READY=1"), timeout=20)
    check(f"control tcp://127.0.0.1:{port}" in open(f"{work}/scheduler.log").read(), "READY after the ports are bound")
    check("STATUS=control tcp://127.0.0.1:" in ready, f"a STATUS line: {ready!r}")
    addr = f"tcp://127.0.0.1:{port}"

    wns = NotifySocket(os.path.join(work, "worker.sock"))
    # Devices as a unit's Environment= or Slurm's GRES give them: the actor's GPU 0 is device 5.
    worker = start([TROUPE, "worker", "--scheduler", addr, "--cpus", "2", "--gpus", "2", "--log-dir", f"{work}/wlogs"],
                   f"{work}/worker.log", env=dict(os.environ, NOTIFY_SOCKET=wns.path, CUDA_VISIBLE_DEVICES="5,7"))
    wready = wait_for("READY=1 from the worker", lambda: wns.saw("READY=1"), timeout=20)
    nodes = node_rows(addr)
    check(len(nodes) == 1 and nodes[0]["state"] == "ALIVE", f"READY=1 after registration: {nodes}")
    check(f"node {nodes[0]['id']} registered" in wready, f"worker STATUS: {wready!r}")

    actor_pid = None
    if SPAWN:
        r = subprocess.run([SPAWN, addr, "svc-tally", "3", "1", "1"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"spawn: {r.stderr}")
        code, out, _ = troupe("get", "actor", "svc-tally", "--json", "--address", addr)
        a = json.loads(out)
        actor_pid = a["pid"]
        check(actor_pid > 0 and os.path.exists(f"/proc/{actor_pid}"), "the actor process runs")
        env = dict(e.split("=", 1) for e in open(f"/proc/{actor_pid}/environ").read().split("\0") if "=" in e)
        want = "5" if a["gpu_ids"] == [0] else "7"
        check(env.get("CUDA_VISIBLE_DEVICES") == want, f"GPU {a['gpu_ids']} is device {want}: {env.get('CUDA_VISIBLE_DEVICES')}")

    t_stop = time.time()
    worker.send_signal(signal.SIGTERM)
    wait_for("STOPPING=1 from the worker", lambda: wns.saw("STOPPING=1"), timeout=10)
    code = worker.wait(timeout=15)
    check(code == 0, f"the worker exited {code}: {tail(work + '/worker.log')}")
    left = wait_for("the node DEAD", lambda: (n := node_rows(addr)[0])["state"] == "DEAD" and n, timeout=10)
    took = time.time() - t_stop
    check(left["death_reason"] == "left: worker stopped", f"the node left: {left}")
    check(took < 10, f"left after {took:.1f} s, not after the heartbeat timeout")
    if actor_pid:
        check(not os.path.exists(f"/proc/{actor_pid}") or "zombie" in open(f"/proc/{actor_pid}/status").read().lower(),
              "the worker stopped its actor")
        code, out, _ = troupe("get", "actor", "svc-tally", "--json", "--address", addr)
        a = json.loads(out)
        check(a["deaths"] and "left: worker stopped" in a["deaths"][-1]["reason"], f"the actor's death: {a['deaths']}")
    sched.send_signal(signal.SIGTERM)
    wait_for("STOPPING=1 from the scheduler", lambda: ns.saw("STOPPING=1"), timeout=10)
    code = sched.wait(timeout=15)
    check(code == 0, f"the scheduler exited {code}")
    print(f"sd_notify: READY=1 and STOPPING=1 from both; the worker left {took:.2f} s after SIGTERM ({elapsed(t0)})")


def transient_unit(work):
    unit = f"troupe-ops-test-{os.getpid()}"
    port, = free_ports(1)
    r = subprocess.run(["systemd-run", f"--unit={unit}", "-p", "Type=notify", "-p", "KillMode=mixed", TROUPE,
                        "scheduler", "--bind", f"tcp://127.0.0.1:{port}", "--http-port", "-1"],
                       capture_output=True, text=True, timeout=60)
    try:
        check(r.returncode == 0, f"systemd-run: {r.stderr}")  # returns once READY=1 came (Type=notify)
        state = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True).stdout.strip()
        check(state == "active", f"{unit}: {state}")
    finally:
        subprocess.run(["systemctl", "stop", unit], capture_output=True, timeout=30)
    print(f"systemd-run: {unit} active, stopped")


def test():
    if not TROUPE:
        skip("TROUPE_BIN is not set")
    if not shutil.which("systemd-analyze"):
        skip("systemd-analyze is not installed (Debian: systemd)")
    t0 = time.time()
    work = tempfile.mkdtemp(prefix="troupe-systemd-")
    verify_units(work)
    print(f"systemd-analyze verify: both units clean ({elapsed(t0)})")
    if os.environ.get("TROUPE_HAVE_SYSTEMD") != "1":
        skip("troupe was built without libsystemd: no sd_notify to test (the units verified)")
    notify(work, t0)
    if os.path.isdir("/run/systemd/system") and os.geteuid() == 0:
        transient_unit(work)
    else:
        print("systemd is not PID 1 here: the systemd-run part did not run")
    shutil.rmtree(work, ignore_errors=True)  # kept when the test fails


if __name__ == "__main__":
    main(test)
