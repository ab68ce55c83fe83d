#!/usr/bin/env bash
# timer_lateness.sh: how late runtime timers fire on the P that armed them
# and across Ps, in a Release and a TSan build side by side, on the machine
# as it is and then beside CPU hogs (issue 10: is the ~10 ms cross-P
# lateness seen under TSan the sanitizer or a real wake-up delay?).
#
# usage: loadtest/timer_lateness.sh [--release DIR] [--tsan DIR] [--hogs N]
#                                   [-- args...]
#
# Builds cogo-timer-lateness in DIR (default build and build-tsan, configured
# as Release and as RelWithDebInfo with COGO_SANITIZE=thread if missing),
# then runs each twice, interleaved (Release, TSan, Release, TSan), first as
# the machine is, then beside N `yes > /dev/null` hogs (default 2; 0 skips;
# killed by PID on exit). Prints the load average before each part and the
# program's lines: per P count, scenario (staggered, random, busy, hog) and
# class (same-P, cross-P): samples, early, p50/p90/p99/max lateness in µs,
# and poller_overslept (moments an M blocked in the poller past the earliest
# timer of any P; must be 0). See runtime/demo/timer_lateness_main.cpp.
# args go to the program (default: --rounds 20 --sleepers 5 --procs 1,2).
# Takes about a minute once built.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
source loadtest/lib/common.sh

RELEASE=build
TSAN=build-tsan
HOGS=2
ARGS=(--rounds 20 --sleepers 5 --procs '1,2')
while [[ $# -gt 0 ]]; do
  case $1 in
    --release) RELEASE=${2:?--release takes a directory}; shift 2 ;;
    --tsan) TSAN=${2:?--tsan takes a directory}; shift 2 ;;
    --hogs)
      [[ ${2:-} =~ ^[0-9]+$ ]] || die "--hogs takes a count, got '${2:-}'"
      HOGS=$2; shift 2 ;;
    --) shift; ARGS=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag '$1' (see --help)" ;;
  esac
done

[[ -f $RELEASE/CMakeCache.txt ]] || cmake -S . -B "$RELEASE" -DCMAKE_BUILD_TYPE=Release >/dev/null
[[ -f $TSAN/CMakeCache.txt ]] ||
  cmake -S . -B "$TSAN" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOGO_SANITIZE=thread -DCOGO_BUILD_BENCH=OFF >/dev/null
for dir in "$RELEASE" "$TSAN"; do
  cmake --build "$dir" -j"$(nproc)" --target cogo-timer-lateness >/dev/null ||
    die "building cogo-timer-lateness in $dir failed"
done

HOG_PIDS=()
stop_hogs() {
  local pid
  for pid in "${HOG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${HOG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  HOG_PIDS=()
}
trap stop_hogs EXIT

status=0
# runs LABEL: both builds, twice, interleaved.
runs() {
  echo "## $1 (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  local round dir
  for round in 1 2; do
    for dir in "$RELEASE" "$TSAN"; do
      echo "== $dir (round $round)"
      TSAN_OPTIONS="halt_on_error=1" "$dir/bin/cogo-timer-lateness" "${ARGS[@]}" || status=1
    done
  done
}

runs "as the machine is"
if ((HOGS > 0)); then
  for ((i = 0; i < HOGS; i++)); do
    yes >/dev/null &
    HOG_PIDS+=($!)
  done
  sleep 1
  runs "beside $HOGS CPU hogs"
  stop_hogs
fi
((status == 0)) || die "a timer fired early or the poller overslept (see above)"
