# The database becomes unusable under a running program: its filesystem fills up, it is
# read-only, or the file is deleted. The program must run on exactly as without the shim;
# the shim keeps its readings, writes them once it can, counts those it could not keep
# (processes.unstored) and says why (processes.note), or, when it never can, says so in
# one line on stderr at exit. Full and read-only filesystems need a tmpfs mount; where
# this machine does not allow one, those parts are skipped with the reason printed.
#
# Each program holds until the test lets it go (--wait-file), once the database, or the
# shim's debug lines (MEMSWEEP_DEBUG=1, each starting "memsweep[PID]: "), show that what
# the part is about has happened; the counts checked are those the shim's bookkeeping
# guarantees whatever the machine's speed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export MEMSWEEP_ALLOC=0 # periodic readings only: every reading is a start, tick or end

# A database with its schema and run, made by a first short program, for the others to
# join (a run id makes the shim use the file as it is, never create one).
make_db() { # DB
    env MEMSWEEP_DB="$1" LD_PRELOAD="$MS_SHIM" "$WL" --mib 0 >/dev/null
    sql "$1" "SELECT run_id FROM runs"
}

# has_tick DB PID: the process PID has its row and a tick in DB.
has_tick() {
    db_has "$1" "SELECT count(*) FROM samples s JOIN processes p USING (proc_id)
                 WHERE p.pid = $2 AND s.kind = 'tick'"
}

# The debug line of each write the sampler attempted and could not make; the readings it
# held are kept for the next attempt.
FAILED_WRITE="could not write; the readings wait for the next attempt"

# failed_writes FILE PID: how many of PID's debug lines in FILE say a write failed.
failed_writes() {
    grep -cF "memsweep[$2]: $FAILED_WRITE" "$1" || true
}

# failed_at_least FILE PID N: at least N writes of PID have failed.
failed_at_least() {
    [ "$(failed_writes "$1" "$2")" -ge "$3" ]
}

# only_debug_lines FILE PID WHAT: FILE holds nothing but PID's debug lines.
only_debug_lines() {
    local other
    other="$(grep -vF "memsweep[$2]: " "$1" | head -n 5 || true)"
    [ -z "$other" ] || fail "$3: stderr holds more than the shim's debug lines: $other"
}

# ---- Deleted while the program runs --------------------------------------------------
run_id="$(make_db "$T/del.db")"
run_cmd plain "$WL" --mib 20 --print hello
env MEMSWEEP_DB="$T/del.db" MEMSWEEP_RUN_ID="$run_id" LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 20 --wait-file "$T/del.go" --print hello >"$T/del.out" 2>"$T/del.err" &
pid=$!
track_pid "$pid"
# Deleted once the shim has registered the process and written a tick (due 500 ms in):
# from then on the shim may not create the file anew.
wait_for 60 has_tick "$T/del.db" "$pid" || fail "no tick of pid $pid in the database within 60 s"
rm -f "$T/del.db" "$T/del.db-wal" "$T/del.db-shm"
touch "$T/del.go"
RC=0
wait "$pid" || RC=$?
assert_eq 0 "$RC" "exit status of the program whose database was deleted"
cmp -s "$T/plain.out" "$T/del.out" || fail "stdout differs from the run without the shim"
[ ! -e "$T/del.db" ] || fail "the shim created a new database where the deleted one was"
note "$(cat "$T/del.err")"
assert_eq 1 "$(wc -l <"$T/del.err")" "lines on stderr"
assert_contains "$T/del.err" "memsweep: $T/del.db: the database file was deleted; " "the shim's line"
assert_contains "$T/del.err" " of this process not stored" "the shim's line"
# The end reading at least could not be stored.
lost="$(sed -n 's/.*; \([0-9]*\) readings\{0,1\} of this process not stored$/\1/p' "$T/del.err")"
assert_ge "$lost" 1 "readings reported lost after the deletion"

# ---- Full and read-only filesystems (tmpfs) --------------------------------------------
M="$T/mnt"
mkdir "$M"
if ! mount -t tmpfs -o size=4m memsweep-test "$M" 2>"$T/mount.err"; then
    skip_part "full and read-only filesystems: cannot mount a tmpfs here ($(head -c 200 "$T/mount.err"))"
    pass
fi
_cleanup_mount() { umount "$M" 2>/dev/null || umount -l "$M" 2>/dev/null || true; }
trap '_cleanup_mount; _cleanup' EXIT

# Full: the program samples every 2 ms on a filesystem that is full from before it
# starts until the sampler has failed FULL_ATTEMPTS writes. The sampler holds at most 272
# readings (16 of its own and room for 256 allocation samples), so by then it has had to
# drop some: those must be counted, and the rest written once space is freed.
FULL_ATTEMPTS=500
run_id="$(make_db "$M/full.db")"
dd if=/dev/zero of="$M/filler" bs=64k 2>/dev/null || true # until ENOSPC
env MEMSWEEP_DEBUG=1 MEMSWEEP_INTERVAL_MS=2 MEMSWEEP_DB="$M/full.db" MEMSWEEP_RUN_ID="$run_id" \
    LD_PRELOAD="$MS_SHIM" "$WL" --mib 20 --wait-file "$T/full.go" --print hello \
    >"$T/full.out" 2>"$T/full.err" &
