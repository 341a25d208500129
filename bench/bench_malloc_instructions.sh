#!/usr/bin/env bash
# Instructions per malloc/free pair, counted by valgrind's cachegrind: repeatable whatever
# else the machine is doing, unlike wall time. malloc_loop runs N and 2N pairs in each
# configuration; the difference divided by N is the cost of one pair, free of start-up.
# Configurations: uninstrumented, the bare counting interposer, the shim recording with
# allocation sampling on, and the shim in timer-only mode (MEMSWEEP_ALLOC=0).
# With --baseline DIR (a directory made by bench/baseline.sh, or MS_BASELINE), the
# baseline's shim is counted the same way beside this tree's.
# Usage: bench/bench_malloc_instructions.sh [--baseline DIR] [N]   (default 2000000)
source "$(dirname "$0")/lib.sh"
parse_baseline_option "$@"
set -- "${MS_ARGS[@]}"
N=${1:-2000000}
LOOP=$MS_BUILD_DIR/malloc_loop
COUNTER=$MS_BUILD_DIR/libcount_interposer.so
command -v valgrind >/dev/null || { echo "bench: valgrind is not installed; skipped"; exit 0; }
work=$(mktemp -d /tmp/ms-bench-instr-XXXXXX)
trap 'rm -rf "$work"' EXIT

# Instructions of one run: cachegrind's "I refs" total of the last program image (the
# command is `env VAR=... PROGRAM`, and valgrind follows env's exec into PROGRAM).
instructions() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    --trace-children=yes "$@" 2>&1 >/dev/null |
    awk '/I +refs:/ { gsub(",", "", $NF); last = $NF } END { print last }'
}

# per_pair LABEL ENV...: instructions per pair in that environment.
per_pair() {
  local label=$1
  shift
  local a b
  a=$(instructions env "$@" "$LOOP" "$N")
  b=$(instructions env "$@" "$LOOP" $((2 * N)))
  printf '%s %s\n' "$label" "$(calc "($b - $a) / $N")"
}

db=$work/instr.db
{
  per_pair plain MEMSWEEP_DB=
  per_pair counting LD_PRELOAD="$COUNTER"
  per_pair shim MEMSWEEP_DB="$db" LD_PRELOAD="$MS_SHIM"
  per_pair shim_timer_only MEMSWEEP_DB="$db" MEMSWEEP_ALLOC=0 LD_PRELOAD="$MS_SHIM"
  if [ -n "$BASE_SHIM" ]; then
    per_pair "baseline_$BASE_DESC" MEMSWEEP_DB="$work/base.db" LD_PRELOAD="$BASE_SHIM"
    per_pair "baseline_timer_only" MEMSWEEP_DB="$work/base.db" MEMSWEEP_ALLOC=0 LD_PRELOAD="$BASE_SHIM"
  fi
} >"$work/pairs"
plain=$(awk '$1 == "plain" { print $2 }' "$work/pairs")
printf 'malloc/free instructions per pair (cachegrind, %d and %d pairs)\n' "$N" $((2 * N))
echo "  reproduce: bench/bench_malloc_instructions.sh${BASE_DIR:+ --baseline $BASE_DIR} $N"
while read -r label v; do
  printf '  %-24s %7.1f  (ratio %.3f)\n' "$label" "$v" "$(calc "$v / $plain")"
done <"$work/pairs"
