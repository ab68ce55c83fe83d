#!/usr/bin/env bash
# static.sh: static files and compression, cogo-server against nginx, under
# ../shared/BENCH.md's protocol (issue 12's figures).
#
# Servers, a fresh process per run, on core 0, one worker / one P:
#   cogo   build/bin/cogo-server --model goroutine --maxprocs 1 --static DIR
#          (+ --compress gzip, level 6, for gzip64k)
#   nginx  loadtest/baselines/nginx/static.conf: 1 worker, sendfile on,
#          gzip on at level 6
# Scenarios, wrk -t1 on core 1, keep-alive:
#   file4k   GET /static/4k.txt (4,096 bytes)               c in --conns (50 1000)
#   file1m   GET /static/1m.bin (1 MiB)                     c=50
#   gzip64k  GET /static/64k.json (65,536 bytes of JSON) with
#            Accept-Encoding: gzip, compressed per request   c=50
# Rounds interleave the servers (cogo nginx cogo nginx ...). Per run:
# requests/s, MB/s, server CPU per request (utime+stime of its processes
# from /proc over the run / requests), p99, the load average before it and
# how busy core 0 was with other processes. The report: medians, and the
# median over rounds of each round's cogo/nginx ratio.
#
# usage: loadtest/static.sh [--rounds N] [--duration S] [--scenarios "file4k file1m gzip64k"]
#          [--conns "50 1000"] [--quick] [--out DIR] [--keep]
#   --quick  one round of 3 s runs (a smoke test)
# Environment: COGO_SERVER (default build/bin/cogo-server, a Release build).
# Output: a table on stdout and loadtest/results/static-<date>.json.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$ROOT/loadtest/lib/common.sh"
COGO_SERVER=${COGO_SERVER:-$ROOT/build/bin/cogo-server}
ROUNDS=3
DURATION=10
SCENARIOS="file4k file1m gzip64k"
CONNS="50 1000"
OUT_DIR=$ROOT/loadtest/results
KEEP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) ROUNDS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --scenarios) SCENARIOS=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --quick) ROUNDS=1; DURATION=3 ;;
    --out) OUT_DIR=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag '$1' (see --help)" ;;
  esac
  shift
done

need wrk wrk
need nginx nginx-light
need taskset util-linux
need curl curl
need_cogo_server
[[ $(nproc --all) -ge 2 ]] || die "needs 2 cores (server on core 0, wrk on core 1)"
raise_fd_limit 20000

make_scratch cogo-static
taskset -cp 1 $$ >/dev/null
snapshot_cogo_server
RUNS=$WORK/runs.jsonl
: >"$RUNS"

# The files, the same bytes for both servers.
FILES=$WORK/files
mkdir -p "$FILES"
# Started as root, nginx's worker runs as www-data: it must reach the files
# (mktemp -d makes the scratch directory 0700).
chmod 755 "$WORK"
# (No `| head -c` at the end of a pipeline: under pipefail base64 could die
# of EPIPE and fail the script at random.)
head -c 3072 /dev/urandom >"$FILES/4k.raw"
base64 -w 64 "$FILES/4k.raw" >"$FILES/4k.b64"
head -c 4096 "$FILES/4k.b64" >"$FILES/4k.txt"
rm "$FILES/4k.raw" "$FILES/4k.b64"
head -c $((1024 * 1024)) /dev/urandom >"$FILES/1m.bin"
make_json64k "$FILES/64k.json"

# Ports below the ephemeral range (32768-60999), where port-0 listeners and
# outgoing connections of other processes never land; each start takes a
# free one again (a port free at one run may be taken by the next).
declare -A PORT=([cogo]=0 [nginx]=0)
# pick_port NAME: a free port for NAME, not the other server's.
pick_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    [[ $p != "${PORT[cogo]}" && $p != "${PORT[nginx]}" ]] && ! port_busy "$p" && break
  done
  PORT[$1]=$p
}

SERVER_PID=""
# start NAME SCENARIO: a fresh server on core 0.
start() {
  local name=$1 scen=$2 log=$WORK/$1.log extra=()
  if [[ ${PORT[$name]} == 0 ]] || port_busy "${PORT[$name]}"; then pick_port "$name"; fi
  case $name in
    cogo)
      [[ $scen == gzip64k ]] && extra=(--compress gzip)
      taskset -c 0 "$COGO_SERVER" http --listen "127.0.0.1:${PORT[cogo]}" --model goroutine \
        --maxprocs 1 --log-level warn --shutdown-grace 1s --static "$FILES" "${extra[@]}" \
        >"$log" 2>&1 &
      ;;
    nginx)
      mkdir -p "$WORK/nginx/logs" "$WORK/nginx/temp"
      sed -e "s|@ROOT@|$FILES|" -e "s|@PORT@|${PORT[nginx]}|" \
        "$ROOT/loadtest/baselines/nginx/static.conf" >"$WORK/nginx.conf"
      taskset -c 0 nginx -e stderr -p "$WORK/nginx" -c "$WORK/nginx.conf" >"$log" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited at start: $(tail -5 "$log")"
    if curl -sf -o /dev/null "http://127.0.0.1:${PORT[$name]}/static/4k.txt"; then
      [[ $name == cogo || -n $(pgrep -P "$SERVER_PID" || true) ]] && return 0
    fi
    sleep 0.1
  done
  die "$name did not answer on port ${PORT[$name]}: $(tail -5 "$log")"
}

