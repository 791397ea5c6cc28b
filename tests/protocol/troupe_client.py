"""A troupe client written from docs/PROTOCOL.md alone (no C++ involved):
ZeroMQ DEALER sockets, a msgpack header map and a msgpack body per message.
It is the protocol's executable example; tests/protocol/protocol_client_test.py
drives a real cluster with it.

Security (docs/PROTOCOL.md, "Security"): pass `keys=ClusterKeys.load(DIR)`
(the cluster's key folder) and every socket is set up with them before it
connects: PLAIN with the derived password on a loopback address, CURVE with
the cluster's pair elsewhere; nothing else changes."""
import hashlib
import ipaddress
import itertools
import os
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import msgpack
import zmq
import zmq.utils.z85

PROTOCOL_VERSION = 1
CALL, REPLY, ERROR, EVENT, CONTROL = 0, 1, 2, 3, 4
TENSOR_EXT = 1

# Errc, docs/PROTOCOL.md "Error codes".
ERRC = {0: "ok", 1: "actor_died", 2: "timeout", 3: "bad_arguments", 4: "remote_error", 5: "connection_lost",
        6: "unknown_method", 7: "malformed_message", 8: "message_too_large", 9: "overloaded", 10: "not_found",
        11: "stale_incarnation", 12: "unavailable", 13: "invalid_argument", 14: "io_error",
        15: "permission_denied"}
ACTOR_STATES = {0: "PENDING", 1: "STARTING", 2: "ALIVE", 3: "RESTARTING", 4: "DEAD"}


@dataclass
class ClusterKeys:
    """A cluster's key pair (Z85), as `troupe keygen` writes it: cluster.pub, cluster.key."""
    public: str
    secret: str

    @staticmethod
    def load(folder):
        read = lambda name: open(os.path.join(folder, name)).read().strip()
        return ClusterKeys(read("cluster.pub"), read("cluster.key"))

    @staticmethod
    def from_env():
        """The folder in $TROUPE_KEYS, or None when it is unset or "none"."""
        folder = os.environ.get("TROUPE_KEYS", "")
        return None if folder in ("", "none") else ClusterKeys.load(folder)

    def apply(self, sock, endpoint):
        """Sets the mechanism the address calls for, before sock connects to endpoint."""
        host = urlparse(endpoint).hostname or ""
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if loopback:
            sock.plain_username = b"troupe"
            sock.plain_password = hashlib.blake2b(b"troupe plain v1", key=zmq.utils.z85.decode(self.secret),
                                                  digest_size=32).hexdigest().encode()
        else:
            sock.curve_serverkey = self.public.encode()
            sock.curve_publickey = self.public.encode()
            sock.curve_secretkey = self.secret.encode()


class TroupeError(Exception):
    """An error reply: body [code, message, exit_code, signal]."""

    def __init__(self, code, message, exit_code=0, signal=0):
        super().__init__(f"{ERRC.get(code, code)}: {message}")
        self.code, self.name, self.message = code, ERRC.get(code, str(code)), message
        self.exit_code, self.signal = exit_code, signal


def header(kind, call_id=0, method="", target=0, incarnation=0, deadline_ms=0, sender=0, sender_incarnation=0):
    """The nine keys, in the order the C++ encoder writes them."""
    return {"v": PROTOCOL_VERSION, "k": kind, "id": call_id, "m": method, "sid": sender,
            "sinc": sender_incarnation, "tid": target, "tinc": incarnation, "dl": deadline_ms}


def event_prefix(topic):
    """The bytes an event of `topic` starts with: a ZeroMQ SUBSCRIBE prefix for that topic alone."""
    full = msgpack.packb(header(EVENT, method=topic))
    return full[: full.index(msgpack.packb(topic)) + len(msgpack.packb(topic))]


class Peer:
    """One DEALER connected to one ROUTER (scheduler, worker or actor). Not thread-safe."""

    _ids = itertools.count(1)

    def __init__(self, ctx, endpoint, keys=None, timeout=10.0):
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if keys is not None:
            keys.apply(self.sock, endpoint)
        self.sock.connect(endpoint)
        self.timeout = timeout

    def send_frames(self, frames):
        self.sock.send_multipart(frames)

    def recv(self, timeout=None):
        """(header, body, tensor frames) of the next message; TimeoutError after `timeout` seconds."""
        if not self.sock.poll(int(1000 * (timeout if timeout is not None else self.timeout))):
            raise TimeoutError("no answer")
        frames = self.sock.recv_multipart()
        return msgpack.unpackb(frames[0]), msgpack.unpackb(frames[1], raw=False), frames[2:]

    def send(self, method, args, target=0, incarnation=0, deadline_ms=0, tensors=()):
        call_id = next(self._ids)
        h = header(CALL, call_id, method, target, incarnation, deadline_ms)
        self.send_frames([msgpack.packb(h), msgpack.packb(args, use_bin_type=True), *tensors])
        return call_id

    def answer(self, call_id, timeout=None):
        """The body of the reply to `call_id`; raises TroupeError for an error reply."""
        while True:
            h, body, _ = self.recv(timeout)
            if h["id"] != call_id:
                continue  # a late answer to an earlier call
            if h["k"] == ERROR:
                raise TroupeError(*body)
            return body

    def call(self, method, args, **kw):
        timeout = kw.pop("timeout", None)
        return self.answer(self.send(method, args, **kw), timeout)

    def close(self):
        self.sock.close(0)


class Client:
    """Talks to a cluster through its scheduler's control port; actors directly."""

    def __init__(self, scheduler, keys=None, timeout=10.0):
        self.ctx = zmq.Context()
        self.keys, self.timeout = keys, timeout
        self.scheduler = Peer(self.ctx, scheduler, keys, timeout)
        self.peers = {}

    def control(self, method, body=None):
        """A control method: a call (kind 0) to target 0 whose body is a map (or nil)."""
        return self.scheduler.call(method, body)

    def peer(self, endpoint):
        if endpoint not in self.peers:
            self.peers[endpoint] = Peer(self.ctx, endpoint, self.keys, self.timeout)
        return self.peers[endpoint]

    def spawn(self, class_name, name, ctor_args, code_paths, cpus=1.0, max_restarts=0):
        spec = {"class_name": class_name, "name": name, "resources": {"cpus": cpus, "gpus": 0.0, "memory_mb": 0.0},
                "max_restarts": max_restarts, "retryable": [], "code_paths": code_paths,
                "ctor_args": msgpack.packb(list(ctor_args)), "job": 0}
        return self.control("spawn", spec)

    def wait_alive(self, actor_id, timeout_s=30):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            info = self.control("resolve", {"actor": actor_id, "name": "", "wait_ms": 5000, "restart": False})
            if ACTOR_STATES[info["state"]] == "ALIVE":
                return info
            if ACTOR_STATES[info["state"]] == "DEAD":
                raise RuntimeError(f"actor {actor_id} is DEAD: {info['deaths']}")
        raise TimeoutError(f"actor {actor_id} not ALIVE within {timeout_s} s")

    def call_actor(self, info, method, *args, **kw):
        """An actor method: args positional, addressed to the actor's id and current incarnation."""
        return self.peer(info["endpoint"]).call(method, list(args), target=info["id"],
                                                incarnation=info["incarnation"], **kw)

    def close(self):
        for p in self.peers.values():
            p.close()
        self.scheduler.close()
        self.ctx.destroy(linger=0)  # also closes sockets the caller made from self.ctx
