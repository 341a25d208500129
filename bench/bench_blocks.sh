#!/usr/bin/env bash
# The cost of recording large blocks (MEMSWEEP_BLOCK_MB), in its worst case: block_loop
# allocates a 32 MiB block, writes a page of it per 4 KiB of its first MiB, and frees it,
# ROUNDS times. Each allocation takes the stack capture (the raw-address cache spares the
# symbolization after the first), the table's lock and a removal at the free.
# Counted in instructions with cachegrind (ROUNDS and 2 x ROUNDS, the difference divided
# by ROUNDS is one round, free of start-up), with no allocation-driven sample (see below),
# for: no shim, the shim with blocks off
# (MEMSWEEP_BLOCK_MB=0), the shim as by default, and with --baseline DIR (bench/baseline.sh)
# the baseline's shim. Then wall time per round, the configurations alternating, median and
# fastest of 5.
# Usage: bench/bench_blocks.sh [--baseline DIR] [ROUNDS]   (default 2000)
source "$(dirname "$0")/lib.sh"
parse_baseline_option "$@"
set -- "${MS_ARGS[@]}"
ROUNDS=${1:-2000}
LOOP=$MS_BUILD_DIR/block_loop
work=$(mktemp -d /tmp/ms-bench-blocks-XXXXXX)
trap 'rm -rf "$work"' EXIT

configs=(plain blocks_off shim)
# No allocation-driven samples (MEMSWEEP_ALLOC_MAX_PER_S=0): their token bucket follows
# the clock, so under cachegrind's slowdown they would come at another rate than outside
# it and make the count vary; what is left is the recording of the blocks.
quiet="MEMSWEEP_ALLOC_MAX_PER_S=0"
envs=("MEMSWEEP_DB=" "MEMSWEEP_DB=$work/a.db $quiet MEMSWEEP_BLOCK_MB=0 LD_PRELOAD=$MS_SHIM"
      "MEMSWEEP_DB=$work/b.db $quiet LD_PRELOAD=$MS_SHIM")
if [ -n "$BASE_SHIM" ]; then
  configs+=("baseline_$BASE_DESC")
  envs+=("MEMSWEEP_DB=$work/c.db $quiet LD_PRELOAD=$BASE_SHIM")
fi

instructions() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    --trace-children=yes "$@" 2>&1 >/dev/null |
    awk '/I +refs:/ { gsub(",", "", $NF); last = $NF } END { print last }'
}

echo "large blocks: $ROUNDS rounds of malloc(32 MiB), 256 pages written, free"
echo "  reproduce: bench/bench_blocks.sh${BASE_DIR:+ --baseline $BASE_DIR} $ROUNDS"
if command -v valgrind >/dev/null; then
  for i in "${!configs[@]}"; do
    # shellcheck disable=SC2086
    a=$(instructions env ${envs[$i]} "$LOOP" "$ROUNDS")
    # shellcheck disable=SC2086
    b=$(instructions env ${envs[$i]} "$LOOP" $((2 * ROUNDS)))
    printf '  %-20s %9.0f instructions a round\n' "${configs[$i]}" "$(calc "($b - $a) / $ROUNDS")"
  done
fi
declare -A times
for r in 1 2 3 4 5; do
  for i in "${!configs[@]}"; do
    t0=$(now)
    # shellcheck disable=SC2086
    env ${envs[$i]} "$LOOP" "$ROUNDS" >/dev/null
    t1=$(now)
    times[$i]+=" $(calc "($t1 - $t0) / $ROUNDS * 1000000")"
  done
done
for i in "${!configs[@]}"; do
  # shellcheck disable=SC2086
  printf '  %-20s wall %.1f us a round (median of 5), fastest %.1f\n' "${configs[$i]}" \
    "$(median ${times[$i]})" "$(printf '%s\n' ${times[$i]} | sort -g | head -1)"
done
