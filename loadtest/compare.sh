#!/usr/bin/env bash
# compare.sh: the goroutine-vs-thread comparison, with nginx and Go net/http
# beside them, measured by wrk under ../shared/BENCH.md's protocol.
#
# Servers (each skipped with a note when its tool is missing, except cogo's):
#   goroutine  build/bin/cogo-server http --model goroutine --maxprocs 1
#   thread     build/bin/cogo-server http --model thread (an OS thread per conn)
#   nginx      one worker, loadtest/baselines/nginx/nginx.conf
#   go         Go net/http, GOMAXPROCS=1, loadtest/baselines/go-http
# Scenarios:
#   plaintext  GET / keep-alive at c in {50, 1000, 10000}
#   pipelined  GET / 16 deep (loadtest/wrk/pipeline.lua) at c in {50, 1000}
#   sleep      GET /sleep?ms=10 at c in {1000, 10000}, goroutine and thread only
# Every server runs on core 0 (taskset -c 0), wrk -t1 on core 1, a fresh server
# process per run; servers interleave within a round (A B C D A B C D), two
# rounds; the table shows medians and the median of per-round ratios.
#
# Per run: requests/s, server CPU per request (utime+stime from /proc/PID/stat
# across the run, summed over the server's processes, / requests), latency
# p50/p99 (wrk --latency), socket errors, non-2xx responses, the deltas of
# `nstat -az TcpExtListenOverflows TcpExtListenDrops` (system-wide counters),
# server VmRSS / threads / VmSize (summed over its processes; "end" is the last
# sample taken while wrk still ran, "peak" the largest of the 0.5 s samples),
# the 1-minute load average and how busy core 0 was besides the server.
#
# Output: loadtest/results/<date>.json (every run and the medians), a table on
# stdout, PNG charts loadtest/results/<date>-{rps,p99,rss,sleep}.png (gnuplot).
#
# usage: loadtest/compare.sh [--quick] [--rounds N] [--duration S]
#          [--servers "goroutine thread nginx go"] [--scenarios "plaintext pipelined sleep"]
#          [--conns "50 1000 10000"] [--pipeline-conns "50 1000"] [--sleep-conns "1000 10000"]
#          [--wait-quiet LOAD] [--max-other PCT] [--retries N] [--out DIR] [--keep] [--report-only SCRATCH]
#   --quick        one round of 3 s runs (a smoke test; results named *-quick*)
#   --wait-quiet L wait (60 s steps) until the 1-minute load average is below L
#                  before the first round, and before each run until both cores
#                  were less than MAX_OTHER % busy over 2 s
#   --max-other P  a run during which other processes used more than P % of
#                  core 0 (default 10) is repeated, up to --retries times
#                  (default 4); the last attempt is kept and flagged
#   --keep         keep the scratch directory (wrk outputs, server logs)
#   --report-only D  measure nothing: redo the JSON, table and charts from the
#                  kept scratch directory D (its runs.jsonl and meta.sh)
# Environment: COGO_SERVER (default build/bin/cogo-server, a Release build; copied
# first, so a rebuild meanwhile changes nothing), COGO_REV (the revision it was
# built from, recorded in the JSON; default `git describe --dirty`).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$ROOT/loadtest/lib/common.sh"
COGO_SERVER=${COGO_SERVER:-$ROOT/build/bin/cogo-server}
ROUNDS=2
DURATION=10
QUICK=0
SERVERS="goroutine thread nginx go"
SCENARIOS="plaintext pipelined sleep"
CONNS="50 1000 10000"
PIPE_CONNS="50 1000"
SLEEP_CONNS="1000 10000"
PIPE_DEPTH=16
SLEEP_MS=10
WAIT_QUIET=""
MAX_OTHER=10
RETRIES=4
OUT_DIR=$ROOT/loadtest/results
KEEP=0
REPORT_ONLY=""

