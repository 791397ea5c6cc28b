"""Shared pieces of the inspection tests: a real cluster (`troupe up`) on
ephemeral ports, the troupe binary, a plain HTTP GET, and deadline polling.
Every process a test starts is in its own process group and is killed when
the test ends, however it ends (exception, SIGTERM from meson's timeout)."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

TROUPE = os.environ.get("TROUPE_BIN", "")
SPAWN = os.environ.get("INSPECTION_SPAWN", "")

_children = []


def _cleanup(*_):
    for p in _children:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + 5
    for p in _children:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    _children.clear()


def _on_signal(signum, _frame):
    _cleanup()
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def require_binaries():
    if not TROUPE or not os.access(TROUPE, os.X_OK):
        print("TROUPE_BIN is not set to the troupe binary", file=sys.stderr)
        sys.exit(1)


def wait_for(what, fn, timeout=20.0, interval=0.05):
    """Calls fn until it returns something truthy; fails the test at the deadline."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


class Cluster:
    """`troupe up --workers N` on 127.0.0.1 with ephemeral control, events and HTTP ports."""

    def __init__(self, workers=2, cpus_per_worker=2):
        require_binaries()
        self.dir = tempfile.mkdtemp(prefix="troupe-inspection-")
        self.out_path = os.path.join(self.dir, "up.out")
        out = open(self.out_path, "w")
        self.proc = subprocess.Popen(
            [TROUPE, "up", "--workers", str(workers), "--cpus-per-worker", str(cpus_per_worker),
             "--bind", "tcp://127.0.0.1:*", "--http-port", "0", "--log-dir", os.path.join(self.dir, "logs")],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _children.append(self.proc)
        line = wait_for("troupe up to print its endpoints", self._first_line, timeout=30)
        m = re.search(r"scheduler (tcp://[^,]+), .*http (\d+)", line)
        assert m, f"unexpected first line of troupe up: {line!r}"
        self.address = m.group(1)
        self.http_port = int(m.group(2))

    def _first_line(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"troupe up exited with {self.proc.returncode}: {open(self.out_path).read()}")
        with open(self.out_path) as f:
            line = f.readline()
        return line if line.endswith("\n") else None

    def url(self, path):
        return f"http://127.0.0.1:{self.http_port}{path}"

    def get(self, path):
        with urllib.request.urlopen(self.url(path), timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()

    def state(self):
        return json.loads(self.get("/api/state")[2])

    def actor(self, name):
        for a in self.state()["actors"]:
            if a["name"] == name:
                return a
        return None

    def spawn(self, name, max_restarts=3, cpus=1):
        """Spawns a Tally named `name` (tests/actors) and waits until it answered calls."""
        r = subprocess.run([SPAWN, self.address, name, str(max_restarts), str(cpus)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, f"spawn {name}: {r.stderr}"
        return r.stdout

    def stop(self):
        _cleanup()


def troupe(*args, timeout=30, input=None):
    """Runs the troupe binary; returns (exit code, stdout, stderr)."""
    r = subprocess.run([TROUPE, *args], capture_output=True, text=True, timeout=timeout, input=input)
    return r.returncode, r.stdout, r.stderr


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def main(test):
    """Runs test() and exits with its code (0, 1 on a failure, 77 to skip), always cleaning up."""
    code = 0
    try:
        test()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 — report anything, then clean up
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        _cleanup()
    if code == 0:
        print("ok")
    sys.exit(code)
