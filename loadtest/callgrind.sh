#!/usr/bin/env bash
# callgrind.sh: instructions per request of a cogo-server, the repeatable
# figure for "this change costs nothing" (BENCH.md). Wall time on this VM
# moves by 15-40%; instruction counts do not.
#
# usage: loadtest/callgrind.sh [--server BIN] [--load BIN] [-c C] [--path P]
#                              [--short D] [--long D] [--metrics]
#                              [-- server flags...]
#
# Runs the server twice under `valgrind --tool=callgrind` (goroutine model,
# COGO_MAXPROCS=1), loads it with cogo-load for --short and then --long
# seconds, and prints the marginal cost:
#   (Ir_long - Ir_short) / (requests_long - requests_short)
# so start-up and shutdown cancel out. Defaults: build/bin/cogo-server,
# build/bin/cogo-load, -c 50, GET /, --short 3s, --long 8s.
# Compare two builds by running it for each (same C, same durations).
#
# --metrics: the request metrics on (--admin-listen 127.0.0.1:0 unless the
# server flags name an admin listener) and a second line, the metrics
# middleware's own instructions per request and its share of the above:
#   (M_long - M_short) / (calls_long - calls_short), where M is the
#   middleware's inclusive Ir minus that of its calls to next() (the rest of
#   the chain and the handler), from callgrind_annotate --inclusive=yes.
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
METRICS=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --server) SERVER=$2; shift 2 ;;
    --load) LOAD=$2; shift 2 ;;
    -c) CONNS=$2; shift 2 ;;
    --path) URL_PATH=$2; shift 2 ;;
    --short) SHORT=${2%s}; shift 2 ;;
    --long) LONG=${2%s}; shift 2 ;;
    --metrics) METRICS=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag '$1' (see --help)" ;;
  esac
done
need valgrind valgrind
[[ -x $SERVER ]] || die "$SERVER not found — build it first"
[[ -x $LOAD ]] || die "$LOAD not found — build it first"
(( LONG > SHORT )) || die "--long must be longer than --short"
if (( METRICS )); then
  need callgrind_annotate valgrind
  [[ " ${EXTRA[*]} " == *" --no-metrics "* ]] && die "--metrics with the server flag --no-metrics: nothing to measure"
  [[ " ${EXTRA[*]} " == *" --admin-listen"* ]] || EXTRA+=(--admin-listen 127.0.0.1:0)
fi

