#!/usr/bin/env bash
# Cost of the allocation hooks on the worst case: malloc_loop's N small malloc/free pairs
# (16-256 bytes), in alternating rounds, run
#   - uninstrumented;
#   - with the shim recording into a live sweep's database (as bench_startup.sh attaches
#     it), allocation sampling on (MEMSWEEP_ALLOC=1, the default);
#   - with count_interposer, hooks that only bump a thread-local counter and forward;
#   - under heaptrack, when it is installed.
# Prints the medians and each one's ratio to the uninstrumented run; asserts nothing
# about time. Targets (docs/performance.md): shim <= 1.3x; for reference the counting
# interposer is about 1.2x and heaptrack about 13x.
# Usage: bench/bench_malloc.sh [PAIRS] [ROUNDS] [HEAPTRACK_ROUNDS]
#   (defaults 50000000, 5 and 1; heaptrack takes about 25 s per round at the default size)
source "$(dirname "$0")/lib.sh"
N=${1:-50000000}
ROUNDS=${2:-5}
HT_ROUNDS=${3:-1}
LOOP=$MS_BUILD_DIR/malloc_loop
COUNTER=$MS_BUILD_DIR/libcount_interposer.so
for f in "$LOOP" "$COUNTER"; do
  [ -e "$f" ] || { echo "bench: $f is missing; build first (cmake --build build)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/ms-bench-malloc-XXXXXX)
trap 'rm -rf "$work"' EXIT

# A live sweep whose one run sleeps while the measured processes join its run.
start_live_sweep "$work"

# Each mode prints malloc_loop's one line on stdout; a different line means a broken run.
expected=$("$LOOP" "$N")
check_out() {
  [ "$1" = "$expected" ] || { echo "bench: $2 printed '$1', expected '$expected'" >&2; exit 1; }
}
# time_cmd NAME CMD...: runs CMD, checks its output, and appends its wall time to the
# array NAME and its CPU time (user + system, which a virtual machine's stolen time does
# not inflate) to NAME_cpu.
TIMEFORMAT='%R %U %S'
time_cmd() {
  local -n acc=$1 acc_cpu=${1}_cpu
  shift
  local out r u s
  out=$( { time "$@" 2>/dev/null; } 2>"$work/time")
  check_out "$out" "$*"
  read -r r u s <"$work/time"
  acc+=("$r")
  acc_cpu+=("$(calc "$u + $s")")
}

plain=() shim=() count=() ht=() plain_cpu=() shim_cpu=() count_cpu=() ht_cpu=()
for ((r = 0; r < ROUNDS; r++)); do
  time_cmd plain "$LOOP" "$N"
  time_cmd shim env MEMSWEEP_DB="$db" MEMSWEEP_SPOOL="$pool" MEMSWEEP_ALLOC=1 \
    LD_PRELOAD="$MS_SHIM" "$LOOP" "$N"
  time_cmd count env LD_PRELOAD="$COUNTER" "$LOOP" "$N"
done
# The counting interposer really was in the path: it saw every pair.
counted=$(COUNT_INTERPOSER_REPORT=1 LD_PRELOAD="$COUNTER" "$LOOP" 1000 2>&1 >/dev/null)

have_ht=0
ht_reason="the heaptrack command is not installed"
[ "$HT_ROUNDS" -gt 0 ] || ht_reason="HEAPTRACK_ROUNDS is 0"
if [ "$HT_ROUNDS" -gt 0 ] && command -v heaptrack >/dev/null 2>&1; then
  have_ht=1
  for ((r = 0; r < HT_ROUNDS; r++)); do
    # heaptrack's own output goes to a log; the program's line is checked from it. Its
    # CPU time includes heaptrack_interpret, which runs beside the program.
    { time heaptrack -o "$work/ht$r" "$LOOP" "$N" >"$work/ht$r.log" 2>&1; } 2>"$work/time"
    grep -qxF "$expected" "$work/ht$r.log" || { echo "bench: heaptrack run failed:" >&2; cat "$work/ht$r.log" >&2; exit 1; }
    read -r hr hu hs <"$work/time"
    ht+=("$hr")
    ht_cpu+=("$(calc "$hu + $hs")")
    ht_size=$(du -m "$work"/ht"$r".* | awk '{s += $1} END {print s}')
    rm -f "$work"/ht"$r".*
  done
fi

p=$(median "${plain[@]}"); s=$(median "${shim[@]}"); c=$(median "${count[@]}")
pc=$(median "${plain_cpu[@]}"); sc=$(median "${shim_cpu[@]}"); cc=$(median "${count_cpu[@]}")
recorded=$(sqlite3 "$db" "SELECT count(*), COALESCE(sum(alloc_tracking), 0) FROM processes
                          WHERE run_id = $run_id AND exe LIKE '%/malloc_loop'")
printf 'malloc: malloc_loop %s pairs (16-256 bytes), median of %d alternating rounds\n' "$N" "$ROUNDS"
printf '                       wall      ratio   CPU       ratio   CPU per pair\n'
row() {
  printf '  %-20s %7.3f s  %5.3f  %7.3f s  %5.3f  %+.1f ns\n' "$1" "$2" "$(calc "$2 / $p")" \
    "$3" "$(calc "$3 / $pc")" "$(calc "($3 - $pc) * 1e9 / $N")"
}
printf '  %-20s %7.3f s  %5s  %7.3f s  %5s  %.1f ns\n' uninstrumented "$p" "" "$pc" "" \
  "$(calc "$pc * 1e9 / $N")"
row "shim, recording" "$s" "$sc"
row "counting interposer" "$c" "$cc"
if [ "$have_ht" = 1 ]; then
  h=$(median "${ht[@]}"); hc=$(median "${ht_cpu[@]}")
  printf '  %-20s %7.3f s  %5.1f  %7.3f s  %5.1f  (median of %d; trace file %s MiB)\n' heaptrack \
    "$h" "$(calc "$h / $p")" "$hc" "$(calc "$hc / $pc")" "$HT_ROUNDS" "$ht_size"
else
  echo "  heaptrack            not measured: $ht_reason"
fi
printf '  shim processes recorded (rows|with alloc_tracking on): %s (expected %d|%d)\n' \
  "$recorded" "$ROUNDS" "$ROUNDS"
printf '  %s (1000-pair check run)\n' "$counted"