while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1; ROUNDS=1; DURATION=3 ;;
    --rounds) ROUNDS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --servers) SERVERS=$2; shift ;;
    --scenarios) SCENARIOS=$2; shift ;;
    --conns) CONNS=$2; shift ;;
    --pipeline-conns) PIPE_CONNS=$2; shift ;;
    --sleep-conns) SLEEP_CONNS=$2; shift ;;
    --wait-quiet) WAIT_QUIET=$2; shift ;;
    --max-other) MAX_OTHER=$2; shift ;;
    --retries) RETRIES=$2; shift ;;
    --out) OUT_DIR=$2; shift ;;
    --keep) KEEP=1 ;;
    --report-only) REPORT_ONLY=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown flag '$1' (see --help)" ;;
  esac
  shift
done

# ---- preconditions: fail loudly, naming the fix ----
need wrk wrk
need taskset util-linux
need nstat iproute2
need curl curl
need python3 python3
need_cogo_server
[[ $(nproc --all) -ge 2 ]] || die "needs 2 cores (server on core 0, wrk on core 1)"
raise_fd_limit 20000

drop_unless_installed nginx nginx-light "the nginx baseline"
drop_unless_installed go golang-go "the Go net/http baseline"
HAVE_GNUPLOT=1
command -v gnuplot >/dev/null || { HAVE_GNUPLOT=0; note "gnuplot not installed (apt-get install gnuplot-nox): no charts"; }

if [[ -z $REPORT_ONLY ]]; then
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
[[ $QUICK == 1 ]] && STAMP=$STAMP-quick
mkdir -p "$OUT_DIR"
# Everything this script starts goes into STARTED and is ended on exit.
make_scratch cogo-compare
RUNS=$WORK/runs.jsonl
: > "$RUNS"

# The script itself and every tool it runs stay off core 0; servers go there.
taskset -cp 1 $$ >/dev/null

declare -A PORT=([goroutine]=28080 [thread]=28081 [nginx]=28082 [go]=28083)  # nginx: its config

# Measure one binary throughout, even if build/ is rebuilt meanwhile.
snapshot_cogo_server

if wanted go; then
  note "building the Go net/http baseline (offline)"
  build_go_baseline
fi

listen_counters() {
  nstat -az TcpExtListenOverflows TcpExtListenDrops |
    awk '$1=="TcpExtListenOverflows"{o=$2} $1=="TcpExtListenDrops"{d=$2} END{print o+0, d+0}'
}

load1() { cut -d' ' -f1 /proc/loadavg; }

wait_quiet() {
  [[ -z $WAIT_QUIET ]] && return 0
  while python3 -c "import sys; sys.exit(0 if float('$(load1)') > float('$WAIT_QUIET') else 1)"; do
    note "load average $(load1) > $WAIT_QUIET: waiting 60 s for a quiet machine"
    sleep 60
  done
}

# quiet_now: both cores less than MAX_OTHER % busy over 2 s (nothing of ours runs).
quiet_now() {
  local a b
  a=$(awk '$1=="cpu0"||$1=="cpu1"{printf "%.0f ", $2+$3+$4+$7+$8+$9}' /proc/stat)
  sleep 2
  b=$(awk '$1=="cpu0"||$1=="cpu1"{printf "%.0f ", $2+$3+$4+$7+$8+$9}' /proc/stat)
  python3 -c "import sys; a=list(map(int,'$a'.split())); b=list(map(int,'$b'.split())); sys.exit(0 if max(y-x for x,y in zip(a,b)) / 2.0 < $MAX_OTHER else 1)"
}

wait_quiet_now() {
  [[ -z $WAIT_QUIET ]] && return 0
  local i
  for i in $(seq 30); do
    quiet_now && return 0
    [[ $i == 1 ]] && note "the cores are busy with other work: waiting (up to 10 min)"
    sleep 18
  done
  note "still busy after 10 min: measuring anyway"
}

# check_response URL EXPECT: one request with curl; fails loudly on a wrong answer.
check_response() {
  local body
  body=$(curl -sf --max-time 5 "$1") || die "GET $1 failed"
  [[ $body == *"$2"* ]] || die "GET $1 answered '$body', expected '$2'"
}

