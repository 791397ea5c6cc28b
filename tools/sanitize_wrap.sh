#!/usr/bin/env bash
# `meson test --wrapper` for the sanitizer build (tools/test.sh --sanitize):
# runs one test with the AddressSanitizer and UndefinedBehaviorSanitizer
# reports of every process it starts (scheduler, workers and actor processes
# inherit the environment) written to a folder of its own, and fails the test
# when any process wrote one, printing them. Leak checking is off: actor
# processes end by SIGKILL and the runtime's singletons live to exit.
dir=$(mktemp -d /tmp/troupe-sanitize.XXXXXX)
export ASAN_OPTIONS="log_path=$dir/asan:detect_leaks=0:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$dir/ubsan:print_stacktrace=1:halt_on_error=0${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export TROUPE_SANITIZE=1  # tests that cap address space (ulimit -v) skip: ASan reserves terabytes of it
"$@"
rc=$?
if compgen -G "$dir/*" >/dev/null; then
  echo "sanitizer reports from processes this test started ($dir):"
  cat "$dir"/*
  rm -rf "$dir"
  exit 1
fi
rm -rf "$dir"
exit $rc
