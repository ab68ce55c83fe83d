#!/usr/bin/env bash
# soak.sh: cogo-server under mixed traffic for M minutes, watched for leaks.
#
# usage: loadtest/soak.sh [--minutes M] [--server BIN] [--load BIN] [--model goroutine|thread]
#                         [--keepalive N] [--ws N] [--warmup S] [--plot] [--out DIR]
#
# One cogo-server (--listen, --tls-listen with a throwaway certificate,
# --admin-listen: the request metrics on) and, at a steady pace:
#   keep-alive  cogo-load hold: N connections (default 200), a GET / on each
#               every 200 ms (1,000 req/s), every answer checked
#   fresh, pipelined, upload, download, tls
#               loadtest/lib/soak.py's clients (see its header: new
#               connections, 16-deep pipelined batches, 256 KiB uploads
#               echoed back, 4 MiB streamed downloads, TLS handshakes,
#               new WebSockets with the close handshake)
#   websocket   cogo-load hold on ws://.../ws/echo: N WebSockets (--ws,
#               default 100; 0: none) for the whole run, a 32-byte message
#               on each every 200 ms (500 msg/s), every echo checked
# Every 10 s: the server's RSS, open fds, goroutines and the p99 of its
# request-duration histogram over those 10 s. Fails (exit 1) on any client
# error, on cogo-load's unclean exit, on a server that does not exit 0 on
# SIGTERM, or when RSS, fds or goroutines grow faster than soak.py's bounds
# (2 MiB, 2 and 5 per minute: a least-squares slope over the samples after
# the warm-up, a fifth of the run; runs under 10 minutes: 4 MiB/min after
# 45 s, since the heap still settles). The slopes are judged when a minute
# or more of samples follows the warm-up (runs of 2 minutes and up); a
# shorter run checks for errors only.
#
# Output in --out (default loadtest/results): soak-<stamp>.tsv (the samples),
# soak-<stamp>.json (summary, slopes, verdict) and with --plot (gnuplot)
# soak-<stamp>.png: RSS, fds, goroutines and p99 against time.
# ctest runs `--minutes 0.5` (SoakShort: errors only, about 45 s); the
# leak check needs `--minutes 2` or more (the README's "Faults, overload
# and soak").
set -Eeuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$ROOT/loadtest/lib/common.sh"

MINUTES=60
COGO_SERVER=$ROOT/build/bin/cogo-server
LOAD=$ROOT/build/bin/cogo-load
MODEL=goroutine
KEEPALIVE=200
WS_CONNS=100
WARMUP=""
PLOT=0
OUT_DIR=$ROOT/loadtest/results
while [[ $# -gt 0 ]]; do
  case $1 in
    --minutes) MINUTES=$2; shift 2 ;;
    --server) COGO_SERVER=$2; shift 2 ;;
    --load) LOAD=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --keepalive) KEEPALIVE=$2; shift 2 ;;
    --ws) WS_CONNS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --plot) PLOT=1; shift ;;
    --out) OUT_DIR=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag '$1' (see --help)" ;;
  esac
