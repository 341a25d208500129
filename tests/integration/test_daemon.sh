# Programs that become daemons and keep working after the process that started them has
# exited: the C library's daemon(), the classic double fork by hand, the double fork that
# also closes every descriptor (the shim's included) with close_range, and daemon()
# under the launcher, which sees its worker exit at once. The starting process prints and
# exits as without the shim and the daemon writes the same report. The daemon's process
# is recorded in the starting process's run with the forking process as its parent, and
# its samples reach the database while it runs (checked while it is kept alive, by
# reading the database as `memsweep advise` on a live sweep does), not only at its exit;
# then its exit record, end sample and peak. Under the launcher the daemon outlives the
# sweep: the sweep's collector, which takes the ticks of the processes it watches from
# outside, is gone with `memsweep run`, so the daemon gets no ticks once the sweep is over
# (docs/reliability.md, "Known limits"); what it writes itself (its start, its end, its
# peak) stays in the run's pool, which `memsweep collect` folds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DM="$MS_BUILD_DIR/ms_daemon"
need_exe "$DM"

# A daemon still waiting when an assertion fails is let go (it would give up waiting
# after a minute anyway); signalling it by pid could hit a reused pid once it is gone.
release_daemons() {
    local d
    for d in "$T"/shim-*/; do
        touch "$d/go" 2>/dev/null || true
    done
    sleep 0.2
}
trap 'release_daemons; _cleanup' EXIT

file_written() {
    [ -s "$1" ]
}
# A committed tick of the daemon that sees its 40 MiB.
daemon_ticked() {
    [ "$(sql "$1" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                   WHERE pid = $2 AND kind = 'tick' AND rss_kb >= 40 * 1024")" -ge 1 ]
}
# Its exit record, which the shim writes before the process ends; in a sweep's pool that
# outlived `memsweep run`, once `memsweep collect` has folded it.
daemon_ended() {
    if [ "$variant" = launcher ]; then
        "$MS_BIN" collect "$S" >/dev/null 2>&1 || return 1
    fi
    [ "$(sql "$1" "SELECT count(*) FROM processes WHERE pid = $2 AND ended_ns IS NOT NULL")" = 1 ]
}

# Each daemon holds 40 MiB for at least 1500 ms (three intervals at the default 500 ms),
# and then until the test lets it go. The default interval matters: a fork child's shim
# first writes at its first tick, so for half a second after the starting process has
# gone no process holds the database open, and the test's first look at the database
# falls in that time, as a user's `memsweep advise` on the live database may.
for variant in libc manual manual-close-all launcher; do
    case "$variant" in
    libc | launcher) ARGS=(--mode libc) ;;
    manual) ARGS=(--mode manual) ;;
    manual-close-all) ARGS=(--mode manual --close-all) ;;
    esac
    ARGS+=(--mib 40 --hold-ms 1500)
    note "$variant"
    ref="$T/ref-$variant" shim="$T/shim-$variant"
    mkdir "$ref" "$shim"
    touch "$ref/go"
    run_ref "ref-$variant" "$DM" --dir "$ref" "${ARGS[@]}" --until "$ref/go"
    assert_eq 0 "$RC" "$variant: exit status without the shim (stderr: $(cat "$T/ref-$variant.err"))"
    wait_for 30 file_written "$ref/daemon.txt" ||
        fail "$variant: the uninstrumented daemon wrote no report within 30 s"

    if [ "$variant" = launcher ]; then
        run_cmd "shim-$variant" "$MS_BIN" run -j 1 -o "$T/out" -- \
            "$DM" --dir "$shim" "${ARGS[@]}" --until "$shim/go"
        assert_eq 0 "$RC" "$variant: exit status of memsweep run (stderr: $(cat "$T/shim-$variant.err"))"
        S="$(sweep_dir_of "$T/out")"
        DB="$S/memsweep.db"
        assert_eq "ok|0" "$(sql "$DB" "SELECT status, exit_code FROM runs")" "$variant: the run"
        cmp -s "$T/ref-$variant.out" "$S/logs/run-0001.out" ||
            fail "$variant: the worker's stdout: '$(cat "$S/logs/run-0001.out")'"
        assert_empty "$S/logs/run-0001.err" "$variant: the worker's stderr"
    else
        DB="$T/$variant.db"
        run_shim "shim-$variant" "$DB" "$DM" --dir "$shim" "${ARGS[@]}" --until "$shim/go"
        same_run "ref-$variant" "shim-$variant" "$variant: the starting process under the shim"
    fi
    wait_for 30 file_written "$shim/daemon.pid" ||
        fail "$variant: the daemon under the shim wrote no pid file within 30 s"
    d="$(cat "$shim/daemon.pid")"
    assert_int "$d" "$variant: the daemon's pid"
    # The daemon cannot end before the go file exists: a tick seen now was committed
    # while it ran, as a kill would find it. (Not under the launcher, whose collector took
    # the ticks and has gone.)
    [ "$variant" = launcher ] || wait_for 30 daemon_ticked "$DB" "$d" ||
        fail "$variant: no committed tick of the running daemon (pid $d) within 30 s; rows:
