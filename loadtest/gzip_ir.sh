#!/usr/bin/env bash
# gzip_ir.sh: user-space instructions per request of cogo-server and nginx
# serving static.sh's gzip64k (GET /static/64k.json, 65,536 bytes of JSON,
# Accept-Encoding: gzip, level 6, compressed per request): the repeatable
# twin of static.sh's CPU/req figure (callgrind counts the same on a loaded
# VM; the hardware counters perf would read are not there in this VM).
#
# usage: loadtest/gzip_ir.sh [--servers "cogo nginx"] [-n REQUESTS] [-c C]
#                            [--callgrind-out DIR] [--syscalls]
#
# Each server runs under `valgrind --tool=callgrind`, one process (cogo:
# --model goroutine --maxprocs 1 --static --compress gzip; nginx:
# loadtest/baselines/nginx/static.conf with master_process off). After 20
# warm-up requests the counters are zeroed (callgrind_control -z), cogo-load
# sends REQUESTS (default 400) in C (default 10) keep-alive connections,
# each connection a fixed share, and the counters are dumped: Ir / REQUESTS.
# Printed per server: Ir/req in all, in zlib (deflate*, longest_match, ...:
# libz.so) and outside zlib. --callgrind-out keeps the dumps for
# callgrind_annotate.
#
# --syscalls: the kernel's side instead (what callgrind does not see): each
# server runs natively, after the warm-up `strace -f` attaches to it
# (nginx: its one process), REQUESTS are sent and each system call's count
# per request is printed, with the total (timed-out futex waits, a periodic
# tick, apart).
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$ROOT/loadtest/lib/common.sh"
COGO_SERVER=${COGO_SERVER:-$ROOT/build/bin/cogo-server}
SERVERS="cogo nginx"
REQUESTS=400
CONNS=10
KEEP_DIR=""
SYSCALLS=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --servers) SERVERS=$2; shift ;;
    -n) REQUESTS=$2; shift ;;
    -c) CONNS=$2; shift ;;
    --callgrind-out) KEEP_DIR=$2; shift ;;
    --syscalls) SYSCALLS=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag '$1' (see --help)" ;;
  esac
  shift
done
if ((SYSCALLS)); then
  need strace strace
else
  need valgrind valgrind
  need callgrind_control valgrind
  need callgrind_annotate valgrind
fi
need curl curl
wanted nginx && need nginx nginx-light
need_cogo_server
(( REQUESTS % CONNS == 0 )) || die "-n $REQUESTS is not a multiple of -c $CONNS"

make_scratch cogo-gzip-ir
chmod 755 "$WORK"
FILES=$WORK/files
mkdir -p "$FILES"
make_json64k "$FILES/64k.json"
URL_PATH=/static/64k.json

# requests PORT N C: N gzip requests in C keep-alive curl processes (each
# a fixed N/C, so the count is exact), every answer checked for gzip.
requests() {
  local port=$1 n=$2 c=$3 i urls=() pids=()
  for ((i = 0; i < n / c; i++)); do urls+=("http://127.0.0.1:$port$URL_PATH"); done
  for ((i = 0; i < c; i++)); do
    curl -sf -H 'Accept-Encoding: gzip' -o /dev/null -w '%{http_code} %header{content-encoding}\n' \
      "${urls[@]}" >"$WORK/curl.$i" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || die "curl failed"; done
  local got
  got=$(cat "$WORK"/curl.* | grep -c '^200 gzip$' || true)
  [[ $got == "$n" ]] || die "$got of $n answers were 200 with Content-Encoding: gzip"
}

# launch NAME PORT WRAPPER...: starts server NAME on PORT under WRAPPER
# (valgrind's command line, or none), waits until it answers and sends the
# warm-up; sets SERVER_PID.
SERVER_PID=""
launch() {
  local name=$1 port=$2
  shift 2
  case $name in
    cogo)
      "$@" "$COGO_SERVER" http --listen "127.0.0.1:$port" --model goroutine --maxprocs 1 \
        --log-level warn --shutdown-grace 1s --static "$FILES" --compress gzip \
        >"$WORK/$name.log" 2>&1 &
      ;;
    nginx)
      mkdir -p "$WORK/nginx/logs" "$WORK/nginx/temp"
      { echo "master_process off;"
        sed -e "s|@ROOT@|$FILES|" -e "s|@PORT@|$port|" "$ROOT/loadtest/baselines/nginx/static.conf"
      } >"$WORK/nginx.conf"
      "$@" nginx -e stderr -p "$WORK/nginx" -c "$WORK/nginx.conf" >"$WORK/$name.log" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  local deadline=$((SECONDS + 300))
  until curl -fs -o /dev/null "http://127.0.0.1:$port$URL_PATH"; do
    kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited: $(tail -5 "$WORK/$name.log")"
    (( SECONDS < deadline )) || die "$name did not answer on port $port in 300 s"
    sleep 0.2
  done
  requests "$port" 20 1
  rm -f "$WORK"/curl.*
}

