#!/usr/bin/env bash
# memory.sh: memory per connection (issue 4), under ../shared/BENCH.md's
# protocol, for cogo's goroutine model beside its thread model (and nginx and
# Go net/http for reference, where installed).
#
#   idle    open N keep-alive connections, send one GET / on each, read the
#           answers, keep the connections open:
#           (VmRSS while holding - VmRSS before) / N      target <= 2 KiB
#   parked  N concurrent GET /sleep?ms=20000, every handler parked mid-request
#           (no answer has arrived when the sample is taken):
#           (VmRSS while parked - VmRSS before) / N       target <= 8 KiB
#   For every server also its thread count and VmSize while holding.
#
# A fresh server per measurement on core 0 (taskset -c 0; cogo with
# --maxprocs 1); the clients, a small Python program in a separate process,
# on core 1. "before" is sampled after a warm-up (100 connections, one request
# each, closed) and a 1 s pause; "holding" 2 s after the last answer (idle) or
# 2 s after the last request was sent (parked). Sums over the server's
# processes (nginx: master + worker).
#
# usage: loadtest/memory.sh [--quick] [--n N] [--sleep-ms MS]
#          [--servers "goroutine thread nginx go"] [--modes "idle parked"] [--out DIR]
#   --quick  N=1000, 5 s sleeps (a smoke test; results named *-quick*)
# Output: a table on stdout and loadtest/results/memory-<date>.json.
# Environment: COGO_SERVER (default build/bin/cogo-server, a Release build; copied
# first, so a rebuild meanwhile changes nothing), COGO_REV (the revision it was
# built from, recorded in the JSON; default `git describe --dirty`).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COGO_SERVER=${COGO_SERVER:-$ROOT/build/bin/cogo-server}
N=10000
SLEEP_MS=20000
QUICK=0
SERVERS="goroutine thread nginx go"
MODES="idle parked"
OUT_DIR=$ROOT/loadtest/results

die() { echo "memory.sh: $*" >&2; exit 1; }
note() { echo "memory.sh: $*" >&2; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1; N=1000; SLEEP_MS=5000 ;;
    --n) N=$2; shift ;;
    --sleep-ms) SLEEP_MS=$2; shift ;;
    --servers) SERVERS=$2; shift ;;
    --modes) MODES=$2; shift ;;
    --out) OUT_DIR=$2; shift ;;
    -h|--help) sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown flag '$1' (see --help)" ;;
  esac
  shift
done

[[ -x $COGO_SERVER ]] || die "$COGO_SERVER not found — build it: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target cogo-server"
command -v python3 >/dev/null || die "python3 not found — apt-get install python3"
command -v taskset >/dev/null || die "taskset not found — apt-get install util-linux"
[[ $(nproc --all) -ge 2 ]] || die "needs 2 cores (server on core 0, clients on core 1)"
[[ $N -le 19000 ]] || die "--n $N: the clients run in one process under the 20000 fd cap; use --n 19000 or fewer"
ulimit -n 20000 2>/dev/null || die "cannot raise the fd limit to 20000 (ulimit -n 20000); the hard limit is $(ulimit -Hn)"
wanted() { [[ " $SERVERS " == *" $1 "* ]]; }
if wanted nginx && ! command -v nginx >/dev/null; then
  note "nginx not installed (apt-get install nginx-light): skipping nginx"; SERVERS=${SERVERS/nginx/}
fi
if wanted go && ! command -v go >/dev/null; then
  note "go not installed (apt-get install golang-go): skipping Go net/http"; SERVERS=${SERVERS/go/}
fi

STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
[[ $QUICK == 1 ]] && STAMP=$STAMP-quick
mkdir -p "$OUT_DIR"
WORK=$(mktemp -d /tmp/cogo-memory.XXXXXX)
RUNS=$WORK/runs.jsonl
: > "$RUNS"