$(sql "$DB" "SELECT pid, ppid, exe, ended_ns, unstored, note FROM processes")"
    touch "$shim/go"
    wait_for 30 file_written "$shim/daemon.txt" ||
        fail "$variant: the daemon under the shim wrote no report within 30 s"
    cmp -s "$ref/daemon.txt" "$shim/daemon.txt" ||
        fail "$variant: the daemon's report differs from the uninstrumented one:
$(diff "$ref/daemon.txt" "$shim/daemon.txt")"
    assert_contains "$shim/daemon.txt" "stdio on /dev/null: 3 of 3" "$variant: the daemon's state"
    wait_for 30 daemon_ended "$DB" "$d" ||
        fail "$variant: no exit record of the daemon (pid $d) within 30 s; rows:
$(sql "$DB" "SELECT pid, ppid, exe, ended_ns, unstored, note FROM processes")"

    D="pid = $d"
    assert_eq 1 "$(sql "$DB" "SELECT count(DISTINCT run_id) FROM processes")" \
        "$variant: runs (the daemon stays in its starter's run)"
    # The process that forked the daemon: the starting process for daemon(), the session
    # leader of the first fork (itself a child of the starting process) for the double
    # fork. Under the launcher, the starting process leaves at once, before its shim has
    # registered it, so there is no row to compare with.
    if [ "$variant" != launcher ]; then
        first="$(sql "$DB" "SELECT pid FROM processes WHERE proc_id = (SELECT min(proc_id) FROM processes)")"
        if [ "$variant" = libc ]; then
            forker="$first"
        else
            forker="$(sql "$DB" "SELECT pid FROM processes WHERE ppid = $first AND pid <> $d")"
            assert_int "$forker" "$variant: pid of the intermediate session leader"
        fi
        assert_eq "$forker" "$(sql "$DB" "SELECT ppid FROM processes WHERE $D")" \
            "$variant: the daemon's ppid (the process that forked it)"
    fi
    assert_between "$(sql "$DB" "SELECT hwm_kb / 1024.0 FROM processes WHERE $D")" \
        40 $((40 + MIB_TOL)) "$variant: the daemon's hwm_kb (MiB)"
    # The daemon was let go only once a tick of its was committed; how many more it got
    # depends on the machine, but not its bookkeeping of them: no more than its life holds,
    # and every one missing between written ones counted in unstored.
    if [ "$variant" != launcher ]; then
        assert_ge "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                                WHERE $D AND kind = 'tick'")" 1 "$variant: the daemon's ticks"
        check_ticks "$DB" 500 "$variant: the daemon" "p.$D"
    else
        # Its pool is gone once folded and its processes are gone: nothing is left behind.
        "$MS_BIN" collect "$S" >/dev/null
        assert_eq "" "$(ls "$S/spool" 2>/dev/null)" "$variant: pools left in the sweep's spool directory"
    fi
    assert_eq 1 "$(sql "$DB" "SELECT count(*) FROM samples JOIN processes USING (proc_id)
                              WHERE $D AND kind = 'end'")" "$variant: the daemon's end sample"
    # Why the shim stopped or interrupted measuring, if it did.
    assert_eq "" "$(sql "$DB" "SELECT note FROM processes WHERE $D")" "$variant: note on the daemon's row"
    # Every process of the tree exited with status 0: none may be left without an exit
    # record, which `memsweep peaks` counts as ended in a way the database cannot tell.
    assert_eq "" "$(sql "$DB" "SELECT group_concat(pid || ' ' || exe, ', ') FROM processes
                               WHERE ended_ns IS NULL")" "$variant: processes without an exit record"
done

pass
