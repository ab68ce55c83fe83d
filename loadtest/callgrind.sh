#!/usr/bin/env bash
# callgrind.sh: instructions per request of a cogo-server, the repeatable
# figure for "this change costs nothing" (BENCH.md). Wall time on this VM
# moves by 15-40%; instruction counts do not.
#
# usage: loadtest/callgrind.sh [--server BIN] [--load BIN] [-c C] [--path P]
#                              [--short D] [--long D] [-- server flags...]
#
# Runs the server twice under `valgrind --tool=callgrind` (goroutine model,
# COGO_MAXPROCS=1), loads it with cogo-load for --short and then --long
# seconds, and prints the marginal cost:
#   (Ir_long - Ir_short) / (requests_long - requests_short)
# so start-up and shutdown cancel out. Defaults: build/bin/cogo-server,
# build/bin/cogo-load, -c 50, GET /, --short 3s, --long 8s.
# Compare two builds by running it for each (same C, same durations).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
source loadtest/lib/common.sh

SERVER=build/bin/cogo-server
LOAD=build/bin/cogo-load
CONNS=50
URL_PATH=/
SHORT=3
LONG=8
EXTRA=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --server) SERVER=$2; shift 2 ;;
    --load) LOAD=$2; shift 2 ;;
    -c) CONNS=$2; shift 2 ;;
    --path) URL_PATH=$2; shift 2 ;;
    --short) SHORT=${2%s}; shift 2 ;;
    --long) LONG=${2%s}; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag '$1' (see --help)" ;;
  esac
done
need valgrind valgrind
[[ -x $SERVER ]] || die "$SERVER not found — build it first"
[[ -x $LOAD ]] || die "$LOAD not found — build it first"
(( LONG > SHORT )) || die "--long must be longer than --short"

WORK=$(mktemp -d /tmp/cogo-callgrind.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# one_run SECONDS: prints "IR REQUESTS".
one_run() {
  local secs=$1 port pid ir reqs
  port=$(( 20000 + RANDOM % 20000 ))
  while port_busy "$port"; do port=$(( 20000 + RANDOM % 20000 )); done
  COGO_MAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$secs" \
    "$SERVER" --listen "127.0.0.1:$port" --log-level warn "${EXTRA[@]}" \
    >"$WORK/server.$secs.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null "http://127.0.0.1:$port$URL_PATH" && break
    sleep 0.1
  done
  "$LOAD" load -c "$CONNS" -d "${secs}s" --no-progress --json "$WORK/load.$secs.json" \
    "http://127.0.0.1:$port$URL_PATH" >/dev/null || die "cogo-load failed (see $WORK)"
  kill -TERM "$pid"
  wait "$pid" || true
  # The file's own total (summary: or totals:), all threads, events Ir.
  ir=$(awk '/^(summary|totals):/ {print $2}' "$WORK/cg.$secs" | tail -n 1)
  reqs=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["requests"]["answered"])' "$WORK/load.$secs.json")
  echo "$ir $reqs"
}

read -r ir1 req1 < <(one_run "$SHORT")
read -r ir2 req2 < <(one_run "$LONG")
(( req2 > req1 )) || die "the long run answered no more requests than the short one ($req2 <= $req1)"
awk -v a="$ir1" -v b="$ir2" -v r1="$req1" -v r2="$req2" -v s="$SERVER" 'BEGIN {
  printf "%s: %.0f instructions per request (runs: %d req / %.0f Ir, %d req / %.0f Ir)\n", s, (b - a) / (r2 - r1), r1, a, r2, b }'
