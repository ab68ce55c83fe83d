#!/usr/bin/env bash
# scrape_test.sh BIN_DIR: a real Prometheus (Debian's prometheus package)
# scrapes a real cogo-server's admin port. Passes when the target is up, the
# counters Prometheus stored equal what this script sent (one connection per
# curl: cogo_connections_accepted_total; cogo_http_requests_total by route
# and code, 503s from --handler-timeout included), and every query of the
# README's ```promql block answers with a number. Also checks
# docker/prometheus/ with promtool: config, rules, rule unit tests.
# ctest runs it as PrometheusScrapesCogo.
set -euo pipefail
bin=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/cogo-prom.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# Debian's python3 (a python3 earlier on PATH, e.g. a pyenv shim, can take
# seconds to start, and the script starts it twice per query).
py=$(command -v /usr/bin/python3 || command -v python3)
fail() { echo "scrape_test: $*" >&2; for f in "$work"/*.log; do echo "== $f" >&2; tail -20 "$f" >&2; done; exit 1; }

echo "== promtool on docker/prometheus"
(cd "$src/docker/prometheus" && promtool check config prometheus.yml && promtool check rules rules.yml \
   && promtool test rules rules_test.yml)

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$bin/cogo-server" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --handler-timeout 100ms >"$work/cogo.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do grep -q "listening on" "$work/cogo.log" && break; sleep 0.1; done
line=$(grep "listening on" "$work/cogo.log") || fail "cogo-server did not start"
http=$(echo "$line" | grep -o '127.0.0.1:[0-9]* (http)' | cut -d' ' -f1)
admin=$(echo "$line" | grep -o '127.0.0.1:[0-9]* (admin)' | cut -d' ' -f1)
[ -n "$http" ] && [ -n "$admin" ] || fail "no ports in: $line"

prom=$(free_port)
cat >"$work/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: cogo
    static_configs: [{targets: ["$admin"]}]
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom" >"$work/prometheus.log" 2>&1 &
pids+=($!)

query() {
  curl -fs --get "http://127.0.0.1:$prom/api/v1/query" --data-urlencode "query=$1" |
    "$py" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
up=""
for _ in $(seq 1 120); do
  up=$(query 'up{job="cogo"}' 2>/dev/null || true)
  [ "$up" = "1" ] && break
  sleep 0.5
done
[ "$up" = "1" ] || fail "Prometheus never saw the target up (up=$up)"

# Traffic spread over a few scrapes, so that rates over it are not 0/0:
# GET / answered 200, and GET /sleep?ms=300 cut by --handler-timeout (503).
sent=25 slow=3
for i in $(seq 1 $sent); do
  curl -fs -o /dev/null "http://$http/"
  if [ $((i % 8)) = 0 ]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://$http/sleep?ms=300")
    [ "$code" = 503 ] || fail "GET /sleep?ms=300 with --handler-timeout 100ms answered $code, not 503"
  fi
  sleep 0.2
done
accepted="" ok="" unavailable=""
for _ in $(seq 1 120); do
  accepted=$(query 'cogo_connections_accepted_total{job="cogo"}' 2>/dev/null || true)
  ok=$(query 'cogo_http_requests_total{job="cogo",method="GET",route="/",code="200"}' 2>/dev/null || true)
  unavailable=$(query 'cogo_http_requests_total{job="cogo",method="GET",route="/sleep",code="503"}' 2>/dev/null || true)
  [ "$accepted" = $((sent + slow)) ] && [ "$ok" = "$sent" ] && [ "$unavailable" = "$slow" ] && break
  sleep 0.5
done
[ "$accepted" = $((sent + slow)) ] || fail "Prometheus stored accepted=$accepted, the script made $((sent + slow)) connections"
[ "$ok" = "$sent" ] || fail "Prometheus stored $ok GET / 200s, the script sent $sent"
[ "$unavailable" = "$slow" ] || fail "Prometheus stored $unavailable GET /sleep 503s, the script made $slow"
cancelled=$(query 'cogo_http_requests_cancelled_total{job="cogo",reason="deadline"}')
[ "$cancelled" = "$slow" ] || fail "cogo_http_requests_cancelled_total{reason=deadline} is $cancelled, not $slow"

# Every query the README gives an operator answers with a number here.
sed -n '/^```promql$/,/^```$/p' "$src/README.md" | sed '1d;$d' | sed 's/[[:space:]]*#.*$//' >"$work/queries"
[ "$(wc -l <"$work/queries")" -ge 10 ] || fail "no \`\`\`promql block of queries in README.md"
while IFS= read -r q; do
  v=$(query "$q") || fail "Prometheus refused the README's query: $q"
  "$py" -c 'import math,sys; v=sys.argv[1]; sys.exit(0 if v and not math.isnan(float(v)) else 1)' "$v" ||
    fail "the README's query answered '$v', not a number: $q"
  echo "  $v  <- $q"
done <"$work/queries"
goroutines=$(query 'cogo_goroutines{job="cogo"}')
[ -n "$goroutines" ] && [ "${goroutines%.*}" -ge 1 ] || fail "no cogo_goroutines in Prometheus"
echo "Prometheus scraped cogo: up=$up, accepted=$accepted, GET / 200: $ok, GET /sleep 503: $unavailable, goroutines=$goroutines, $(wc -l <"$work/queries") README queries answered"
