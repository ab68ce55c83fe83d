#!/usr/bin/env bash
# run.sh BUILD_DIR: installs the build into a scratch prefix, then builds
# tests/install (a user's project) against it twice — with find_package(cogo)
# and with pkg-config — and runs both. ctest runs it as InstallAndBuildOutOfTree.
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/cogo-install.XXXXXX)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
for f in bin/cogo-server bin/cogo-load include/cogo/http.h include/cogo/cogo.h \
         lib/cmake/cogo/cogoConfig.cmake lib/pkgconfig/cogo.pc; do
  [ -e "$work/prefix/$f" ] || { echo "run.sh: the install has no $f" >&2; exit 1; }
done
if [ -n "$(find "$work/prefix/include" -path '*private*' -o -name 'conn_stream.h')" ]; then
  echo "run.sh: private headers were installed" >&2
  exit 1
fi

echo "== find_package(cogo)"
cmake -S "$here" -B "$work/user" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/user" -j2 >/dev/null
"$work/user/hello_installed"

echo "== pkg-config cogo"
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
c++ -std=c++20 -O1 "$here/main.cpp" -o "$work/hello_pc" $(pkg-config --cflags --libs cogo)
"$work/hello_pc"
