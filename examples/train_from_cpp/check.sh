#!/usr/bin/env bash
# Test of examples/train_from_cpp: 2 epochs of fashion_mnist.toml on an
# embedded cluster, trainer 0 killed half-way through the API. Passes when the
# job ends DONE, the trainer restarted once, every sample of each epoch was
# trained once (epochs.jsonl), and the test accuracy is at least 0.80
# (fault-free 2 epochs: 0.85 here). Skips (77) without Debian's dataset-fashion-mnist.
#   check.sh TRAIN_FROM_CPP FASHION_TOML
set -euo pipefail
exe=$1 toml=$2
labels=$(sed -n 's/^train_labels = "\(.*\)"/\1/p' "$toml")
if [[ ! -r "$labels" ]]; then echo "no Fashion-MNIST at $labels (apt-get install dataset-fashion-mnist): skipped"; exit 77; fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$exe" "$toml" --epochs 2 --output "$out/run" | tee "$out/log"
grep -q "killed cpp-[0-9]*-trainer-0 half-way" "$out/log" || { echo "FAIL: no kill half-way"; exit 1; }
grep -q "trainer-0: 1 restart(s), last incarnation 1" "$out/log" || { echo "FAIL: trainer 0 did not restart once"; exit 1; }
grep -q "^job from-cpp.* ended DONE" "$out/log" || { echo "FAIL: the job did not end DONE"; exit 1; }
[[ $(grep -c '"samples_skipped":0' "$out/run/epochs.jsonl") == 2 && $(grep -c '"samples_duplicated":0' "$out/run/epochs.jsonl") == 2 ]] ||
  { echo "FAIL: an epoch skipped or repeated samples:"; cat "$out/run/epochs.jsonl"; exit 1; }
acc=$(sed -n 's/^job from-cpp.* ended DONE; test accuracy \([0-9.]*\)$/\1/p' "$out/log")
python3 -c "import sys; sys.exit(0 if float('$acc' or 0) >= 0.80 else 1)" || { echo "FAIL: test accuracy '$acc' < 0.80"; exit 1; }
echo "PASS: test accuracy $acc with trainer 0 killed half-way"
