#!/usr/bin/env bash
# A worker that is a shell script of many short commands, as many sweeps' workers are:
# `memsweep run -j 1 -- sh -c 'N x /bin/true'` for each N given. Prints, per N, the wall
# time of one command over the same loop run without memsweep (the shim's cost and the
# collector's share of the CPUs), and the CPU time memsweep itself spent (its collector:
# scanning the run's pool, reading the processes' /proc, folding into the database) per
# command, read from /proc/<pid>/stat of memsweep once the loop is over and everything is
# folded; and how many of the commands the database holds. With --baseline, the same for
# the baseline's memsweep and shim, alternating.
#
# Usage: bench/bench_script_worker.sh [--baseline DIR] [N...]   (default N: 1000 3000 9000)
source "$(dirname "$0")/lib.sh"
parse_baseline_option "$@"
set -- "${MS_ARGS[@]}"
[ $# -gt 0 ] || set -- 1000 3000 9000
for n in "$@"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench: usage: bench_script_worker.sh [--baseline DIR] [N...]" >&2; exit 2; }
done
unset MEMSWEEP_DB MEMSWEEP_SPOOL MEMSWEEP_INTERVAL_MS
work=$(mktemp -d "${TMPDIR:-/tmp}/ms-bench-script-XXXXXX")
trap 'rm -rf "$work"' EXIT
hz=$(getconf CLK_TCK)

# one_sweep BIN SHIM N OUT: prints "wall_s cpu_ticks rows" of one sweep of the loop.
one_sweep() {
  local bin=$1 shim=$2 n=$3 out=$4 pid t0 t1 ticks rows db
  rm -rf "$out"
  t0=$(now)
  "$bin" run -j 1 -o "$out" --preload "$shim" -- sh -c \
    "i=0; while [ \$i -lt $n ]; do /bin/true; i=\$((i+1)); done; : >'$out.loop-done'; sleep 3" \
    >/dev/null 2>&1 &
  pid=$!
  while [ ! -e "$out.loop-done" ]; do sleep 0.05; done
  t1=$(now)
  # The collector folds what ended at its next ticks; the worker sleeps 3 s meanwhile.
  sleep 2
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  wait "$pid" || true
  db=$(echo "$out"/sweep_*/memsweep.db)
  rows=$(sqlite3 "$db" "SELECT count(*) FROM processes WHERE exe LIKE '%/true'" 2>/dev/null || echo "?")
  rm -f "$out.loop-done"
  echo "$(calc "$t1 - $t0") $ticks $rows"
}

plain_loop() {
  local n=$1 t0 t1
  t0=$(now)
  sh -c "i=0; while [ \$i -lt $n ]; do /bin/true; i=\$((i+1)); done"
  t1=$(now)
  calc "$t1 - $t0"
}

printf 'script worker: memsweep run -j 1 -- sh -c "N x /bin/true"; %s CPUs, load %s\n' \
  "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  reproduce: bench/bench_script_worker.sh%s %s\n' "${BASE_DIR:+ --baseline $BASE_DIR}" "$*"
printf '  %-22s %7s %16s %22s %10s\n' "memsweep" "N" "ms per command" "memsweep CPU µs/cmd" "recorded"
for n in "$@"; do
  plain=$(plain_loop "$n")
  read -r wall ticks rows < <(one_sweep "$MS_BIN" "$MS_SHIM" "$n" "$work/tree")
  printf '  %-22s %7d %+16.3f %22.0f %10s\n' "this tree" "$n" \
    "$(calc "($wall - $plain) * 1000 / $n")" "$(calc "$ticks * 1000000 / $hz / $n")" "$rows"
  if [ -n "$BASE_BIN" ]; then
    plain=$(plain_loop "$n")
    read -r wall ticks rows < <(one_sweep "$BASE_BIN" "$BASE_SHIM" "$n" "$work/base")
    printf '  %-22s %7d %+16.3f %22.0f %10s\n' "baseline $BASE_DESC" "$n" \
      "$(calc "($wall - $plain) * 1000 / $n")" "$(calc "$ticks * 1000000 / $hz / $n")" "$rows"
  fi
done
echo "  (ms per command: over the same loop without memsweep, just before; CPU: memsweep's own"
echo "   user + system time, all its threads, at 1/$hz s resolution)"
