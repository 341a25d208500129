# Workers that end without the C library's exit path: _exit(3), abort() (SIGABRT) and a
# real SIGSEGV, beside one that calls exit(0), in one sweep. Each prints and ends exactly
# as without the shim; the samples taken until the end are kept; a process killed by a
# signal has no end sample and no exit record (ended_ns NULL) and its run is `killed`
# with that signal; every run's peak counts in the advisory. Each worker ends only once
# a committed tick shows its 48 MiB, so that a reading the end must not lose is known to
# exist whatever the machine's load.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

AB="$MS_BUILD_DIR/ms_abend"
need_exe "$AB"
# No core files: the kernel's core_pattern may name a file in the working directory.
ulimit -c 0

# 48 MiB, held until the run's go-file exists.
ARGS=(--mib 48)
INTERVAL=100
ENDS="exit _exit abort segv"

note "uninstrumented references"
# Their go-file exists from the start: they end as soon as the 48 MiB are touched.
touch "$T/go-ref"
for e in $ENDS; do
    run_ref "ref-$e" "$AB" --end "$e" "${ARGS[@]}" --wait-file "$T/go-ref"
done
# exit 0, _exit(3), 128 + SIGABRT, 128 + SIGSEGV: the reference itself ends as meant to.
assert_eq "0 3 134 139" "$(cat "$T/ref-exit.rc" "$T/ref-_exit.rc" "$T/ref-abort.rc" "$T/ref-segv.rc" |
    tr '\n' ' ' | sed 's/ $//')" "exit statuses without the shim"

note "under the launcher, two at a time"
# Each run waits for a go-file of its own: the test gives it once that run's 48 MiB are
# in a committed tick. The runs go two at a time, so the third and fourth start only
# when the first two have ended; the test takes the runs in order.
"$MS_BIN" run -j 2 --interval-ms "$INTERVAL" -o "$T/out" -P "end=exit,_exit,abort,segv" \
    -- "$AB" --end "{end}" "${ARGS[@]}" --wait-file "$T/go-{end}" >"$T/run.out" 2>"$T/run.err" &
launcher=$!
track_pid "$launcher"

# big_tick END: a committed tick of the run labelled end=END shows the 48 MiB.
big_tick() {
    db_has "$T/out" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                     JOIN runs r USING (run_id) WHERE r.label = 'end=$1' AND s.kind = 'tick'
                     AND s.rss_kb >= 48 * 1024"
}
for e in $ENDS; do
    wait_for 60 big_tick "$e" ||
        fail "$e: no committed tick of 48 MiB within 60 s (stderr: $(cat "$T/run.err"))"
    touch "$T/go-$e"
done
RC=0
wait "$launcher" || RC=$?
assert_eq 1 "$RC" "exit status of memsweep run with failed and killed runs (stderr: $(cat "$T/run.err"))"
S="$(sweep_dir_of "$T/out")"
DB="$S/memsweep.db"
ADV="$S/memory_advisory.txt"
assert_eq ok "$(sql "$DB" "PRAGMA integrity_check")" "integrity_check of the database"
check_ticks "$DB" "$INTERVAL" "every worker"