done
[[ $MINUTES =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--minutes: '$MINUTES' is not a number of minutes"
[[ $WS_CONNS =~ ^[0-9]+$ ]] || die "--ws: '$WS_CONNS' is not a number of connections"
need_cogo_server
[[ -x $LOAD ]] || die "$LOAD not found — build it: cmake --build build --target cogo-load"
need openssl openssl
[[ $PLOT == 0 ]] || need gnuplot gnuplot-nox
raise_fd_limit "$(ulimit -Hn)"
make_scratch cogo-soak
snapshot_cogo_server
mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
SECONDS_TOTAL=$(awk -v m="$MINUTES" 'BEGIN { printf "%d", m * 60 }')

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1 ||
  die "openssl could not make a certificate"
"$COGO_SERVER" --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 --tls-cert "$WORK/cert.pem" \
  --tls-key "$WORK/key.pem" --admin-listen 127.0.0.1:0 --model "$MODEL" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
STARTED+=("$SERVER_PID")
for _ in $(seq 1 200); do grep -q "listening on" "$WORK/server.log" && break; sleep 0.1; done
line=$(grep "listening on" "$WORK/server.log") || die "cogo-server did not start: $(tail -5 "$WORK/server.log")"
port=$(grep -o '127.0.0.1:[0-9]* (http)' <<<"$line" | cut -d: -f2 | cut -d' ' -f1)
tls_port=$(grep -o '127.0.0.1:[0-9]* (https)' <<<"$line" | cut -d: -f2 | cut -d' ' -f1)
admin=$(grep -o '127.0.0.1:[0-9]* (admin)' <<<"$line" | cut -d: -f2 | cut -d' ' -f1)
note "cogo-server $GIT_REV ($MODEL model) on :$port, https :$tls_port, admin :$admin; $MINUTES min"

# cogo-load holds 10 s longer than the sampler samples: the last sample
# still sees every client.
"$LOAD" hold -c "$KEEPALIVE" --interval 200ms -d "$((SECONDS_TOTAL + 10))s" --no-progress \
  --json "$WORK/hold.json" "http://127.0.0.1:$port/" >"$WORK/hold.out" 2>&1 &
LOAD_PID=$!
STARTED+=("$LOAD_PID")
WS_PID=""
if [[ $WS_CONNS != 0 ]]; then
  "$LOAD" hold -c "$WS_CONNS" --interval 200ms --ws-send message -d "$((SECONDS_TOTAL + 10))s" \
    --no-progress --json "$WORK/ws-hold.json" "ws://127.0.0.1:$port/ws/echo" >"$WORK/ws-hold.out" 2>&1 &
  WS_PID=$!
  STARTED+=("$WS_PID")
fi

rc=0
/usr/bin/python3 "$ROOT/loadtest/lib/soak.py" --port "$port" --tls-port "$tls_port" --admin "$admin" \
  --pid "$SERVER_PID" --seconds "$SECONDS_TOTAL" ${WARMUP:+--warmup "$WARMUP"} \
  --tsv "$OUT_DIR/soak-$STAMP.tsv" --json "$OUT_DIR/soak-$STAMP.json" || rc=1

# reap_hold PID OUTPUT PREFIX WHAT: waits for a cogo-load hold, prints its
# report and fails the run if it exited unclean.
reap_hold() {
  local hold_rc=0
  wait "$1" || hold_rc=$?
  sed "s/^/  $3| /" "$2"
  if [[ $hold_rc != 0 ]]; then
    note "cogo-load hold$4 exited $hold_rc: requests or messages went unanswered or failed"
    rc=1
  fi
}
reap_hold "$LOAD_PID" "$WORK/hold.out" "" ""
[[ -z $WS_PID ]] || reap_hold "$WS_PID" "$WORK/ws-hold.out" "ws " " (WebSocket)"
kill -TERM "$SERVER_PID"
server_rc=0
wait "$SERVER_PID" || server_rc=$?
if [[ $server_rc != 0 ]]; then
  note "cogo-server exited $server_rc on SIGTERM: $(tail -5 "$WORK/server.log")"
  rc=1
fi
if grep -qE ' (error|critical) ' "$WORK/server.log"; then
  note "the server logged errors:"
  grep -m 10 -E ' (error|critical) ' "$WORK/server.log" >&2 || true
  rc=1
fi

if [[ $PLOT == 1 ]]; then
  gnuplot <<GP
set terminal pngcairo size 1200,900 font ",10"
set output "$OUT_DIR/soak-$STAMP.png"
set multiplot layout 2,2 title "cogo-server soak, $MINUTES min, $MODEL model, $GIT_REV (loadtest/soak.sh)"
set xlabel "minutes"
set grid
set key off
set title "RSS (MiB)"
plot "$OUT_DIR/soak-$STAMP.tsv" using 1:2 with linespoints pt 7 ps 0.4
set title "open fds"
plot "$OUT_DIR/soak-$STAMP.tsv" using 1:3 with linespoints pt 7 ps 0.4
set title "goroutines"
plot "$OUT_DIR/soak-$STAMP.tsv" using 1:4 with linespoints pt 7 ps 0.4
set title "p99 over each 10 s (ms): new-connection GET / round trip; the handlers' (server)"
set key top right
plot "$OUT_DIR/soak-$STAMP.tsv" using 1:8 with linespoints pt 7 ps 0.4 title "client", \
     "" using 1:5 with linespoints pt 7 ps 0.4 title "server"
unset multiplot
GP
  note "charts: $OUT_DIR/soak-$STAMP.png"
fi
note "samples: $OUT_DIR/soak-$STAMP.tsv, summary: $OUT_DIR/soak-$STAMP.json"
[[ $rc == 0 ]] && note "passed" || note "FAILED"
exit $rc
