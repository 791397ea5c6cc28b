"""The dashboard at "/" in headless Chromium against a live cluster: the DOM,
after the page has polled /api/state, shows the live actors coloured by state,
the nodes, the events and the (empty, until training exists) loss and
accuracy charts; a screenshot is written for people to look at
($INSPECTION_SCREENSHOT, default dashboard.png in the current directory).
Skipped (77) when Chromium is not installed."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from harness import Cluster, _children, check, main, wait_for


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(browser, *args, timeout=90):
    profile = tempfile.mkdtemp(prefix="troupe-chromium-")
    p = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _children.append(p)
    out, err = p.communicate(timeout=timeout)
    shutil.rmtree(profile, ignore_errors=True)
    return p.returncode, out, err


def test():
    browser = chromium()
    if browser is None:
        print("chromium is not installed: skipped")
        sys.exit(77)
    c = Cluster(workers=2)
    c.spawn("dash-alpha")
    c.spawn("dash-beta")
    c.spawn("dash-pending", cpus=100)
    subprocess.run([os.environ["TROUPE_BIN"], "kill", "dash-beta", "--address", c.address], check=True,
                   capture_output=True, timeout=30)
    wait_for("dash-beta DEAD", lambda: c.actor("dash-beta")["state"] == "DEAD")

    # --virtual-time-budget lets the page's timers and fetches run before the dump.
    code, dom, err = run_chromium(browser, "--virtual-time-budget=4000", "--dump-dom", c.url("/"))
    check(code == 0 and "<html" in dom, f"chromium exited {code}: {err[-2000:]}")
    names = {n: s for s, n in re.findall(r'<span class="actor-name" data-state="([A-Z]+)">([^<]+)</span>', dom)}
    check(names.get("dash-alpha") == "ALIVE", f"actors in the DOM: {names}")
    check(names.get("dash-beta") == "DEAD", f"actors in the DOM: {names}")
    check(names.get("dash-pending") == "PENDING", f"actors in the DOM: {names}")
    check('<span class="badge ALIVE">ALIVE</span>' in dom, "state badges")
    check(dom.count('class="row-ALIVE"') >= 2, "two alive nodes")
    check('aria-label="Loss"' in dom and 'aria-label="Accuracy"' in dom, "both charts are drawn")
    check('id="no-jobs"' in dom, "no training jobs yet")
    check("killed by user" in dom, "recent events")
    conn = re.search(r'<span class="conn" id="conn"[^>]*>(.*?)</span>\s*</header>', dom, re.S)
    check(conn and conn.group(1).endswith("live"), f"the page reached /api/state: {conn and conn.group(0)}")

    shot = os.environ.get("INSPECTION_SCREENSHOT", os.path.abspath("dashboard.png"))
    if os.path.exists(shot):
        os.unlink(shot)
    code, out, err = run_chromium(browser, "--virtual-time-budget=4000", "--window-size=1400,900",
                                  f"--screenshot={shot}", c.url("/"))
    check(code == 0 and os.path.exists(shot), f"no screenshot: {err[-2000:]}")
    with open(shot, "rb") as f:
        data = f.read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000, f"screenshot {shot}: {len(data)} bytes")
    print(f"screenshot: {shot}")


if __name__ == "__main__":
    main(test)