# run_one ROUND SCENARIO CONNS SERVER: one measured run; repeated while other
# processes took more than MAX_OTHER % of core 0 during it.
run_one() {
  local attempt other
  for attempt in $(seq $((RETRIES + 1))); do
    wait_quiet_now
    run_attempt "$@" "$attempt"
    other=$(python3 -c "import json; print(json.loads(open('$RUNS').read().splitlines()[-1])['core0_other_pct'])")
    if python3 -c "import sys; sys.exit(0 if $other <= $MAX_OTHER else 1)"; then return 0; fi
    if [[ $attempt -le $RETRIES ]]; then
      note "others used ${other}% of core 0 during that run: repeating it"
      sed -i '$d' "$RUNS"
      sleep 10
    else
      note "others used ${other}% of core 0 during that run: kept, flagged contaminated"
    fi
  done
}

# run_attempt ROUND SCENARIO CONNS SERVER ATTEMPT: one wrk run against a fresh server.
run_attempt() {
  local round=$1 scen=$2 c=$3 name=$4 attempt=$5
  local port=${PORT[$name]} url script_args=() tag=$scen-c$c-$name-r$round
  url=http://127.0.0.1:$port/
  case $scen in
    plaintext) ;;
    pipelined) script_args=(-s "$ROOT/loadtest/wrk/pipeline.lua") ;;
    sleep) url="http://127.0.0.1:$port/sleep?ms=$SLEEP_MS" ;;
  esac
  start_server "$name"
  local pids
  pids=$(children "$SERVER_PID")
  if [[ $scen == sleep ]]; then check_response "$url" "slept"; else check_response "$url" "Hello, World!"; fi

  local load_before cpu0 cpu1 busy0 busy1 lo0 lo1 t0 t1 out=$WORK/$tag.wrk samples=$WORK/$tag.mem
  load_before=$(load1)
  read -r lo0 ld0 < <(listen_counters)
  cpu0=$(cpu_ticks $pids)
  busy0=$(cpu_busy_ticks cpu0)
  t0=$(date +%s.%N)
  local wrk_cmd=(taskset -c 1 wrk -t1 -c "$c" -d "${DURATION}s" --latency "${script_args[@]}" "$url")
  [[ $scen == pipelined ]] && wrk_cmd+=(-- "$PIPE_DEPTH")
  "${wrk_cmd[@]}" >"$out" 2>&1 &
  local wrk_pid=$!
  STARTED+=("$wrk_pid")
  : > "$samples"
  while kill -0 "$wrk_pid" 2>/dev/null; do
    mem $pids >>"$samples"
    sleep 0.5
  done
  wait "$wrk_pid" || die "wrk failed on $tag: $(tail -3 "$out")"
  sleep 0.5  # let the server finish closing wrk's connections (counted for all alike)
  t1=$(date +%s.%N)
  cpu1=$(cpu_ticks $pids)
  busy1=$(cpu_busy_ticks cpu0)
  read -r lo1 ld1 < <(listen_counters)
  local load_after
  load_after=$(load1)
  stop_server "$name"

  WRK_CMD="${wrk_cmd[*]}" ROOT=$ROOT python3 - "$out" "$samples" >>"$RUNS" <<EOF
