#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite (unit and integration;
# benchmarks are separate: `ctest --test-dir build -L bench`), then the sanitizer and
# fuzzing gates of scripts/gates.sh unless MEMSWEEP_GATES=0. With CI=true warnings are
# errors, and a test skipped for want of a package fails (scripts/deps.sh installed them).
# Arguments go to ctest, for a quick local run of part of the suite: `scripts/test.sh -L
# unit`, `MEMSWEEP_GATES=0 scripts/test.sh -R it_grid`. The suite asserts invariants and
# outcomes only, so it is green on a busy machine too (docs/reliability.md#tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
werror=OFF
[ "${CI:-}" = true ] && werror=ON
scripts/build.sh -DMEMSWEEP_WERROR=$werror
ctest --test-dir build -LE bench --output-on-failure -j 2 "$@"
if [ "${MEMSWEEP_GATES:-1}" != 0 ]; then
    scripts/gates.sh
fi