stop() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# check NAME SCENARIO: the answer is what the scenario says (the right bytes,
# compressed when it should be) before anything is measured.
check() {
  local name=$1 scen=$2 url=http://127.0.0.1:${PORT[$1]}
  case $scen in
    file4k) cmp -s <(curl -sf "$url/static/4k.txt") "$FILES/4k.txt" || die "$name: 4k.txt differs" ;;
    file1m) cmp -s <(curl -sf "$url/static/1m.bin") "$FILES/1m.bin" || die "$name: 1m.bin differs" ;;
    gzip64k)
      curl -sf -D "$WORK/h" -o "$WORK/b" -H 'Accept-Encoding: gzip' "$url/static/64k.json"
      grep -qi '^content-encoding: gzip' "$WORK/h" || die "$name: 64k.json was not gzipped"
      cmp -s <(gzip -dc "$WORK/b") "$FILES/64k.json" || die "$name: 64k.json decodes to other bytes"
      ;;
  esac
}

run() {
  local round=$1 scen=$2 c=$3 name=$4 path hdr=()
  case $scen in
    file4k) path=/static/4k.txt ;;
    file1m) path=/static/1m.bin ;;
    gzip64k) path=/static/64k.json; hdr=(-H "Accept-Encoding: gzip") ;;
  esac
  start "$name" "$scen"
  check "$name" "$scen"
  local pids load cpu0 cpu1 busy0 busy1 t0 t1 out=$WORK/$scen-$c-$name-$round.wrk
  pids=$(children "$SERVER_PID")
  load=$(cut -d' ' -f1 /proc/loadavg)
  # shellcheck disable=SC2086
  cpu0=$(cpu_ticks $pids)
  busy0=$(cpu_busy_ticks cpu0)
  t0=$(date +%s.%N)
  taskset -c 1 wrk -t1 -c "$c" -d "${DURATION}s" --latency "${hdr[@]}" "http://127.0.0.1:${PORT[$name]}$path" \
    >"$out" 2>&1 || die "wrk failed: $(tail -3 "$out")"
  t1=$(date +%s.%N)
  # shellcheck disable=SC2086
  cpu1=$(cpu_ticks $pids)
  busy1=$(cpu_busy_ticks cpu0)
  stop
  python3 - "$out" "$round" "$scen" "$c" "$name" "$load" "$((cpu1 - cpu0))" "$((busy1 - busy0))" "$t0" "$t1" >>"$RUNS" <<'EOF'
import json, re, sys
out, rnd, scen, c, name, load, ticks, busy, t0, t1 = sys.argv[1:]
w = open(out).read()
req = int(re.search(r"(\d+) requests in", w).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", w).group(1))
tr = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", w)
mbs = float(tr.group(1)) * {"B": 1e-6, "KB": 1.024e-3, "MB": 1.048576, "GB": 1073.741824}[tr.group(2)]
p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", w, re.M)
p99 = float(p99.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p99.group(2)] if p99 else None
errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", w)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", w)
wall = float(t1) - float(t0)
print(json.dumps({"round": int(rnd), "scenario": scen, "connections": int(c), "server": name,
  "requests": req, "rps": rps, "mb_per_s": mbs, "p99_ms": p99,
  "cpu_us_per_req": int(ticks) / 100.0 * 1e6 / req if req else None,
  "socket_errors": sum(int(x) for x in errs.groups()) if errs else 0,
  "non_2xx": int(non2xx.group(1)) if non2xx else 0,
  "load1_before": float(load), "core0_other_pct": 100.0 * (int(busy) - int(ticks)) / 100.0 / wall}))
EOF
  python3 - "$RUNS" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print("  r%d %-8s c=%-5d %-6s %9.0f req/s %8.1f MB/s %7.2f us/req  p99 %7.2f ms  err %d  non2xx %d  load %.1f  core0-other %4.1f%%" % (
  r["round"], r["scenario"], r["connections"], r["server"], r["rps"], r["mb_per_s"], r["cpu_us_per_req"] or 0,
  r["p99_ms"] or 0, r["socket_errors"], r["non_2xx"], r["load1_before"], r["core0_other_pct"]), flush=True)
