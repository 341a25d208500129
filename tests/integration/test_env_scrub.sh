# A program that takes the shim away from its children before starting them: one
# unsets LD_PRELOAD (keeping the MEMSWEEP_ variables), one clears its whole environment.
# Each then starts a child with fork + execv, one with posix_spawn, and one with fork
# alone. Everything runs and prints as without the shim, measured alone (the parent's
# sampler thread takes its ticks) and under `memsweep run` (the collector reads the
# processes from outside, whatever their environment says).
#
# What is recorded, and what is not:
#   - the parent: measured throughout (the shim was loaded before main ran; what the
#     program does to its environment afterwards does not unload it);
#   - the child forked without exec: measured, as a child of the parent. It is the
#     parent's image, shim included, and the shim keeps its pool mapped and its settings
#     in memory, not in the environment;
#   - the exec'd and spawned children: not recorded at all. The dynamic loader of the new
#     image sees no LD_PRELOAD, so the shim is not in it; nothing can measure them from
#     inside, and the run's figures leave their memory out.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ES="$MS_BUILD_DIR/ms_envspawn"
need_exe "$ES"

# parent_ticked DB PID: a tick of the process PID that sees its 32 MiB is in DB.
parent_ticked() {
    db_has "$1" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                 WHERE pid = $2 AND kind = 'tick' AND rss_kb >= 32 * 1024"
}

# check_scrub MODE HOW DB: what the run of MODE, measured HOW (alone or run), left: its
# output in $T/shim-MODE.{out,err,rc} and its rows in DB.
check_scrub() {
    local mode="$1" how="$2" DB="$3" what="$1, $2" parent PP F
    same_run "ref-$mode" "shim-$mode" "$what: ms_envspawn under the shim"

    parent="$(sql "$DB" "SELECT pid FROM processes WHERE proc_id = (SELECT min(proc_id) FROM processes)")"
    assert_int "$parent" "$what: the parent's row"
    PP="pid = $parent AND cmdline NOT LIKE '%--child %'"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE $PP")" "$what: the parent's row"
    assert_between "$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes WHERE $PP")" \
        32 $((32 + MIB_TOL)) "$what: the parent's hwm_kb (MiB)"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                              WHERE $PP AND kind = 'end'")" "$what: the parent's end sample"
    # The parent went on only once a tick of its was recorded; how many more it got
    # depends on the machine, but none beyond what its life holds, and (its own sampler's)
    # every one missing between written ones is counted in unstored.
    assert_ge "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                            WHERE $PP AND kind = 'tick'")" 1 "$what: the parent's ticks"
    if [ "$how" = alone ]; then
        check_ticks "$DB" 100 "$what: the parent" "p.$PP"
    else
        check_collector_ticks "$DB" 100 "$what: the parent" "p.$PP"
    fi

    # The fork child runs the parent's image and so has the parent's command line; it
    # holds the 32 MiB it shares with the parent (copy-on-write pages count in its RSS)
    # and its own 16.
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE ppid = $parent")" \
        "$what: recorded children (the fork child only)"
    F="ppid = $parent"
    assert_eq "$(sql "$DB" "SELECT cmdline FROM processes WHERE $PP")" \
        "$(sql "$DB" "SELECT cmdline FROM processes WHERE $F")" "$what: the fork child's command line"
    assert_between "$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes WHERE $F")" \
        48 $((48 + MIB_TOL)) "$what: the fork child's hwm_kb (MiB)"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                              WHERE $F AND kind = 'end'")" "$what: the fork child's end sample"
    # No row at all for the exec'd images.
    assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM processes WHERE cmdline LIKE '%--child %'")" \
        "$what: rows of the exec'd and spawned children"
    assert_eq 2 "$(sql "$DB" "SELECT count(*) FROM processes")" "$what: process rows"
}

# Parent 32 MiB; each child 16 MiB held for 400 ms (four intervals at 100 ms).
ARGS=(--mib 32 --child-mib 16 --hold-ms 400)
for mode in unset-preload clearenv; do
    note "$mode"
    run_ref "ref-$mode" "$ES" --mode "$mode" "${ARGS[@]}"
    assert_eq 0 "$RC" "$mode: exit status without the shim (stderr: $(cat "$T/ref-$mode.err"))"
    assert_eq "parent: LD_PRELOAD unset
child exec: LD_PRELOAD unset
parent: child exec exit 0
child spawn: LD_PRELOAD unset
parent: child spawn exit 0
child fork: LD_PRELOAD unset
parent: child fork exit 0
parent: 32 MiB intact" "$(cat "$T/ref-$mode.out")" "$mode: stdout without the shim"
    for how in alone run; do
        if [ "$how" = alone ]; then
            DB="$T/$mode.db"
            # Once its environment is changed, the parent waits until the test has seen one
            # of its ticks, so that it is measured after the change however slowly the
            # machine runs.
            run_shim_held "shim-$mode" "$DB" "$T/go-$mode" parent_ticked MEMSWEEP_INTERVAL_MS=100 \
                "$ES" --mode "$mode" "${ARGS[@]}" --wait-file "$T/go-$mode"
        else
            "$MS_BIN" run -j 1 --interval-ms 100 -o "$T/run-$mode" -- \
                "$ES" --mode "$mode" "${ARGS[@]}" --wait-file "$T/go-run-$mode" \
                >"$T/run-$mode.out" 2>"$T/run-$mode.err" &
            launcher=$!
            track_pid "$launcher"
            worker_ticked() {
                local pid
                pid="$(pgrep -P "$launcher" -x ms_envspawn | head -n 1)" || return 1
                [ -n "$pid" ] && parent_ticked "$T/run-$mode" "$pid"
            }
            wait_for 60 worker_ticked ||
                fail "$mode: run: no tick of the parent within 60 s (stderr: $(cat "$T/run-$mode.err"))"
            touch "$T/go-run-$mode"
            RC=0
            wait "$launcher" || RC=$?
            assert_eq 0 "$RC" "$mode: exit status of memsweep run (stderr: $(cat "$T/run-$mode.err"))"
            S="$(sweep_dir_of "$T/run-$mode")"
            DB="$S/memsweep.db"
            cp "$S/logs/run-0001.out" "$T/shim-$mode.out"
            cp "$S/logs/run-0001.err" "$T/shim-$mode.err"
            sql "$DB" "SELECT exit_code FROM runs" >"$T/shim-$mode.rc"
        fi
        check_scrub "$mode" "$how" "$DB"
    done
done

pass