import json, os, re, sys
wrk = open(sys.argv[1]).read()
samples = [list(map(int, l.split())) for l in open(sys.argv[2]) if l.strip()]
def ms(v):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v)
    if not m: raise SystemExit("compare.sh: cannot parse latency %r in %s" % (v, sys.argv[1]))
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]
m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", wrk)
if not m: raise SystemExit("compare.sh: no request count in wrk output %s:\n%s" % (sys.argv[1], wrk))
requests = int(m.group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", wrk, re.M))
err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", wrk)
err = [int(x) for x in err.groups()] if err else [0, 0, 0, 0]
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
ticks = $cpu1 - $cpu0
hz = 100.0
wall = $t1 - $t0
end = samples[-1] if samples else [0, 0, 0]
run = {
  "round": $round, "attempt": $attempt, "scenario": "$scen", "connections": $c, "server": "$name",
  "requests": requests, "rps": rps,
  "cpu_s": ticks / hz,
  "cpu_us_per_req": (ticks / hz) * 1e6 / requests if requests else None,
  "cpu_pct_of_core": 100.0 * ticks / hz / wall,
  # wrk 4.1 sometimes prints a high percentile as 0.00us (histogram overflow): unknown, not 0
  "p50_ms": ms(lat["50"]) or None, "p75_ms": ms(lat["75"]) or None, "p90_ms": ms(lat["90"]) or None,
  "p99_ms": ms(lat["99"]) or None,
  "errors": {"connect": err[0], "read": err[1], "write": err[2], "timeout": err[3]},
  "socket_errors": sum(err),
  "non_2xx": int(non2xx.group(1)) if non2xx else 0,
  "listen_overflows": $lo1 - $lo0, "listen_drops": $ld1 - $ld0,
  "rss_end_kib": end[0], "threads_end": end[1], "vmsize_end_kib": end[2],
  "rss_peak_kib": max((s[0] for s in samples), default=0),
  "threads_peak": max((s[1] for s in samples), default=0),
  "core0_busy_pct": 100.0 * ($busy1 - $busy0) / hz / wall,
  "core0_other_pct": 100.0 * (($busy1 - $busy0) - ticks) / hz / wall,
  "load1_before": $load_before, "load1_after": $load_after,
  "contaminated": 100.0 * (($busy1 - $busy0) - ticks) / hz / wall > $MAX_OTHER,
  "wrk": os.environ["WRK_CMD"].replace(os.environ["ROOT"] + "/", ""),
}
print(json.dumps(run))
EOF
  python3 - "$RUNS" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
e = r["errors"]
print("  r%d %-9s c=%-5d %-9s %9.0f req/s  %6.2f us/req  p50 %8.2f ms  p99 %8.2f ms  err %d/%d/%d/%d  ovf %d  rss %7.1f MiB  thr %5d  load %.2f  core0-other %4.1f%%" % (
  r["round"], r["scenario"], r["connections"], r["server"], r["rps"], r["cpu_us_per_req"] or 0,
  r["p50_ms"] or 0, r["p99_ms"] or 0, e["connect"], e["read"], e["write"], e["timeout"], r["listen_overflows"],
  r["rss_end_kib"] / 1024, r["threads_end"], r["load1_before"], r["core0_other_pct"]), flush=True)
EOF
}

# ---- the plan: rounds x (scenario, connections) x servers, interleaved ----
PLAN=()
for scen in $SCENARIOS; do
  case $scen in
    plaintext) for c in $CONNS; do PLAN+=("$scen $c"); done ;;
    pipelined) for c in $PIPE_CONNS; do PLAN+=("$scen $c"); done ;;
    sleep) for c in $SLEEP_CONNS; do PLAN+=("$scen $c"); done ;;
    *) die "unknown scenario '$scen' (plaintext, pipelined, sleep)" ;;
  esac
done

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE_START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat >"$WORK/meta.sh" <<META
STAMP='$STAMP' DATE_START='$DATE_START' LOAD_START='$LOAD_START' SERVERS='$SERVERS'
ROUNDS='$ROUNDS' DURATION='$DURATION' QUICK='$QUICK' PIPE_DEPTH='$PIPE_DEPTH' SLEEP_MS='$SLEEP_MS'
GIT_REV='$GIT_REV' BUILD_ID='$BUILD_ID' MAX_OTHER='$MAX_OTHER'
META
note "$(wc -w <<<"$SERVERS") servers, ${#PLAN[@]} configurations, $ROUNDS round(s) of ${DURATION}s runs; load average $LOAD_START"
for round in $(seq "$ROUNDS"); do
  # The load average is for the first round only: our own thread-model runs
  # (thousands of runnable threads) inflate it for minutes afterwards, while
  # the cores are idle again at once; every run checks the cores themselves.
  [[ $round == 1 ]] && wait_quiet
  for cfg in "${PLAN[@]}"; do
    read -r scen c <<<"$cfg"
    for name in $SERVERS; do
      [[ $scen == sleep && $name != goroutine && $name != thread ]] && continue
      run_one "$round" "$scen" "$c" "$name"
    done
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
echo "LOAD_END='$LOAD_END'" >>"$WORK/meta.sh"
else
  # --report-only: the figures of an earlier, kept run
  [[ -f $REPORT_ONLY/runs.jsonl && -f $REPORT_ONLY/meta.sh ]] ||
    die "--report-only $REPORT_ONLY: no runs.jsonl and meta.sh there (a scratch directory kept with --keep)"
  # shellcheck disable=SC1091
  source "$REPORT_ONLY/meta.sh"
  RUNS=$REPORT_ONLY/runs.jsonl
  mkdir -p "$OUT_DIR"
