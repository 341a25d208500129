#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite (unit and integration;
# benchmarks are separate: `ctest --test-dir build -L bench`), then the sanitizer and
# fuzzing gates of scripts/gates.sh unless MEMSWEEP_GATES=0. With CI=true warnings are
# errors.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
werror=OFF
[ "${CI:-}" = true ] && werror=ON
scripts/build.sh -DMEMSWEEP_WERROR=$werror
ctest --test-dir build -LE bench --output-on-failure -j 2
if [ "${MEMSWEEP_GATES:-1}" != 0 ]; then
    scripts/gates.sh
fi
