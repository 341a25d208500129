#!/usr/bin/env bash
# Slowdown of a CPU-bound program with the shim recording at the default 500 ms interval:
# cpu_loop with and without the shim, alternating, ROUNDS times each. Prints the medians
# and their ratio.
# Usage: bench/bench_cpu.sh [ITERATIONS] [ROUNDS]
source "$(dirname "$0")/lib.sh"
ITER=${1:-3000000000}
ROUNDS=${2:-5}
LOOP=$MS_BUILD_DIR/cpu_loop
work=$(mktemp -d /tmp/ms-bench-cpu-XXXXXX)
trap 'rm -rf "$work"' EXIT

"$MS_BIN" run -j 1 -o "$work/out" -- /bin/true >/dev/null 2>&1
db=$(ls -d "$work"/out/sweep_*)/memsweep.db

plain=() shim=()
for ((r = 0; r < ROUNDS; r++)); do
  t0=$(now); "$LOOP" "$ITER" >/dev/null; t1=$(now)
  MEMSWEEP_DB=$db LD_PRELOAD=$MS_SHIM "$LOOP" "$ITER" >/dev/null; t2=$(now)
  plain+=("$(calc "$t1 - $t0")")
  shim+=("$(calc "$t2 - $t1")")
done
p=$(median "${plain[@]}"); s=$(median "${shim[@]}")
ticks=$(sqlite3 "$db" "SELECT count(*) FROM samples WHERE kind = 'tick'")
printf 'cpu: cpu_loop %s, median of %d rounds\n' "$ITER" "$ROUNDS"
printf '  without shim: %.3f s\n  with shim:    %.3f s\n  ratio:        %.4f\n' "$p" "$s" "$(calc "$s / $p")"
printf '  tick samples recorded: %d\n' "$ticks"
