#!/usr/bin/env bash
# ws_compare.sh: WebSocket figures (issue 14) under ../shared/BENCH.md's
# protocol — cogo-server's /ws/echo (goroutine model, one P) beside
# Boost.Beast with asio::spawn (loadtest/baselines/beast-ws, built here from
# Debian's Boost headers) and Node's ws (loadtest/baselines/node-ws, npm ci
# into a cache outside the repository).
#
#   echo     cogo-load ws -c 100 --size 32 for --duration against each server
#            (server on core 0, cogo-load on core 1), interleaved for
#            --rounds rounds, plain and with permessage-deflate (the same
#            zlib settings everywhere: level 6, memLevel 8, 15-bit windows,
#            context takeover, every message compressed): messages/s and
#            server CPU per message (utime+stime of the server / messages
#            answered in the window). Medians over the rounds and of the
#            per-round ratios to Beast and to Node; as load conditions, the
#            server's share of a core and how busy cores 0 and 1 were.
#   memory   --n idle WebSockets (one ping each when they connect, then
#            nothing: every server is waiting in its read) held by cogo-load
#            hold: (VmRSS holding - VmRSS before) / N per server, the
#            marginal cost: "before" is taken after a warm-up of 20
#            WebSockets that connect, ping and close (one-time costs, such as
#            OpenSSL 3 setting up its provider on the first handshake's
#            SHA-1 — 2 MiB in cogo — or a runtime's first buffers, are
#            reported apart as warm_up_kib, for every server alike); then with
#            permessage-deflate and context takeover, one compressed message
#            each way per connection first (zlib's state allocated both
#            ways), the same for every server.
#
# usage: loadtest/ws_compare.sh [--rounds R] [--duration D] [--n N]
#          [--servers "cogo beast node"] [--parts "echo memory"] [--out DIR]
# Output: a table on stdout and loadtest/results/ws-<date>.json.
# Needs: build/bin/cogo-server and cogo-load (Release), g++ with
# libboost1.81-dev and libboost-context1.81-dev, node and npm
# (`bash scripts/setup.sh loadtest`), 2 cores. Environment: COGO_SERVER,
# COGO_LOAD (defaults in build/bin), NODE_WS_CACHE (where npm ci installs ws;
# default ~/.cache/cogo-node-ws), BEAST_WS_CACHE (where the Beast server is
# built, once per source; default ~/.cache/cogo-beast-ws).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$ROOT/loadtest/lib/common.sh"
COGO_SERVER=${COGO_SERVER:-$ROOT/build/bin/cogo-server}
COGO_LOAD=${COGO_LOAD:-$ROOT/build/bin/cogo-load}
NODE_WS_CACHE=${NODE_WS_CACHE:-$HOME/.cache/cogo-node-ws}
BEAST_WS_CACHE=${BEAST_WS_CACHE:-$HOME/.cache/cogo-beast-ws}
ROUNDS=3
DURATION=10s
CONNS=100
SIZE=32
N=10000
SERVERS="cogo beast node"
PARTS="echo memory"
OUT_DIR=$ROOT/loadtest/results

while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) ROUNDS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --n) N=$2; shift ;;
    --servers) SERVERS=$2; shift ;;
    --parts) PARTS=$2; shift ;;
    --out) OUT_DIR=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag '$1' (see --help)" ;;
  esac
  shift
done

need_cogo_server
[[ -x $COGO_LOAD ]] || die "$COGO_LOAD not found — cmake --build build --target cogo-load"
need taskset util-linux
need ss iproute2
[[ $(nproc --all) -ge 2 ]] || die "needs 2 cores (server on core 0, cogo-load on core 1)"
[[ $N -le 19000 ]] || die "--n $N: one server process and one cogo-load process under the 20000 fd cap; use 19000 or fewer"
raise_fd_limit 20000
make_scratch cogo-ws
snapshot_cogo_server
cp "$COGO_LOAD" "$WORK/cogo-load"
COGO_LOAD=$WORK/cogo-load

