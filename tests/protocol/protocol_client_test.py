"""A foreign client against a real cluster: tests/protocol/troupe_client.py,
written from docs/PROTOCOL.md only, starts a Tally and an Echo
(tests/actors) through the scheduler's control methods, calls them, reads
their answers, subscribes to the `actor` event topic alone, and gets every
error the page says a peer sends, each from a real `troupe up` over tcp.
Exit 77 (skipped) when pyzmq or msgpack is missing (Debian: python3-zmq,
python3-msgpack; tools/install_deps.sh --extras)."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

try:
    import msgpack
    import zmq
except ImportError as e:
    print(f"skipped: {e} (Debian: python3-zmq python3-msgpack)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from troupe_client import (CALL, ERROR, EVENT, Client, ClusterKeys, TroupeError, event_prefix, header)  # noqa: E402

TROUPE = os.environ["TROUPE_BIN"]
ACTORS_LIB = os.environ["TEST_ACTORS_LIB"]


def expect_error(name, fn, says=""):
    try:
        got = fn()
    except TroupeError as e:
        assert e.name == name, f"expected {name}, got {e}"
        assert says in e.message, f"expected {says!r} in {e.message!r}"
        print(f"ok: {name}: {e.message}")
        return e
    raise AssertionError(f"expected {name}, got the reply {got!r}")


def start_cluster(tmp):
    out = open(os.path.join(tmp, "up.out"), "w")
    proc = subprocess.Popen([TROUPE, "up", "--workers", "1", "--cpus-per-worker", "4", "--bind", "tcp://127.0.0.1:*",
                             "--http-port", "-1", "--log-dir", os.path.join(tmp, "logs")],
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        assert proc.poll() is None, open(out.name).read()
        line = open(out.name).readline()
        m = re.search(r"scheduler (tcp://[^,]+),", line)
        if m and line.endswith("\n"):
            return proc, m.group(1)
        time.sleep(0.05)
    raise AssertionError("troupe up printed no endpoint")


def test(address, tmp):
    keys = ClusterKeys.from_env()  # the suite's keys ($TROUPE_KEYS), which `troupe up` uses too
    c = Client(address, keys)
    hello = c.control("hello")
    assert hello["protocol"] == 1, hello
    events = c.ctx.socket(zmq.SUB)
    events.setsockopt(zmq.SUBSCRIBE, event_prefix("actor"))  # the `actor` topic alone
    if keys is not None:
        keys.apply(events, hello["events_endpoint"])
    events.connect(hello["events_endpoint"])
    # A SUB's subscription reaches the PUB some time after connect(), with no
    # acknowledgement: spawn actors that cannot be placed (PENDING at once, an
    # `actor` event each) until one of their events arrives.
    for probe in range(100):
        c.spawn("Tally", f"py-probe-{probe}", [0], [ACTORS_LIB], cpus=100000.0)
        if events.poll(100):
            break
    else:
        raise AssertionError("no `actor` event arrived")
    while events.poll(0):
        events.recv_multipart()

    info = c.spawn("Tally", "py-tally", [5], [ACTORS_LIB])
    tally = c.wait_alive(info["id"])
    assert c.call_actor(tally, "add", 3) == 8
    assert c.call_actor(tally, "value") == 8
    echo = c.wait_alive(c.spawn("Echo", "py-echo", [], [ACTORS_LIB])["id"])
    assert c.call_actor(echo, "echo", "héllo") == "héllo"

    # Events: only the `actor` topic arrives, decoded as documented.
    seen = set()
    while events.poll(2000):
        frames = events.recv_multipart()
        h = msgpack.unpackb(frames[0])
        body = msgpack.unpackb(frames[1])
        assert h["k"] == EVENT and h["m"] == "actor" and body["topic"] == "actor", (h, body)
        seen.add((body["name"], body["state"]))
        if ("py-echo", 2) in seen:
            break
    assert ("py-tally", 2) in seen and ("py-echo", 2) in seen, seen

    # Every error a peer sends, as documented.
    actor = c.peer(tally["endpoint"])
    expect_error("unknown_method", lambda: c.call_actor(tally, "sub", 1), "no method 'sub' on")
    expect_error("bad_arguments", lambda: c.call_actor(tally, "add", "three"))
    expect_error("remote_error", lambda: c.call_actor(echo, "fail", "boom"), "boom")
    expect_error("not_found", lambda: c.call_actor(echo, "fail_with", 10, "chosen by the method"), "chosen")
    expect_error("stale_incarnation",
                 lambda: actor.call("add", [1], target=tally["id"], incarnation=tally["incarnation"] + 1),
                 "incarnation")
    expect_error("timeout", lambda: c.call_actor(tally, "add", 1, deadline_ms=1), "deadline passed")
    expect_error("not_found", lambda: c.control("resolve", {"actor": 0, "name": "nobody", "wait_ms": 0}))
    expect_error("invalid_argument", lambda: c.spawn("Tally", "../escape", [0], [ACTORS_LIB]), "not allowed")
    expect_error("invalid_argument", lambda: c.spawn("Tally", "py-tally", [0], [ACTORS_LIB]), "already exists")
    expect_error("bad_arguments", lambda: c.control("kill", [1, 2]), "")  # a control body is a map, not an array
    big = bytes(64 * 1024 * 1024 + 1)
    expect_error("message_too_large", lambda: c.call_actor(tally, "add", big), "over the limit")

    def raw(h, body=b"\x90", call_id=None):
        actor.send_frames([msgpack.packb(h) if isinstance(h, dict) else h, body])
        return actor.answer(call_id if call_id is not None else h.get("id", 0))

    base = header(CALL, 0, "add", tally["id"], tally["incarnation"])
    expect_error("malformed_message", lambda: raw({**base, "id": 101, "v": 2}), "unsupported protocol version 2")
    expect_error("malformed_message", lambda: raw({**base, "id": 102, "k": 9}), "unknown kind 9")
    expect_error("malformed_message", lambda: raw({**base, "id": -1}, call_id=0), '"id" must be an unsigned integer')
    dup = b"\x8a" + msgpack.packb({**base, "id": 104})[1:] + msgpack.packb("id") + msgpack.packb(105)
    expect_error("malformed_message", lambda: raw(dup, call_id=104), '"id" appears twice')
    expect_error("malformed_message", lambda: raw({**base, "id": 106, "k": 4}), "kind control (k = 4) is reserved")
    expect_error("malformed_message", lambda: raw({**base, "id": 107}, body=b"\xc1"), "invalid msgpack")
    expect_error("bad_arguments", lambda: raw({**base, "id": 108}, body=msgpack.packb({"x": 1})))

    # overloaded: one slow call occupies the executor, a flood fills its bounded queue.
    # Packed before the slow call, so that the flood arrives while it runs.
    flood = list(range(200_000, 212_000))
    packed = [[msgpack.packb(header(CALL, i, "add", tally["id"], tally["incarnation"])), msgpack.packb([0])]
              for i in flood]
    slow = actor.send("slow_add", [0, 5000], target=tally["id"], incarnation=tally["incarnation"])
    for frames in packed:
        actor.send_frames(frames)
    codes = {}
    for _ in range(len(flood) + 1):
        h, body, _ = actor.recv(60)
        codes[h["id"]] = body[0] if h["k"] == ERROR else 0
    assert codes[slow] == 0, codes[slow]
    overloaded = sum(1 for i in flood if codes[i] == 9)
    assert overloaded > 0 and all(codes[i] in (0, 9) for i in flood), overloaded
    print(f"ok: overloaded: {overloaded} of {len(flood)} flooded calls")
    assert c.call_actor(tally, "value") == 8 + 0  # every refused call ran nothing; the rest added 0

    # The worker's methods, by the same rules.
    outside = os.path.join(tmp, "copy-outside.so")  # a real library, but not in an allowed folder
    shutil.copy(ACTORS_LIB, outside)
    state = c.control("state")
    worker = c.peer(state["nodes"][0]["endpoint"])
    expect_error("invalid_argument",
                 lambda: worker.call("start_actor", {"actor": 99, "incarnation": 0, "class_name": "Tally", "name": "x",
                                                     "code_paths": [outside], "gpu_ids": []}),
                 "is outside the folders this worker loads code from")
    assert worker.call("ping", None) is None
    events.close(0)
    c.close()


def main():
    tmp = tempfile.mkdtemp(prefix="troupe-pyclient-")
    proc = None
    try:
        proc, address = start_cluster(tmp)
        test(address, tmp)
        print("protocol client: all documented answers received")
        return 0
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
