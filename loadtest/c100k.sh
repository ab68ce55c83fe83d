#!/usr/bin/env bash
# c100k.sh: cogo-server (goroutine model) holds 100,000 concurrent
# connections for 30 s, with a request on every connection every 5 s, driven
# by cogo-load. Reports connections held, requests answered vs sent, server
# RSS (total and per connection, summed over the server's processes from
# /proc/PID/status VmRSS), server threads, and server CPU (utime + stime from
# /proc/PID/stat, before and after). Exits non-zero if fewer than N were held
# or any request went unanswered.
#
# One process may hold RLIMIT_NOFILE descriptors (20,000 here, a hard cap):
# the script runs `cogo-server --procs P` (P processes sharing the port with
# SO_REUSEPORT) with P the smallest whose limits fit N connections even when
# the kernel's hash spreads them unevenly, and cogo-load splits itself into
# worker processes the same way. More than one source address's ports
# (ip_local_port_range) to one server port: cogo-load binds 127.0.0.2,
# 127.0.0.3, ...
#
# usage: loadtest/c100k.sh [--connections N] [--hold D] [--interval D] [--port PORT]
#          [--ws] [--timeout SECONDS] [--out BASE] [--note TEXT] [--wait-quiet SECONDS]
#   --ws: WebSockets instead of keep-alive HTTP — cogo-load hold on
#   ws://.../ws/echo, a ping on each connection every interval, each pong's
#   payload checked (the report's "requests" are those round trips)
#   --timeout: cogo-load is stopped (and the run fails) after SECONDS (240)
#   defaults: 100000 connections, --hold 30s, --interval 5s, a free port,
#   --out loadtest/results/c100k-<UTC date>  (writes BASE.txt and BASE.json);
#   --note: a line recorded in both (what was special about this run)
#   --wait-quiet: first wait up to SECONDS for the machine to be idle (under
#   10% CPU busy over 3 s, twice in a row): the machine is shared
# Environment: COGO_BIN (default build/bin, a Release build; its binaries are
# copied first, so a rebuild meanwhile changes nothing).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$ROOT/loadtest/lib/common.sh"
COGO_BIN=${COGO_BIN:-$ROOT/build/bin}
N=100000
HOLD=30s
INTERVAL=5s
PORT=
NOTE=
WAIT_QUIET=0
OUT=
WS=0
TIMEOUT=240
FD_SPARE=100  # descriptors a server process keeps for itself (listener, epoll, stdio, ...)

while [[ $# -gt 0 ]]; do
  case $1 in
    --connections) N=$2; shift ;;
    --hold) HOLD=$2; shift ;;
    --interval) INTERVAL=$2; shift ;;
    --port) PORT=$2; shift ;;
    --ws) WS=1 ;;
    --timeout) TIMEOUT=$2; shift ;;
    --out) OUT=$2; shift ;;
    --note) NOTE=$2; shift ;;
    --wait-quiet) WAIT_QUIET=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag '$1' (see --help)" ;;
  esac
  shift
done
[[ $N =~ ^[0-9]+$ && $N -gt 0 ]] || die "--connections $N: not a positive number"
[[ -n $OUT ]] || OUT=$ROOT/loadtest/results/c100k$([[ $WS -eq 1 ]] && echo -ws)-$(date -u +%Y%m%d-%H%M%S)

for b in cogo-server cogo-load; do
  [[ -x $COGO_BIN/$b ]] || die "$COGO_BIN/$b not found — build it: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target cogo-server cogo-load"
done
PY=$(command -v python3) || die "python3 not found — apt-get install python3"

WORK=$(mktemp -d /tmp/c100k.XXXXXX)
cp "$COGO_BIN/cogo-server" "$COGO_BIN/cogo-load" "$WORK/"
SERVER_PID=
LOAD_PID=
SERVER_PIDS=()

