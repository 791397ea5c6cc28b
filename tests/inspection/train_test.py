"""A training job seen from the inspection tools: `troupe train --cluster`
against a live `troupe up` reports its job to the scheduler. While it runs,
`troupe list jobs --json`, the shell's `train` view and the dashboard (headless
Chromium: the live actors and drawn loss and accuracy curves, plus a
screenshot) show it with its fields; Ctrl-C ends it as STOPPED with its actors
killed; a second run of a job of the same name finishes DONE under a new name.
The data is a small synthetic IDX set written here, so the test runs anywhere.
Every wait polls with a deadline. The dashboard part is skipped (77 at the
end) when Chromium is not installed."""
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import random

from dashboard_test import chromium, run_chromium
from harness import TROUPE, Cluster, _children, check, main, troupe, wait_for

SIDE = 8  # 8x8 images: label 1 when the top half is brighter than the bottom half
# 512 steps an epoch (2 trainers x 16): epochs long enough that the driver,
# sharing 2 cores with Chromium, keeps within the shard's last epoch snapshots.
TRAIN_SAMPLES = 16384


def write_idx(directory, name, n, seed):
    pixels = random.Random(seed).randbytes(n * SIDE * SIDE)
    labels = bytearray()
    for i in range(n):
        img = pixels[i * SIDE * SIDE:(i + 1) * SIDE * SIDE]
        top = sum(img[: SIDE * SIDE // 2])
        labels.append(1 if top > sum(img) - top else 0)
    images = os.path.join(directory, f"{name}-images.idx")
    with open(images, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, SIDE, SIDE) + pixels)
    labels_path = os.path.join(directory, f"{name}-labels.idx")
    with open(labels_path, "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels)
    return images, labels_path


def write_config(directory, stem, epochs, name=None, samples=TRAIN_SAMPLES, trainers=2, checkpoint_every=0):
    """A small job: SIDExSIDE synthetic images (label: top half brighter), 64-16-2, batch 16 per trainer;
    with checkpoint_every > 0 the shards checkpoint every that many versions into DIR/STEM-ckpt."""
    train = write_idx(directory, stem + "-train", samples, 1)
    test = write_idx(directory, stem + "-test", 256, 2)
    path = os.path.join(directory, stem + ".toml")
    with open(path, "w") as f:
        f.write(f"""[data]
train_images = "{train[0]}"
train_labels = "{train[1]}"
test_images = "{test[0]}"
test_labels = "{test[1]}"

[model]
layers = [{SIDE * SIDE}, 16, 2]
activations = ["relu", "softmax"]
loss = "cross_entropy"

[optimizer]
lr = 0.003

[training]
batch = 16
epochs = {epochs}
seed = 7

[cluster]
trainers = {trainers}
loaders = 1
shards = 1

[output]
dir = "{os.path.join(directory, stem + '-out')}"
progress = "lines"
""" + (f'name = "{name}"\n' if name else ""))
        if checkpoint_every:
            f.write(f'\n[checkpoint]\ndir = "{os.path.join(directory, stem + "-ckpt")}"\ninterval = {checkpoint_every}\n')
    return path


def jobs(c):
    code, out, err = troupe("list", "jobs", "--json", "--address", c.address)
    check(code == 0, f"list jobs: {err}")
    return {j["name"]: j for j in json.loads(out)}


def start_train(c, config, log):
    p = subprocess.Popen([TROUPE, "train", config, "--cluster", c.address], stdout=open(log, "w"),
                         stderr=subprocess.STDOUT, start_new_session=True)
    _children.append(p)
    return p


def curve_points(dom, title):
    """The number of points of each curve drawn in the chart labelled `title`."""
    m = re.search(r'<svg[^>]*aria-label="' + title + r'"[^>]*>(.*?)</svg>', dom, re.S)
    check(m, f"no {title} chart in the DOM")
    return [len(p.split()) for p in re.findall(r'<polyline[^>]*class="curve"[^>]*points="([^"]*)"', m.group(1))] + \
           [len(p.split()) for p in re.findall(r'<polyline[^>]*points="([^"]*)"[^>]*class="curve"', m.group(1))]


def test():
    browser = chromium()
    c = Cluster(workers=2, cpus_per_worker=2)
    c.spawn("dash-live", cpus=0.5)
    work = tempfile.mkdtemp(prefix="troupe-inspection-train-")

    # 1. A long job, looked at while it runs.
    log = os.path.join(work, "tiny.log")
    p = start_train(c, write_config(work, "tiny", epochs=1000), log)

    def running():
        if p.poll() is not None:
            raise AssertionError(f"troupe train exited with {p.returncode}: {open(log).read()}")
        j = jobs(c).get("tiny")
        ok = (j and j["state"] == "RUNNING" and j["step"] >= 200 and isinstance(j["accuracy"], (int, float))
              and len(j["history"]) >= 20 and j["contributors"] and j["samples_per_s"] > 0
              and all(t["state"] == "ALIVE" for t in j["trainers"]))  # states are refreshed every second
        return j if ok else None
    j = wait_for("the job RUNNING with 200 steps, an evaluation and its trainers ALIVE", running, timeout=40, interval=0.2)
    check(isinstance(j["loss"], (int, float)) and j["epoch"] >= 2, f"loss and epoch: {j}")
    trainer_names = sorted(t["name"] for t in j["trainers"])
    check(len(trainer_names) == 2 and all(re.fullmatch(r"train-\d+-trainer-[01]", n) for n in trainer_names),
          f"trainer rows: {j['trainers']}")
    for t in j["trainers"]:
        check(t["state"] == "ALIVE" and t["steps"] > 0 and t["last_step"] > 0 and t["samples_per_s"] > 0 and
              t["actor"] > 0, f"trainer row: {t}")
    for cs in j["contributors"]:
        check(sorted(cs["trainers"]) == trainer_names and cs["step"] > 0, f"sync: both trainers push every step: {cs}")
    check(any(isinstance(h["accuracy"], (int, float)) for h in j["history"]), "an accuracy point per evaluation")
    check(sum(isinstance(h["loss"], (int, float)) for h in j["history"]) >= 20, "loss points")
    check(all(h["time_ms"] > 0 for h in j["history"]), "points have times")
    wait_for("the reported step to advance", lambda: jobs(c)["tiny"]["step"] > j["step"], timeout=10)

    # The shell's train view (standard input not a terminal: one command a line).
    r = subprocess.run([TROUPE, "shell", c.address], input="train\n", capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, f"shell: {r.stderr}")
    for needle in ("tiny  RUNNING", "trainers", "contributors of the last steps", *trainer_names, "ALIVE"):
        check(needle in r.stdout, f"{needle!r} not in the shell's train view:\n{r.stdout}")
    check(re.search(r"step\s+\d{3,}", r.stdout), f"step in the train view:\n{r.stdout}")
    # The table of `list jobs`.
    code, out, _ = troupe("list", "jobs", "--address", c.address)
    check(code == 0 and re.search(r"^tiny\s+RUNNING\s+\d+\s+\d+", out, re.M), f"list jobs:\n{out}")

    if browser:
        code, dom, err = run_chromium(browser, "--virtual-time-budget=3000", "--dump-dom", c.url("/"))
        check(code == 0 and "<html" in dom, f"chromium exited {code}: {err[-2000:]}")
        names = {n: s for s, n in re.findall(r'<span class="actor-name" data-state="([A-Z]+)">([^<]+)</span>', dom)}
        check(names.get("dash-live") == "ALIVE", f"actors in the DOM: {names}")
        check(all(names.get(n) == "ALIVE" for n in trainer_names), f"live trainers in the DOM: {names}")
        check('id="no-jobs"' not in dom and re.search(r'<td[^>]*>tiny</td>', dom), "the job's row")
        loss, acc = curve_points(dom, "Loss"), curve_points(dom, "Accuracy")
        check(loss and max(loss) >= 20, f"a loss curve with points: {loss}")
        check(acc and max(acc) >= 1, f"an accuracy curve: {acc}")
        shot = os.environ.get("INSPECTION_TRAIN_SCREENSHOT", os.path.abspath("dashboard-train.png"))
        if os.path.exists(shot):
            os.unlink(shot)
        code, _, err = run_chromium(browser, "--virtual-time-budget=3000", "--window-size=1400,1000",
                                    f"--screenshot={shot}", c.url("/"))
        check(code == 0 and os.path.exists(shot) and os.path.getsize(shot) > 20000, f"no screenshot: {err[-2000:]}")
        print(f"screenshot: {shot}")

    # 2. Ctrl-C: STOPPED, its actors killed.
    os.killpg(p.pid, signal.SIGINT)
    code = p.wait(timeout=30)
    check(code == 130, f"troupe train after SIGINT exited {code}: {open(log).read()[-2000:]}")
    check(jobs(c)["tiny"]["state"] == "STOPPED", "STOPPED")
    wait_for("the job's actors DEAD",
             lambda: all(c.actor(n)["state"] == "DEAD" for n in trainer_names), timeout=20)

    # 3. A short job of the same name: DONE, under a name of its own.
    log2 = os.path.join(work, "short.log")
    p2 = start_train(c, write_config(work, "short", epochs=2, name="tiny"), log2)
    code = p2.wait(timeout=60)
    check(code == 0, f"the short job exited {code}: {open(log2).read()[-2000:]}")
    check("job tiny-2 on " in open(log2).read(), "the name it reports under is printed")
    done = jobs(c)
    check(done["tiny"]["state"] == "STOPPED", "the first job keeps its entry")
    d = done.get("tiny-2")
    check(d and d["state"] == "DONE" and d["epoch"] == 2 and d["step"] == 2 * TRAIN_SAMPLES // 32, f"DONE job: {d}")
    check(d["history"][-1]["step"] == d["step"], f"the last point is the last step: {d['history'][-3:]}")
    check(sum(isinstance(h["accuracy"], (int, float)) for h in d["history"]) == 2, "one accuracy point per epoch")

    if not browser:
        print("chromium is not installed: the dashboard part was skipped")
        sys.exit(77)


if __name__ == "__main__":
    main(test)
