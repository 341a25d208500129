# Processes that leave no exit record, and what `memsweep peaks` can say about each:
#   - a pipeline's `sort` killed by SIGPIPE when `head` has read its line: not the run's
#     main process, so the database does not know how it ended, and peaks says so;
#   - a multiprocessing Pool's workers ended by Pool.terminate() (SIGTERM): the same;
#   - a program that ends with the raw exit_group system call and status 0, as Go
#     programs do: the run's main process, whose status the run's row holds, so peaks
#     says it exited with status 0, and does not call it a signal or a crash.
# The processes without an exit record are found in the database independently here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

AB="$MS_BUILD_DIR/ms_abend"
need_exe "$AB"
command -v sort >/dev/null && command -v head >/dev/null && command -v cat >/dev/null ||
    fail "sort, head and cat are needed (coreutils)"

# no_record DB SEQ: the processes of run SEQ without an exit record and not replaced by an
# exec of the same pid, as "pid basename-of-exe" lines, sorted.
no_record() {
    sql "$1" "SELECT p.pid || ' ' || replace(p.exe, rtrim(p.exe, replace(p.exe, '/', '')), '')
              FROM processes p JOIN runs r USING (run_id)
              WHERE r.seq = $2 AND p.ended_ns IS NULL
              AND NOT EXISTS (SELECT 1 FROM samples s WHERE s.proc_id = p.proc_id AND s.kind = 'end')
              AND NOT EXISTS (SELECT 1 FROM processes q WHERE q.run_id = p.run_id AND q.pid = p.pid
                              AND q.started_ns > p.started_ns)
              ORDER BY 1"
}

# peaks_run FILE SEQ: the block of run SEQ in the text output of memsweep peaks.
peaks_run() {
    awk -v h="Run $2" '$0 == h || index($0, h ": ") == 1 { p = 1; print; next }
                       p && /^$/ { exit } p' "$1"
}

OTHERS_WHY="killed by a signal, crashed or ended by a raw exit system call; the database does not say which"

note "a pipeline whose sort is killed by SIGPIPE"
# cat blocks on the FIFO until the test has seen sort's row; sort then reads a million
# lines, and head exits after the first line of sort's output, which is far more than a
# pipe holds: sort's next write gets SIGPIPE.
mkfifo "$T/fifo"
printf '%s\n' "cat '$T/fifo' | sort | head -n 1" >"$T/pipe.cmds"
"$MS_BIN" run -o "$T/pipe" --commands "$T/pipe.cmds" >"$T/pipe.out" 2>"$T/pipe.err" &
launcher=$!
track_pid "$launcher"
sort_row() {
    db_has "$T/pipe" "SELECT count(*) FROM processes WHERE exe LIKE '%/sort'"
}
wait_for 60 sort_row || fail "no row of sort within 60 s (stderr: $(cat "$T/pipe.err"))"
seq 1000000 >"$T/fifo"
RC=0
wait "$launcher" || RC=$?
assert_eq 0 "$RC" "exit status of the pipeline's sweep (head ends it with 0; stderr: $(cat "$T/pipe.err"))"
S="$(sweep_dir_of "$T/pipe")"
assert_eq 1 "$(cat "$S/logs/run-0001.out")" "the pipeline's output"
rows="$(no_record "$S/memsweep.db" 1)"
assert_eq sort "$(echo "$rows" | cut -d' ' -f2)" "the process without an exit record"
run_cmd pipe_peaks "$MS_BIN" peaks "$S"
assert_eq 0 "$RC" "exit status of peaks"
peaks_run "$T/pipe_peaks.out" 1 >"$T/pipe.run"
assert_contains "$T/pipe.run" "  ProcessesWithoutExitRecord: 1
  OtherProcessesWithoutExitRecord: 1 ($OTHERS_WHY)" "peaks: the pipeline's run"
assert_eq 0 "$(grep -c 'MainProcessEnd\|bnormal' "$T/pipe.run")" "peaks: lines on the main process or an abnormal end"

if command -v python3 >/dev/null 2>&1; then
    note "a multiprocessing Pool's workers ended by terminate()"
    cat >"$T/pool.py" <<'PY'
import multiprocessing, os, sys, time

def idle(_):
    # Says it is busy: a worker still waiting for a task when the Pool is terminated is
    # told to stop and exits normally, with an exit record.
    open("%s.busy-%d" % (sys.argv[1], os.getpid()), "w").close()
    while True:
        time.sleep(0.05)

if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    pool = multiprocessing.Pool(2)
    pool.map_async(idle, range(2))
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.05)
    pool.terminate()
    pool.join()
    print("terminated")