# measure NAME: prints "NAME IR_PER_REQ ZLIB_PER_REQ".
measure() {
  local name=$1 port pid out=$WORK/cg.$1
  port=$(free_port)
  launch "$name" "$port" valgrind --tool=callgrind --callgrind-out-file="$out.%p"
  pid=$SERVER_PID
  callgrind_control -z "$pid" >/dev/null 2>&1
  requests "$port" "$REQUESTS" "$CONNS"
  rm -f "$WORK"/curl.*
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill -TERM "$pid"
  wait "$pid" || true
  # The dump after the zeroing is the highest-numbered part file.
  local dump
  dump=$(find "$WORK" -name "cg.$name.$pid.[0-9]*" | sort -t. -k4 -n | tail -n 1)
  [[ -n $dump ]] || die "no callgrind dump for $name"
  [[ -n $KEEP_DIR ]] && { mkdir -p "$KEEP_DIR"; cp "$dump" "$KEEP_DIR/callgrind.$name"; }
  local total zlib
  total=$(awk '/^(summary|totals):/ {print $2}' "$dump" | tail -n 1)
  zlib=$(callgrind_annotate --threshold=100 --show-percs=no "$dump" |
    awk '/libz\.so/ { gsub(",", "", $1); s += $1 } END { printf "%.0f\n", s }')
  echo "$name $((total / REQUESTS)) $((zlib / REQUESTS))"
}

# syscalls NAME: prints NAME's system calls per request, one "NAME CALL
# PER_REQ" line each (most first), then "NAME total PER_REQ". A futex wait
# that timed out is a periodic tick (cogo's sysmon, 100 a second while
# busy), not work per request: counted apart, as "futex-tick", and left out
# of the total (how many there are depends on how long the run took).
syscalls() {
  local name=$1 port pid tracer out=$WORK/strace.$1
  port=$(free_port)
  launch "$name" "$port"
  pid=$SERVER_PID
  strace -f -qq -o "$out" -p "$pid" 2>"$WORK/strace.$name.log" &
  tracer=$!
  STARTED+=("$tracer")
  # strace has attached once the server's calls show up in its output.
  local deadline=$((SECONDS + 30))
  until [[ -s $out ]]; do
    (( SECONDS < deadline )) || die "strace did not attach to $name"
    curl -fs -o /dev/null "http://127.0.0.1:$port/" || true
    sleep 0.2
  done
  sleep 0.5
  local skip
  skip=$(wc -l <"$out")
  requests "$port" "$REQUESTS" "$CONNS"
  rm -f "$WORK"/curl.*
  kill -INT "$tracer"
  wait "$tracer" || true
  kill -TERM "$pid"
  wait "$pid" || true
  # One call per line: "PID name(args) = result", or split around another
  # thread's call as "PID name(args <unfinished ...>" and "PID <... name
  # resumed>" (counted once, at the start).
  tail -n +"$((skip + 1))" "$out" | awk -v name="$name" -v n="$REQUESTS" '
    /resumed>/ || /^[0-9]+ +(\+\+\+|---)/ { next }
    {
      call = $2; sub(/\(.*/, "", call)
      if (call == "futex" && /ETIMEDOUT/) call = "futex-tick"
      count[call]++
      if (call != "futex-tick") total++
    }
    END {
      for (c in count) printf "%s %s %.2f\n", name, c, count[c] / n
      printf "%s total %.2f\n", name, total / n
    }' | sort -k3,3 -rn
}

if ((SYSCALLS)); then
  printf '%-6s %-16s %10s\n' server syscall "per req"
  for s in $SERVERS; do
    while read -r name call per; do
      printf '%-6s %-16s %10s\n' "$name" "$call" "$per"
    done < <(syscalls "$s")
  done
  exit 0
fi

printf '%-6s %12s %12s %12s\n' server "Ir/req" "zlib Ir/req" "other Ir/req"
for s in $SERVERS; do
  read -r name ir zl < <(measure "$s")
  printf '%-6s %12s %12s %12s\n' "$name" "$ir" "$zl" "$((ir - zl))"
done
