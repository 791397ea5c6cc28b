#!/usr/bin/env bash
# Builds train_step_bench and runs the training-step / GEMM benchmark against
# PyTorch (tools/bench/train_step/run.py explains every setting). The last
# line of output is one JSON object with every figure.
#   tools/bench/train_step/run.sh [BUILD_DIR] [--quick] [--cuda]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$root/build}
[[ $# -gt 0 ]] && shift
if [[ ! -d $build ]]; then meson setup "$build" "$root" >/dev/null; fi
ninja -C "$build" -j2 tools/bench/train_step/train_step_bench >/dev/null
exec /usr/bin/python3 "$root/tools/bench/train_step/run.py" --bench "$build/tools/bench/train_step/train_step_bench" "$@"