for e in $ENDS; do
    R="run_id = (SELECT run_id FROM runs WHERE label = 'end=$e')"
    seq="$(sql "$DB" "SELECT seq FROM runs WHERE $R")"
    assert_int "$seq" "$e: the run's seq"
    note "$e (run $seq)"
    # The status memsweep saw, as the shell would report it, is the reference's.
    got="$(sql "$DB" "SELECT COALESCE(exit_code, 128 + term_signal) FROM runs WHERE $R")"
    assert_eq "$(cat "$T/ref-$e.rc")" "$got" "$e: exit status under the launcher"
    log="$(printf '%s/logs/run-%04d' "$S" "$seq")"
    cmp -s "$T/ref-$e.out" "$log.out" ||
        fail "$e: stdout '$(cat "$log.out")', expected '$(cat "$T/ref-$e.out")'"
    assert_empty "$log.err" "$e: stderr under the launcher"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE $R")" "$e: process rows"
    P="proc_id = (SELECT proc_id FROM processes WHERE $R)"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples WHERE $P AND kind = 'start'")" \
        "$e: start samples"
    # The tick of 48 MiB seen before the end is kept, whatever the end.
    assert_ge "$(sql "$DB" "SELECT count(*) FROM samples WHERE $P AND kind = 'tick'
                            AND rss_kb >= 48 * 1024")" 1 "$e: ticks that saw the 48 MiB"
    case "$e" in
    exit | _exit)
        assert_eq "$([ "$e" = exit ] && echo ok || echo failed)" \
            "$(sql "$DB" "SELECT status FROM runs WHERE $R")" "$e: run status"
        # exit() runs the shim's destructor; _exit is the shim's own export.
        assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples WHERE $P AND kind = 'end'")" \
            "$e: end samples"
        assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE $P AND ended_ns IS NOT NULL")" \
            "$e: exit record"
        ;;
    abort | segv)
        sig=$([ "$e" = abort ] && echo 6 || echo 11)
        assert_eq "killed|$sig|" "$(sql "$DB" "SELECT status, term_signal, exit_code FROM runs WHERE $R")" \
            "$e: run status, term_signal and exit_code"
        assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM samples WHERE $P AND kind = 'end'")" \
            "$e: end samples"
        assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE $P AND ended_ns IS NULL")" \
            "$e: no exit record (ended_ns NULL)"
        ;;
    esac
done

note "the advisory counts every run's peak"
run_figures "$DB" >"$T/fig.txt"
assert_eq 4 "$(wc -l <"$T/fig.txt")" "runs in the figures"
while IFS= read -r line; do
    assert_between "$(fig "$line" 4)" 48 $((48 + MIB_TOL)) "peak RSS of run $(fig "$line" 1) (MiB)"
done <"$T/fig.txt"
assert_eq 4 "$(post_field "$ADV" RunsIncluded)" "RunsIncluded"
assert_eq 3 "$(post_field "$ADV" RunsFailed)" "RunsFailed (_exit(3), abort, segv)"
expected_advisory "$T/fig.txt" "$(mem_total_mb)" >"$T/expected.txt"
check_advisory "$T/expected.txt" "$ADV" "memory_advisory.txt"

note "memsweep peaks says how the processes without an exit record ended"
run_cmd peaks "$MS_BIN" peaks --json "$S"
assert_eq 0 "$RC" "exit status of memsweep peaks --json (stderr: $(cat "$T/peaks.err"))"
# Per run: its label, the count of processes without an exit record, how the main process
# ended as the run's row says (the signal wait() gave), and the others.
python3 - "$T/peaks.out" "$DB" >"$T/no-record.txt" <<'PY'
import json, sqlite3, sys
doc = json.load(open(sys.argv[1]))
labels = dict(sqlite3.connect(sys.argv[2]).execute("SELECT run_id, label FROM runs"))
for run in doc["runs"]:
    m = run["MainProcessEnd"]
    print("%s|%d|%s|%d" % (labels.get(run["RunId"]), run["ProcessesWithoutExitRecord"],
                           "none" if m is None else "%s/%s/%s" % (m["Pid"], m["Signal"], m["ExitCode"]),
                           run["OtherProcessesWithoutExitRecord"]))
PY
for e in $ENDS; do
    pid="$(sql "$DB" "SELECT p.pid FROM processes p JOIN runs r USING (run_id) WHERE r.label = 'end=$e'")"
    case "$e" in
    exit | _exit) want="end=$e|0|none|0" ;;
    abort) want="end=$e|1|$pid/6/None|0" ;;
    segv) want="end=$e|1|$pid/11/None|0" ;;
    esac
    assert_eq "$want" "$(grep "^end=$e|" "$T/no-record.txt")" "peaks --json: run end=$e"
done
run_cmd peaks_text "$MS_BIN" peaks "$S"
assert_contains "$T/peaks_text.out" "  MainProcessEnd: pid $(sql "$DB" "SELECT p.pid FROM processes p JOIN runs r USING (run_id) WHERE r.label = 'end=abort'"), killed by signal 6 (SIGABRT)" \
    "peaks: how the aborted run's main process ended"

pass