# The peers.
if [[ " $SERVERS " == *" beast "* ]]; then
  need g++ build-essential
  [[ -f /usr/include/boost/beast/websocket.hpp ]] || die "Boost.Beast not found — apt-get install libboost1.81-dev libboost-context1.81-dev"
  # Built once per source (and compiler) into a cache outside the repository:
  # a rerun measures at once, and a run under nice -n -20 compiles nothing.
  beast_src=$ROOT/loadtest/baselines/beast-ws/server.cpp
  beast_key=$( (cat "$beast_src"; g++ --version) | sha256sum | cut -c1-16)
  BEAST_BIN=$BEAST_WS_CACHE/beast-ws-server-$beast_key
  if [[ ! -x $BEAST_BIN ]]; then
    note "building loadtest/baselines/beast-ws (g++ -O3 -DNDEBUG, as cogo's Release build) into $BEAST_WS_CACHE"
    mkdir -p "$BEAST_WS_CACHE"
    g++ -O3 -DNDEBUG -std=c++20 "$beast_src" -o "$BEAST_BIN.tmp" -lboost_context -lz -pthread ||
      die "building the Beast server failed"
    mv "$BEAST_BIN.tmp" "$BEAST_BIN"
  fi
  cp "$BEAST_BIN" "$WORK/beast-ws-server"
fi
if [[ " $SERVERS " == *" node "* ]]; then
  need node nodejs
  need npm npm
  mkdir -p "$NODE_WS_CACHE"
  cp "$ROOT/loadtest/baselines/node-ws/package.json" "$ROOT/loadtest/baselines/node-ws/package-lock.json" "$NODE_WS_CACHE/"
  (cd "$NODE_WS_CACHE" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
    die "npm ci in $NODE_WS_CACHE failed"
fi

declare -A PORT
for s in $SERVERS; do
  p=$(free_port)
  while [[ " ${PORT[*]} " == *" $p "* ]]; do p=$(free_port); done
  PORT[$s]=$p
done

# start_ws NAME DEFLATE(0|1): NAME on core 0 on its port; SERVER_PID.
start_ws() {
  local name=$1 deflate=$2 port=${PORT[$1]} log=$WORK/$1.log
  port_busy "$port" && die "port $port (for $name) is in use"
  case $name in
    cogo)
      local extra=()
      [[ $deflate == 1 ]] && extra=(--ws-deflate)
      taskset -c 0 "$COGO_SERVER" http --listen "127.0.0.1:$port" --maxprocs 1 --log-level warn \
        --shutdown-grace 1s "${extra[@]}" >"$log" 2>&1 &
      ;;
    beast)
      taskset -c 0 "$WORK/beast-ws-server" "$port" "$([[ $deflate == 1 ]] && echo deflate)" >"$log" 2>&1 &
      ;;
    node)
      NODE_PATH=$NODE_WS_CACHE/node_modules taskset -c 0 node "$ROOT/loadtest/baselines/node-ws/server.js" \
        "$port" "$([[ $deflate == 1 ]] && echo deflate)" >"$log" 2>&1 &
      ;;
    *) die "unknown server $name" ;;
  esac
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited at start: $(tail -5 "$log")"
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  die "$name did not listen on 127.0.0.1:$port within 10 s"
}

established() { ss -Htn state established "sport = :$1" | wc -l; }

TICK_HZ=$(getconf CLK_TCK)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"

