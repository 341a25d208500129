#!/usr/bin/env bash
# Installs what is needed, builds, and runs a demo sweep of the bundled workload: nine
# workers of three sizes, some with a short spike in the middle of their run, two at a
# time. Writes its HTML report and ends with the advisory.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
echo "memsweep: running the demo sweep (nine workers of about 2.5 s, two at a time: 15 to 20 seconds)..." >&2
build/memsweep run -j 2 -o results/demo \
  -P mib=64,128,256 -P spike=0,96,192 -- \
  build/ms_workload --mib '{mib}' --hold-ms 1000 --spike-mib '{spike}' --spike-ms 700 \
  --tail-ms 800 >/dev/null
sweep=$(ls -d results/demo/sweep_* | tail -n 1)
build/memsweep report -f -o results/demo/report.html "$sweep"
echo "memsweep: the sweep as a web page: results/demo/report.html" >&2
build/memsweep advise "$sweep"
