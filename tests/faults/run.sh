#!/usr/bin/env bash
# run.sh: every fault test at full size, in both connection models — what
# ctest runs as Fault* with smaller, bounded sizes (tests/CMakeLists.txt).
#
# usage: tests/faults/run.sh [--server BIN] [--model goroutine|thread|both]
#
# Runs each tests/faults/*.py with its own defaults (5,000 slowloris
# connections, 1,000 uploads, 1,500 reset batches, ...), then
# graceful_shutdown.py with --procs 2; prints each one's figures and how long
# it took, and exits 1 if any failed (all of them run). Takes about 10
# minutes on a 2-core VM. Figures from a run: README, "Faults, overload and
# soak".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVER=$HERE/../../build/bin/cogo-server
MODELS=(goroutine thread)
while [[ $# -gt 0 ]]; do
  case $1 in
    --server) SERVER=$2; shift 2 ;;
    --model)
      case $2 in
        both) MODELS=(goroutine thread) ;;
        goroutine | thread) MODELS=("$2") ;;
        *) echo "run.sh: --model: '$2' is not goroutine, thread or both" >&2; exit 2 ;;
      esac
      shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown flag '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -x $SERVER ]] || { echo "run.sh: $SERVER not found: cmake --build build --target cogo-server" >&2; exit 2; }

failed=()
run() {
  local name=$1 start=$SECONDS
  shift
  echo "== $name"
  if /usr/bin/python3 "$@" --server "$SERVER"; then
    echo "== $name: passed in $((SECONDS - start)) s"
  else
    echo "== $name: FAILED after $((SECONDS - start)) s"
    failed+=("$name")
  fi
}
for model in "${MODELS[@]}"; do
  for script in fd_exhaustion slowloris killed_clients pipeline_resets slow_reader hostile_memory \
    graceful_shutdown crash_restart; do
    run "$script ($model)" "$HERE/$script.py" --model "$model"
  done
done
run "graceful_shutdown (--procs 2)" "$HERE/graceful_shutdown.py" --procs 2
if ((${#failed[@]})); then
  echo "run.sh: ${#failed[@]} failed: ${failed[*]}"
  exit 1
fi
echo "run.sh: all passed"