# echo_run NAME DEFLATE ROUND: one closed-loop run; appends a JSON line.
echo_run() {
  local name=$1 deflate=$2 round=$3 flags=() json=$WORK/echo-$1-$2-$3.json
  [[ $deflate == 1 ]] && flags=(--deflate)
  start_ws "$name" "$deflate"
  local before after t0 t1 core0 core1 core0_end core1_end
  before=$(cpu_ticks "$SERVER_PID")
  core0=$(cpu_busy_ticks cpu0)
  core1=$(cpu_busy_ticks cpu1)
  t0=$(date +%s.%N)
  taskset -c 1 "$COGO_LOAD" ws -c "$CONNS" -d "$DURATION" --size "$SIZE" "${flags[@]}" --json "$json" \
    "ws://127.0.0.1:${PORT[$name]}/ws/echo" >"$WORK/echo-$name-$deflate-$round.txt" 2>&1 ||
    note "$name: cogo-load reported errors (see $WORK/echo-$name-$deflate-$round.txt)"
  t1=$(date +%s.%N)
  after=$(cpu_ticks "$SERVER_PID")
  core0_end=$(cpu_busy_ticks cpu0)
  core1_end=$(cpu_busy_ticks cpu1)
  stop_server "$name"
  # Load conditions: the server's share of a core over the run (handshakes
  # included), and how busy cores 0 and 1 were with everything on them.
  python3 - "$json" "$name" "$deflate" "$round" "$((after - before))" "$TICK_HZ" "$t0" "$t1" \
    "$((core0_end - core0))" "$((core1_end - core1))" >>"$RESULTS" <<'EOF'
import json, sys
path, name, deflate, rnd, ticks, hz, t0, t1, busy0, busy1 = sys.argv[1:]
r = json.load(open(path))
answered = r["requests"]["answered"]
hz, wall = int(hz), float(t1) - float(t0)
cpu_us = int(ticks) / hz * 1e6
print(json.dumps({"part": "echo", "server": name, "deflate": deflate == "1", "round": int(rnd),
                  "messages_per_second": r["requests_per_second"], "answered": answered,
                  "errors": r["error_count"], "server_cpu_us_per_message": cpu_us / max(answered, 1),
                  "p50_us": r["latency"]["p50_ns"] / 1e3, "p99_us": r["latency"]["p99_ns"] / 1e3,
                  "wall_s": wall, "server_core_share": int(ticks) / hz / wall,
                  "core0_busy": int(busy0) / hz / wall, "core1_busy": int(busy1) / hz / wall}))
EOF
}

# memory_run NAME DEFLATE: N idle WebSockets; appends a JSON line.
memory_run() {
  local name=$1 deflate=$2 flags=() port=${PORT[$1]}
  [[ $deflate == 1 ]] && flags=(--deflate --ws-send message)
  start_ws "$name" "$deflate"
  sleep 1
  local start before holding
  read -r start _ < <(mem "$SERVER_PID")
  taskset -c 1 "$COGO_LOAD" hold -c 20 -d 2s --interval 1s "${flags[@]}" \
    "ws://127.0.0.1:$port/ws/echo" >"$WORK/warmup-$name-$deflate.txt" 2>&1 ||
    note "$name: the warm-up reported errors (see $WORK/warmup-$name-$deflate.txt)"
  for _ in $(seq 50); do
    [[ $(established "$port") -eq 0 ]] && break
    sleep 0.2
  done
  sleep 1
  read -r before _ < <(mem "$SERVER_PID")
  taskset -c 1 "$COGO_LOAD" hold -c "$N" -d 20s --interval 600s "${flags[@]}" \
    "ws://127.0.0.1:$port/ws/echo" >"$WORK/memory-$name-$deflate.txt" 2>&1 &
  local load=$!
  STARTED+=("$load")
  for _ in $(seq 600); do
    [[ $(established "$port") -ge $N ]] && break
    sleep 0.2
  done
  sleep 3
  read -r holding threads vsize < <(mem "$SERVER_PID")
  local conns
  conns=$(established "$port")
  wait "$load" || note "$name: cogo-load hold reported errors (see $WORK/memory-$name-$deflate.txt)"
  stop_server "$name"
  echo "{\"part\": \"memory\", \"server\": \"$name\", \"deflate\": $([[ $deflate == 1 ]] && echo true || echo false), \"connections\": $conns, \"rss_start_kib\": $start, \"warm_up_kib\": $((before - start)), \"rss_before_kib\": $before, \"rss_holding_kib\": $holding, \"threads\": $threads, \"vsize_kib\": $vsize, \"bytes_per_connection\": $(((holding - before) * 1024 / N))}" >>"$RESULTS"
}

