"""The non-interactive commands (troupe status/list/get/logs/kill) against a
live cluster, every bad input exiting non-zero with a one-line error, and
`troupe shell` reading a script from stdin: each bad line prints one error
line and the shell carries on."""
import json
import signal
import subprocess
import tempfile

from harness import TROUPE, Cluster, check, main, troupe, wait_for


def one_line_error(code, out, err, needle):
    check(code != 0, f"expected a non-zero exit, got 0; stdout {out!r}")
    lines = err.strip("\n").split("\n")
    check(len(lines) == 1, f"expected one error line, got {err!r}")
    check(lines[0].startswith("troupe: "), f"error line should start with 'troupe: ': {lines[0]!r}")
    check(needle in lines[0], f"expected {needle!r} in {lines[0]!r}")


def help_says_what_and_how():
    """`troupe --help` and every visible subcommand's --help: one line saying
    what it does, and an example command line."""
    code, out, err = troupe("--help")
    check(code == 0, err)
    check("Examples:" in out and "troupe train examples/fashion_mnist.toml" in out, out)
    subs = ["keygen", "http-token", "scheduler", "worker", "up", "status", "list", "get", "kill", "logs", "shell",
            "train"]
    for sub in subs:
        check(f"  {sub} " in out, f"`troupe --help` does not list {sub}: {out}")
        code, text, err = troupe(sub, "--help")
        check(code == 0, f"troupe {sub} --help: {err}")
        first = text.strip("\n").split("\n")[0]
        check(len(first) > 10 and "\n" not in first, f"troupe {sub} --help: no one-line description: {text!r}")
        example = text.split("Example")[-1] if "Example" in text else ""
        check(f"troupe {sub}" in example or (sub == "http-token" and "troupe http-token" in example),
              f"troupe {sub} --help gives no example: {text!r}")


