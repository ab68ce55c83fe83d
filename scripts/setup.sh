#!/usr/bin/env bash
# setup.sh installs the Debian packages cogo needs, and only those missing.
# Used by scripts/start.sh and scripts/test.sh; safe to run again.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libboost-context1.81-dev libssl-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  node-llhttp nlohmann-json3-dev wrk curl openssl python3
  prometheus python3-prometheus-client
  # this round: compression, HTTP/2, basic auth, MIME types, fuzzing and
  # sanitizers (clang), and the independent clients the tests talk to
  zlib1g-dev libbrotli-dev libzstd-dev libnghttp2-dev nghttp2-client
  libcrypt-dev media-types clang-14 libclang-rt-14-dev
  libicu-dev  # basic_auth's PRECIS profiles (RFC 8265): Unicode properties, NFC
  python3-websockets python3-h2 python3-brotli python3-zstandard
)
# Extra groups: `setup.sh loadtest` adds what the comparison scripts use.
for group in "$@"; do
  case "$group" in
    # libboost1.81-dev: Boost.Beast's headers; nodejs, npm: Node's ws (ws_compare.sh)
    # A Node.js from elsewhere (NodeSource's nodejs ships its own npm and
    # conflicts with Debian's npm) is used as it is.
    loadtest)
      PACKAGES+=(gnuplot-nox nginx-light golang-go linux-perf libboost1.81-dev)
      command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm) ;;
    *) echo "setup.sh: unknown group '$group' (known: loadtest)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
