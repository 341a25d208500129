#!/usr/bin/env bash
# What a process's start and exit cost with something preloaded: the floor that any shim
# design stands on, and the shims themselves, side by side in one invocation.
#
# Each mode runs one shell loop of N /bin/true (sh -c 'i=0; while [ $i -lt N ]; ...'),
# with LD_PRELOAD set for the shell and every /bin/true it starts, so each /bin/true is
# forked from a shell that has the library too (as in a sweep whose worker is a script):
#   none            nothing preloaded, the reference;
#   lib: empty      a library that does nothing (bench/floor_empty.c): the loader's part;
#   lib: mmap 32K   its constructor opens an existing 32 KiB file, maps it shared,
#                   closes the descriptor and writes one byte (bench/floor_mmap.c);
#   lib: O_EXCL     its constructor creates a new file with O_EXCL in a 0700 directory
#                   (bench/floor_excl.c);
#   lib: thread     its constructor starts a thread with signals blocked
#                   (bench/floor_thread.c);
# then for this tree's shim and, with --baseline, the baseline's:
#   inert           the shim loaded, MEMSWEEP_DB unset;
#   standalone      MEMSWEEP_DB=<new directory>/m.db, the shim alone (whatever it then
#                   writes, a database or a spool, is its own business);
#   memsweep run    `memsweep run -j 1 --preload SHIM -- sh -c LOOP`: every /bin/true is a
#                   process of the run, set up as the launcher sets it up. memsweep has no
#                   option to run unmeasured, so the sweep's fixed cost (database,
#                   advisory, the run's fork and logs) is taken out by the same sweep of a
#                   loop of 0 iterations: per process = ((run N - run 0) - (none N -
#                   none 0)) / N. The fixed cost is printed on its own line.
# Rounds alternate the modes (A/B/A/B, the order rotated each round); for every mode but
# memsweep run the cost of a process is (T_mode - T_none) / N of the same round. Printed:
# the median over rounds of that, and "fastest", the same formula on each mode's fastest
# round. Nothing is asserted about time.
#
# With --outlive, every process of the loop is `sleep 0.02` instead of /bin/true and the
# shims sample every 5 ms (MEMSWEEP_INTERVAL_MS=5, --interval-ms 5): a process that
# records a few ticks before it exits, where /bin/true ends within its first interval.
#
# Usage: bench/bench_floor.sh [--baseline DIR] [--outlive] [ROUNDS] [N]
#   (defaults: 7 rounds; N 400, or 100 with --outlive)
#   DIR: a directory made by bench/baseline.sh (or MS_BASELINE in the environment)
source "$(dirname "$0")/lib.sh"
parse_baseline_option "$@"
set -- "${MS_ARGS[@]}"
OUTLIVE=0
if [ "${1:-}" = --outlive ]; then
  OUTLIVE=1
  shift
fi
ROUNDS=${1:-7}
N=${2:-$((OUTLIVE ? 100 : 400))}
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ && "$N" =~ ^[1-9][0-9]*$ ]] ||
  { echo "bench: usage: bench_floor.sh [--baseline DIR] [--outlive] [ROUNDS] [N]" >&2; exit 2; }
unset MEMSWEEP_DB MEMSWEEP_RUN_ID MEMSWEEP_SPOOL MEMSWEEP_INTERVAL_MS
work=$(mktemp -d "${TMPDIR:-/tmp}/ms-bench-floor-XXXXXX")
trap 'rm -rf "$work"' EXIT

for k in empty mmap excl thread; do
  build_bench_lib "$work/libfloor_$k.so" "$MS_SOURCE_DIR/bench/floor_$k.c"
done
head -c 32768 /dev/zero >"$work/floor.file"

PROC=/bin/true
INTERVAL_MS=500
if [ "$OUTLIVE" = 1 ]; then
  PROC="sleep 0.02"
  INTERVAL_MS=5
fi
LOOP="i=0; while [ \$i -lt $N ]; do $PROC; i=\$((i+1)); done"
LOOP0="i=0; while [ \$i -lt 0 ]; do $PROC; i=\$((i+1)); done"

# The shims: this tree's, and the baseline's when there is one.
shims=(tree) shim_path=([0]="$MS_SHIM") shim_bin=([0]="$MS_BIN") shim_name=([0]="this tree")
if [ -n "$BASE_SHIM" ]; then
  shims+=(base)
  shim_path+=("$BASE_SHIM") shim_bin+=("$BASE_BIN") shim_name+=("baseline $BASE_DESC")
fi

# run_mode MODE SCRATCH: one run of MODE; its scratch directory is new and empty.
run_mode() {
  local mode=$1 s=$2 idx rc=0
  case $mode in
    none) sh -c "$LOOP" ;;
    none0) sh -c "$LOOP0" ;;
    lib_empty) LD_PRELOAD=$work/libfloor_empty.so sh -c "$LOOP" ;;
    lib_mmap) FLOOR_FILE=$work/floor.file LD_PRELOAD=$work/libfloor_mmap.so sh -c "$LOOP" ;;
    lib_excl) FLOOR_DIR=$s/excl LD_PRELOAD=$work/libfloor_excl.so sh -c "$LOOP" ;;
    lib_thread) LD_PRELOAD=$work/libfloor_thread.so sh -c "$LOOP" ;;
    *_inert | *_standalone | *_run | *_run0)
      idx=0
      [ "${mode%%_*}" = tree ] || idx=1
      case $mode in
        *_inert) LD_PRELOAD=${shim_path[$idx]} sh -c "$LOOP" ;;
        *_standalone) MEMSWEEP_INTERVAL_MS=$INTERVAL_MS MEMSWEEP_DB=$s/m.db \
                        LD_PRELOAD=${shim_path[$idx]} sh -c "$LOOP" ;;
        *_run) "${shim_bin[$idx]}" run -j 1 -o "$s/out" --interval-ms "$INTERVAL_MS" \
                 --preload "${shim_path[$idx]}" -- sh -c "$LOOP" >"$s/log" 2>&1 || rc=$? ;;
        *_run0) "${shim_bin[$idx]}" run -j 1 -o "$s/out" --interval-ms "$INTERVAL_MS" \
                  --preload "${shim_path[$idx]}" -- sh -c "$LOOP0" >"$s/log" 2>&1 || rc=$? ;;
      esac
      [ "$rc" = 0 ] || { echo "bench: $mode failed (exit $rc):" >&2; cat "$s/log" >&2; exit 1; } ;;
    *) echo "bench: unknown mode $mode" >&2; exit 1 ;;
  esac
}

