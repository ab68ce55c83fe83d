# shellcheck shell=bash
# loadtest/lib/common.sh: the helpers compare.sh, memory.sh and c100k.sh
# share; sourced, never run. Each function says which globals it reads or sets.
#
#   messages      die, note (prefixed with the script's name), usage (--help)
#   preconditions need TOOL PACKAGE, need_cogo_server, raise_fd_limit N
#   servers       wanted, drop_unless_installed, port_busy, free_port, children,
#                 start_server / stop_server (a fresh server on core 0)
#   scratch       make_scratch (WORK, STARTED and the cleanup on exit),
#                 snapshot_cogo_server, build_go_baseline
#   sampling      proc_cpu_ticks / cpu_ticks (/proc/PID/stat), mem
#                 (/proc/PID/status), cpu_busy_ticks (/proc/stat)

PROG=${0##*/}

die() { echo "$PROG: $*" >&2; exit 1; }
note() { echo "$PROG: $*" >&2; }

# usage: the script's header comment, from line 2 to the line before `set -E`.
usage() { sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# ---- preconditions: fail loudly, naming the fix ----

# need TOOL PACKAGE: dies unless TOOL is on PATH.
need() { command -v "$1" >/dev/null || die "$1 not found — apt-get install $2"; }

# need_cogo_server: dies unless COGO_SERVER is an executable.
need_cogo_server() {
  [[ -x $COGO_SERVER ]] || die "$COGO_SERVER not found — build it: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target cogo-server"
}

# raise_fd_limit N: ulimit -n N for this shell and what it starts.
raise_fd_limit() {
  ulimit -n "$1" 2>/dev/null || die "cannot raise the fd limit to $1 (ulimit -n $1); the hard limit is $(ulimit -Hn)"
}

# ---- the servers: SERVERS lists the wanted ones, PORT[name] their ports ----

wanted() { [[ " $SERVERS " == *" $1 "* ]]; }

# drop_unless_installed NAME PACKAGE WHAT: without the tool NAME, takes NAME
# out of SERVERS with a note ("skipping WHAT").
drop_unless_installed() {
  if wanted "$1" && ! command -v "$1" >/dev/null; then
    note "$1 not installed (apt-get install $2): skipping $3"
    # Whole words only: "go" is also inside "goroutine".
    local kept=() s
    for s in $SERVERS; do [[ $s != "$1" ]] && kept+=("$s"); done
    SERVERS="${kept[*]}"
  fi
}

port_busy() { [[ -n $(ss -Hltn "sport = :$1") ]]; }

# free_port: a port in 20000-31999 that nothing listens on, below the
# kernel's ephemeral range (32768-60999), where the machine's outgoing
# connections take their ports: a port picked there can be taken (bind:
# Address already in use) by a client of another run beside this one.
free_port() {
  local p=$((20000 + RANDOM % 12000))
  while port_busy "$p"; do p=$((20000 + RANDOM % 12000)); done
  echo "$p"
}

# children PID: PID and its child processes (nginx's master and worker).
children() {
  local out=$1 c
  for c in $(pgrep -P "$1" || true); do out="$out $c"; done
  echo "$out"
}

# start_server NAME: a fresh server on core 0, logging to WORK/NAME.log; sets
# SERVER_PID (also appended to STARTED) and waits for its port PORT[NAME].
# cogo gets COGO_SERVER_ARGS after its usual flags.
SERVER_PID=""
COGO_SERVER_ARGS=()
start_server() {
  # shellcheck disable=SC2153  # PORT is the calling script's
  local name=$1 port=${PORT[$1]} log=$WORK/$1.log
  port_busy "$port" && die "port $port (for $name) is already in use: stop whatever listens there"
  case $name in
    goroutine | thread)
      taskset -c 0 "$COGO_SERVER" http --listen "127.0.0.1:$port" --model "$name" \
        --maxprocs 1 --log-level warn --shutdown-grace 1s "${COGO_SERVER_ARGS[@]}" >"$log" 2>&1 &
      ;;
    nginx)
      mkdir -p "$WORK/nginx/logs" "$WORK/nginx/temp"
      taskset -c 0 nginx -e stderr -p "$WORK/nginx" \
        -c "$ROOT/loadtest/baselines/nginx/nginx.conf" >"$log" 2>&1 &
      ;;
    go)
      GOMAXPROCS=1 taskset -c 0 "$WORK/go-http" -listen "127.0.0.1:$port" >"$log" 2>&1 &
      ;;
    *) die "unknown server $name" ;;
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