fi

# ---- report: JSON with every run and the medians, table, targets, charts ----
python3 - "$RUNS" "$OUT_DIR" "$STAMP" "$HAVE_GNUPLOT" <<EOF
import json, os, statistics, subprocess, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in runs:  # a 0.00us percentile is wrk's overflow, not a figure
    for k in ("p50_ms", "p75_ms", "p90_ms", "p99_ms"):
        if r.get(k) == 0: r[k] = None
out_dir, stamp, have_gnuplot = sys.argv[2], sys.argv[3], sys.argv[4] == "1"
servers = "$SERVERS".split()
med = statistics.median
def medn(v):
    v = [x for x in v if x is not None]
    return med(v) if v else None

def group(scen, c, srv):
    return [r for r in runs if r["scenario"] == scen and r["connections"] == c and r["server"] == srv]

def baseline_for(scen):
    if scen == "sleep": return "thread"
    return "nginx" if "nginx" in servers else "thread"

configs = []
for r in runs:
    k = (r["scenario"], r["connections"])
    if k not in configs: configs.append(k)
summary = []
for scen, c in configs:
    base = baseline_for(scen)
    for srv in servers:
        g = group(scen, c, srv)
        if not g: continue
        ratios = []
        for r in g:
            b = [x for x in group(scen, c, base) if x["round"] == r["round"]]
            if b and b[0]["rps"]: ratios.append(r["rps"] / b[0]["rps"])
        cpu = [r["cpu_us_per_req"] for r in g if r["cpu_us_per_req"] is not None]
        summary.append({
            "scenario": scen, "connections": c, "server": srv, "rounds": len(g),
            "rps": med([r["rps"] for r in g]),
            "rps_ratio_to": base, "rps_ratio": med(ratios) if ratios else None,
            "cpu_us_per_req": med(cpu) if cpu else None,
            "p50_ms": medn([r["p50_ms"] for r in g]), "p99_ms": medn([r["p99_ms"] for r in g]),
            "socket_errors_max": max(r["socket_errors"] for r in g),
            "errors_max": {k: max(r["errors"][k] for r in g) for k in ("connect", "read", "write", "timeout")},
            "non_2xx_max": max(r["non_2xx"] for r in g),
            "listen_overflows_max": max(r["listen_overflows"] for r in g),
            "listen_drops_max": max(r["listen_drops"] for r in g),
            "rss_end_kib": med([r["rss_end_kib"] for r in g]),
            "rss_peak_kib": med([r["rss_peak_kib"] for r in g]),
            "threads_end": med([r["threads_end"] for r in g]),
            "threads_peak": max(r["threads_peak"] for r in g),
            "core0_other_pct_max": max(r["core0_other_pct"] for r in g),
            "contaminated_runs": sum(1 for r in g if r["contaminated"]),
        })

def S(scen, c, srv):
    for s in summary:
        if (s["scenario"], s["connections"], s["server"]) == (scen, c, srv): return s
    return None

def per_round_ratio(scen, c, a, b, key, scen_b=None):
    """median over rounds of a[key]/b[key], a and b measured in the same round"""
    vals = []
    for ra in group(scen, c, a):
        rb = [x for x in group(scen_b or scen, c, b) if x["round"] == ra["round"]]
        if rb and rb[0][key] and ra[key] is not None: vals.append(ra[key] / rb[0][key])
    return med(vals) if vals else None

