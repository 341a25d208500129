# A worker that SIGKILLs itself: `killed` with signal 9, its samples up to the last
# interval are in the database, and its peak counts in the advisory.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

run_cmd run "$MS_BIN" run -j 1 -o "$T/out" -- "$WL" --mib 64 --hold-ms 1200 --kill-self
assert_eq 1 "$RC" "exit status of memsweep run with a killed run"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
ADV="$S/memory_advisory.txt"

assert_eq "killed|9" "$(sql "$DB" "SELECT status, term_signal FROM runs")" "status and term_signal"
assert_eq "" "$(sql "$DB" "SELECT exit_code FROM runs")" "exit_code of a killed run"
# No exit handler runs under SIGKILL: the samples are the start and the ticks, committed
# as they were taken.
assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM samples WHERE kind = 'end'")" "end samples"
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples WHERE kind = 'start'")" "start samples"
assert_ge "$(sql "$DB" "SELECT count(*) FROM samples WHERE kind = 'tick'")" 2 "tick samples"
# The last tick is within one interval (plus scheduling slack) of the run's end.
gap="$(sql "$DB" "SELECT (r.finished_ns - max(s.t_ns)) / 1e6 FROM samples s, runs r")"
assert_between "$gap" 0 1000 "ms between the last sample and the run's end"

run_figures "$DB" >"$T/fig.txt"
line="$(cat "$T/fig.txt")"
check_run_mib "$line" 64 64 "the killed run"
assert_eq 1 "$(post_field "$ADV" RunsIncluded)" "RunsIncluded"
assert_eq 1 "$(post_field "$ADV" RunsFailed)" "RunsFailed"
assert_between "$(post_field "$ADV" MaxPeakRSS_MB)" 64 $((64 + MIB_TOL)) "MaxPeakRSS_MB"
expected_advisory "$T/fig.txt" "$(mem_total_mb)" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "memory_advisory.txt"

echo "PASS"
