#!/usr/bin/env bash
# Overhead of memsweep on many tiny runs: N runs of /bin/true with `memsweep run -j J`,
# against the same N commands started by `xargs -P J` without memsweep, and by the same
# xargs with the shim recording into a live sweep's database (which separates the shim's
# cost from the launcher's). Rounds alternate; medians are printed with the cost per run.
# Every memsweep round is checked: N runs rows, all ok with exit code 0, each with the
# process row of its /bin/true, and no run marked not measured; a failed check exits 1.
# With perf(1) available, the launcher's own CPU time per run is printed too.
#
# Usage: bench/bench_tiny_runs.sh [N] [ROUNDS] [JOBS...]     (defaults: 5000 3 2 8)
# The sweeps are written under $MS_BENCH_DIR (default: a new directory in ${TMPDIR:-/tmp});
# its filesystem matters, since each run creates its two log files there.
source "$(dirname "$0")/lib.sh"
N=${1:-5000}
ROUNDS=${2:-3}
shift $(($# < 2 ? $# : 2))
JOBS=("$@")
[ ${#JOBS[@]} -gt 0 ] || JOBS=(2 8)
TRUE_BIN=/bin/true
work=$(mktemp -d "${MS_BENCH_DIR:-${TMPDIR:-/tmp}}/ms-bench-tiny-XXXXXX")
trap 'rm -rf "$work"' EXIT
have_perf=0
if command -v perf >/dev/null 2>&1 &&
    perf stat --no-inherit -x, -e task-clock -o /dev/null /bin/true 2>/dev/null; then
  have_perf=1
fi

# The shim-only configuration joins a live sweep, as a worker of a running sweep would.
start_live_sweep "$work"

# check_sweep OUTDIR: every run of the sweep in OUTDIR is recorded as it should be.
check_sweep() {
  local db bad
  db=$(ls -d "$1"/sweep_*)/memsweep.db
  bad=$(sqlite3 "$db" "SELECT (SELECT count(*) FROM runs) <> $N
      OR (SELECT count(*) FROM runs WHERE status <> 'ok' OR exit_code IS NOT 0
          OR uninstrumented IS NOT NULL) > 0
      OR (SELECT count(*) FROM runs r WHERE (SELECT count(*) FROM processes p
          WHERE p.run_id = r.run_id) <> 1) > 0")
  if [ "$bad" != 0 ]; then
    echo "bench: $db: not every run is recorded:" >&2
    sqlite3 "$db" "SELECT count(*), sum(status = 'ok'), sum(uninstrumented IS NOT NULL)
                   FROM runs" >&2
    exit 1
  fi
}

# run_memsweep J OUTDIR: one sweep; prints the launcher's task-clock in ms when perf runs.
run_memsweep() {
  if [ "$have_perf" = 1 ]; then
    perf stat --no-inherit -x, -e task-clock -o "$work/perf.txt" \
      "$MS_BIN" run -j "$1" -o "$2" --preload "$MS_SHIM" -P "i=1..$N" -- "$TRUE_BIN" \
      >/dev/null 2>"$work/run.err" || { cat "$work/run.err" >&2; exit 1; }
    awk -F, '$3 == "task-clock" { print $1 }' "$work/perf.txt"
  else
    "$MS_BIN" run -j "$1" -o "$2" --preload "$MS_SHIM" -P "i=1..$N" -- "$TRUE_BIN" \
      >/dev/null 2>"$work/run.err" || { cat "$work/run.err" >&2; exit 1; }
  fi
}

printf 'tiny runs: %d x %s, median of %d rounds, sweeps on %s (%s)\n' "$N" "$TRUE_BIN" \
  "$ROUNDS" "$work" "$(stat -f -c %T "$work")"
printf '  %-4s %-28s %9s %14s %16s\n' jobs configuration time "per run" "over plain"
for j in "${JOBS[@]}"; do
  plain=() shim=() ms=() cpu=()
  for ((r = 0; r < ROUNDS; r++)); do
    t0=$(now)
    seq "$N" | xargs -P "$j" -n 1 "$TRUE_BIN"
    t1=$(now)
    seq "$N" | env MEMSWEEP_DB="$db" MEMSWEEP_SPOOL="$pool" LD_PRELOAD="$MS_SHIM" \
      xargs -P "$j" -n 1 "$TRUE_BIN"
    t2=$(now)
    c=$(run_memsweep "$j" "$work/out-$j-$r")
    t3=$(now)
    check_sweep "$work/out-$j-$r"
    rm -rf "$work/out-$j-$r"
    plain+=("$(calc "$t1 - $t0")")
    shim+=("$(calc "$t2 - $t1")")
    ms+=("$(calc "$t3 - $t2")")
    [ -n "$c" ] && cpu+=("$c")
  done
  p=$(median "${plain[@]}"); s=$(median "${shim[@]}"); m=$(median "${ms[@]}")
  printf '  %-4s %-28s %8.2fs %11.3f ms\n' "$j" "xargs -P $j" "$p" "$(calc "$p * 1000 / $N")"
  printf '  %-4s %-28s %8.2fs %11.3f ms %13.3f ms\n' "$j" "xargs -P $j, shim recording" "$s" \
    "$(calc "$s * 1000 / $N")" "$(calc "($s - $p) * 1000 / $N")"
  printf '  %-4s %-28s %8.2fs %11.3f ms %13.3f ms\n' "$j" "memsweep run -j $j" "$m" \
    "$(calc "$m * 1000 / $N")" "$(calc "($m - $p) * 1000 / $N")"
  if [ ${#cpu[@]} -gt 0 ]; then
    printf '  %-4s launcher CPU time: %.3f ms per run (task-clock, median)\n' "$j" \
      "$(calc "$(median "${cpu[@]}") / $N")"
  fi
done
printf '  every memsweep round: %d runs recorded, all ok, each with its process row\n' "$N"
