"""/metrics scraped by a real Prometheus (issue 14, item 3): Debian's
prometheus with the scrape config of docs/OPERATIONS.md (1 s interval,
honor_labels so troupe's `job` label stays the training job's name) against
`troupe up`; a training job runs, is seen running through Prometheus' HTTP
API (troupe_train_step rising, troupe_actors{state="ALIVE"} = its 4 actors),
is stopped (Ctrl-C), and then Prometheus' latest samples equal what troupe
reported (`troupe list jobs`: step, epoch, loss, accuracy, samples/s; the 4
actors DEAD; restarts 0 per trainer). The three queries of OPERATIONS.md
return those series. Exits 77 where prometheus is not installed."""
import json
import math
import os
import shutil
import signal
import tempfile
import time
import urllib.parse
import urllib.request

from ops_support import TROUPE, Cluster, _children, check, elapsed, free_ports, main, skip, start, tail, troupe, wait_for, write_job

# The three queries of docs/OPERATIONS.md ("Prometheus").
DOC_QUERIES = {
    "samples/s per job": "sum by (job) (troupe_train_samples_per_second)",
    "restarts per actor": "max by (name) (troupe_actor_restarts)",
    "alive nodes": 'troupe_nodes{state="ALIVE"}',
}


class Prometheus:
    def __init__(self, work, target):
        exe = shutil.which("prometheus")
        if not exe:
            skip("prometheus is not installed (Debian: prometheus)")
        port, = free_ports(1)
        self.base = f"http://127.0.0.1:{port}"
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: troupe
    honor_labels: true
    static_configs:
      - targets: ["{target}"]
""")
        self.log = os.path.join(work, "prometheus.log")
        start([exe, f"--config.file={config}", f"--storage.tsdb.path={work}/tsdb",
               f"--web.listen-address=127.0.0.1:{port}"], self.log)
        wait_for("prometheus ready", self.ready, timeout=30, interval=0.2)

    def ready(self):
        try:
            with urllib.request.urlopen(self.base + "/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, q):
        url = self.base + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        check(body["status"] == "success", f"{q}: {body}")
        return [(row["metric"], float(row["value"][1])) for row in body["data"]["result"]]

    def value(self, q):
        rows = self.query(q)
        return rows[0][1] if len(rows) == 1 else None


def same(a, b):
    return (a is None and b is None) or (a is not None and b is not None and
                                         (a == b or (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-12 * abs(b)))


def test():
    t0 = time.time()
    work = tempfile.mkdtemp(prefix="troupe-prometheus-")
    if not shutil.which("prometheus"):
        skip("prometheus is not installed (Debian: prometheus)")
    c = Cluster(workers=2, cpus_per_worker=2)
    prom = Prometheus(work, f"127.0.0.1:{c.http_port}")
    wait_for("the target up", lambda: prom.value('up{job="troupe"}') == 1, timeout=20, interval=0.2)
    print(f"prometheus scraping the scheduler after {elapsed(t0)}")

    config = write_job(work, "promjob", epochs=1000)
    log = os.path.join(work, "train.log")
    p = start([TROUPE, "train", config, "--cluster", c.address], log)

    def running():
        if p.poll() is not None:
            raise AssertionError(f"troupe train exited {p.returncode}: {tail(log)}")
        step = prom.value('troupe_train_step{job="promjob"}')
        alive = prom.value('troupe_actors{state="ALIVE"}')
        return step and step >= 20 and alive == 4 and (step, alive)
    step, _ = wait_for("Prometheus to see the job training with its 4 actors ALIVE", running, timeout=60, interval=0.3)
    check(prom.value('troupe_nodes{state="ALIVE"}') == 2, "2 alive nodes")

    os.killpg(p.pid, signal.SIGINT)
    check(p.wait(timeout=30) == 130, f"Ctrl-C: {tail(log)}")
    code, out, err = troupe("list", "jobs", "--json", "--address", c.address)
    job = {j["name"]: j for j in json.loads(out)}["promjob"]
    check(job["state"] == "STOPPED" and job["step"] > step, f"the job: {job}")
    reported = {"step": job["step"], "epoch": job["epoch"], "loss": job["loss"], "accuracy": job["accuracy"],
                "samples_per_second": job["samples_per_s"]}

    def latest():
        return {k: prom.value('troupe_train_' + k + '{job="promjob"}') for k in reported}

    def scraped():
        got = latest()
        return got if all(same(got[k], None if reported[k] is None else float(reported[k])) for k in reported) else None
    try:
        got = wait_for("Prometheus' latest samples to equal troupe's final report", scraped, timeout=15, interval=0.3)
    except AssertionError:
        raise AssertionError(f"troupe reported {reported}, Prometheus has {latest()}")
    wait_for("the job's 4 actors DEAD in Prometheus",
             lambda: prom.value('troupe_actors{state="DEAD"}') == 4 and prom.value('troupe_actors{state="ALIVE"}') == 0,
             timeout=15, interval=0.3)
    trainers = [t["name"] for t in job["trainers"]]
    for name in trainers:
        check(prom.value(f'troupe_actor_restarts{{name="{name}"}}') == 0, f"restarts of {name}")
    check(prom.value('max_over_time(troupe_actors{state="ALIVE"}[5m])') == 4, "4 ALIVE while it ran")

    for what, q in DOC_QUERIES.items():
        rows = prom.query(q)
        check(rows, f"OPERATIONS.md query {what!r} ({q}) returned nothing")
        if what == "samples/s per job":
            check(any(m.get("job") == "promjob" and same(v, float(job["samples_per_s"])) for m, v in rows), f"{q}: {rows}")
        if what == "restarts per actor":
            check({m.get("name") for m, _ in rows} >= set(trainers), f"{q}: {rows}")
        if what == "alive nodes":
            check(rows[0][1] == 2, f"{q}: {rows}")
    print(f"Prometheus agrees with troupe: {got}; total {elapsed(t0)}")
    shutil.rmtree(work, ignore_errors=True)  # kept when the test fails


if __name__ == "__main__":
    main(test)
