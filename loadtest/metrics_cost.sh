#!/usr/bin/env bash
# metrics_cost.sh: what the request metrics (middleware::metrics, on with
# --admin-listen) cost per request — cogo-server with them against the same
# binary with --no-metrics, both with the admin listener.
#
# usage: loadtest/metrics_cost.sh [--server BIN] [--rounds R] [-c C] [-d SECS]
#                                 [--callgrind-rounds N] [--json FILE]
#
#   1. wrk, BENCH.md's way: the server on core 0 (one P), `wrk -t1 -c C`
#      on core 1 for SECS on plaintext GET /, with and without the metrics
#      interleaved (on off on off ...) for R rounds. Per run: requests/s and
#      the server's CPU per request (utime+stime from /proc/PID/stat over
#      the run, divided by the requests wrk counted). Prints each run, the
#      medians, and the median of the per-round ratios on/off.
#   2. callgrind (loadtest/callgrind.sh, user-space instructions per
#      request, repeatable where wall time is not), N rounds interleaved;
#      prints each figure and the medians.
# Defaults: build/bin/cogo-server, R=5, C=1000, SECS=10, N=3. The issue's
# bound: CPU/req ratio at most 1.05 at c=1000. Takes about
# 2*R*(SECS+3) s + N*2 min. Needs wrk and valgrind (scripts/setup.sh loadtest).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source loadtest/lib/common.sh

COGO_SERVER=build/bin/cogo-server
ROUNDS=5
CONNS=1000
SECS=10
CG_ROUNDS=3
JSON=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --server) COGO_SERVER=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -c) CONNS=$2; shift 2 ;;
    -d) SECS=${2%s}; shift 2 ;;
    --callgrind-rounds) CG_ROUNDS=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag '$1' (see --help)" ;;
  esac
done
need wrk wrk
need_cogo_server
raise_fd_limit "$(ulimit -Hn)"
make_scratch cogo-metrics-cost
snapshot_cogo_server
note "cogo-server $GIT_REV (build id ${BUILD_ID:0:12}), $ROUNDS rounds of wrk -t1 -c$CONNS -d${SECS}s, $CG_ROUNDS callgrind rounds"

# one_wrk on|off: prints "rps cpu_us_per_req".
one_wrk() {
  local mode=$1 port admin pid t0 t1 reqs extra=()
  port=$(free_port)
  admin=$(free_port)
  while [[ $admin == "$port" ]]; do admin=$(free_port); done
  [[ $mode == off ]] && extra=(--no-metrics)
  taskset -c 0 "$COGO_SERVER" --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" \
    --maxprocs 1 --log-level warn --shutdown-grace 1s "${extra[@]}" >"$WORK/server.$mode.log" 2>&1 &
  pid=$!
  STARTED+=("$pid")
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null || die "cogo-server exited: $(cat "$WORK/server.$mode.log")"
  wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$port/" >/dev/null 2>&1 || true  # warm: connections, pages
  t0=$(proc_cpu_ticks "$pid")
  taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" --timeout 10s "http://127.0.0.1:$port/" >"$WORK/wrk.$mode" 2>&1 ||
    die "wrk failed: $(cat "$WORK/wrk.$mode")"
  t1=$(proc_cpu_ticks "$pid")
  # The metrics were (or were not) there: the admin port says so.
  if [[ $mode == on ]]; then
    curl -fs "http://127.0.0.1:$admin/metrics" | grep '^cogo_http_requests_total{' >/dev/null || die "no request metrics with --admin-listen"
  else
    ! curl -fs "http://127.0.0.1:$admin/metrics" | grep '^cogo_http_requests_total{' >/dev/null || die "request metrics despite --no-metrics"
  fi
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk.$mode")
  awk -v r="$reqs" -v s="$SECS" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.0f %.3f\n", r / s, t / hz * 1e6 / r }'
}

declare -a RPS_ON RPS_OFF CPU_ON CPU_OFF RATIO
for r in $(seq 1 "$ROUNDS"); do
  read -r rps_on cpu_on < <(one_wrk on)
  read -r rps_off cpu_off < <(one_wrk off)
  RPS_ON+=("$rps_on"); RPS_OFF+=("$rps_off"); CPU_ON+=("$cpu_on"); CPU_OFF+=("$cpu_off")
  RATIO+=("$(awk -v a="$cpu_on" -v b="$cpu_off" 'BEGIN { printf "%.4f", a / b }')")
  printf 'round %d: metrics on %s req/s %s us/req | off %s req/s %s us/req | CPU/req ratio %s\n' \
    "$r" "$rps_on" "$cpu_on" "$rps_off" "$cpu_off" "${RATIO[-1]}"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -a IR_ON IR_OFF
for r in $(seq 1 "$CG_ROUNDS"); do
  IR_ON+=("$(bash loadtest/callgrind.sh --server "$COGO_SERVER" -- --admin-listen 127.0.0.1:0 | awk '{print $2}')")
  IR_OFF+=("$(bash loadtest/callgrind.sh --server "$COGO_SERVER" -- --admin-listen 127.0.0.1:0 --no-metrics | awk '{print $2}')")
  printf 'callgrind round %d: metrics on %s Ir/req | off %s Ir/req\n' "$r" "${IR_ON[-1]}" "${IR_OFF[-1]}"
done

echo
printf 'wrk -c%s, %s rounds, medians: on %s req/s %s us/req; off %s req/s %s us/req; CPU/req ratio (median of rounds) %s\n' \
  "$CONNS" "$ROUNDS" "$(median "${RPS_ON[@]}")" "$(median "${CPU_ON[@]}")" "$(median "${RPS_OFF[@]}")" \
  "$(median "${CPU_OFF[@]}")" "$(median "${RATIO[@]}")"
if (( CG_ROUNDS > 0 )); then
  on=$(median "${IR_ON[@]}")
  off=$(median "${IR_OFF[@]}")
  printf 'callgrind, %s rounds, medians: on %s Ir/req, off %s Ir/req (+%s, ratio %s)\n' "$CG_ROUNDS" \
    "$on" "$off" "$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.0f", a - b }')" \
    "$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')"
fi
if [[ -n $JSON ]]; then
  python3 - "$JSON" "$GIT_REV" "$CONNS" "$SECS" "${RATIO[*]}" "${CPU_ON[*]}" "${CPU_OFF[*]}" \
    "${RPS_ON[*]}" "${RPS_OFF[*]}" "${IR_ON[*]:-}" "${IR_OFF[*]:-}" <<'PY'
import json, sys
f, rev, c, secs, ratio, con, coff, ron, roff, iron, iroff = sys.argv[1:]
nums = lambda s: [float(x) for x in s.split()]
json.dump({"rev": rev, "connections": int(c), "seconds": int(secs), "cpu_ratio": nums(ratio),
           "cpu_us_per_req": {"on": nums(con), "off": nums(coff)},
           "rps": {"on": nums(ron), "off": nums(roff)},
           "ir_per_req": {"on": nums(iron), "off": nums(iroff)}}, open(f, "w"), indent=2)
PY
fi