STARTED=()
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${STARTED[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [[ $rc != 0 ]]; then note "scratch directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
taskset -cp 1 $$ >/dev/null

declare -A PORT=([goroutine]=28090 [thread]=28091 [nginx]=28082 [go]=28093)  # nginx: its config

cp "$COGO_SERVER" "$WORK/cogo-server" || die "cannot copy $COGO_SERVER"
BUILD_ID=$(file -L "$WORK/cogo-server" | grep -o 'BuildID\[sha1\]=[0-9a-f]*' | cut -d= -f2 || true)
GIT_REV=${COGO_REV:-$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)}
COGO_SERVER=$WORK/cogo-server
if wanted go; then
  (cd "$ROOT/loadtest/baselines/go-http" &&
    GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local go build -o "$WORK/go-http" .) ||
    die "go build of loadtest/baselines/go-http failed"
fi

port_busy() { [[ -n $(ss -Hltn "sport = :$1") ]]; }

SERVER_PID=""
start_server() {
  local name=$1 port=${PORT[$1]} log=$WORK/$1.log
  port_busy "$port" && die "port $port (for $name) is already in use: stop whatever listens there"
  case $name in
    goroutine | thread)
      taskset -c 0 "$COGO_SERVER" http --listen "127.0.0.1:$port" --model "$name" \
        --maxprocs 1 --log-level warn --shutdown-grace 1s --idle-timeout 300s >"$log" 2>&1 & ;;
    nginx)
      mkdir -p "$WORK/nginx/logs" "$WORK/nginx/temp"
      taskset -c 0 nginx -e stderr -p "$WORK/nginx" \
        -c "$ROOT/loadtest/baselines/nginx/nginx.conf" >"$log" 2>&1 & ;;
    go)
      GOMAXPROCS=1 taskset -c 0 "$WORK/go-http" -listen "127.0.0.1:$port" >"$log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited at start: $(tail -5 "$log")"
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      [[ $name != nginx ]] && return 0
      [[ -n $(pgrep -P "$SERVER_PID" || true) ]] && return 0
    fi
    sleep 0.1
  done
  die "$name did not listen on 127.0.0.1:$port within 10 s: $(tail -5 "$log")"
}

stop_server() {
  local name=$1 pid=$SERVER_PID pids
  pids="$pid $(pgrep -P "$pid" | tr '\n' ' ' || true)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { note "$name ignored SIGTERM for 10 s: killing it"; kill -KILL $pids 2>/dev/null || true; }
  wait "$pid" 2>/dev/null || true
  for _ in $(seq 100); do port_busy "${PORT[$name]}" || return 0; sleep 0.1; done
  die "port ${PORT[$name]} still busy after $name stopped"
}

# The client: one process, N sockets; samples the server's /proc itself.
cat >"$WORK/client.py" <<'PY'
import json, os, resource, selectors, socket, sys, time

server, mode, port, n, sleep_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
pids = [int(p) for p in sys.argv[6:]]
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

def mem():
    r = t = v = 0
    for p in pids:
        for line in open("/proc/%d/status" % p):
            k, _, val = line.partition(":")
            if k == "VmRSS": r += int(val.split()[0])
            elif k == "Threads": t += int(val.split()[0])
            elif k == "VmSize": v += int(val.split()[0])
    return {"rss_kib": r, "threads": t, "vmsize_kib": v}

def fail(msg):
    sys.exit("memory.sh client (%s %s): %s" % (server, mode, msg))

def request(path):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (path, port)).encode()

def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk: fail("connection closed before a response head (got %r)" % buf[:200])
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length": length = int(v)
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk: fail("connection closed inside a response body")
        body += chunk
    if status != 200: fail("status %d" % status)
    return body

def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

# warm-up: lazily made state (stack pool, date cache, first thread) is not per connection
for _ in range(100):
    s = connect(); s.sendall(request("/")); read_response(s); s.close()
time.sleep(1.0)
before = mem()

t0 = time.monotonic()
socks = []
for i in range(n):
    try:
        socks.append(connect())
    except OSError as e:
        fail("connect #%d: %s" % (i + 1, e))
t_connected = time.monotonic() - t0

