#!/usr/bin/env bash
# tests/fuzz/run.sh: builds the libFuzzer targets (clang-14, ASan+UBSan, in
# build-fuzz/) and runs each for a bounded time, from its committed seed
# corpus plus what earlier runs found (build-fuzz/corpus/<target>/).
#
#   bash tests/fuzz/run.sh                       every target, 60 s each
#   bash tests/fuzz/run.sh --seconds 300 http1   one target, 5 minutes
#   bash tests/fuzz/run.sh --hours 1 --jobs 2    every target for an hour, two at a time
#
# Exits 1 if any target finds something: the input that failed is kept in
# build-fuzz/findings/<target>/ (crash-*, leak-*, timeout-*, oom-*) and the
# target's output in build-fuzz/logs/<target>.log; reproduce with
#   build-fuzz/bin/<target>_fuzz build-fuzz/findings/<target>/crash-...
# A target is tests/fuzz/<target>_fuzz.cpp; its dictionary is
# tests/fuzz/<target>.dict if there is one, else tests/fuzz/http.dict.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=60
jobs=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --hours) seconds=$(awk -v h="$2" 'BEGIN { printf "%d", h * 3600 }'); shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "tests/fuzz/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "tests/fuzz/run.sh: --seconds/--hours: '$seconds' is not a positive number of seconds" >&2
  exit 2
fi
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/*_fuzz.cpp; do
    t=$(basename "$f" _fuzz.cpp)
    targets+=("$t")
  done
fi
for t in "${targets[@]}"; do
  if [ ! -f "tests/fuzz/${t}_fuzz.cpp" ]; then
    echo "tests/fuzz/run.sh: no target '$t' (tests/fuzz/${t}_fuzz.cpp)" >&2
    exit 2
  fi
done
for tool in clang-14 clang++-14; do
  if ! command -v "$tool" >/dev/null; then
    echo "tests/fuzz/run.sh: $tool not found: run scripts/setup.sh (clang-14, libclang-rt-14-dev)" >&2
    exit 2
  fi
done

dir=build-fuzz
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$dir" -DCOGO_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DCOGO_BUILD_BENCH=OFF \
  "${launcher[@]}" >/dev/null
build_targets=()
for t in "${targets[@]}"; do build_targets+=("${t}_fuzz"); done
cmake --build "$dir" -j"$(nproc)" --target "${build_targets[@]}"

mkdir -p "$dir/logs"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14
[ -x "$ASAN_SYMBOLIZER_PATH" ] || unset ASAN_SYMBOLIZER_PATH

# run_one() fuzzes target t for $seconds and prints one line about it.
run_one() {
  local t="$1"
  local corpus="$dir/corpus/$t" findings="$dir/findings/$t" log="$dir/logs/$t.log"
  local dict="tests/fuzz/$t.dict"
  [ -f "$dict" ] || dict=tests/fuzz/http.dict
  mkdir -p "$corpus" "$findings"
  local seeds=()
  [ -d "tests/fuzz/corpus/$t" ] && seeds=("tests/fuzz/corpus/$t")
  local rc=0
  "$dir/bin/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -dict="$dict" -artifact_prefix="$findings/" -print_final_stats=1 \
    "$corpus" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  local runs execs units
  runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
  execs=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$log")
  units=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    echo "FINDING $t (exit $rc) after ${runs:-?} runs: $(ls -t "$findings" | head -1) — see $log"
    grep -m3 -E "ERROR|fuzz property failed|runtime error" "$log" | sed 's/^/    /' || true
    return 1
  fi
  echo "ok $t: ${runs:-?} runs in ${seconds}s, ${execs:-?} exec/s, corpus $units inputs, no finding"
}

status=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do
  wait "$p" || status=1
done
if [ "$status" -ne 0 ]; then
  echo "tests/fuzz/run.sh: a target found something (inputs in $dir/findings/)" >&2
fi
exit "$status"
