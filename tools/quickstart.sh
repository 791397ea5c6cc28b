#!/usr/bin/env bash
# Installs what troupe needs, builds it, and runs the main job on an embedded
# local cluster. Until the training job lands, that is the counter example:
# a scheduler and two workers in this process, a Counter actor in its own process.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install_deps.sh
build=${TROUPE_BUILD_DIR:-build}
if [[ ! -f "$build/build.ninja" ]]; then
  meson setup "$build"
fi
ninja -C "$build" -j"$(nproc)"
exec "$build/examples/counter/counter_example" "$@"
