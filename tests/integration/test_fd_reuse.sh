# A program that closes the lowest free descriptor number and reuses it with dup2 in a
# tight loop, sampled every millisecond, until a thousand ticks of it are recorded: no
# descriptor of the shim's or of memsweep's may ever take that number, even for a moment,
# or the program's close or write would hit another file than its own, and the program's
# file must hold every byte it wrote. Measured alone, its own sampler thread reads /proc
# every millisecond in a descriptor table of its own; under `memsweep run` the collector
# reads /proc/<pid>/status from outside and the program runs no thread of ours.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FD="$MS_BUILD_DIR/ms_fdreuse"
need_exe "$FD"

# How many ticks must be recorded before the program is let go: each is a reading of
# /proc while the loop runs, so that a descriptor taking the reused number, even for a
# moment, has ample occasion to show.
TICKS=1000

# ticks_written WHERE PID: at least TICKS ticks of the process PID are in the database
# WHERE (a file, or a sweep's output directory).
ticks_written() {
    db_has "$1" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                 WHERE p.pid = $2 AND s.kind = 'tick'" "$TICKS"
}

# check_program MODE OUT ERR RC LOG: the program's report, its file and its exit.
check_program() {
    note "$1: $(cat "$2")"
    assert_empty "$3" "$1: stderr of the program"
    assert_eq 0 "$4" "$1: exit status of the program"
    assert_eq 0 "$(awk '{ print $4 }' "$2")" "$1: writes of the program that failed on its reused descriptor"
    assert_eq "$(awk '{ print $2 }' "$2")" "$(stat -c %s "$5")" "$1: bytes in the program's file (one per write)"
}

note "measured alone: the sampler thread"
DB="$T/alone.db"
env MEMSWEEP_INTERVAL_MS=1 MEMSWEEP_DB="$DB" LD_PRELOAD="$MS_SHIM" \
    "$FD" "$T/log-alone" "$T/stop-alone" >"$T/alone.out" 2>"$T/alone.err" &
pid=$!
track_pid "$pid"
# A thousand 1 ms ticks take a second on an idle machine; two minutes is ample on a busy
# one (a tick that is late is counted as not stored, and the next one taken).
wait_for 120 ticks_written "$DB" "$pid" ||
    fail "alone: fewer than $TICKS ticks in $DB within 120 s (stderr: $(cat "$T/alone.err"))"
touch "$T/stop-alone"
RC=0
wait "$pid" || RC=$?
check_program alone "$T/alone.out" "$T/alone.err" "$RC" "$T/log-alone"
# No more ticks than the process's life holds at 1 ms, and every tick missing between
# written ones counted in unstored.
check_ticks "$DB" 1 "alone" "p.pid = $pid"

note "under memsweep run: the collector"
"$MS_BIN" run -j 1 --interval-ms 1 -o "$T/run" -- "$FD" "$T/log-run" "$T/stop-run" \
    >"$T/run.out" 2>"$T/run.err" &
launcher=$!
track_pid "$launcher"
worker_ticked() {
    local pid
    pid="$(pgrep -P "$launcher" -x ms_fdreuse | head -n 1)" || return 1
    [ -n "$pid" ] && ticks_written "$T/run" "$pid"
}
wait_for 120 worker_ticked ||
    fail "run: fewer than $TICKS ticks within 120 s (stderr: $(cat "$T/run.err"))"
touch "$T/stop-run"
RC=0
wait "$launcher" || RC=$?
assert_eq 0 "$RC" "run: exit status of memsweep run (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/run")"
check_program run "$S/logs/run-0001.out" "$S/logs/run-0001.err" \
    "$(sql "$S/memsweep.db" "SELECT exit_code FROM runs")" "$T/log-run"
assert_eq 1 "$(sql "$S/memsweep.db" "SELECT count(*) FROM processes")" "run: process rows"
check_collector_ticks "$S/memsweep.db" 1 "run"

pass