PY
    "$MS_BIN" run --interval-ms 100 -o "$T/pool" -- python3 "$T/pool.py" "$T/pool.go" \
        >"$T/pool.out" 2>"$T/pool.err" &
    launcher=$!
    track_pid "$launcher"
    # Both workers are recorded (a fork child is, from its first tick).
    workers_recorded() {
        db_has "$T/pool" "SELECT count(*) FROM processes c JOIN processes p
                          ON c.run_id = p.run_id AND c.ppid = p.pid AND c.proc_id <> p.proc_id
                          WHERE p.cmdline LIKE '%pool.py%' AND c.cmdline LIKE '%pool.py%'
                          AND EXISTS (SELECT 1 FROM samples s WHERE s.proc_id = c.proc_id
                                      AND s.kind = 'tick')" 2
    }
    wait_for 120 workers_recorded || fail "the Pool's workers were not recorded within 120 s (stderr: $(cat "$T/pool.err"))"
    # Both are running their task, so that terminate() kills both with SIGTERM.
    workers_busy() { [ "$(ls "$T"/pool.go.busy-* 2>/dev/null | wc -l)" -ge 2 ]; }
    wait_for 120 workers_busy || fail "the Pool's workers did not both start their task within 120 s"
    touch "$T/pool.go"
    RC=0
    wait "$launcher" || RC=$?
    assert_eq 0 "$RC" "exit status of the Pool's sweep (stderr: $(cat "$T/pool.err"))"
    S="$(sweep_dir_of "$T/pool")"
    assert_eq terminated "$(cat "$S/logs/run-0001.out")" "the Pool script's output"
    assert_eq 2 "$(no_record "$S/memsweep.db" 1 | wc -l)" "processes without an exit record (the workers)"
    run_cmd pool_peaks "$MS_BIN" peaks "$S"
    peaks_run "$T/pool_peaks.out" 1 >"$T/pool.run"
    assert_contains "$T/pool.run" "  ProcessesWithoutExitRecord: 2
  OtherProcessesWithoutExitRecord: 2 ($OTHERS_WHY)" "peaks: the Pool's run"
    assert_eq 0 "$(grep -c 'MainProcessEnd\|bnormal' "$T/pool.run")" "peaks: lines on the main process or an abnormal end"
else
    skip_part_missing python3 "the Pool part: python3 is not installed"
fi

note "a program that ends with a raw exit_group(0), as Go programs do"
"$MS_BIN" run --interval-ms 100 -o "$T/go" -- "$AB" --end exit_group --mib 8 --wait-file "$T/go.go" \
    >"$T/go.out" 2>"$T/go.err" &
launcher=$!
track_pid "$launcher"
ticked() {
    db_has "$T/go" "SELECT count(*) FROM samples WHERE kind = 'tick'"
}
wait_for 60 ticked || fail "no tick of the program within 60 s (stderr: $(cat "$T/go.err"))"
touch "$T/go.go"
RC=0
wait "$launcher" || RC=$?
assert_eq 0 "$RC" "exit status of the sweep (stderr: $(cat "$T/go.err"))"
S="$(sweep_dir_of "$T/go")"
DB="$S/memsweep.db"
assert_eq "ok|0|" "$(sql "$DB" "SELECT status, exit_code, term_signal FROM runs")" "the run: status, exit_code, term_signal"
rows="$(no_record "$DB" 1)"
assert_eq "ms_abend" "$(echo "$rows" | cut -d' ' -f2)" "the process without an exit record"
pid="$(echo "$rows" | cut -d' ' -f1)"
run_cmd go_peaks "$MS_BIN" peaks "$S"
peaks_run "$T/go_peaks.out" 1 >"$T/go.run"
assert_contains "$T/go.run" "  ProcessesWithoutExitRecord: 1
  MainProcessEnd: pid $pid, exited with status 0 but left no exit record (a raw exit system call, as Go programs make, or an exit that did not wait for the shim's last write)" \
    "peaks: the run's main process"
assert_eq 0 "$(grep -c 'OtherProcesses\|signal\|bnormal' "$T/go.run")" "peaks: lines on other processes, signals or abnormal ends"
assert_contains "$T/go_peaks.out" "MainProcessesWithoutExitRecord: 1" "peaks: the summary"
run_cmd go_json "$MS_BIN" peaks --json "$S"
python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
assert r["MainProcessEnd"] == {"Pid": int(sys.argv[2]), "Signal": None, "ExitCode": 0}, r["MainProcessEnd"]
assert (r["ProcessesWithoutExitRecord"], r["OtherProcessesWithoutExitRecord"]) == (1, 0), r' \
    "$T/go_json.out" "$pid" || fail "peaks --json: the run's main process"

pass
