#!/usr/bin/env bash
# test.sh builds cogo (Release) and runs every test; then the runtime's and
# the server's tests again under ASan+UBSan (LeakSanitizer on) and the
# runtime's under TSan, then every fuzz target for 30 s, then the Docker
# image test. Installs missing Debian packages first.
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
  started=$(date +%s)
  san_env=(TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
           ASAN_OPTIONS="detect_leaks=1 halt_on_error=1"
           UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1")
  # The runtime and the netpoller are where data races and stack-switch bugs
  # hide, and request cancellation crosses every thread the server has (the
  # hang-up watcher, timers, connection threads): their suites run
  # under both sanitizers (the million-goroutine case is left to Release, and
  # so is the SIGQUIT dump test: under TSan beside CPU hogs the dump sometimes
  # never reached stderr within 20 s — not understood yet, see the session 4
  # note; Release runs it on every CI).
  SAN_TESTS=(scheduler_test chan_test sync_test sema_test sleeper_test netpoll_test cancel_test http_cancel_test)
  # Under ASan+UBSan, with LeakSanitizer on, also the server: the binary and
  # its TLS and WebSocket listeners (server_test, tls_test, the websocket_*
  # suites; websocket_interop_test serves HTTP, HTTPS and WebSockets to real
  # clients, then checks that cogo-server exits 0 on SIGTERM, which under LSan
  # means it leaked nothing), the HTTP/1.1 engine and the router.
  # Not yet run under a sanitizer (each built and run only in Release):
  # cli_middleware, error, flag_set, flag_value, http_json, load, metrics,
  # every mw_* but mw_static, request_values, the fuzz replays, the fault and
  # soak scripts.
  ASAN_TESTS=("${SAN_TESTS[@]}" server_test tls_test websocket_test websocket_api_test
              websocket_deflate_test websocket_unit_test websocket_interop_test
              http_connection_test http_request_test http_rfc_test router_test
              thread_model_test tcp_test admin_test mw_static_test)
  # Left out under ASan: the two fd-exhaustion cases (TcpEmfile,
  # ThreadModelEmfile): UBSan's vptr check probes memory through a pipe(2),
  # which fails while the test holds every fd (EMFILE), and reports an
  # "invalid vptr" in std::thread that is not there (its symbolizer could not
  # start either: errno 24).
  asan_filter='-*Million*:SchedulerDeathTest.Sigquit*:*Emfile.*'
  for san in address thread; do
    dir="build-$san"
    if [ "$san" = address ]; then
      # clang-14 at -O1 with line tables (build type Sanitize): about a
      # quarter of the CPU of g++ at RelWithDebInfo (README, "Sanitizer
      # builds"). cogo-server is the binary server_test and the WebSocket
      # interop test start.
      cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Sanitize -DCOGO_SANITIZE=address \
        -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DCOGO_BUILD_BENCH=OFF >/dev/null
      tests=("${ASAN_TESTS[@]}")
      targets=(cogo-server)
    else
      cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOGO_SANITIZE=$san \
        -DCOGO_BUILD_BENCH=OFF >/dev/null
      tests=("${SAN_TESTS[@]}")
      targets=()
    fi
    for t in "${tests[@]}"; do
      [ -f "tests/$t.cpp" ] && targets+=("$t")
    done
    cmake --build "$dir" -j"$JOBS" --target "${targets[@]}"
    for t in "${targets[@]}"; do
      [ "$t" = cogo-server ] && continue
      echo "== $t under $san sanitizer"
      filter='-*Million*:SchedulerDeathTest.Sigquit*'
      [ "$san" = address ] && filter=$asan_filter
      env "${san_env[@]}" "$dir/bin/$t" --gtest_filter="$filter" --gtest_brief=1
    done
  done
  echo "scripts/test.sh: sanitizer passes: $(($(date +%s) - started)) s"
fi
# Every fuzz target (tests/fuzz/README.md) for 30 s under ASan+UBSan, two at
# a time, after their clang-14 build (build-fuzz/): about 8 minutes on two
# quiet cores (tests/fuzz/README.md). A finding fails CI; its input is in
# build-fuzz/findings/.
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
