"""`troupe shell` in a real terminal (tmux) against a live cluster: tab
completion of commands and actor names, an actor killed by a signal seen
RESTARTING then ALIVE as incarnation 1 with the death cause (live, through
`watch`), `logs -f` across a restart, restart and kill, bad input answered with one error line, Ctrl-C,
history. Every wait polls the pane for the expected text with a deadline."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from harness import TROUPE, Cluster, check, main, wait_for


class Pane:
    """A tmux session on a private server running one command."""

    def __init__(self, command, env):
        self.socket = f"troupe-inspection-{os.getpid()}"
        self.target = "shell"
        env_args = []
        for k, v in env.items():
            env_args += ["-e", f"{k}={v}"]
        self.tmux("new-session", "-d", "-s", self.target, "-x", "220", "-y", "50", *env_args, command)
        self.tmux("set-option", "-t", self.target, "history-limit", "5000")
        self.mark = 0  # lines of scrollback already looked at by expect()

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)

    def text(self):
        return self.tmux("capture-pane", "-p", "-J", "-N", "-S", "-5000", "-t", self.target).stdout

    def lines(self):
        """The scrollback and screen, without the blank rows below the cursor."""
        lines = self.text().split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        return lines

    def keys(self, *keys):
        self.tmux("send-keys", "-t", self.target, *keys)

    def type(self, line):
        self.tmux("send-keys", "-t", self.target, "-l", line)

    def run(self, line):
        self.type(line)
        self.keys("Enter")

    def expect(self, *needles, timeout=20):
        """Waits until every needle appears after the mark; moves the mark past the screen's end."""
        def seen():
            lines = self.lines()
            new = "\n".join(lines[self.mark:])
            return (lines, new) if all(n in new for n in needles) else None
        try:
            lines, new = wait_for(f"{needles!r} in the shell", seen, timeout=timeout)
        except AssertionError:
            print("---- pane ----\n" + self.text(), file=sys.stderr)
            raise
        return new

    def advance(self):
        """Later expect() calls look from the current last line (the prompt) on."""
        self.mark = max(0, len(self.lines()) - 1)

    def close(self):
        self.tmux("kill-server")


def test():
    if shutil.which("tmux") is None:
        print("tmux is not installed: skipped")
        sys.exit(77)
    c = Cluster(workers=2)
    c.spawn("alpha")
    home = tempfile.mkdtemp(prefix="troupe-shell-home-")
    pane = Pane(f"{TROUPE} shell {c.address}", {"HOME": home, "TERM": "xterm",
                                                   "TROUPE_KEYS": os.environ.get("TROUPE_KEYS", "")})
    try:
        body(c, pane, home)
    finally:
        pane.close()


def body(c, pane, home):
    pane.expect("troupe shell: scheduler " + c.address, "2 node(s), 1 actor(s)", "troupe> ")

    # Tab completes a command, then an actor name fetched from the scheduler.
    pane.advance()
    pane.type("stat")
    pane.keys("Tab")
    pane.expect("troupe> status ")
    pane.keys("Enter")
    pane.expect("2 alive, 0 dead", "1 ALIVE")
    pane.advance()
    pane.type("actor al")
    pane.keys("Tab")
    pane.expect("troupe> actor alpha ")
    pane.keys("Enter")
    pane.expect("name         alpha", "state        ALIVE", "incarnation  0", "calls served 6", "deaths       none")

    # Kill the actor's process behind the runtime's back, watching live.
    pid = c.actor("alpha")["pid"]
    pane.advance()
    pane.run("watch")
    pane.expect("watching " + c.address)
    os.kill(pid, signal.SIGKILL)
    out = pane.expect("actor alpha", "RESTARTING", "inc 1)  ALIVE")
    check(out.index("RESTARTING") < out.index("inc 1)  ALIVE"), out)
    pane.keys("C-c")
    pane.expect("stopped watching", "troupe> ")
    pane.advance()
    pane.run("actor alpha")
    pane.expect("state        ALIVE", "incarnation  1", "restarts     1 of 3", "deaths", "killed by signal 9")

    # Follow the log while the actor restarts (from outside, with the CLI).
    pane.advance()
    pane.run("logs alpha -f")
    pane.expect("incarnation 1 serving at")
    r = subprocess.run([TROUPE, "kill", "alpha", "--restart", "--address", c.address], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 0, r.stderr)
    pane.expect("incarnation 2 serving at")  # same node or, after a marker line, another
    pane.keys("C-c")
    pane.expect("troupe> ")
    pane.advance()
    pane.run("logs alpha -n 1")
    pane.expect("incarnation 2 serving at")

    # restart and kill through the shell.
    pane.advance()
    pane.run("restart alpha")
    pane.expect("restarting alpha")
    wait_for("incarnation 3", lambda: c.actor("alpha")["incarnation"] == 3 and c.actor("alpha")["state"] == "ALIVE")
    pane.advance()
    pane.run("events 5")
    pane.expect("inc 3)  ALIVE")
    pane.advance()
    pane.run("kill alpha")
    pane.expect("killed alpha")
    wait_for("alpha DEAD", lambda: c.actor("alpha")["state"] == "DEAD")
    pane.advance()
    pane.run("actors state=DEAD")
    pane.expect("alpha", "DEAD")

    # Every bad input: one error line, then the prompt again.
    for line, needle in [("bogus", "error: invalid_argument: unknown command 'bogus'"),
                         ("actor nosuch", "error: not_found"),
                         ("actors colour=red", "error: invalid_argument: bad filter 'colour=red'"),
                         ("logs alpha -n x", "error: invalid_argument: bad line count 'x'"),
                         ("kill", "error: invalid_argument: usage: kill NAME|ID"),
                         ("kill alpha", "error: not_found"),
                         ("connect nowhere", "error: invalid_argument: bad scheduler address 'nowhere'")]:
        pane.advance()
        pane.run(line)
        pane.expect(needle, timeout=15)

        def error_then_prompt():
            # The error line is drawn before the prompt: wait for both.
            new = "\n".join(pane.lines()[pane.mark:])
            return new if "\ntroupe> " in new[new.index(needle):] else None
        out = wait_for(f"{needle!r}, then the prompt", error_then_prompt, timeout=15)
        after = out[out.index(needle):].split("\n")
        check(len(after) >= 2 and after[1].startswith("troupe> "), f"one error line then the prompt: {out!r}")
    pane.advance()
    pane.run("train")
    pane.expect("no training jobs")

    # Ctrl-C at the prompt drops the line; the shell carries on.
    pane.advance()
    pane.type("half a line")
    pane.keys("C-c")
    pane.run("nodes")
    pane.expect("ID  HOST", "ALIVE")

    pane.advance()
    pane.run("quit")
    wait_for("the shell to exit", lambda: pane.tmux("has-session", "-t", pane.target).returncode != 0, timeout=10)
    hist = open(os.path.join(home, ".troupe_history")).read()
    check("actor alpha" in hist and "restart alpha" in hist, hist)


if __name__ == "__main__":
    main(test)
