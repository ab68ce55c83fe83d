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
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$ROOT/loadtest/lib/common.sh"
COGO_SERVER=${COGO_SERVER:-$ROOT/build/bin/cogo-server}
N=10000
SLEEP_MS=20000
QUICK=0
SERVERS="goroutine thread nginx go"
MODES="idle parked"
OUT_DIR=$ROOT/loadtest/results

while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1; N=1000; SLEEP_MS=5000 ;;
    --n) N=$2; shift ;;
    --sleep-ms) SLEEP_MS=$2; shift ;;
    --servers) SERVERS=$2; shift ;;
    --modes) MODES=$2; shift ;;
    --out) OUT_DIR=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag '$1' (see --help)" ;;
  esac
  shift
done

need_cogo_server
need python3 python3
need taskset util-linux
[[ $(nproc --all) -ge 2 ]] || die "needs 2 cores (server on core 0, clients on core 1)"
[[ $N -le 19000 ]] || die "--n $N: the clients run in one process under the 20000 fd cap; use --n 19000 or fewer"
raise_fd_limit 20000
drop_unless_installed nginx nginx-light nginx
drop_unless_installed go golang-go "Go net/http"

STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
[[ $QUICK == 1 ]] && STAMP=$STAMP-quick
mkdir -p "$OUT_DIR"
make_scratch cogo-memory  # kept only if the script fails
RUNS=$WORK/runs.jsonl
: > "$RUNS"
taskset -cp 1 $$ >/dev/null

declare -A PORT=([goroutine]=28090 [thread]=28091 [nginx]=28082 [go]=28093)  # nginx: its config

COGO_SERVER_ARGS=(--idle-timeout 300s)  # the idle connections must outlive the measurement
snapshot_cogo_server
if wanted go; then build_go_baseline; fi

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
    pids=$(children "$SERVER_PID")
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