# recorded MODE SCRATCH: processes in the database the mode left, if it left one that
# this sqlite3 can read ("-" otherwise). A shim measuring alone leaves spools beside the
# database, which this tree's memsweep folds first (after the timing).
declare -A recorded
note_recorded() {
  local db
  if [ -d "$2/m.db.spool" ]; then
    "$MS_BIN" collect "$2/m.db" >/dev/null 2>&1 || true
  fi
  db=$(ls "$2"/m.db "$2"/out/sweep_*/memsweep.db 2>/dev/null | head -n 1 || true)
  recorded[$1]=$( { [ -n "$db" ] && sqlite3 "$db" 'SELECT count(*) FROM processes' 2>/dev/null; } || echo -)
}

modes=(none none0 lib_empty lib_mmap lib_excl lib_thread)
for s in "${shims[@]}"; do modes+=("${s}_inert" "${s}_standalone" "${s}_run" "${s}_run0"); done
declare -A times
echo "floor: $ROUNDS rounds of ${#modes[@]} modes, $N x $PROC each, shims sampling every $INTERVAL_MS ms; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  reproduce: bench/bench_floor.sh${BASE_DIR:+ --baseline $BASE_DIR}$([ "$OUTLIVE" = 0 ] || echo ' --outlive') $ROUNDS $N"
for ((r = 0; r < ROUNDS; r++)); do
  for ((m = 0; m < ${#modes[@]}; m++)); do
    mode=${modes[$(((m + r) % ${#modes[@]}))]}
    s=$work/scratch
    rm -rf "$s"
    mkdir -p "$s"
    mkdir -m 0700 "$s/excl"
    t0=$EPOCHREALTIME
    run_mode "$mode" "$s"
    t1=$EPOCHREALTIME
    times[$mode]+="$(calc "$t1 - $t0") "
    note_recorded "$mode" "$s"
  done
done
rm -rf "$work/scratch"

# nth MODE R: the time of MODE in round R.
nth() { local a=(${times[$1]}); echo "${a[$2]}"; }
fastest() { printf '%s\n' ${times[$1]} | sort -g | head -n 1; }

# per_process MODE: "median fastest" in ms per process.
per_process() {
  local mode=$1 d=() r
  if [[ "$mode" == *_run ]]; then
    for ((r = 0; r < ROUNDS; r++)); do
      d+=("$(calc "(($(nth "$mode" $r) - $(nth "${mode}0" $r)) - ($(nth none $r) - $(nth none0 $r))) * 1000 / $N")")
    done
    echo "$(median "${d[@]}") $(calc "(($(fastest "$mode") - $(fastest "${mode}0")) - ($(fastest none) - $(fastest none0))) * 1000 / $N")"
  else
    for ((r = 0; r < ROUNDS; r++)); do
      d+=("$(calc "($(nth "$mode" $r) - $(nth none $r)) * 1000 / $N")")
    done
    echo "$(median "${d[@]}") $(calc "($(fastest "$mode") - $(fastest none)) * 1000 / $N")"
  fi
}

row() {
  local label=$1 mode=$2 med fast
  read -r med fast < <(per_process "$mode")
  printf '  %-38s %+9.3f %+9.3f %7d   %s\n' "$label" "$med" "$fast" "$ROUNDS" "${recorded[$mode]:-}"
}
printf '  %-38s %9s %9s %7s   %s\n' mode "ms/proc" fastest rounds "processes recorded"
printf '  %-38s %9.3f %9.3f %7d   (absolute, ms per process)\n' "none ($N x $PROC in sh)" \
  "$(calc "$(median ${times[none]}) * 1000 / $N")" "$(calc "$(fastest none) * 1000 / $N")" "$ROUNDS"
row "lib: empty" lib_empty
row "lib: mmap an existing 32 KiB file" lib_mmap
row "lib: create a file, O_EXCL, 0700 dir" lib_excl
row "lib: start a thread" lib_thread
for ((k = 0; k < ${#shims[@]}; k++)); do
  s=${shims[$k]}
  row "${shim_name[$k]}: inert" "${s}_inert"
  row "${shim_name[$k]}: standalone" "${s}_standalone"
  row "${shim_name[$k]}: memsweep run" "${s}_run"
  printf '  %-38s %9.3f %9.3f %7d   (ms per sweep: run of 0 iterations minus none of 0)\n' \
    "${shim_name[$k]}: memsweep run, fixed" \
    "$(calc "($(median ${times[${s}_run0]}) - $(median ${times[none0]})) * 1000")" \
    "$(calc "($(fastest "${s}_run0") - $(fastest none0)) * 1000")" "$ROUNDS"
done
[ -n "$BASE_SHIM" ] || echo "  no baseline: pass --baseline DIR (bench/baseline.sh builds one)"
echo "  (processes recorded: rows in the last round's database, where one could be read; expected $((N + 1)))"
