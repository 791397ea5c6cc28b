#!/usr/bin/env bash
# Installs what troupe needs, builds it, and runs every test suite.
# Usage: tools/test.sh [--sanitize] [meson test args…]   (e.g. --suite cluster)
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install_deps.sh --extras
build=${TROUPE_BUILD_DIR:-build}
setup=() test_args=()
if [[ "${1:-}" == "--sanitize" ]]; then
  # AddressSanitizer + UndefinedBehaviorSanitizer in a build folder of its own
  # (CUDA and fuzzing off); a report from any process a test started fails
  # that test (tools/sanitize_wrap.sh). Not in CI: it doubles the build.
  shift
  build=${TROUPE_BUILD_DIR:-build-sanitize}
  setup=(-Db_sanitize=address,undefined -Db_lundef=false -Dcuda=disabled -Dfuzz=disabled -Dbuildtype=debugoptimized)
  test_args=(--wrapper "$PWD/tools/sanitize_wrap.sh" --timeout-multiplier 3)
fi
if [[ ! -f "$build/build.ninja" ]]; then
  meson setup "$build" "${setup[@]}"
fi
ninja -C "$build" -j"$(nproc)"
status=0
meson test -C "$build" --print-errorlogs --num-processes "$(nproc)" "${test_args[@]}" "$@" || status=$?

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
