#!/usr/bin/env bash
# start.sh builds cogo (Release) and starts the main program with the given
# arguments: cogo-server when it exists, else the runtime demo. Installs
# missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
if [ -x build/bin/cogo-server ]; then
  exec build/bin/cogo-server "$@"
fi
exec build/bin/cogo-demo "$@"