result = {"server": server, "mode": mode, "n": n, "before": before, "connect_s": round(t_connected, 3)}
if mode == "idle":
    req = request("/")
    for s in socks: s.sendall(req)
    for s in socks: read_response(s)
    result["answered"] = n
    result["just_after"] = mem()
    time.sleep(2.0)
    result["holding"] = mem()
    # still open? a closed connection would be readable (EOF) now
    sel = selectors.DefaultSelector()
    for s in socks: s.setblocking(False); sel.register(s, selectors.EVENT_READ)
    result["closed_by_server"] = len(sel.select(timeout=0))
    result["held"] = n - result["closed_by_server"]
    sel.close()
else:
    req = request("/sleep?ms=%d" % sleep_ms)
    t_first = time.monotonic()
    for s in socks: s.sendall(req)
    t_last = time.monotonic()
    if (t_last - t_first) * 1000 > sleep_ms - 4000:
        fail("sending %d requests took %.1f s, too close to the %d ms sleep" % (n, t_last - t_first, sleep_ms))
    time.sleep(2.0)
    result["holding"] = mem()
    sel = selectors.DefaultSelector()
    for s in socks: sel.register(s, selectors.EVENT_READ)
    answered_early = len(sel.select(timeout=0))
    sel.close()
    if time.monotonic() - t_first >= sleep_ms / 1000: fail("sample taken after the first sleep ended")
    result["held"] = n - answered_early  # still parked when sampled
    result["send_s"] = round(t_last - t_first, 3)
    for s in socks: s.settimeout(sleep_ms / 1000 + 60)
    ok = 0
    for s in socks:
        if read_response(s).startswith(b"slept"): ok += 1
    result["answered"] = ok
    result["all_answered_after_s"] = round(time.monotonic() - t_first, 3)
h, b = result["holding"], result["before"]
result["kib_per_conn"] = (h["rss_kib"] - b["rss_kib"]) / n
result["threads_per_conn"] = (h["threads"] - b["threads"]) / n
result["vmsize_kib_per_conn"] = (h["vmsize_kib"] - b["vmsize_kib"]) / n
for s in socks: s.close()
print(json.dumps(result), flush=True)
PY

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE_START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for mode in $MODES; do
  for name in $SERVERS; do
    [[ $mode == parked && $name == nginx ]] && continue  # nginx has no handler to park
    start_server "$name"
    pids="$SERVER_PID $(pgrep -P "$SERVER_PID" | tr '\n' ' ' || true)"
    note "$mode: $name, $N connections"
    taskset -c 1 python3 "$WORK/client.py" "$name" "$mode" "${PORT[$name]}" "$N" "$SLEEP_MS" $pids \
      >>"$RUNS" || die "the $mode client against $name failed (server log: $(tail -3 "$WORK/$name.log"))"
    stop_server "$name"
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$RUNS" "$OUT_DIR/memory-$STAMP.json" <<EOF
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
limits = {"idle": 2.0, "parked": 8.0}
rows = ["| mode | server | connections | held | RSS before MiB | RSS holding MiB | KiB/conn | threads | VmSize MiB | target (goroutine) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
for r in runs:
    h, b = r["holding"], r["before"]
    verdict = ""
    if r["server"] == "goroutine":
        ok = r["kib_per_conn"] <= limits[r["mode"]] and r["held"] == r["n"] and r["answered"] == r["n"]
        verdict = "%s (<= %g KiB)" % ("PASS" if ok else "MISS", limits[r["mode"]])
        r["target"] = verdict
    rows.append("| %s | %s | %d | %d | %.1f | %.1f | %.2f | %d | %.1f | %s |" % (
        r["mode"], r["server"], r["n"], r["held"], b["rss_kib"] / 1024, h["rss_kib"] / 1024,
        r["kib_per_conn"], h["threads"], h["vmsize_kib"] / 1024, verdict))
json.dump({"date": "$DATE_START", "cogo": {"git": "$GIT_REV", "build_id": "$BUILD_ID"}, "load_start": "$LOAD_START", "load_end": "$LOAD_END",
           "n": $N, "sleep_ms": $SLEEP_MS, "quick": $QUICK == 1, "runs": runs},
          open(sys.argv[2], "w"), indent=1)
print("\n".join(rows))
print("\nmemory.sh: wrote %s (load average %s at start, %s at end)" % (sys.argv[2], "$LOAD_START", "$LOAD_END"))
EOF
