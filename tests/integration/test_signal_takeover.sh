# Programs that take over signal handling: one blocks every signal first thing in main,
# one installs a counting handler for every signal that can be caught (SIGCHLD, SIGALRM,
# SIGPROF, SIGSEGV and the real-time signals included). Both allocate, hold, fork
# children and exit. The output, which lists the mask main started with, the signals
# left pending, and how often each handler ran, is the same as without the shim: the
# shim sent no signal and changed no mask. The parents and children are measured.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SG="$MS_BUILD_DIR/ms_signals"
need_exe "$SG"

CHILDREN=3
# 32 MiB held for 400 ms; each child 8 MiB more for 100 ms.
ARGS=(--mib 32 --children "$CHILDREN" --hold-ms 400)

# parent_ticked DB PID: a tick of the process PID that sees its 32 MiB is in DB.
parent_ticked() {
    db_has "$1" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                 WHERE pid = $2 AND kind = 'tick' AND rss_kb >= 32 * 1024"
}
for mode in handlers block-all; do
    note "$mode"
    run_ref "ref-$mode" "$SG" --mode "$mode" "${ARGS[@]}"
    assert_eq 0 "$RC" "$mode: exit status without the shim (stderr: $(cat "$T/ref-$mode.err"))"
    DB="$T/$mode.db"
    # The parent holds its 32 MiB until the test has seen one of its ticks, so that it is
    # measured under its own signal handling however slowly the machine runs.
    run_shim_held "shim-$mode" "$DB" "$T/go-$mode" parent_ticked MEMSWEEP_INTERVAL_MS=50 \
        "$SG" --mode "$mode" "${ARGS[@]}" --wait-file "$T/go-$mode"
    same_run "ref-$mode" "shim-$mode" "$mode: ms_signals under the shim"
    out="$T/shim-$mode.out"
    # The mask main started with is the one this test runs with, compared above.
    [[ "$(head -n 1 "$out")" =~ ^blocked\ at\ start:\  ]] || fail "$mode: first line '$(head -n 1 "$out")'"
    for i in $(seq 0 $((CHILDREN - 1))); do
        assert_contains "$out" "child $i: exit 0" "$mode: child $i (it checks what it inherited)"
    done
    case "$mode" in
    handlers)
        # Every standard signal but SIGKILL and SIGSTOP, and every real-time signal from
        # SIGRTMIN (glibc keeps the two below it, 32 and 33, for itself).
        rt=$(($(kill -l SIGRTMAX) - $(kill -l SIGRTMIN) + 1))
        assert_eq "handlers installed: $((31 - 2 + rt))" "$(sed -n 2p "$out")" "$mode: handlers installed"
        # Each signal is raised once by the program itself.
        for s in HUP INT QUIT ILL TRAP ABRT BUS FPE USR1 SEGV USR2 PIPE TERM CONT TSTP TTIN TTOU \
            URG XCPU XFSZ WINCH SYS; do
            assert_contains "$out" "SIG$s 1" "$mode: SIG$s handler runs (raised once)"
        done
        # SIGCHLD: once per child and the raise; the timers: the raise and one expiry.
        assert_eq "SIGCHLD $((CHILDREN + 1))" "$(grep '^SIGCHLD ' "$out")" "$mode: SIGCHLD handler runs"
        for s in ALRM VTALRM PROF; do
            assert_eq "SIG$s 2" "$(grep "^SIG$s " "$out")" "$mode: SIG$s handler runs"
        done
        assert_eq "$rt" "$(grep -c '^SIGRTMIN+[0-9]* 1$' "$out")" "$mode: real-time handlers run once"
        assert_eq "wrong sigqueue values: 0" "$(tail -n 1 "$out")" "$mode: sigqueue values"
        ;;
    block-all)
        assert_contains "$out" "pending after sending: SIGINT SIGUSR1 SIGTERM SIGRTMIN+2" \
            "$mode: signals sent to the process stay pending (no thread took them)"
        assert_contains "$out" "pending after the children: SIGINT SIGUSR1 SIGTERM SIGCHLD SIGRTMIN+2" \
            "$mode: pending signals after the children"
        assert_eq "taken: SIGINT SIGUSR1 SIGTERM SIGCHLD SIGRTMIN+2" "$(tail -n 1 "$out")" \
            "$mode: signals taken by sigtimedwait"
        ;;
    esac

    note "$mode: the measurements"
    parent="$(sql "$DB" "SELECT pid FROM processes WHERE proc_id = (SELECT min(proc_id) FROM processes)")"
    assert_int "$parent" "$mode: the parent's row"
    assert_eq $((CHILDREN + 1)) "$(sql "$DB" "SELECT count(*) FROM processes")" "$mode: process rows"
    assert_eq "$CHILDREN" "$(sql "$DB" "SELECT count(*) FROM processes WHERE ppid = $parent")" \
        "$mode: children recorded with the parent's pid"
    assert_eq $((CHILDREN + 1)) "$(sql "$DB" "SELECT count(*) FROM processes p WHERE ended_ns IS NOT NULL
        AND (SELECT count(*) FROM samples s WHERE s.proc_id = p.proc_id AND kind = 'end') = 1")" \
        "$mode: processes with an end sample and an exit record"
    assert_between "$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes WHERE pid = $parent")" \
        32 $((32 + MIB_TOL)) "$mode: the parent's hwm_kb (MiB)"
    # A child keeps the parent's 32 MiB (shared copy-on-write, counted in its RSS) and adds 8.
    assert_eq "$CHILDREN" "$(sql "$DB" "SELECT count(*) FROM processes WHERE ppid = $parent
                                        AND hwm_kb BETWEEN 40 * 1024 AND $((40 + MIB_TOL)) * 1024")" \
        "$mode: children whose hwm_kb is their 40 MiB"
    # The parent went on only once a tick of its was written; how many more it got
    # depends on the machine, but none beyond what its life holds, and every one missing
    # between written ones is counted in unstored.
    assert_ge "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                            WHERE pid = $parent AND kind = 'tick'")" 1 "$mode: the parent's ticks"
    check_ticks "$DB" 50 "$mode"
done

pass
