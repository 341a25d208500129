#!/usr/bin/env bash
# Configures and builds memsweep in ./build (extra arguments go to cmake's configure).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
