# A worker that SIGKILLs itself, and one killed from outside while it grows: `killed` with
# signal 9, no exit record, its samples up to the last interval are in the database, and
# its peak counts in the advisory.
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
assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE ended_ns IS NULL")" \
    "processes without an exit record (ended_ns NULL)"
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

note "killed from outside while it grows"
GROW="$MS_BUILD_DIR/ms_grow"
need_exe "$GROW"
# 8 MiB every 100 ms, up to 2 GiB: still growing when it is killed.
"$MS_BIN" run -j 1 --interval-ms 100 -o "$T/out2" -- "$GROW" --step-mib 8 --step-ms 100 \
    --max-mib 2048 >"$T/run2.out" 2>"$T/run2.err" &
launcher=$!
track_pid "$launcher"
# Waits until a committed tick shows 96 MiB, so that the kill lands mid-growth and a
# reading the database must keep is known to exist.
big_tick() {
    local db
    db="$(find "$T/out2" -name memsweep.db 2>/dev/null | head -n 1)"
    [ -n "$db" ] && [ "$(sql "$db" "SELECT count(*) FROM samples WHERE kind = 'tick'
                                    AND rss_kb >= 96 * 1024" 2>/dev/null)" -ge 1 ] 2>/dev/null
}
wait_for 30 big_tick || fail "no tick of 96 MiB within 30 s (stderr: $(cat "$T/run2.err"))"
DB2="$(sweep_dir_of "$T/out2")/memsweep.db"
wpid="$(sql "$DB2" "SELECT pid FROM processes WHERE exe LIKE '%/ms_grow'")"
assert_int "$wpid" "pid of the growing worker"
kill -KILL "$wpid"
RC=0
wait "$launcher" || RC=$?
assert_eq 1 "$RC" "exit status of memsweep run with a killed run (stderr: $(cat "$T/run2.err"))"
assert_eq "killed|9" "$(sql "$DB2" "SELECT status, term_signal FROM runs")" \
    "status and term_signal of the run killed from outside"
assert_eq "0|1" "$(sql "$DB2" "SELECT (SELECT count(*) FROM samples WHERE kind = 'end'),
                                     (SELECT count(*) FROM processes WHERE ended_ns IS NULL)")" \
    "end samples, and processes without an exit record"
grown="$(tail -n 1 "$(sweep_dir_of "$T/out2")/logs/run-0001.out" | awk '{ print $3 }')"
assert_int "$grown" "MiB the worker reported last"
run_figures "$DB2" >"$T/fig2.txt"
# At least the 96 MiB tick seen before the kill; at most what the worker had grown to.
assert_between "$(fig "$(cat "$T/fig2.txt")" 4)" 96 $((grown + MIB_TOL)) \
    "peak RSS of the run killed from outside (MiB)"
expected_advisory "$T/fig2.txt" "$(mem_total_mb)" >"$T/expected2.txt"
check_advisory "$T/expected2.txt" "$(sweep_dir_of "$T/out2")/memory_advisory.txt" \
    "memory_advisory.txt of the run killed from outside"

pass
