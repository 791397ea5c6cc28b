"""troupe under Slurm (issue 14, item 1): a private Slurm cluster on this
machine (its own munged, slurmctld and two slurmd, each slurmd a node of its
own name and port), tools/slurm/troupe.sbatch submitted with sbatch:
  1. a short training job over 2 nodes (`--gres=gpu:2`: the nodes' GRES are
     stand-in device files) finishes (Slurm: COMPLETED 0:0), every sample
     trained once, the job DONE in `troupe list jobs`, a worker registered
     from each node with the node's CPUs and its 2 GPUs from Slurm's
     CUDA_VISIBLE_DEVICES, the job's actors on both nodes; the workers stop
     on SIGTERM (not Slurm's SIGKILL) and nothing of the cluster is left;
  2. a long job cancelled with scancel while it trains: every troupe process
     (scheduler, workers, actors, driver) is gone within 12 s, before
     Slurm's own SIGKILL (KillWait 30 s here), and Slurm says CANCELLED.
Needs root and Debian's slurmctld, slurmd and munge; exits 77 with one line
where they are missing or Slurm cannot start. Ports are free ones, the
directories its own; every process it started is found again by a tag in its
environment and killed at the end, however the test ends."""
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time

from ops_support import (ROOT, TROUPE, check, elapsed, free_ports, kill_tagged, main, skip, start, tagged_pids, tail,
                         troupe, troupe_pids, wait_for, write_job)

SBATCH = os.path.join(ROOT, "tools", "slurm", "troupe.sbatch")
NODES = 2
GPUS = 2  # per node, as GRES (stand-in device files)