pid=$!
track_pid "$pid"
# An attempt every 2 ms takes a second on an idle machine; two minutes on a busy one.
wait_for 120 failed_at_least "$T/full.err" "$pid" "$FULL_ATTEMPTS" ||
    fail "fewer than $FULL_ATTEMPTS failed writes within 120 s on the full filesystem ($(failed_writes "$T/full.err" "$pid"))"
rm -f "$M/filler"
touch "$T/full.go"
RC=0
wait "$pid" || RC=$?
assert_eq 0 "$RC" "exit status of the program on a full filesystem"
cmp -s "$T/plain.out" "$T/full.out" || fail "stdout differs on a full filesystem"
# Everything is reported in the database: the shim says nothing on stderr beyond the
# debug lines asked for.
only_debug_lines "$T/full.err" "$pid" "full filesystem"
attempts="$(failed_writes "$T/full.err" "$pid")"
IFS='|' read -r unstored note_text <<<"$(sql "$M/full.db" "SELECT unstored, note FROM processes WHERE pid = $pid")"
note "full: $attempts failed writes, unstored $unstored, note '$note_text'"
case "$note_text" in
*"No space left on device"* | *"database or disk is full"*) ;;
*) fail "note of the process: expected it to say the disk was full, got '$note_text'" ;;
esac
P="proc_id = (SELECT proc_id FROM processes WHERE pid = $pid)"
assert_eq 1 "$(sql "$M/full.db" "SELECT count(*) FROM samples WHERE $P AND kind = 'end'")" \
    "end sample written after space came back"
# Each failed write held a reading taken since the one before (the start for the first,
# a tick for each later one), and a reading held is written or, if dropped, counted.
written="$(sql "$M/full.db" "SELECT count(*) FROM samples WHERE $P AND kind IN ('start', 'tick')")"
assert_ge "$((written + unstored))" "$attempts" \
    "start and ticks written plus readings counted as not stored, against the failed writes"
# Every tick missing between written ones is counted; unstored may count more (readings
# dropped while the database was unusable need not leave a gap between ticks).
check_ticks "$M/full.db" 2 "full" "p.pid = $pid" lower-only
# The advisory names the cause the database shows: writes failed, and the shim's note
# says why. Readings of processes without a note (none failed to write) are told apart.
run_cmd full_advise "$MS_BIN" advise "$M/full.db"
assert_eq 0 "$RC" "exit status of advise on the full filesystem's database"
failed="$(sql "$M/full.db" "SELECT coalesce(sum(unstored), 0) FROM processes WHERE note <> ''")"
late="$(sql "$M/full.db" "SELECT coalesce(sum(unstored), 0) FROM processes WHERE coalesce(note, '') = ''")"
assert_ge "$failed" 1 "readings of processes with a note"
want="Note: $failed readings were lost by processes whose writes to the database failed (the first reason noted: ${note_text:0:20}"
awk -v w="$want" 'index($0, w) == 1 { found = 1 } END { exit !found }' "$T/full_advise.out" ||
    fail "advise: no line starting '$want': $(grep '^Note: ' "$T/full_advise.out")"
if [ "$late" = 0 ]; then
    assert_eq 0 "$(grep -c 'no write to the database failed' "$T/full_advise.out")" \
        "advise: a note on readings lost without a failed write, where every loss had one"
else
    assert_contains "$T/full_advise.out" "Note: $late reading" "advise: readings lost without a failed write"
fi

# Read-only: nothing can be written at any point; one line at exit says how much was lost.
run_id="$(make_db "$M/ro.db")"
# A finished sweep is a single file; so is this one once its WAL is checkpointed away.
sql "$M/ro.db" "PRAGMA journal_mode=DELETE" >/dev/null
mount -o remount,ro "$M"
t0="$(now_ms)"
env MEMSWEEP_DEBUG=1 MEMSWEEP_DB="$M/ro.db" MEMSWEEP_RUN_ID="$run_id" LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 20 --wait-file "$T/ro.go" --print hello >"$T/ro.out" 2>"$T/ro.err" &
pid=$!
track_pid "$pid"
# Three failed writes: the start's and those of two ticks.
wait_for 60 failed_at_least "$T/ro.err" "$pid" 3 ||
    fail "fewer than 3 failed writes within 60 s on the read-only filesystem"
touch "$T/ro.go"
RC=0
wait "$pid" || RC=$?
life_ms=$(($(now_ms) - t0))
assert_eq 0 "$RC" "exit status of the program on a read-only filesystem"
cmp -s "$T/plain.out" "$T/ro.out" || fail "stdout differs on a read-only filesystem"
grep -vF "memsweep[$pid]: " "$T/ro.err" >"$T/ro.line" || true
note "$(cat "$T/ro.line")"
assert_eq 1 "$(wc -l <"$T/ro.line")" "lines on stderr besides the debug lines"
assert_contains "$T/ro.line" "memsweep: $M/ro.db: " "the shim's line names the database"
assert_contains "$T/ro.line" " of this process not stored" "the shim's line"
# Nothing could be stored. Each failed write held a reading of its own, and the end came
# after them; at most the start, the end and a tick for each 500 ms of the program's life
# (measured from outside, so longer than the life itself), and one for rounding.
attempts="$(failed_writes "$T/ro.err" "$pid")"
lost="$(sed -n 's/.*; \([0-9]*\) readings\{0,1\} of this process not stored$/\1/p' "$T/ro.line")"
note "read-only: $attempts failed writes in $life_ms ms, $lost readings reported lost"
assert_between "$lost" "$((attempts + 1))" "$((2 + life_ms / 500 + 1))" "readings reported lost"

pass