# cleanup: every process this script started — the server's supervisor and
# its children by pid (they also get SIGTERM from the supervisor and from
# PR_SET_PDEATHSIG), cogo-load (its workers die with it: PR_SET_PDEATHSIG).
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $LOAD_PID ]]; then kill -KILL "$LOAD_PID" 2>/dev/null || true; fi
  if [[ -n $SERVER_PID ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    for p in "$SERVER_PID" "${SERVER_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$(dirname "$OUT")"
exec > >(tee "$OUT.txt") 2>&1

# ---------------------------------------------------------------------------
# The machine, the limits and the kernel settings this run depends on.

# busy_percent: how busy all cores were over the next 3 s.
busy_percent() {
  local a b
  a=$(awk '/^cpu / {printf "%.0f %.0f\n", $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat)
  sleep 3
  b=$(awk '/^cpu / {printf "%.0f %.0f\n", $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat)
  echo "$a $b" | awk '{printf "%.0f", ($3 - $1) * 100 / (($4 - $2) > 0 ? ($4 - $2) : 1)}'
}
if [[ $WAIT_QUIET -gt 0 ]]; then
  deadline=$(( SECONDS + WAIT_QUIET ))
  quiet=0
  while [[ $quiet -lt 2 && $SECONDS -lt $deadline ]]; do
    if [[ $(busy_percent) -lt 10 ]]; then quiet=$((quiet + 1)); else quiet=0; fi
  done
  [[ $quiet -ge 2 ]] || echo "c100k.sh: the machine did not become idle within $WAIT_QUIET s; running anyway" >&2
fi
BUSY_BEFORE=$(busy_percent)

read -r PORT_LOW PORT_HIGH < /proc/sys/net/ipv4/ip_local_port_range
SOMAXCONN=$(cat /proc/sys/net/core/somaxconn)
SYN_BACKLOG=$(cat /proc/sys/net/ipv4/tcp_max_syn_backlog)
FILE_MAX=$(cat /proc/sys/fs/file-max)
MAX_MAP_COUNT=$(cat /proc/sys/vm/max_map_count)
FD_HARD=$(ulimit -Hn)
ulimit -n "$FD_HARD"
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
CLK_TCK=$(getconf CLK_TCK)

# P: the smallest number of server processes whose descriptors fit N
# connections. SO_REUSEPORT hashes each connection's 4-tuple to a process, so
# the counts are binomial: mean N/P, standard deviation sqrt(N/P (1 - 1/P)).
# Six standard deviations of headroom make an overflow a one-in-a-billion event.
PROCS=$("$PY" - "$N" "$FD_HARD" "$FD_SPARE" <<'EOF'
import math, sys
n, hard, spare = map(int, sys.argv[1:])
for p in range(1, 1000):
    mean = n / p
    if mean + 6 * math.sqrt(mean * (1 - 1 / p)) + spare <= hard:
        print(p); break
EOF
)
[[ -n $PROCS ]] || die "no process count fits $N connections under RLIMIT_NOFILE $FD_HARD"
PER_PROC=$(( (N + PROCS - 1) / PROCS ))
# Ps per server process: the CPUs shared out (at least 1). More Ps than CPUs
# in all would only add idle Ms spinning for work.
CPUS=$(nproc)
SERVER_MAXPROCS=$(( CPUS / PROCS > 0 ? CPUS / PROCS : 1 ))

PORTS=$(( PORT_HIGH - PORT_LOW + 1 ))
# shellcheck disable=SC2017  # the same integer steps as cogo-load (options.cpp)
PER_SOURCE=$(( PORTS / 2 * 9 / 10 ))  # cogo-load's budget per source address (options.cpp)
SOURCES=$(( (N + PER_SOURCE - 1) / PER_SOURCE ))
CLIENT_PER_PROC=$(( FD_HARD - 100 ))
CLIENT_PROCS=$(( (N + CLIENT_PER_PROC - 1) / CLIENT_PER_PROC ))
DIAL_CONCURRENCY=256  # cogo-load's default: connects in flight per client process
[[ $(( DIAL_CONCURRENCY * CLIENT_PROCS )) -le $(( SOMAXCONN * PROCS )) ]] ||
  die "net.core.somaxconn $SOMAXCONN is below the connects in flight per listener; raise it"
[[ $FILE_MAX -gt $(( 3 * N )) ]] || die "fs.file-max $FILE_MAX is below the $((2 * N)) sockets (both ends) plus spare; raise it"

if [[ -z $PORT ]]; then
  PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
URL=http://127.0.0.1:$PORT/
[[ $WS -eq 0 ]] || URL=ws://127.0.0.1:$PORT/ws/echo

echo "c100k: $N concurrent $([[ $WS -eq 1 ]] && echo "WebSocket connections (idle in read(), a ping each every $INTERVAL)" || echo connections) held by cogo-server (goroutine model)"
echo "date          $(date -u +%Y-%m-%dT%H:%M:%SZ)   host $(uname -n), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
echo "revision      $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
echo "load average  $LOADAVG (before the run); all cores ${BUSY_BEFORE}% busy over the 3 s before it"
[[ -z $NOTE ]] || echo "note          $NOTE"
echo "fd limit      RLIMIT_NOFILE hard $FD_HARD per process (cannot be raised here)"
echo "              -> cogo-server --procs $PROCS: the smallest P with N/P + 6 sd of SO_REUSEPORT's spread + $FD_SPARE spare <= $FD_HARD (about $PER_PROC connections each)"
echo "              -> --maxprocs $SERVER_MAXPROCS: $CPUS CPUs shared by $PROCS processes"
echo "              -> cogo-load: $CLIENT_PROCS worker processes of at most $CLIENT_PER_PROC connections"
echo "sysctl        net.ipv4.ip_local_port_range $PORT_LOW $PORT_HIGH: $PORTS ports per (source, destination) pair;"
echo "              connect() searches one parity (half) of them first, so cogo-load puts at most $PER_SOURCE"
echo "              on one source address -> $SOURCES source address(es)$( [[ $SOURCES -gt 1 ]] && echo " (127.0.0.2 .. 127.0.0.$((SOURCES + 1)))"); not changed"
echo "              net.core.somaxconn $SOMAXCONN, net.ipv4.tcp_max_syn_backlog $SYN_BACKLOG: enough for $DIAL_CONCURRENCY connects in flight per client process; not changed"
echo "              fs.file-max $FILE_MAX, vm.max_map_count $MAX_MAP_COUNT: enough; not changed"

# ---------------------------------------------------------------------------
# The server

"$WORK/cogo-server" http --listen "127.0.0.1:$PORT" --procs "$PROCS" \
  --maxprocs "$SERVER_MAXPROCS" --log-level info \
  > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 200); do
  [[ $(grep -c "listening on" "$WORK/server.log" || true) -ge $PROCS ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; die "cogo-server exited"; }
  sleep 0.1
done
[[ $(grep -c "listening on" "$WORK/server.log" || true) -ge $PROCS ]] ||
  { cat "$WORK/server.log"; die "cogo-server did not start $PROCS processes in 20 s"; }
if [[ $PROCS -gt 1 ]]; then
  # shellcheck disable=SC2207
  SERVER_PIDS=($(cat /proc/"$SERVER_PID"/task/*/children))
fi
ALL_SERVER_PIDS=("$SERVER_PID" "${SERVER_PIDS[@]}")

# sample: "pid rss_kib threads cpu_ticks fds" for every server process.
sample() {
  local p
  for p in "${ALL_SERVER_PIDS[@]}"; do
    local rss="" threads="" cpu fds
    read -r rss threads _ < <(mem "$p") || true  # nothing if it is gone
    cpu=$(proc_cpu_ticks "$p" 2>/dev/null || echo 0)
    fds=$(find /proc/"$p"/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    echo "$p ${rss:-0} ${threads:-0} ${cpu:-0} $fds"
  done
}

sleep 1
sample > "$WORK/before.txt"

# ---------------------------------------------------------------------------
# The load: cogo-load hold, its progress line once a second into load.txt.
# The server is sampled every second; the last sample taken in the first half
# of the hold time (cogo-load's progress says "hold": every connection is
# open) is the "while holding" one, and the process fds then show how
# SO_REUSEPORT spread the connections. The largest total RSS seen at any time
# is kept too.

# timeout: the whole script ends even if connects hang (--timeout).
LOAD_CMD=(timeout -k 5 "$TIMEOUT" "$WORK/cogo-load" hold -c "$N" -d "$HOLD" --interval "$INTERVAL" --progress
          --json "$WORK/load.json" "$URL")
echo "command       cogo-load hold -c $N -d $HOLD --interval $INTERVAL --progress --json FILE $URL"
echo
# `times` line 2: user and system time of this shell's reaped children (run
# here, not in a subshell — a subshell's children are none of these).
# TCP counters of this network namespace (whole machine: other runs count too).
NSTAT_KEYS='TcpActiveOpens|TcpAttemptFails|TcpExtListenOverflows|TcpExtListenDrops|TcpExtTCPSynRetrans|TcpExtTCPTimeouts|TcpExtTCPAbortOnData|TcpRetransSegs'
nstat_sample() { nstat -asz 2>/dev/null | grep -E "^($NSTAT_KEYS) " | awk '{print $1, $2}' || true; }
nstat_sample > "$WORK/nstat0.txt"
MACHINE0=$(cpu_busy_ticks cpu)  # the CPU time (all cores, in ticks) the machine spent busy
times > "$WORK/times0.txt"
START=$(date +%s.%N)
"${LOAD_CMD[@]}" > "$WORK/load.txt" 2>&1 &
LOAD_PID=$!
HOLD_HALF=$(awk -v d="$HOLD" 'BEGIN {
  v = d + 0; u = d; sub(/^[0-9.]+/, "", u)
  print (u == "m" ? v * 60 : u == "ms" ? v / 1000 : v) / 2 }')
peak=0
hold_seen=
while kill -0 "$LOAD_PID" 2>/dev/null; do
  holding=0
  if tail -n 1 "$WORK/load.txt" | grep -q '^ *[0-9.]*s hold '; then
    now=$(date +%s.%N)
    [[ -n $hold_seen ]] || hold_seen=$now
    holding=$(awk -v a="$hold_seen" -v b="$now" -v h="$HOLD_HALF" 'BEGIN {print (b - a <= h) ? 1 : 0}')
  fi
  sample > "$WORK/now.txt"
  total=$(awk '{s += $2} END {print s}' "$WORK/now.txt")
  [[ $total -gt $peak ]] && peak=$total
  if [[ $holding -eq 1 ]]; then
    cp "$WORK/now.txt" "$WORK/holding.txt"
    cat /proc/net/sockstat > "$WORK/sockstat.txt"
  fi
  sleep 1
done
LOAD_RC=0
wait "$LOAD_PID" || LOAD_RC=$?
LOAD_PID=
END=$(date +%s.%N)
sample > "$WORK/after.txt"
MACHINE1=$(cpu_busy_ticks cpu)
nstat_sample > "$WORK/nstat1.txt"
times > "$WORK/times1.txt"
echo "$(( MACHINE1 - MACHINE0 ))" > "$WORK/machine.txt"
# The progress every 5 s, then cogo-load's table.
awk '/^ *[0-9.]+s (ramp|hold|close) / { if (n++ % 5 == 0) print; next } { print }' "$WORK/load.txt"
[[ $LOAD_RC -ne 124 && $LOAD_RC -ne 137 ]] || die "cogo-load did not finish within $TIMEOUT s"
[[ -s $WORK/load.json ]] || die "cogo-load wrote no report (exit status $LOAD_RC)"
[[ -s $WORK/holding.txt ]] || die "no server sample was taken during the hold time"
echo "$peak" > "$WORK/peak.txt"

# ---------------------------------------------------------------------------
# The report

"$PY" - "$WORK" "$OUT.json" "$N" "$PROCS" "$CLK_TCK" "$LOAD_RC" "$START" "$END" "$LOADAVG" \
  "$PORT_LOW $PORT_HIGH" "$SOMAXCONN" "$SYN_BACKLOG" "$FD_HARD" "$SOURCES" "$URL" \
  "$HOLD" "$INTERVAL" "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)" "$NOTE" \
  "$BUSY_BEFORE" "$SERVER_MAXPROCS" <<'EOF'
import json, sys, time
(work, out, n, procs, clk, load_rc, start, end, loadavg, port_range, somaxconn, syn_backlog,
 fd_hard, sources, url, hold, interval, rev, note, busy_before, server_maxprocs) = sys.argv[1:]
n, procs, clk, load_rc, fd_hard = int(n), int(procs), int(clk), int(load_rc), int(fd_hard)

def table(name):
    rows = {}
    for line in open(f"{work}/{name}.txt"):
        pid, rss, threads, cpu, fds = map(int, line.split())
        rows[pid] = dict(rss_kib=rss, threads=threads, cpu_ticks=cpu, fds=fds)
    return rows

before, holding, after = table("before"), table("holding"), table("after")
rss_peak = int(open(f"{work}/peak.txt").read())
machine_s = int(open(f"{work}/machine.txt").read()) / clk
def children_seconds(name):  # "0m1.5s 0m0.2s" on line 2 of `times`
    import re
    line = open(f"{work}/{name}").read().splitlines()[1]
    return sum(float(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", line))
client_s = children_seconds("times1.txt") - children_seconds("times0.txt")
load = json.load(open(f"{work}/load.json"))
sockstat = open(f"{work}/sockstat.txt").read() if __import__("os").path.exists(f"{work}/sockstat.txt") else ""
c, r = load["connections"], load["requests"]
held = c["held"]
rss_before = sum(p["rss_kib"] for p in before.values())
rss_holding = sum(p["rss_kib"] for p in holding.values())
threads = sum(p["threads"] for p in holding.values())
cpu_s = sum(after[p]["cpu_ticks"] - before[p]["cpu_ticks"] for p in before if p in after) / clk
wall = float(end) - float(start)
per_conn_delta = (rss_holding - rss_before) * 1024 / held if held else 0
per_conn_total = rss_holding * 1024 / held if held else 0
ok = held >= n and r["sent"] == r["answered"] and r["sent"] > 0 and load_rc == 0
g = lambda v: f"{v:,}"

print()
print("server        %d processes (1 supervisor + %d serving, SO_REUSEPORT)" % (len(before), procs) if procs > 1 else "server        1 process")
print("  %-8s %10s %10s %10s %8s %12s" % ("pid", "conns", "RSS before", "RSS held", "threads", "CPU s"))
for pid in before:
    h, b, a = holding.get(pid, before[pid]), before[pid], after.get(pid, before[pid])
    print("  %-8d %10s %9.1fM %9.1fM %8d %12.2f" % (pid, g(max(h["fds"] - b["fds"], 0)), b["rss_kib"] / 1024,
          h["rss_kib"] / 1024, h["threads"], (a["cpu_ticks"] - b["cpu_ticks"]) / clk))
print("  %-8s %10s %9.1fM %9.1fM %8d %12.2f" % ("total", g(sum(max(holding.get(p, before[p])["fds"] - before[p]["fds"], 0) for p in before)),
      rss_before / 1024, rss_holding / 1024, threads, cpu_s))
print("RSS           %.1f MiB while holding %s connections (%.1f MiB before): %.0f bytes per connection added, %.0f bytes per connection in all"
      % (rss_holding / 1024, g(held), rss_before / 1024, per_conn_delta, per_conn_total))
print("              (largest total RSS seen at any sample: %.1f MiB)" % (rss_peak / 1024))
if sockstat:
    tcp = [l for l in sockstat.splitlines() if l.startswith("TCP:")]
    if tcp: print("kernel        /proc/net/sockstat while holding (both ends, the whole machine): " + tcp[0])
print("CPU           %.2f s user+system in the server over the %.1f s run (ramp %.2f s, hold %.2f s)"
      % (cpu_s, wall, load["ramp_seconds"], load["duration_seconds"]))
print("machine       %.2f s of CPU busy on all cores over the run: server %.2f s, cogo-load %.2f s, everything else %.2f s"
      % (machine_s, cpu_s, client_s, max(machine_s - cpu_s - client_s, 0)))
def nstat(name):
    try:
        return {k: int(v) for k, v in (l.split() for l in open(f"{work}/{name}") if l.strip())}
    except OSError:
        return {}
n0, n1 = nstat("nstat0.txt"), nstat("nstat1.txt")
tcp_delta = {k: n1[k] - n0.get(k, 0) for k in n1}
if tcp_delta:
    print("tcp           during the run (machine-wide): " + ", ".join(f"{k.replace('TcpExt', '')} {g(v)}" for k, v in tcp_delta.items()))
print("requests      sent %s, answered %s, unanswered %s, errors %s" % (g(r["sent"]), g(r["answered"]), g(r["unanswered"]), g(load["error_count"])))
verdict = "PASS" if ok else "FAIL"
why = (f"held {g(held)} >= {g(n)}, every request answered" if ok else
       f"held {g(held)} of {g(n)}, {g(r['unanswered'])} unanswered, cogo-load exit {load_rc}")
print(f"result        {verdict}: {why}")

report = {
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(start))),
    "revision": rev,
    "note": note,
    "pass": ok,
    "connections_target": n,
    "hold": hold, "interval": interval, "url": url,
    "load_average_before": loadavg,
    "cpu_busy_percent_before": int(busy_before),
    "limits": {"rlimit_nofile_hard": fd_hard, "server_procs": procs, "server_maxprocs": int(server_maxprocs),
               "server_procs_reason": "smallest P with N/P + 6 sd (SO_REUSEPORT spread) + spare <= RLIMIT_NOFILE"},
    "sysctl": {"ip_local_port_range": port_range, "somaxconn": int(somaxconn),
               "tcp_max_syn_backlog": int(syn_backlog), "source_addresses": int(sources)},
    "server": {
        "processes": [{"pid": p, "before": before[p], "holding": holding.get(p), "after": after.get(p)} for p in before],
        "rss_before_kib": rss_before, "rss_holding_kib": rss_holding, "rss_peak_kib": rss_peak,
        "rss_per_connection_added_bytes": round(per_conn_delta, 1),
        "rss_per_connection_total_bytes": round(per_conn_total, 1),
        "threads": threads, "cpu_seconds": round(cpu_s, 3),
    },
    "wall_seconds": round(wall, 3),
    "machine_cpu_busy_seconds": round(machine_s, 3),
    "cogo_load_cpu_seconds": round(client_s, 3),
    "other_cpu_seconds": round(max(machine_s - cpu_s - client_s, 0), 3),
    "kernel_sockstat_holding": sockstat,
    "tcp_counters_delta": tcp_delta,
    "cogo_load": load,
    "cogo_load_exit_status": load_rc,
}
json.dump(report, open(out, "w"), indent=2)
sys.exit(0 if ok else 1)
EOF