class Slurm:
    """munged + slurmctld + NODES slurmd, all in the foreground, on free ports, under self.dir."""

    def __init__(self, tag):
        for exe in ("munged", "slurmctld", "slurmd", "sbatch", "scancel", "scontrol", "sinfo"):
            if not shutil.which(exe) and not os.path.exists(f"/usr/sbin/{exe}"):
                skip(f"{exe} is not installed (Debian: slurmctld slurmd munge)")
        if os.geteuid() != 0:
            skip("needs root (slurmd runs jobs as their user)")
        self.dir = tempfile.mkdtemp(prefix="troupe-slurm-")
        os.chmod(self.dir, 0o755)  # munge's socket directory must be reachable by all
        d = self.dir
        self.env = dict(os.environ, SLURM_CONF=f"{d}/slurm.conf", TROUPE_OPS_TAG=tag)
        os.makedirs(f"{d}/munge", mode=0o700)
        os.chmod(f"{d}/munge", 0o755)
        with open(f"{d}/munge/munge.key", "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(f"{d}/munge/munge.key", 0o600)
        self.munge_socket = f"{d}/munge/socket"
        start([shutil.which("munged") or "/usr/sbin/munged", "-F", "-f", f"--socket={self.munge_socket}",
               f"--key-file={d}/munge/munge.key", f"--pid-file={d}/munge/pid", f"--seed-file={d}/munge/seed",
               f"--log-file={d}/munge/log"], f"{d}/munged.out", env=self.env)
        self.wait(lambda: os.path.exists(self.munge_socket), "munged's socket", f"{d}/munged.out")
        ctld, *node_ports = free_ports(1 + NODES)
        self.names = [f"{tag}n{i}" for i in range(NODES)]
        cpus = os.cpu_count()
        nodes = "\n".join(f"NodeName={n} NodeHostname=localhost NodeAddr=127.0.0.1 Port={p} CPUs={cpus} Gres=gpu:{GPUS} "
                          "State=UNKNOWN"
                          for n, p in zip(self.names, node_ports))
        for sub in ("state", "spool", "log"):
            os.makedirs(f"{d}/{sub}")
        with open(f"{d}/slurm.conf", "w") as f:
            f.write(f"""ClusterName={tag}
GresTypes=gpu
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld}
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd-%n.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
KillWait=30
InactiveLimit=0
MinJobAge=600
{nodes}
PartitionName=troupe Nodes={','.join(self.names)} Default=YES MaxTime=INFINITE State=UP
""")
        # GPUs as GRES: Slurm only stats the device files, so char devices made here stand in for them.
        os.makedirs(f"{d}/dev")
        for i in range(GPUS):
            os.mknod(f"{d}/dev/gpu{i}", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        with open(f"{d}/gres.conf", "w") as f:
            f.write(f"Name=gpu File={d}/dev/gpu[0-{GPUS - 1}]\n")
        start(["slurmctld", "-D", "-f", f"{d}/slurm.conf"], f"{d}/slurmctld.out", env=self.env)
        for n in self.names:
            start(["slurmd", "-D", "-N", n, "-f", f"{d}/slurm.conf"], f"{d}/slurmd-{n}.out", env=self.env)

        def idle():
            r = self.run("sinfo", "-h", "-N", "-o", "%N %t")
            return r.returncode == 0 and sum(" idle" in line for line in r.stdout.splitlines()) == NODES
        self.wait(idle, f"{NODES} idle nodes in sinfo", f"{d}/log/slurmctld.log")

    def wait(self, fn, what, log):
        try:
            wait_for(what, fn, timeout=30, interval=0.1)
        except AssertionError:
            print(tail(log, 15))
            skip(f"Slurm cannot start here: no {what} within 30 s")

    def run(self, *cmd, cwd=None):
        return subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, timeout=30, cwd=cwd)

    def sbatch(self, name, workdir, *driver):
        r = self.run("sbatch", "--parsable", f"--nodes={NODES}", f"--gres=gpu:{GPUS}", f"--job-name={name}", f"--chdir={workdir}",
                     f"--output={workdir}/slurm-%j.out", SBATCH, *driver, cwd=workdir)  # troupe-JOBID/ goes there
        check(r.returncode == 0, f"sbatch: {r.stderr}")
        return r.stdout.strip().split(";")[0]

    def job(self, jid):
        """{JobState, ExitCode, …} from scontrol show job."""
        r = self.run("scontrol", "show", "job", jid)
        return dict(re.findall(r"(\w+)=(\S+)", r.stdout))


def test():
    if not TROUPE:
        skip("TROUPE_BIN is not set")
    t0 = time.time()
    tag = f"ts{os.getpid()}"
    dirs = []
    try:
        run(tag, t0, dirs)
    finally:
        kill_tagged(tag)
    for d in dirs:  # kept when the test fails
        shutil.rmtree(d, ignore_errors=True)


def run(tag, t0, dirs):
    slurm = Slurm(tag)
    print(f"slurm up with {NODES} nodes after {elapsed(t0)}")
    work = tempfile.mkdtemp(prefix="troupe-slurm-job-")
    dirs += [slurm.dir, work]
    os.chmod(work, 0o755)
    slurm.env.update(TROUPE=TROUPE, TROUPE_HTTP_PORT="0")

    # 1. A short job over both nodes, then `troupe list` from inside the allocation.
    config = write_job(work, "short", epochs=2)
    driver = (f'"$TROUPE" train {config} --cluster "$TROUPE_CLUSTER" > {work}/train.log 2>&1; rc=$?; '
              f'"$TROUPE" list jobs --json --address %CLUSTER% > {work}/jobs.json; '
              f'"$TROUPE" list nodes --json --address %CLUSTER% > {work}/nodes.json; '
              f'"$TROUPE" list actors --json --address %CLUSTER% > {work}/actors.json; exit $rc')
    jid = slurm.sbatch("troupe-short", work, "bash", "-c", driver)
    job = wait_for(f"Slurm job {jid} to end", lambda: (j := slurm.job(jid)).get("JobState") not in
                   (None, "PENDING", "RUNNING", "CONFIGURING", "COMPLETING") and j, timeout=60, interval=0.2)
    out = tail(f"{work}/slurm-{jid}.out", 40)
    check(job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0",
          f"job {jid}: {job.get('JobState')} {job.get('ExitCode')}\n{out}\n{tail(work + '/train.log')}")
    train_log = open(f"{work}/train.log").read()
    m = re.search(r"samples: (\d+) of (\d+) trained once per epoch \((\d+) duplicated, (\d+) skipped\)", train_log)
    check(m and m.group(1) == m.group(2) and m.group(4) == "0", f"the ledger line:\n{train_log[-2000:]}")
    jobs = {j["name"]: j for j in json.load(open(f"{work}/jobs.json"))}
    check(jobs.get("short", {}).get("state") == "DONE" and jobs["short"]["epoch"] == 2, f"troupe list jobs: {jobs}")
    nodes = json.load(open(f"{work}/nodes.json"))
    check(len(nodes) == NODES and all(n["state"] == "ALIVE" and n["total"]["cpus"] == os.cpu_count() and
                                      n["total"]["gpus"] == GPUS for n in nodes),
          f"a worker per Slurm node with the node's CPUs and GRES GPUs: {nodes}")
    actor_nodes = {a["node"] for a in json.load(open(f"{work}/actors.json")) if a["name"].startswith("train-")}
    check(len(actor_nodes) == NODES, f"the job's actors ran on both nodes: {actor_nodes}")
    for i in range(NODES):
        wlog = tail(f"{work}/troupe-{jid}/worker-{i}.log")
        check("troupe worker: node" in wlog and f"{GPUS} GPU(s) (CUDA_VISIBLE_DEVICES=0,1)" in wlog, f"worker {i}:\n{wlog}")
    check("Killed" not in out and "cluster stopped" in out, f"the workers stopped on SIGTERM, not SIGKILL:\n{out}")
    wait_for("no troupe process left after the job", lambda: not troupe_pids(tag), timeout=20)
    print(f"short job {jid} COMPLETED over {NODES} nodes, ledger {m.group(0)!r}, after {elapsed(t0)}")

    # 2. A long job cancelled while it trains.
    config = write_job(work, "long", epochs=1000)
    jid = slurm.sbatch("troupe-long", work, TROUPE, "train", config, "--cluster", "%CLUSTER%")
    sched_log = f"{work}/troupe-{jid}/scheduler.log"

    def address():
        m = re.search(r"control (tcp://[^,]+)", open(sched_log).read()) if os.path.exists(sched_log) else None
        return m and m.group(1)
    addr = wait_for("the long job's scheduler", address, timeout=30, interval=0.2)

    def training():
        code, out, _ = troupe("list", "jobs", "--json", "--address", addr, timeout=10)
        j = {x["name"]: x for x in json.loads(out)}.get("long") if code == 0 else None
        return j if j and j["state"] == "RUNNING" and j["step"] >= 50 else None
    wait_for("the long job RUNNING past step 50", training, timeout=45, interval=0.3)
    before = troupe_pids(tag)
    check(len(before) >= 2 + NODES + 4, f"scheduler, workers, driver and actors run: {before}")
    t_cancel = time.time()
    r = slurm.run("scancel", jid)
    check(r.returncode == 0, f"scancel: {r.stderr}")
    try:
        # Slurm's SIGKILL comes only after KillWait (30 s here): gone before it is troupe's own doing. Bound:
        # the driver 5 s (troupe.sbatch), the workers 2 s for their actors + 1.5 s to leave; margin for load.
        wait_for("every troupe process gone after scancel", lambda: not troupe_pids(tag), timeout=12, interval=0.2)
    except AssertionError:
        raise AssertionError(f"left behind after scancel: {troupe_pids(tag)}\n{tail(f'{work}/slurm-{jid}.out')}")
    gone = time.time() - t_cancel
    state = wait_for("Slurm to record the cancellation",
                     lambda: slurm.job(jid).get("JobState") in ("CANCELLED", "COMPLETED", "FAILED") and
                     slurm.job(jid)["JobState"], timeout=30, interval=0.2)
    check(state == "CANCELLED", f"job {jid}: {state}")
    def job_processes():
        return {p: c for p, c in tagged_pids(tag).items() if not re.search(r"munged|slurmctld|slurmscriptd|slurmd ", c)}
    try:
        wait_for("the job's other processes (slurmstepd, scripts) gone", lambda: not job_processes(), timeout=20)
    except AssertionError:
        raise AssertionError(f"processes of the job left behind: {job_processes()}")
    print(f"scancel of job {jid} mid-training: {len(before)} troupe processes gone after {gone:.1f} s; total {elapsed(t0)}")


if __name__ == "__main__":
    main(test)