targets = []
def target(name, value, limit, ok):
    targets.append({"target": name, "value": value, "limit": limit,
                    "result": None if value is None else ("PASS" if ok(value) else "MISS")})
for c in (50, 1000):
    target("CPU/req goroutine / nginx, plaintext c=%d" % c,
           per_round_ratio("plaintext", c, "goroutine", "nginx", "cpu_us_per_req"), "<= 1.00", lambda v: v <= 1.0)
for c in (50, 1000, 10000):
    target("req/s goroutine / nginx, plaintext c=%d" % c,
           per_round_ratio("plaintext", c, "goroutine", "nginx", "rps"), ">= 0.95", lambda v: v >= 0.95)
target("req/s goroutine / Go net/http, plaintext c=1000",
       per_round_ratio("plaintext", 1000, "goroutine", "go", "rps"), ">= 1.70", lambda v: v >= 1.7)
target("CPU/req goroutine / thread, plaintext c=1000",
       per_round_ratio("plaintext", 1000, "goroutine", "thread", "cpu_us_per_req"), "<= 0.75", lambda v: v <= 0.75)
target("p99 goroutine / thread, plaintext c=1000",
       per_round_ratio("plaintext", 1000, "goroutine", "thread", "p99_ms"), "<= 0.50", lambda v: v <= 0.5)
s = S("plaintext", 10000, "goroutine")
target("socket errors, goroutine plaintext c=10000 (max over rounds)",
       s and s["socket_errors_max"], "== 0", lambda v: v == 0)
target("listen overflows+drops, goroutine plaintext c=10000 (max over rounds)",
       s and s["listen_overflows_max"] + s["listen_drops_max"], "== 0", lambda v: v == 0)
for c in sorted({c for sc, c in configs if sc == "pipelined"}):
    target("req/s pipelined(16) / plaintext, goroutine c=%d" % c,
           per_round_ratio("pipelined", c, "goroutine", "goroutine", "rps", scen_b="plaintext"), ">= 6.00", lambda v: v >= 6.0)

result = {
    "date": "$DATE_START", "stamp": stamp, "quick": $QUICK == 1,
    "cogo": {"git": "$GIT_REV", "build_id": "$BUILD_ID"},
    "host": {"kernel": os.uname().release, "cpus": os.cpu_count(),
             "load_start": "$LOAD_START", "load_end": "$LOAD_END"},
    "protocol": {"rounds": $ROUNDS, "duration_s": $DURATION, "pipeline_depth": $PIPE_DEPTH,
                 "sleep_ms": $SLEEP_MS, "server_core": 0, "wrk_core": 1,
                 "wrk": "taskset -c 1 wrk -t1 -c C -d ${DURATION}s --latency [-s loadtest/wrk/pipeline.lua URL -- $PIPE_DEPTH]",
                 "servers": {
                   "goroutine": "taskset -c 0 build/bin/cogo-server http --listen 127.0.0.1:28080 --model goroutine --maxprocs 1 --log-level warn",
                   "thread": "taskset -c 0 build/bin/cogo-server http --listen 127.0.0.1:28081 --model thread --maxprocs 1 --log-level warn",
                   "nginx": "taskset -c 0 nginx -p SCRATCH -c loadtest/baselines/nginx/nginx.conf",
                   "go": "GOMAXPROCS=1 taskset -c 0 go-http -listen 127.0.0.1:28083"}},
    "summary": summary, "targets": targets, "runs": runs,
}
path = os.path.join(out_dir, stamp + ".json")
with open(path, "w") as f: json.dump(result, f, indent=1)

def fmt(v, f):
    return "-" if v is None else f % v
