"""The scheduler's HTTP pages against a live cluster: /metrics parses as
Prometheus text (a strict reader below) and counts what the cluster holds;
/api/state is what `troupe list --json` and `troupe status --json` print."""
import json
import re
import urllib.error

from harness import Cluster, check, main, troupe, wait_for

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|$)')


def parse_prometheus(text):
    """[(name, {label: value}, float)]; raises on anything outside the 0.0.4 text format."""
    assert text.endswith("\n"), "the exposition ends with a newline"
    types, samples = {}, []
    for line in text[:-1].split("\n"):
        assert line, "no blank lines"
        if line.startswith("# "):
            parts = line[2:].split(" ", 2)
            assert parts[0] in ("HELP", "TYPE") and NAME.match(parts[1]), line
            if parts[0] == "TYPE":
                assert parts[2] in ("counter", "gauge", "histogram", "summary", "untyped"), line
                assert parts[1] not in types, f"second TYPE for {parts[1]}"
                types[parts[1]] = parts[2]
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels_text, value = m.group(1), m.group(3), m.group(4)
        assert name in types, f"sample before its TYPE: {line!r}"
        labels = {}
        if labels_text:
            pos = 0
            while pos < len(labels_text):
                lm = LABEL.match(labels_text, pos)
                assert lm, f"bad labels in {line!r}"
                labels[lm.group(1)] = lm.group(2).replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
                pos = lm.end()
        samples.append((name, labels, float(value.replace("+Inf", "inf"))))
    return samples


def value(samples, metric, **labels):
    for n, l, v in samples:
        if n == metric and all(l.get(k) == val for k, val in labels.items()):
            return v
    raise AssertionError(f"no sample {metric} {labels}")


def without(rows, *keys):
    return [{k: v for k, v in r.items() if k not in keys} for r in rows]


def test():
    c = Cluster(workers=2)
    a = ["--address", c.address]
    c.spawn("h1")
    c.spawn("h2", cpus=100)  # no node has 100 CPUs: PENDING

    status, ctype, body = c.get("/metrics")
    check(status == 200 and ctype.startswith("text/plain; version=0.0.4"), ctype)
    s = parse_prometheus(body)
    check(value(s, "troupe_nodes", state="ALIVE") == 2, body)
    check(value(s, "troupe_actors", state="ALIVE") == 1, body)
    check(value(s, "troupe_actors", state="PENDING") == 1, body)
    check(value(s, "troupe_resource_total", resource="cpu") == 4, body)
    check(value(s, "troupe_resource_used", resource="cpu") == 1, body)
    check(value(s, "troupe_actor_calls_total", name="h1") >= 6, body)
    check(value(s, "troupe_actor_bytes_in_total", name="h1") > 0, body)
    check(value(s, "troupe_bytes", direction="out") > 0, body)
    check(value(s, "troupe_actor_restarts_total") == 0, body)
    check("troupe_train_loss" in body, "training families are declared")

    troupe("kill", "h1", "--restart", *a)
    wait_for("h1 incarnation 1", lambda: (c.actor("h1") or {}).get("incarnation") == 1 and
             c.actor("h1")["state"] == "ALIVE")
    s = parse_prometheus(c.get("/metrics")[2])
    check(value(s, "troupe_actor_restarts_total") == 1, "a restart is counted")
    check(value(s, "troupe_actor_restarts", name="h1") == 1, "per actor too")

    # /api/state is what the CLI prints (heartbeat times move between two reads).
    def same():
        state = c.state()
        code, out, _ = troupe("list", "actors", "--json", *a)
        actors = json.loads(out)
        code2, out2, _ = troupe("list", "nodes", "--json", *a)
        nodes = json.loads(out2)
        code3, out3, _ = troupe("status", "--json", *a)
        whole = json.loads(out3)
        return (code == code2 == code3 == 0 and actors == state["actors"] and
                without(nodes, "last_heartbeat_ms") == without(state["nodes"], "last_heartbeat_ms") and
                whole["actors"] == state["actors"] and whole["jobs"] == state["jobs"] == [] and
                set(whole) == set(state) == {"time_ms", "nodes", "actors", "events", "jobs"})
    wait_for("/api/state to equal troupe list --json", same, timeout=10, interval=0.2)
    code, out, _ = troupe("list", "actors", "--json", "--filter", "state=PENDING", *a)
    pending = json.loads(out)
    check(len(pending) == 1 and pending[0]["name"] == "h2" and "100" in pending[0]["pending_reason"], out)

    stats = json.loads(c.get("/api/stats")[2])
    h1 = c.actor("h1")
    check(str(h1["id"]) in stats and "calls_served" in stats[str(h1["id"])], stats)

    try:
        c.get("/nope")
        raise AssertionError("/nope should be 404")
    except urllib.error.HTTPError as e:
        check(e.code == 404, e.code)


if __name__ == "__main__":
    main(test)
