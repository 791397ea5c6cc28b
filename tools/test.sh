#!/usr/bin/env bash
# Installs what troupe needs, builds it, and runs every test suite.
# Usage: tools/test.sh [meson test args…]   (e.g. --suite cluster)
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install_deps.sh --extras
build=${TROUPE_BUILD_DIR:-build}
if [[ ! -f "$build/build.ninja" ]]; then
  meson setup "$build"
fi
ninja -C "$build" -j"$(nproc)"
status=0
meson test -C "$build" --print-errorlogs --num-processes "$(nproc)" "$@" || status=$?

# One closing line any CI can read: "tests: N passed, N failed, N skipped".
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result", "")
    if r in ("OK", "EXPECTEDFAIL"): passed += 1
    elif r == "SKIP": skipped += 1
    else: failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
