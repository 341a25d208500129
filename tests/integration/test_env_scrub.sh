# A program that takes the shim away from its children before starting them: one
# unsets LD_PRELOAD (keeping the MEMSWEEP_ variables), one clears its whole environment.
# Each then starts a child with fork + execv, one with posix_spawn, and one with fork
# alone. Everything runs and prints as without the shim.
#
# What is recorded, and what is not:
#   - the parent: measured throughout (the shim was loaded before main ran; what the
#     program does to its environment afterwards does not unload it);
#   - the child forked without exec: measured, as a child of the parent. It is the
#     parent's image, shim included, and the shim carries its settings in memory, not in
#     the environment;
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
    DB="$T/$mode.db"
    # Once its environment is changed, the parent waits until the test has seen one of its
    # ticks, so that it is measured after the change however slowly the machine runs.
    run_shim_held "shim-$mode" "$DB" "$T/go-$mode" parent_ticked MEMSWEEP_INTERVAL_MS=100 \
        "$ES" --mode "$mode" "${ARGS[@]}" --wait-file "$T/go-$mode"
    same_run "ref-$mode" "shim-$mode" "$mode: ms_envspawn under the shim"

    parent="$(sql "$DB" "SELECT pid FROM processes WHERE proc_id = (SELECT min(proc_id) FROM processes)")"
    assert_int "$parent" "$mode: the parent's row"
    PP="pid = $parent AND cmdline NOT LIKE '%--child %'"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE $PP")" "$mode: the parent's row"
    assert_between "$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes WHERE $PP")" \
        32 $((32 + MIB_TOL)) "$mode: the parent's hwm_kb (MiB)"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                              WHERE $PP AND kind = 'end'")" "$mode: the parent's end sample"
    # The parent went on only once a tick of its was written; how many more it got
    # depends on the machine, but none beyond what its life holds, and every one missing
    # between written ones is counted in unstored.
    assert_ge "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                            WHERE $PP AND kind = 'tick'")" 1 "$mode: the parent's ticks"
    check_ticks "$DB" 100 "$mode: the parent" "p.$PP"

    # The fork child runs the parent's image and so has the parent's command line; it
    # holds the 32 MiB it shares with the parent (copy-on-write pages count in its RSS)
    # and its own 16.
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM processes WHERE ppid = $parent")" \
        "$mode: recorded children (the fork child only)"
    F="ppid = $parent"
    assert_eq "$(sql "$DB" "SELECT cmdline FROM processes WHERE $PP")" \
        "$(sql "$DB" "SELECT cmdline FROM processes WHERE $F")" "$mode: the fork child's command line"
    assert_between "$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes WHERE $F")" \
        48 $((48 + MIB_TOL)) "$mode: the fork child's hwm_kb (MiB)"
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                              WHERE $F AND kind = 'end'")" "$mode: the fork child's end sample"
    # No row at all for the exec'd images.
    assert_eq 0 "$(sql "$DB" "SELECT count(*) FROM processes WHERE cmdline LIKE '%--child %'")" \
        "$mode: rows of the exec'd and spawned children"
    assert_eq 2 "$(sql "$DB" "SELECT count(*) FROM processes")" "$mode: process rows"
done

pass
