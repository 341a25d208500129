#!/usr/bin/env bash
# Cost of the shim on process start and exit: N runs of /bin/true with and without the
# shim attached as the launcher attaches it (MEMSWEEP_DB and MEMSWEEP_RUN_ID set), in
# alternating rounds, while a sweep is running on the database (its launcher keeps the
# database open, as during any real sweep). Prints the per-process cost in ms and the ratio.
# Usage: bench/bench_startup.sh [N] [ROUNDS]
source "$(dirname "$0")/lib.sh"
N=${1:-500}
ROUNDS=${2:-5}
work=$(mktemp -d /tmp/ms-bench-startup-XXXXXX)
trap 'rm -rf "$work"' EXIT

# A live sweep whose one run sleeps while the measured processes join its run.
start_live_sweep "$work"

loop_plain() { for ((i = 0; i < N; i++)); do /bin/true; done; }
loop_shim() {
  for ((i = 0; i < N; i++)); do
    MEMSWEEP_DB=$db MEMSWEEP_RUN_ID=1 LD_PRELOAD=$MS_SHIM /bin/true
  done
}
loop_env() { for ((i = 0; i < N; i++)); do MEMSWEEP_DB= MEMSWEEP_RUN_ID=1 LD_PRELOAD=$MS_SHIM /bin/true; done; }

plain=() shim=() inert=()
for ((r = 0; r < ROUNDS; r++)); do
  t0=$(now); loop_plain; t1=$(now); loop_shim; t2=$(now); loop_env; t3=$(now)
  plain+=("$(calc "$t1 - $t0")")
  shim+=("$(calc "$t2 - $t1")")
  inert+=("$(calc "$t3 - $t2")")
done
p=$(median "${plain[@]}"); s=$(median "${shim[@]}"); e=$(median "${inert[@]}")
rows=$(sqlite3 "$db" "SELECT count(*) FROM processes WHERE run_id = 1")
printf 'startup: %d x /bin/true, median of %d rounds\n' "$N" "$ROUNDS"
printf '  without shim:        %.3f s\n' "$p"
printf '  shim, inert (no db): %.3f s  (+%.3f ms per process)\n' "$e" "$(calc "($e - $p) * 1000 / $N")"
printf '  shim, recording:     %.3f s  (+%.3f ms per process, ratio %.2f)\n' "$s" \
  "$(calc "($s - $p) * 1000 / $N")" "$(calc "$s / $p")"
printf '  processes recorded:  %d (expected %d)\n' "$rows" "$((N * ROUNDS + 1))"
