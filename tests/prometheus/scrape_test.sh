#!/usr/bin/env bash
# scrape_test.sh BIN_DIR: a real Prometheus (Debian's prometheus package)
# scrapes a real cogo-server's admin port. Passes when the target is up,
# and the request counter Prometheus stored equals the requests this script
# sent (cogo_connections_accepted_total: one connection per curl). Also
# checks docker/prometheus/ with promtool: config, rules, rule unit tests.
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
fail() { echo "scrape_test: $*" >&2; for f in "$work"/*.log; do echo "== $f" >&2; tail -20 "$f" >&2; done; exit 1; }

echo "== promtool on docker/prometheus"
(cd "$src/docker/prometheus" && promtool check config prometheus.yml && promtool check rules rules.yml \
   && promtool test rules rules_test.yml)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$bin/cogo-server" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$work/cogo.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do grep -q "listening on" "$work/cogo.log" && break; sleep 0.1; done
line=$(grep "listening on" "$work/cogo.log") || fail "cogo-server did not start"
http=$(echo "$line" | grep -o '127.0.0.1:[0-9]* (http)' | cut -d' ' -f1)
admin=$(echo "$line" | grep -o '127.0.0.1:[0-9]* (admin)' | cut -d' ' -f1)
[ -n "$http" ] && [ -n "$admin" ] || fail "no ports in: $line"

sent=25
for _ in $(seq 1 $sent); do curl -fs -o /dev/null "http://$http/"; done

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
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
up="" accepted=""
for _ in $(seq 1 120); do
  up=$(query 'up{job="cogo"}' 2>/dev/null || true)
  accepted=$(query 'cogo_connections_accepted_total{job="cogo"}' 2>/dev/null || true)
  [ "$up" = "1" ] && [ "$accepted" = "$sent" ] && break
  sleep 0.5
done
[ "$up" = "1" ] || fail "Prometheus never saw the target up (up=$up)"
[ "$accepted" = "$sent" ] || fail "Prometheus stored accepted=$accepted, the script made $sent connections"
goroutines=$(query 'cogo_goroutines{job="cogo"}')
[ -n "$goroutines" ] && [ "${goroutines%.*}" -ge 1 ] || fail "no cogo_goroutines in Prometheus"
echo "Prometheus scraped cogo: up=$up, accepted=$accepted (sent $sent), goroutines=$goroutines"
