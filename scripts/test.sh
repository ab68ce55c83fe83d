#!/usr/bin/env bash
# test.sh builds cogo (Release) and runs every test; then the runtime's tests
# again under ASan+UBSan and TSan, then every fuzz target for 30 s, then the
# Docker image test. Installs missing Debian packages first.
# COGO_SKIP_SANITIZERS=1 skips the sanitizer passes, COGO_SKIP_FUZZ=1 the
# fuzz pass; COGO_SKIP_DOCKER=1 the container test (docker/test.sh, which
# needs root for podman).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$JOBS"
ctest --test-dir build --output-on-failure --timeout 900

if [ "${COGO_SKIP_SANITIZERS:-0}" != "1" ]; then
  # The runtime and the netpoller are where data races and stack-switch bugs
  # hide, and request cancellation crosses every thread the server has (the
  # hang-up watcher, timers, connection threads): their suites run
  # under both sanitizers (the million-goroutine case is left to Release, and
  # so is the SIGQUIT dump test: under TSan beside CPU hogs the dump sometimes
  # never reached stderr within 20 s — not understood yet, see the session 4
  # note; Release runs it on every CI).
  SAN_TESTS=(scheduler_test chan_test sync_test sema_test sleeper_test netpoll_test cancel_test http_cancel_test)
  for san in address thread; do
    dir="build-$san"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOGO_SANITIZE=$san \
      -DCOGO_BUILD_BENCH=OFF >/dev/null
    targets=()
    for t in "${SAN_TESTS[@]}"; do
      [ -f "tests/$t.cpp" ] && targets+=("$t")
    done
    cmake --build "$dir" -j"$JOBS" --target "${targets[@]}"
    for t in "${targets[@]}"; do
      echo "== $t under $san sanitizer"
      TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
      ASAN_OPTIONS="detect_leaks=1 halt_on_error=1" \
      UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1" \
        "$dir/bin/$t" --gtest_filter='-*Million*:SchedulerDeathTest.Sigquit*' --gtest_brief=1
    done
  done
fi
# Every fuzz target (tests/fuzz/README.md) for 30 s under ASan+UBSan, two at
# a time, after their clang-14 build (build-fuzz/): about 7 minutes on two
# quiet cores. A finding fails CI; its input is in build-fuzz/findings/.
# `tests/fuzz/run.sh --hours H` runs them long.
if [ "${COGO_SKIP_FUZZ:-0}" != "1" ]; then
  started=$(date +%s)
  bash tests/fuzz/run.sh --seconds 30 --jobs "$JOBS"
  echo "scripts/test.sh: fuzz pass: $(($(date +%s) - started)) s"
fi
# The container image, built and run for real with podman (docker/README.md).
if [ "${COGO_SKIP_DOCKER:-0}" = "1" ]; then
  echo "scripts/test.sh: COGO_SKIP_DOCKER=1 — the Docker test was NOT run" >&2
else
  bash docker/test.sh
fi
echo "scripts/test.sh: all tests passed"
