"""Hostile files given to `troupe train` (issue 10, item 5): each gives its
one line naming the key or file and what is allowed, and exit code 2, under
an address-space limit (RLIMIT_AS, as `ulimit -v`) so that a regression that
reads or allocates without bound fails this test instead of the machine:
  - train_labels = "/dev/zero" (was: read until bad_alloc), and a FIFO;
  - a gzip bomb: IDX labels whose stream inflates to 2.2 GB past the 60,000
    labels its header declares (was: inflated whole before the header was read);
  - IDX images whose gzip header declares 2.2 GB, more than its compressed size
    can hold;
  - layers = [784, 1000000, 1000000, 10] (was: passed, then bad_alloc).
The files are written here; nothing else is needed."""
import gzip
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile

TROUPE = os.environ["TROUPE_BIN"]
if os.environ.get("TROUPE_SANITIZE"):
    # tools/test.sh --sanitize: AddressSanitizer reserves terabytes of address space.
    print("address-space limits cannot apply under AddressSanitizer: skipped")
    sys.exit(77)
LIMIT = 1 << 30  # 1 GiB of address space: far below what the bad inputs used to take


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def config(tmp, images, labels, layers="[64, 16, 10]", activations='["relu", "softmax"]'):
    path = os.path.join(tmp, "job.toml")
    with open(path, "w") as f:
        f.write(f"""[data]
train_images = "{images}"
train_labels = "{labels}"
[model]
layers = {layers}
activations = {activations}
loss = "cross_entropy"
[training]
batch = 16
epochs = 1
[output]
dir = "{os.path.join(tmp, 'out')}"
progress = "none"
""")
    return path


def run(cfg):
    r = subprocess.run([TROUPE, "train", cfg], capture_output=True, text=True, timeout=120, preexec_fn=limit_memory)
    return r.returncode, r.stdout, r.stderr


def expect(what, cfg, *says):
    code, out, err = run(cfg)
    lines = err.splitlines()
    assert code == 2, f"{what}: exit {code}, want 2; stderr: {err!r}"
    assert len(lines) == 1, f"{what}: want one line, got {lines!r}"
    for s in says:
        assert s in lines[0], f"{what}: {s!r} not in {lines[0]!r}"
    print(f"ok: {what}: {lines[0]}")


def main():
    tmp = tempfile.mkdtemp(prefix="troupe-hostile-files-")
    try:
        n = 60000
        images = write(os.path.join(tmp, "images.idx"), struct.pack(">IIII", 0x803, n, 8, 8) + bytes(n * 64))
        labels = write(os.path.join(tmp, "labels.idx"), struct.pack(">II", 0x801, n) + bytes(n))

        expect("/dev/zero as labels", config(tmp, images, "/dev/zero"),
               '[data] train_labels = "/dev/zero": must name a regular file, not a character device')
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)  # no writer: opening it would block
        expect("a FIFO as labels", config(tmp, images, fifo), "must name a regular file, not a FIFO")

        # 60,000 labels, then 2.2 GB of zeros, as gzip members of 64 MiB zeros each (≈2 MB on disk).
        bomb = os.path.join(tmp, "bomb.gz")
        zeros = gzip.compress(bytes(64 << 20), 9)
        with open(bomb, "wb") as f:
            f.write(gzip.compress(struct.pack(">II", 0x801, n) + bytes(n)))
            for _ in range(33):
                f.write(zeros)
        print(f"gzip bomb: {os.path.getsize(bomb)} bytes on disk, {33 * (64 << 20) + 8 + n} inflated")
        expect("a gzip bomb as labels", config(tmp, images, bomb), "[data] train_labels: " + bomb,
               "IDX content goes on after the 60000 bytes of data its header declares")

        # A header declaring 2,800,000 images of 28x28 (2.2 GB) in a tiny gzip file.
        lie = os.path.join(tmp, "lie.gz")
        write(lie, gzip.compress(struct.pack(">IIII", 0x803, 2_800_000, 28, 28) + bytes(4096)))
        expect("gzip images declaring 2.2 GB", config(tmp, lie, labels), "[data] train_images: " + lie,
               "IDX header promises 2195200000 bytes of data, more than the",
               "its compressed size can hold (gzip inflates at most 1032:1)")

        expect("a model of 10^12 parameters", config(tmp, images, labels, "[784, 1000000, 1000000, 10]",
                                                            '["relu", "relu", "softmax"]'),
               "[model] layers = [784, 1000000, 1000000, 10]: has 1000796000010 parameters: a trainer needs",
               "more than the")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
