#!/usr/bin/env bash
# Cost of the shim on process start and exit: N runs of /bin/true with and without the
# shim attached as the launcher attaches it (MEMSWEEP_SPOOL naming the pool of a run of a
# live sweep, whose collector watches it), in alternating rounds. Prints the per-process
# cost in ms and the ratio, and how many of the processes the database holds once the
# collector has folded them. bench/bench_floor.sh and bench/bench_start_instructions.sh
# compare with a baseline and with the floors of minimal libraries.
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
    MEMSWEEP_DB=$db MEMSWEEP_SPOOL=$pool LD_PRELOAD=$MS_SHIM /bin/true
  done
}
loop_env() { for ((i = 0; i < N; i++)); do MEMSWEEP_DB= LD_PRELOAD=$MS_SHIM /bin/true; done; }

# The three loops alternate, their order rotated each round, so that none always follows
# the same one (a loop after the recording one runs beside the collector's fold of it).
plain=() shim=() inert=()
modes=(plain shim env)
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < 3; k++)); do
    m=${modes[$(((k + r) % 3))]}
    t0=$(now); "loop_$m"; t1=$(now)
    case $m in
      plain) plain+=("$(calc "$t1 - $t0")") ;;
      shim) shim+=("$(calc "$t1 - $t0")") ;;
      env) inert+=("$(calc "$t1 - $t0")") ;;
    esac
  done
done
p=$(median "${plain[@]}"); s=$(median "${shim[@]}"); e=$(median "${inert[@]}")
[ -n "$pool" ] || { echo "bench: the live sweep has no pool" >&2; exit 1; }
want=$((N * ROUNDS + 1))
for ((i = 0; i < 300; i++)); do
  rows=$(sqlite3 "$db" "SELECT count(*) FROM processes WHERE run_id = $run_id" 2>/dev/null || echo 0)
  [ "$rows" -ge "$want" ] && break
  sleep 0.1 # the collector folds every 500 ms; wait for it, up to 30 s
done
printf 'startup: %d x /bin/true, median of %d rounds\n' "$N" "$ROUNDS"
printf '  without shim:        %.3f s\n' "$p"
printf '  shim, inert (no db): %.3f s  (+%.3f ms per process)\n' "$e" "$(calc "($e - $p) * 1000 / $N")"
printf '  shim, recording:     %.3f s  (+%.3f ms per process, ratio %.2f)\n' "$s" \
  "$(calc "($s - $p) * 1000 / $N")" "$(calc "$s / $p")"
printf '  processes recorded:  %d (expected %d)\n' "$rows" "$want"
