#!/usr/bin/env bash
# Time and peak memory of `memsweep advise` on a generated database of RUNS runs and
# RUNS x PER_RUN samples (default 10,000 runs, 10 million samples), warm cache and, when
# the page cache can be dropped (root), cold.
# Usage: bench/bench_advise.sh [RUNS] [PER_RUN]
source "$(dirname "$0")/lib.sh"
RUNS=${1:-10000}
PER_RUN=${2:-1000}
work=$(mktemp -d /tmp/ms-bench-advise-XXXXXX)
trap 'rm -rf "$work"' EXIT

t0=$(now)
"$MS_BUILD_DIR/gen_sweepdb" "$work/memsweep.db" "$RUNS" "$PER_RUN"
t1=$(now)
samples=$(sqlite3 "$work/memsweep.db" "SELECT count(*) FROM samples")
printf 'advise: %d runs, %d samples, %s MiB database (generated in %.1f s)\n' "$RUNS" "$samples" \
  "$(( $(stat -c %s "$work/memsweep.db") / 1048576 ))" "$(calc "$t1 - $t0")"

run_once() {
  /usr/bin/time -f '%e %M' -o "$work/time" "$MS_BIN" advise "$work" >"$work/out"
  read -r secs kb <"$work/time"
  printf '  %-5s %6.2f s  %7.1f MiB max RSS\n' "$1" "$secs" "$(calc "$kb / 1024")"
}
if [ -w /proc/sys/vm/drop_caches ]; then
  sync; echo 3 >/proc/sys/vm/drop_caches
  run_once cold
fi
for i in 1 2 3; do run_once warm; done
grep -E '^(RunsTotal|RunsIncluded|MaxPeakRSS_MB):' "$work/out" | sed 's/^/  /'