EOF
}

PLAN=()
for scen in $SCENARIOS; do
  case $scen in
    file4k) for c in $CONNS; do PLAN+=("$scen $c"); done ;;
    file1m | gzip64k) PLAN+=("$scen 50") ;;
    *) die "unknown scenario '$scen' (file4k, file1m, gzip64k)" ;;
  esac
done
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
note "${#PLAN[@]} configurations x 2 servers x $ROUNDS round(s) of ${DURATION}s; load average $LOAD_START"
for round in $(seq "$ROUNDS"); do
  for cfg in "${PLAN[@]}"; do
    read -r scen c <<<"$cfg"
    for name in cogo nginx; do run "$round" "$scen" "$c" "$name"; done
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%d-%H%M%S)
python3 - "$RUNS" "$OUT_DIR/static-$STAMP.json" "$GIT_REV" "$LOAD_START" "$LOAD_END" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
med = statistics.median
configs = []
for r in runs:
    k = (r["scenario"], r["connections"])
    if k not in configs: configs.append(k)
def g(scen, c, srv): return [r for r in runs if (r["scenario"], r["connections"], r["server"]) == (scen, c, srv)]
def ratio(scen, c, key):
    v = []
    for a in g(scen, c, "cogo"):
        b = [x for x in g(scen, c, "nginx") if x["round"] == a["round"]]
        if b and b[0][key] and a[key] is not None: v.append(a[key] / b[0][key])
    return med(v) if v else None
summary = []
print("\n%-8s %5s  %-6s %10s %9s %9s %9s   %s" % ("scenario", "c", "server", "req/s", "MB/s", "us/req", "p99 ms", "core0-other% (max)"))
for scen, c in configs:
    for srv in ("cogo", "nginx"):
        rs = g(scen, c, srv)
        s = {"scenario": scen, "connections": c, "server": srv, "rounds": len(rs),
             "rps": med([r["rps"] for r in rs]), "mb_per_s": med([r["mb_per_s"] for r in rs]),
             "cpu_us_per_req": med([r["cpu_us_per_req"] for r in rs]),
             "p99_ms": med([r["p99_ms"] for r in rs if r["p99_ms"] is not None] or [0]),
             "core0_other_pct_max": max(r["core0_other_pct"] for r in rs),
             "errors_max": max(r["socket_errors"] + r["non_2xx"] for r in rs)}
        summary.append(s)
        print("%-8s %5d  %-6s %10.0f %9.1f %9.2f %9.2f   %.1f" % (scen, c, srv, s["rps"], s["mb_per_s"], s["cpu_us_per_req"], s["p99_ms"], s["core0_other_pct_max"]))
targets = []
def target(name, value, limit, ok):
    targets.append({"target": name, "value": value, "limit": limit, "result": None if value is None else ("PASS" if ok(value) else "MISS")})
for scen, c in configs:
    if scen == "file4k":
        target("req/s cogo/nginx, 4 KiB file, c=%d" % c, ratio(scen, c, "rps"), ">= 1.00", lambda v: v >= 1.0)
        target("CPU/req cogo/nginx, 4 KiB file, c=%d" % c, ratio(scen, c, "cpu_us_per_req"), "<= 1.00", lambda v: v <= 1.0)
    if scen == "file1m":
        target("MB/s cogo/nginx, 1 MiB file, c=%d" % c, ratio(scen, c, "mb_per_s"), ">= 0.90", lambda v: v >= 0.9)
    if scen == "gzip64k":
        target("CPU/req cogo/nginx, 64 KiB JSON gzip 6, c=%d" % c, ratio(scen, c, "cpu_us_per_req"), "<= 1.00", lambda v: v <= 1.0)
        target("req/s cogo/nginx, 64 KiB JSON gzip 6, c=%d" % c, ratio(scen, c, "rps"), "(info)", lambda v: True)
print("\nmedian of per-round ratios (cogo / nginx, same round):")
for t in targets:
    print("  %-46s %6s   %-8s %s" % (t["target"], "%.3f" % t["value"] if t["value"] is not None else "-", t["limit"], t["result"] or ""))
print("\nload average %s at the start, %s at the end (2 cores)" % (sys.argv[4], sys.argv[5]))
json.dump({"git_rev": sys.argv[3], "load_start": sys.argv[4], "load_end": sys.argv[5], "runs": runs,
           "summary": summary, "targets": targets}, open(sys.argv[2], "w"), indent=1)
print("written: %s" % sys.argv[2])
EOF
