#!/usr/bin/env bash
# Instructions (user space, every thread, the dynamic loader included) that one short
# process, /bin/true, executes from its first instruction to its exit, counted by
# valgrind's cachegrind: a figure the machine's load cannot move, unlike the wall times of
# bench_floor.sh. Configurations:
#   none; the floor libraries of bench_floor.sh (empty, mmap of an existing 32 KiB file,
#   a new file with O_EXCL, a thread);
#   for this tree's shim and, with --baseline, the baseline's: inert (MEMSWEEP_DB unset)
#   and standalone (MEMSWEEP_DB set; one /bin/true first creates what the shim keeps,
#   then REPS more are counted, each a new top-level program joining it, as a sweep's
#   next worker would).
#   for this tree's shim, joining a pool made ahead as `memsweep run` makes one for each
#   run: self-sampled, and watched (what a worker under `memsweep run` executes).
# Each configuration is counted REPS times; the median, lowest and highest are printed
# with the median's difference to none. A shim whose threads wait for each other can
# execute more or fewer instructions from run to run (valgrind runs one thread at a time),
# hence the range. perf's instructions:u counter would count the same without valgrind,
# where the machine exposes it (virtual machines often do not); the script says which.
#
# Usage: bench/bench_start_instructions.sh [--baseline DIR] [REPS]   (default REPS: 5)
source "$(dirname "$0")/lib.sh"
parse_baseline_option "$@"
set -- "${MS_ARGS[@]}"
REPS=${1:-5}
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] ||
  { echo "bench: usage: bench_start_instructions.sh [--baseline DIR] [REPS]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "bench: valgrind is not installed; skipped"; exit 0; }
unset MEMSWEEP_DB MEMSWEEP_RUN_ID MEMSWEEP_SPOOL MEMSWEEP_INTERVAL_MS
work=$(mktemp -d "${TMPDIR:-/tmp}/ms-bench-sinstr-XXXXXX")
trap 'rm -rf "$work"' EXIT
for k in empty mmap excl thread; do
  build_bench_lib "$work/libfloor_$k.so" "$MS_SOURCE_DIR/bench/floor_$k.c"
done
head -c 32768 /dev/zero >"$work/floor.file"
mkdir -m 0700 "$work/excl"

# instructions ENV...: cachegrind's "I refs" of /bin/true started by env(1) with ENV; the
# last total is /bin/true's (valgrind follows env's exec into it).
instructions() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    --trace-children=yes env "$@" /bin/true 2>&1 >/dev/null |
    awk '/I +refs:/ { gsub(",", "", $NF); last = $NF } END { print last }'
}

# count LABEL ENV...: REPS counts; one line "LABEL median lowest highest" (in LABEL,
# ~ stands for a space).
count() {
  local label=$1 v=() i
  shift
  for ((i = 0; i < REPS; i++)); do v+=("$(instructions "$@")"); done
  printf '%s %s %s %s\n' "$label" "$(median "${v[@]}")" \
    "$(printf '%s\n' "${v[@]}" | sort -g | head -n 1)" "$(printf '%s\n' "${v[@]}" | sort -g | tail -n 1)"
}

# shim_counts NAME SHIM: the inert and standalone counts of one shim.
shim_counts() {
  local d
  d=$(mktemp -d "$work/db-XXXXXX")
  count "$1:~inert" LD_PRELOAD="$2"
  instructions MEMSWEEP_DB="$d/m.db" LD_PRELOAD="$2" >/dev/null
  count "$1:~standalone" MEMSWEEP_DB="$d/m.db" LD_PRELOAD="$2"
}

# pool_counts NAME SHIM: a spool shim joining a pool of a run made ahead (as `memsweep run`
# makes it before the worker starts), unwatched (it samples itself) and watched by this
# script's shell, as by a collector that reads /proc from outside (no thread, no file).
pool_counts() {
  make_pool "$work/unwatched.msp"
  make_pool "$work/watched.msp" "$$"
  count "$1:~run's~pool,~self-sampled" MEMSWEEP_SPOOL="$work/unwatched.msp" LD_PRELOAD="$2"
  count "$1:~run's~pool,~watched" MEMSWEEP_SPOOL="$work/watched.msp" LD_PRELOAD="$2"
}

perf_note="perf instructions:u: not supported here"
if command -v perf >/dev/null && out=$(perf stat -x, -e instructions:u /bin/true 2>&1 >/dev/null) &&
    [[ "$out" =~ ^[0-9]+, ]]; then
  perf_note="perf instructions:u of /bin/true alone: ${out%%,*} (without valgrind)"
fi

{
  count none
  count "lib:~empty" LD_PRELOAD="$work/libfloor_empty.so"
  count "lib:~mmap~32~KiB" FLOOR_FILE="$work/floor.file" LD_PRELOAD="$work/libfloor_mmap.so"
  count "lib:~O_EXCL~file" FLOOR_DIR="$work/excl" LD_PRELOAD="$work/libfloor_excl.so"
  count "lib:~thread" LD_PRELOAD="$work/libfloor_thread.so"
  shim_counts this~tree "$MS_SHIM"
  pool_counts this~tree "$MS_SHIM"
  [ -z "$BASE_SHIM" ] || shim_counts "baseline~$BASE_DESC" "$BASE_SHIM"
} >"$work/counts"

none=$(awk '$1 == "none" { print $2 }' "$work/counts")
echo "start and exit instructions of /bin/true (cachegrind, user space incl. ld.so, $REPS counts each)"
echo "  reproduce: bench/bench_start_instructions.sh${BASE_DIR:+ --baseline $BASE_DIR} $REPS"
printf '  %-34s %12s %12s %12s %12s\n' configuration median lowest highest "over none"
while read -r label med lo hi; do
  printf '  %-34s %12d %12d %12d %+12d\n' "${label//\~/ }" "$med" "$lo" "$hi" "$((med - none))"
done <"$work/counts"
[ -n "$BASE_SHIM" ] || echo "  no baseline: pass --baseline DIR (bench/baseline.sh builds one)"
echo "  $perf_note"