def test():
    help_says_what_and_how()
    c = Cluster(workers=2)
    a = ["--address", c.address]
    c.spawn("tally")

    code, out, err = troupe("status", *a)
    check(code == 0, err)
    check("2 alive, 0 dead" in out and "1 ALIVE" in out and "jobs       none" in out, out)

    code, out, err = troupe("list", "actors", *a)
    check(code == 0, err)
    header, row = out.splitlines()[0], out.splitlines()[1]
    check(header.split() == ["ID", "NAME", "CLASS", "STATE", "INC", "NODE", "PID", "RESTARTS", "ENDPOINT"], header)
    check(row.split()[1:5] == ["tally", "Tally", "ALIVE", "0"], row)
    # Columns are aligned: every header word starts where its cells start.
    check(header.index("CLASS") == row.index("Tally"), out)

    code, out, err = troupe("list", "actors", "--json", *a)
    rows = json.loads(out)
    check(code == 0 and len(rows) == 1 and rows[0]["name"] == "tally", out)
    for key in ["id", "name", "class", "state", "incarnation", "node", "endpoint", "pid", "restarts",
                "max_restarts", "resources", "gpu_ids", "pending_reason", "state_since_ms", "retryable", "deaths"]:
        check(key in rows[0], f"actor JSON lacks {key}")
    code, out, _ = troupe("list", "actors", "--json", "--filter", "state=alive", "--filter", "class=Tally", *a)
    check(code == 0 and len(json.loads(out)) == 1, out)
    code, out, _ = troupe("list", "actors", "--json", "--filter", "state!=ALIVE", *a)
    check(code == 0 and json.loads(out) == [], out)
    code, out, err = troupe("list", "actors", "--filter", "colour=red", *a)
    one_line_error(code, out, err, "no field 'colour'")
    code, out, err = troupe("list", "actors", "--filter", "state", *a)
    one_line_error(code, out, err, "expected key=value")

    code, out, err = troupe("list", "nodes", "--json", *a)
    check(code == 0 and len(json.loads(out)) == 2, out)
    code, out, err = troupe("list", "nodes", *a)
    check(code == 0 and out.splitlines()[0].split()[:3] == ["ID", "HOST", "STATE"], out)
    code, out, err = troupe("list", "jobs", *a)
    check(code == 0 and out == "no training jobs\n", out)
    code, out, err = troupe("list", "jobs", "--json", *a)
    check(code == 0 and json.loads(out) == [], out)
    code, out, err = troupe("list", "widgets", *a)
    one_line_error(code, out, err, "expected actors, nodes or jobs")

    code, out, err = troupe("get", "actor", "tally", *a)
    check(code == 0, err)
    for text in ["name         tally", "state        ALIVE", "incarnation  0", "restarts     0 of 3", "calls served",
                 "queue depth  0", "deaths       none"]:
        check(text in out, f"{text!r} not in {out}")
    code, out, err = troupe("get", "actor", "tally", "--json", *a)
    j = json.loads(out)
    check(code == 0 and j["stats"]["calls_served"] >= 6, out)
    code, out, err = troupe("get", "actor", "nosuch", *a)
    one_line_error(code, out, err, "not_found")

    code, out, err = troupe("logs", "tally", *a)
    check(code == 0 and "serving at" in out, f"{out!r} {err!r}")
    code, out, err = troupe("logs", "nosuch", *a)
    one_line_error(code, out, err, "not_found")
    code, out, err = troupe("logs", "tally", "-n", "-3", *a)
    one_line_error(code, out, err, "bad line count")

    # `troupe logs -f` follows the log across a restart and stops cleanly on Ctrl-C.
    with tempfile.TemporaryFile(mode="w+") as f:
        follower = subprocess.Popen([TROUPE, "logs", "tally", "-f", "-n", "0", *a], stdout=f, stderr=subprocess.PIPE,
                                    text=True)
        try:
            def followed():
                f.seek(0)
                return f.read()
            wait_for("logs -f to print the log", lambda: "serving at" in followed())
            code, out, err = troupe("kill", "tally", "--restart", *a)
            check(code == 0, out + err)
            wait_for("logs -f to show the restarted incarnation", lambda: followed().count("serving at") >= 2)
            check(follower.poll() is None, "logs -f ended on its own")
            follower.send_signal(signal.SIGINT)
            _, ferr = follower.communicate(timeout=10)
            check(follower.returncode == 0, f"logs -f exit {follower.returncode}: {ferr!r}")
        finally:
            if follower.poll() is None:
                follower.kill()
    wait_for("tally to be ALIVE as incarnation 1",
             lambda: (c.actor("tally") or {}).get("incarnation") == 1 and c.actor("tally")["state"] == "ALIVE")
    code, out, err = troupe("logs", "tally", "-f", "-n", "x", *a)
    check(code != 0 and "--lines" in err, f"{code} {err!r}")

    code, out, err = troupe("kill", "nosuch", *a)
    one_line_error(code, out, err, "not_found")
    code, out, err = troupe("kill", "tally", "--restart", *a)
    check(code == 0 and out == "restarting tally\n", out + err)
    wait_for("tally to come back as incarnation 2",
             lambda: (c.actor("tally") or {}).get("incarnation") == 2 and c.actor("tally")["state"] == "ALIVE")
    code, out, err = troupe("kill", "tally", *a)
    check(code == 0 and out == "killed tally\n", out + err)
    wait_for("tally to be DEAD", lambda: c.actor("tally")["state"] == "DEAD")
    code, out, err = troupe("kill", "tally", *a)
    one_line_error(code, out, err, "not_found")

    # An absent scheduler and a malformed address.
    code, out, err = troupe("status", "--address", "tcp://127.0.0.1:1", "--timeout-ms", "300")
    one_line_error(code, out, err, "did not answer within 300 ms")
    code, out, err = troupe("list", "actors", "--address", "nonsense")
    one_line_error(code, out, err, "bad scheduler address")

    # The shell reading a script: bad lines print one error line each, the rest runs.
    script = "\n".join(["status", "bogus", "actor nosuch", "actors colour=red", "logs", "events x", "kill",
                        "# a comment", "", "actors state=DEAD", "train", "quit", "status"]) + "\n"
    code, out, err = troupe("shell", c.address, input=script)
    check(code == 1, f"a script with failed commands exits 1, got {code}")
    errors = err.strip("\n").split("\n")
    check(len(errors) == 6 and all(e.startswith("error: ") for e in errors), err)
    check("unknown command 'bogus'" in errors[0] and "not_found" in errors[1] and "no field 'colour'" in errors[2],
          err)
    check("usage: logs" in errors[3] and "bad event count 'x'" in errors[4] and "usage: kill" in errors[5], err)
    check("2 alive, 0 dead" in out and "tally" in out and "no training jobs" in out, out)
    check(out.count("scheduler  ") == 1, "nothing runs after quit")

    code, out, err = troupe("shell", c.address, input="status\nactors\n")
    check(code == 0 and err == "", f"{code} {err!r}")

    # An unreachable scheduler: each command fails on its own line, help still works.
    code, out, err = troupe("shell", "tcp://127.0.0.1:1", "--timeout-ms", "300", input="status\nhelp\nactors\n")
    check(code == 1 and "commands (scheduler tcp://127.0.0.1:1)" in out, out)
    errors = err.strip("\n").split("\n")
    check(len(errors) == 2 and all("did not answer within 300 ms" in e for e in errors), err)


if __name__ == "__main__":
    main(test)