lines = []
lines.append("| scenario | c | server | req/s | ratio | CPU µs/req | p50 ms | p99 ms | socket errors c/r/w/t | listen ovf/drop | RSS MiB | threads |")
lines.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in summary:
    e = s["errors_max"]
    ratio = "-" if s["rps_ratio"] is None else "%.2fx %s" % (s["rps_ratio"], s["rps_ratio_to"])
    lines.append("| %s | %d | %s | %s | %s | %s | %s | %s | %d/%d/%d/%d | %d/%d | %.1f | %d |" % (
        s["scenario"], s["connections"], s["server"] + ("*" if s["contaminated_runs"] else ""), fmt(s["rps"], "%.0f"), ratio,
        fmt(s["cpu_us_per_req"], "%.2f"), fmt(s["p50_ms"], "%.2f"), fmt(s["p99_ms"], "%.2f"),
        e["connect"], e["read"], e["write"], e["timeout"],
        s["listen_overflows_max"], s["listen_drops_max"], s["rss_end_kib"] / 1024, s["threads_end"]))
lines.append("")
lines.append("| target (issue 4) | measured | limit | result |")
lines.append("|---|---:|---:|---|")
for t in targets:
    v = t["value"]
    lines.append("| %s | %s | %s | %s |" % (t["target"], "-" if v is None else ("%.2f" % v if isinstance(v, float) else str(v)),
                                         t["limit"], t["result"] or "not measured"))
if any(s["contaminated_runs"] for s in summary):
    lines.append("")
    lines.append("Server marked with *: other processes took more than $MAX_OTHER% of core 0 during at least one of its runs, after all retries.")
table = "\n".join(lines)
open(os.path.join(out_dir, stamp + ".md"), "w").write(table + "\n")
print()
print(table)
print()
print("compare.sh: wrote %s" % path)

if have_gnuplot:
    dat = os.path.join(out_dir, stamp + ".dat")
    # one gnuplot index per (scenario, server): connections rps p99 rss_mib
    blocks = []
    for scen in ("plaintext", "pipelined", "sleep"):
        for srv in servers:
            rows = sorted((s for s in summary if s["scenario"] == scen and s["server"] == srv), key=lambda s: s["connections"])
            if rows: blocks.append((scen, srv, rows))
    with open(dat, "w") as f:
        for scen, srv, rows in blocks:
            f.write("# %s %s\n" % (scen, srv))
            for s in rows:
                f.write("%d %.1f %s %.2f\n" % (s["connections"], s["rps"], "NaN" if s["p99_ms"] is None else "%.3f" % s["p99_ms"], s["rss_end_kib"] / 1024))
            f.write("\n\n")
    def plot(name, title, ylabel, col, scens, logy=False):
        curves = []
        for i, (scen, srv, rows) in enumerate(blocks):
            if scen in scens:
                label = srv if len(scens) == 1 else "%s %s" % (srv, scen)
                curves.append("'%s' index %d using 1:%d with linespoints lw 2 title '%s'" % (dat, i, col, label))
        if not curves: return
        png = os.path.join(out_dir, "%s-%s.png" % (stamp, name))
        script = "\n".join([
            "set terminal pngcairo size 900,540 font ',11'" , "set output '%s'" % png,
            "set title '%s'" % title, "set xlabel 'connections'", "set ylabel '%s'" % ylabel,
            "set logscale x", "set grid", "set key outside right",
            "set logscale y" if logy else "set yrange [0:*]",
            "plot " + ", ".join(curves)])
        p = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if p.returncode != 0:
            try:
                script = script.replace("pngcairo", "png")
                p = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True, check=True)
            except subprocess.CalledProcessError as e:
                raise SystemExit("compare.sh: gnuplot failed: %s" % e.stderr)
        print("compare.sh: wrote %s" % png)
    plot("rps", "plaintext keep-alive: requests/s (server on 1 core)", "requests/s", 2, ("plaintext",))
    plot("p99", "plaintext keep-alive: p99 latency", "p99 latency (ms)", 3, ("plaintext",), logy=True)
    plot("rss", "server RSS at the end of the run", "VmRSS (MiB)", 4, ("plaintext", "sleep"), logy=True)
    plot("sleep", "GET /sleep?ms=$SLEEP_MS: requests/s", "requests/s", 2, ("sleep",))
EOF