WORK=$(mktemp -d /tmp/cogo-callgrind.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# metrics_ir FILE: prints "IR CALLS" for the metrics middleware in the
# callgrind output FILE: its function's inclusive Ir less its calls to
# next(), and how often it was called. The function is the std::function
# _M_invoke the lambda is inlined into (or the lambda's operator(), when it
# is not); its callees of the Handler signature are next().
metrics_ir() {
  callgrind_annotate --inclusive=yes --tree=both --threshold=100 --show-percs=no --auto=no \
    "$1" >"$1.annotated" || die "callgrind_annotate $1 failed"
  python3 - "$1.annotated" <<'PY'
import re, sys

# "  1,234  *  file:function [object]", callers "<" before it, callees ">"
# after it with "(Nx)" calls; blocks end at a line of another form.
LINE = re.compile(r'^\s*([\d,]+)\s+([<>*])\s+(.*?)(?: \(([\d,]+)x\))? \[[^\[\]]*\]$')
MW = 'cogo::middleware::metrics(cogo::middleware::MetricsOptions)::{lambda('
NEXT = 'std::_Function_handler<void (cogo::http::Request&, cogo::http::Response&),'

blocks, block = [], []
for line in open(sys.argv[1]):
    m = LINE.match(line.rstrip('\n'))
    if m is None:
        if block:
            blocks.append(block)
        block = []
        continue
    ir, kind, name, calls = m.groups()
    block.append((kind, name, int(ir.replace(',', '')), int((calls or '0').replace(',', ''))))
if block:
    blocks.append(block)

# The middleware's functions (not _M_manager: std::function copying or
# destroying the lambda), by name; the outer one is called from outside them.
mine = {}
for b in blocks:
    star = [e for e in b if e[0] == '*']
    if len(star) == 1 and MW in star[0][1] and '_M_manager(' not in star[0][1]:
        mine[star[0][1]] = b

def next_ir(name):
    # next_ir: the Ir of next() called from name, or from the middleware's
    # functions it calls (the lambda's operator(), when it is not inlined).
    return sum(e[2] if NEXT in e[1] else next_ir(e[1])
               for e in mine[name] if e[0] == '>' and (NEXT in e[1] or e[1] in mine))

found = []
for name, b in mine.items():
    callers = [e for e in b if e[0] == '<' and e[1] not in mine]
    if callers:
        incl = next(e[2] for e in b if e[0] == '*')
        found.append((incl - next_ir(name), sum(e[3] for e in callers)))
if len(found) != 1:
    sys.exit(f'callgrind.sh: {len(found)} metrics middleware functions in {sys.argv[1]} (want 1)')
print(*found[0])
PY
}

# one_run SECONDS: prints "IR REQUESTS", and with --metrics "MW_IR MW_CALLS".
one_run() {
  local secs=$1 port pid ir reqs
  port=$(free_port)
  COGO_MAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$secs" \
    "$SERVER" --listen "127.0.0.1:$port" --log-level warn "${EXTRA[@]}" \
    >"$WORK/server.$secs.log" 2>&1 &
  pid=$!
  # valgrind starts slowly, the more so on a loaded machine (over 60 s at
  # a load average of 20): wait for the first answer up to 300 s.
  local deadline=$((SECONDS + 300))
  until curl -fs -o /dev/null "http://127.0.0.1:$port$URL_PATH"; do
    kill -0 "$pid" 2>/dev/null || die "the server under valgrind exited: $(cat "$WORK/server.$secs.log")"
    (( SECONDS < deadline )) || { kill -TERM "$pid"; die "the server under valgrind did not answer on port $port within 300 s"; }
    sleep 0.2
  done
  "$LOAD" load -c "$CONNS" -d "${secs}s" --no-progress --json "$WORK/load.$secs.json" \
    "http://127.0.0.1:$port$URL_PATH" >/dev/null || { kill -TERM "$pid"; die "cogo-load failed (see $WORK)"; }
  kill -TERM "$pid"
  wait "$pid" || true
  # The file's own total (summary: or totals:), all threads, events Ir.
  ir=$(awk '/^(summary|totals):/ {print $2}' "$WORK/cg.$secs" | tail -n 1)
  reqs=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["requests"]["answered"])' "$WORK/load.$secs.json")
  if (( METRICS )); then
    echo "$ir $reqs $(metrics_ir "$WORK/cg.$secs")"
  else
    echo "$ir $reqs"
  fi
}

read -r ir1 req1 mw1 calls1 < <(one_run "$SHORT")
read -r ir2 req2 mw2 calls2 < <(one_run "$LONG")
[[ -n ${req1:-} && -n ${req2:-} ]] || die "a run gave no figures (see the messages above)"
(( req2 > req1 )) || die "the long run answered no more requests than the short one ($req2 <= $req1)"
awk -v a="$ir1" -v b="$ir2" -v r1="$req1" -v r2="$req2" -v s="$SERVER" 'BEGIN {
  printf "%s: %.0f instructions per request (runs: %d req / %.0f Ir, %d req / %.0f Ir)\n", s, (b - a) / (r2 - r1), r1, a, r2, b }'
if (( METRICS )); then
  [[ -n ${calls1:-} && -n ${calls2:-} ]] || die "no metrics middleware figures (see the messages above)"
  (( calls2 > calls1 )) || die "the metrics middleware ran no more often in the long run ($calls2 <= $calls1)"
  awk -v a="$mw1" -v b="$mw2" -v c1="$calls1" -v c2="$calls2" \
    -v all="$(awk -v a="$ir1" -v b="$ir2" -v r1="$req1" -v r2="$req2" 'BEGIN { print (b - a) / (r2 - r1) }')" 'BEGIN {
    own = (b - a) / (c2 - c1)
    printf "metrics middleware: %.0f instructions per request, %.1f%% of %.0f (its inclusive Ir less that of next(); runs: %d calls / %.0f Ir, %d calls / %.0f Ir)\n", own, 100 * own / all, all, c1, a, c2, b }'
fi
