# The database becomes unusable under a running program: its filesystem fills up, it is
# read-only, or the file is deleted. The program must run on exactly as without the shim;
# the shim keeps its readings, writes them once it can, counts those it could not keep
# (processes.unstored) and says why (processes.note), or, when it never can, says so in
# one line on stderr at exit. Full and read-only filesystems need a tmpfs mount; where
# this machine does not allow one, those parts are skipped with the reason printed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export MEMSWEEP_ALLOC=0 # ticks only, so that counts of readings are predictable

# A database with its schema and run, made by a first short program, for the others to
# join (a run id makes the shim use the file as it is, never create one).
make_db() { # DB
    env MEMSWEEP_DB="$1" LD_PRELOAD="$MS_SHIM" "$WL" --mib 0 >/dev/null
    sql "$1" "SELECT run_id FROM runs"
}

# ---- Deleted while the program runs --------------------------------------------------
run_id="$(make_db "$T/del.db")"
run_cmd plain "$WL" --mib 20 --hold-ms 1500 --print hello
env MEMSWEEP_DB="$T/del.db" MEMSWEEP_RUN_ID="$run_id" LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 20 --hold-ms 1500 --print hello >"$T/del.out" 2>"$T/del.err" &
pid=$!
track_pid "$pid"
sleep 0.7
rm -f "$T/del.db" "$T/del.db-wal" "$T/del.db-shm"
RC=0
wait "$pid" || RC=$?
assert_eq 0 "$RC" "exit status of the program whose database was deleted"
cmp -s "$T/plain.out" "$T/del.out" || fail "stdout differs from the run without the shim"
[ ! -e "$T/del.db" ] || fail "the shim created a new database where the deleted one was"
note "$(cat "$T/del.err")"
assert_eq 1 "$(wc -l <"$T/del.err")" "lines on stderr"
assert_contains "$T/del.err" "memsweep: $T/del.db: the database file was deleted; " "the shim's line"
assert_contains "$T/del.err" "readings of this process not stored" "the shim's line"

# ---- Full and read-only filesystems (tmpfs) --------------------------------------------
M="$T/mnt"
mkdir "$M"
if ! mount -t tmpfs -o size=4m memsweep-test "$M" 2>"$T/mount.err"; then
    skip_part "full and read-only filesystems: cannot mount a tmpfs here ($(head -c 200 "$T/mount.err"))"
    pass
fi
_cleanup_mount() { umount "$M" 2>/dev/null || umount -l "$M" 2>/dev/null || true; }
trap '_cleanup_mount; _cleanup' EXIT

# Full: the program samples every 2 ms while the filesystem is full for about a second.
# The sampler holds 272 readings: those it had to drop are counted, the rest are written
# once space is freed. (How many writes fail depends on whether SQLite can reuse pages
# of its WAL, so the test checks the sum, not the split.)
run_id="$(make_db "$M/full.db")"
dd if=/dev/zero of="$M/filler" bs=64k 2>/dev/null || true # until ENOSPC
env MEMSWEEP_INTERVAL_MS=2 MEMSWEEP_DB="$M/full.db" MEMSWEEP_RUN_ID="$run_id" \
    LD_PRELOAD="$MS_SHIM" "$WL" --mib 20 --hold-ms 2500 --print hello \
    >"$T/full.out" 2>"$T/full.err" &
pid=$!
track_pid "$pid"
sleep 1.2
rm -f "$M/filler"
RC=0
wait "$pid" || RC=$?
assert_eq 0 "$RC" "exit status of the program on a full filesystem"
cmp -s "$T/plain.out" "$T/full.out" || fail "stdout differs on a full filesystem"
assert_empty "$T/full.err" "stderr on a full filesystem (everything was reported in the database)"
IFS='|' read -r unstored note_text <<<"$(sql "$M/full.db" "SELECT unstored, note FROM processes WHERE pid = $pid")"
note "full: unstored $unstored, note '$note_text'"
case "$note_text" in
*"No space left on device"* | *"database or disk is full"*) ;;
*) fail "note of the process: expected it to say the disk was full, got '$note_text'" ;;
esac
ticks="$(sql "$M/full.db" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id) WHERE p.pid = $pid AND kind = 'tick'")"
# Written plus dropped covers the program's life at one reading per 2 ms: at least 2.5 s
# of holding, less what a loaded machine's scheduling delays take (a quarter, generously).
assert_ge "$((ticks + unstored))" 900 "ticks written plus readings dropped"
assert_eq 1 "$(sql "$M/full.db" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id) WHERE p.pid = $pid AND kind = 'end'")" \
    "end sample written after space came back"

# Read-only: nothing can be written at any point; one line at exit says how much was lost.
run_id="$(make_db "$M/ro.db")"
# A finished sweep is a single file; so is this one once its WAL is checkpointed away.
sql "$M/ro.db" "PRAGMA journal_mode=DELETE" >/dev/null
mount -o remount,ro "$M"
run_cmd ro env MEMSWEEP_DB="$M/ro.db" MEMSWEEP_RUN_ID="$run_id" LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 20 --hold-ms 1200 --print hello
assert_eq 0 "$RC" "exit status of the program on a read-only filesystem"
cmp -s "$T/plain.out" "$T/ro.out" || fail "stdout differs on a read-only filesystem"
note "$(cat "$T/ro.err")"
assert_eq 1 "$(wc -l <"$T/ro.err")" "lines on stderr"
# Nothing could be stored: start, the ticks of 1.2 s at 500 ms and the end.
lost="$(sed -n 's/.*; \([0-9]*\) readings of this process not stored$/\1/p' "$T/ro.err")"
assert_between "$lost" 3 6 "readings reported lost"
assert_contains "$T/ro.err" "memsweep: $M/ro.db: " "the shim's line names the database"
assert_contains "$T/ro.err" "readings of this process not stored" "the shim's line"

pass