if [[ " $PARTS " == *" echo "* ]]; then
  for deflate in 0 1; do
    for round in $(seq "$ROUNDS"); do
      for s in $SERVERS; do
        note "echo: $s deflate=$deflate round $round/$ROUNDS"
        echo_run "$s" "$deflate" "$round"
      done
    done
  done
fi
if [[ " $PARTS " == *" memory "* ]]; then
  for deflate in 0 1; do
    for s in $SERVERS; do
      note "memory: $s deflate=$deflate, $N connections"
      memory_run "$s" "$deflate"
    done
  done
fi

mkdir -p "$OUT_DIR"
OUT=$OUT_DIR/ws-$(date -u +%Y%m%dT%H%M%SZ).json
python3 - "$RESULTS" "$OUT" "$GIT_REV" "$DURATION" "$CONNS" "$SIZE" "$N" <<'EOF'
import json, statistics, sys
path, out, rev, duration, conns, size, n = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if l.strip()]
print(f"WebSocket figures at {rev}: echo of {size}-byte messages, {conns} connections, {duration} per run; "
      f"memory with {n} idle connections")
for deflate in (False, True):
    echo = [r for r in rows if r["part"] == "echo" and r["deflate"] == deflate]
    if not echo:
        continue
    print(f"\necho, permessage-deflate {'on' if deflate else 'off'} (medians over rounds; ratios: to Beast, Node in the same round;"
          f" server %: its share of a core; core0/1 %: busy with everything)")
    print(f"  {'server':8} {'messages/s':>12} {'CPU us/msg':>11} {'p50 us':>9} {'p99 us':>9} {'x Beast msg/s':>14} {'x Beast CPU':>12}"
          f" {'x Node msg/s':>13} {'server %':>9} {'core0 %':>8} {'core1 %':>8}")
    for s in dict.fromkeys(r["server"] for r in echo):
        mine = [r for r in echo if r["server"] == s]
        ratios, cpu_ratios, node_ratios = [], [], []
        for r in mine:
            b = [x for x in echo if x["server"] == "beast" and x["round"] == r["round"]]
            if b:
                ratios.append(r["messages_per_second"] / b[0]["messages_per_second"])
                cpu_ratios.append(r["server_cpu_us_per_message"] / b[0]["server_cpu_us_per_message"])
            nd = [x for x in echo if x["server"] == "node" and x["round"] == r["round"]]
            if nd:
                node_ratios.append(r["messages_per_second"] / nd[0]["messages_per_second"])
        med = lambda k: statistics.median(r[k] for r in mine)
        print(f"  {s:8} {med('messages_per_second'):12,.0f} {med('server_cpu_us_per_message'):11.2f} "
              f"{med('p50_us'):9.0f} {med('p99_us'):9.0f} "
              f"{statistics.median(ratios) if ratios else float('nan'):14.2f} "
              f"{statistics.median(cpu_ratios) if cpu_ratios else float('nan'):12.2f} "
              f"{statistics.median(node_ratios) if node_ratios else float('nan'):13.2f} "
              f"{100 * med('server_core_share'):9.0f} {100 * med('core0_busy'):8.0f} {100 * med('core1_busy'):8.0f}")
mem = [r for r in rows if r["part"] == "memory"]
if mem:
    print(f"\nmemory per idle WebSocket ({n} connections, after a warm-up of 20 that came and went; "
          f"deflate: one compressed message each way first)")
    print(f"  {'server':8} {'deflate':8} {'held':>7} {'bytes/conn':>11} {'KiB/conn':>9} {'threads':>8} "
          f"{'warm-up KiB':>12}")
    for r in mem:
        print(f"  {r['server']:8} {'on' if r['deflate'] else 'off':8} {r['connections']:7} "
              f"{r['bytes_per_connection']:11,} {r['bytes_per_connection'] / 1024:9.2f} {r['threads']:8} "
              f"{r.get('warm_up_kib', 0):12,}")
json.dump({"revision": rev, "duration": duration, "connections": int(conns), "message_size": int(size),
           "memory_connections": int(n), "runs": rows}, open(out, "w"), indent=2)
print(f"\n(written to {out})")
EOF