# stop_server NAME: SIGTERM to SERVER_PID (SIGKILL to it and its children after
# 10 s), then waits until PORT[NAME] is free.
stop_server() {
  local name=$1 pid=$SERVER_PID pids
  pids=$(children "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    note "$name (pid $pid) ignored SIGTERM for 10 s: killing it"
    # shellcheck disable=SC2086  # pids: a list
    kill -KILL $pids 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  for _ in $(seq 100); do port_busy "${PORT[$name]}" || return 0; sleep 0.1; done
  die "port ${PORT[$name]} still busy after $name stopped"
}

# ---- the scratch directory and what runs meanwhile ----

# make_scratch PREFIX: WORK=/tmp/PREFIX.XXXXXX, fresh. From then on, leaving
# the script ends every process in STARTED (SIGTERM, SIGKILL after 5 s) and
# removes WORK, unless KEEP=1 or the script failed.
STARTED=()
make_scratch() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  trap cleanup_started EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

cleanup_started() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  for p in "${STARTED[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${STARTED[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [[ ${KEEP:-0} == 1 || $rc != 0 ]]; then
    note "scratch directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}

# snapshot_cogo_server: copies COGO_SERVER into WORK and points COGO_SERVER at
# the copy, so one binary is measured throughout even if build/ is rebuilt
# meanwhile; sets BUILD_ID (its GNU build id) and GIT_REV (COGO_REV, or `git
# describe --dirty`).
# shellcheck disable=SC2034  # BUILD_ID, GIT_REV: for the calling script
snapshot_cogo_server() {
  cp "$COGO_SERVER" "$WORK/cogo-server" || die "cannot copy $COGO_SERVER"
  BUILD_ID=$(file -L "$WORK/cogo-server" | grep -o 'BuildID\[sha1\]=[0-9a-f]*' | cut -d= -f2 || true)
  GIT_REV=${COGO_REV:-$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)}
  COGO_SERVER=$WORK/cogo-server
}

# build_go_baseline: WORK/go-http from loadtest/baselines/go-http, offline.
build_go_baseline() {
  (cd "$ROOT/loadtest/baselines/go-http" &&
    GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local go build -o "$WORK/go-http" .) ||
    die "go build of loadtest/baselines/go-http failed"
}

# ---- sampling /proc ----

# proc_cpu_ticks PID: utime+stime of one process, in clock ticks; fails (with
# bash's message on stderr) when the process is gone.
proc_cpu_ticks() {
  local rest
  rest=$(<"/proc/$1/stat") || return 1
  rest=${rest##*) }
  # after "pid (comm) ": state ppid ... utime is the 12th field, stime the 13th
  awk '{printf "%.0f\n", $12 + $13}' <<<"$rest"
}

# cpu_ticks PIDS...: utime+stime of the processes, summed, in clock ticks.
cpu_ticks() {
  local p sum=0 ticks
  for p in "$@"; do
    ticks=$(proc_cpu_ticks "$p") || die "server process $p vanished"
    sum=$((sum + ticks))
  done
  echo "$sum"
}

# mem PIDS...: "VmRSS_KiB Threads VmSize_KiB" summed over the processes.
mem() {
  local files=() p
  for p in "$@"; do files+=("/proc/$p/status"); done
  awk '/^VmRSS:/{r+=$2} /^Threads:/{t+=$2} /^VmSize:/{v+=$2} END{print r+0, t+0, v+0}' "${files[@]}" 2>/dev/null
}

# cpu_busy_ticks [LINE]: busy ticks (user nice system irq softirq steal) of one
# /proc/stat line: cpu (all cores, the default), cpu0, cpu1, ...
cpu_busy_ticks() {
  awk -v cpu="${1:-cpu}" '$1==cpu{printf "%.0f\n", $2+$3+$4+$7+$8+$9}' /proc/stat
}

# make_json64k FILE: exactly 65,536 bytes of valid JSON (rows of users, the
# last name padded), the same bytes every time: static.sh's gzip64k body.
make_json64k() {
  python3 - "$1" <<'EOF'
import json, random, sys
random.seed(12)
rows = []
while len(json.dumps(rows)) <= 65536:
    i = len(rows)
    rows.append({"id": i, "name": "user%05d" % i, "email": "user%05d@example.com" % i,
                 "score": round(random.random() * 1000, 3),
                 "tags": random.sample(["a", "b", "c", "d", "e"], 2), "active": i % 3 == 0})
open(sys.argv[1], "w").write(json.dumps(rows))
EOF
  # Exactly 65,536 bytes of valid JSON: pad the last string.
  python3 - "$1" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
while len(json.dumps(rows)) > 65536: rows.pop()
pad = 65536 - len(json.dumps(rows))
rows[-1]["name"] += "x" * pad
assert len(json.dumps(rows)) == 65536
open(sys.argv[1], "w").write(json.dumps(rows))
EOF
}
