#!/usr/bin/env bash
# Installs what troupe needs, builds it, and runs the main job on an embedded
# local cluster: Fashion-MNIST training with 2 loaders, 2 trainers and 1
# aggregator shard, each an actor process (examples/fashion_mnist.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install_deps.sh
build=${TROUPE_BUILD_DIR:-build}
if [[ ! -f "$build/build.ninja" ]]; then
  meson setup "$build"
fi
ninja -C "$build" -j"$(nproc)"
exec "$build/tools/troupe" train examples/fashion_mnist.toml "$@"
