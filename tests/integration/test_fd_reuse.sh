# A program that closes the lowest free descriptor number and reuses it with dup2 in a
# tight loop, sampled every millisecond, until the shim has written a thousand ticks: the
# shim's readings of /proc and its database must never take that number, even for a
# moment, or the program's close or write would hit the shim's file instead of its own.
# Run with the sampler's own descriptor table (the default) and sharing the program's
# (MEMSWEEP_PRIVATE_FDS=0, the fallback).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FD="$MS_BUILD_DIR/ms_fdreuse"
need_exe "$FD"

# How many ticks the shim must have written before the program is let go: each is a
# reading of /proc while the loop runs, and they reach the database in a few dozen
# transactions, so that a descriptor of the shim's taking the reused number, even for a
# moment, has ample occasion to show.
TICKS=1000

# ticks_written DB PID: at least TICKS ticks of the process PID are in DB.
ticks_written() {
    db_has "$1" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                 WHERE p.pid = $2 AND s.kind = 'tick'" "$TICKS"
}

for private in 1 0; do
    # The database and its run are made first, by a short program under the shim, as the
    # launcher makes them: the program's shim joins the run and opens its files once,
    # before main. This test is about descriptor numbers, and it reads the database while
    # the program runs; a shim in the program's table that creates the database itself
    # opens its spares of the files again after registering, and closing the low numbers
    # it opened them on releases its connection's POSIX locks, after which such a reader
    # can checkpoint and delete the WAL under it. For the same reason a connection is
    # held open throughout, as the launcher's is: the shim's own is closed before its
    # first write and after a write that failed (a busy database), and a reader closing
    # then would be the last and delete the WAL.
    DB="$T/fd$private.db"
    env MEMSWEEP_DB="$DB" LD_PRELOAD="$MS_SHIM" "$WL" --mib 0 >/dev/null
    run_id="$(sql "$DB" "SELECT run_id FROM runs")"
    hold_db_open "$DB"
    env MEMSWEEP_PRIVATE_FDS=$private MEMSWEEP_INTERVAL_MS=1 MEMSWEEP_DB="$DB" \
        MEMSWEEP_RUN_ID="$run_id" LD_PRELOAD="$MS_SHIM" \
        "$FD" "$T/log$private" "$T/stop$private" >"$T/out" 2>"$T/err" &
    pid=$!
    track_pid "$pid"
    # A thousand 1 ms ticks take a second on an idle machine; two minutes is ample on a
    # busy one (a tick that is late is counted as not stored, and the next one taken).
    wait_for 120 ticks_written "$DB" "$pid" ||
        fail "private table $private: fewer than $TICKS ticks in $DB within 120 s (stderr: $(cat "$T/err"))"
    touch "$T/stop$private"
    RC=0
    wait "$pid" || RC=$?
    note "private table $private: $(cat "$T/out")"
    assert_empty "$T/err" "stderr of the program"
    assert_eq 0 "$RC" "exit status of the program"
    failed="$(awk '{ print $4 }' "$T/out")"
    writes="$(awk '{ print $2 }' "$T/out")"
    assert_eq 0 "$failed" "writes of the program that failed on its reused descriptor"
    assert_eq "$writes" "$(stat -c %s "$T/log$private")" "bytes in the program's file (one per write)"
    # The shim kept its bookkeeping: no more ticks than the process's life holds at 1 ms,
    # and every tick missing between written ones counted in unstored.
    check_ticks "$DB" 1 "private table $private" "p.pid = $pid"
done

pass
