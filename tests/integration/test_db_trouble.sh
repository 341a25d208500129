# Where the records go becomes unusable. The shim never opens the database: a program
# measured alone whose spool directory is read-only runs unmeasured, exactly as without
# the shim, after one line saying so. memsweep, which alone writes the database, keeps
# what it cannot store yet and stores it once it can: the collector of `memsweep run`
# facing a database another connection keeps locked keeps its ticks and the spools and
# folds them once the lock is gone, after one line; `memsweep collect` facing a read-only
# database fails in one line and keeps the pools for the next collect. (A spool whose
# filesystem fills, or whose pool is deleted, is test_exit_spool_full.sh's.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export MEMSWEEP_ALLOC=0 # periodic readings only: every reading is a start, tick or end
run_ref plain "$WL" --mib 8 --print hello --exit 5
assert_eq 5 "$RC" "exit status without the shim"

note "the collector of memsweep run facing a locked database"
INTERVAL=50
"$MS_BIN" run -j 1 --interval-ms "$INTERVAL" -o "$T/lk" -- \
    "$WL" --mib 8 --print hello --wait-file "$T/lk.go" >"$T/lk.out" 2>"$T/lk.err" &
launcher=$!
track_pid "$launcher"
wait_for 120 db_has "$T/lk" "SELECT count(*) FROM samples WHERE kind = 'tick'" ||
    fail "no tick within 120 s (stderr: $(cat "$T/lk.err"))"
S="$(sweep_dir_of "$T/lk")"
DB="$S/memsweep.db"
# Another connection takes the write lock and keeps it until $T/lk.release exists; it
# writes the time it got the lock into $T/lk.held.
python3 - "$DB" "$T/lk.held" "$T/lk.release" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d\n" % time.time_ns())
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
while not os.path.exists(sys.argv[3]):
    time.sleep(0.01)
db.execute("ROLLBACK")
PY
locker=$!
track_pid "$locker"
wait_for 60 test -e "$T/lk.held" || fail "the other connection did not get the write lock"
held_ns="$(cat "$T/lk.held")"
# The collector says once that it could not fold (its busy handler gives up after 10 s).
locked_said() { grep -q 'database is locked' "$T/lk.err"; }
wait_for 300 locked_said || fail "memsweep run never said the database was locked: $(cat "$T/lk.err")"
release_ns="$(date +%s%N)"
touch "$T/lk.release"
wait "$locker" || fail "the lock holder failed"
touch "$T/lk.go"
RC=0
wait "$launcher" || RC=$?
assert_eq 0 "$RC" "exit status of memsweep run (stderr: $(cat "$T/lk.err"))"
grep -v '^memsweep: run 1/1 ok (exit 0) ' "$T/lk.err" >"$T/lk.lines" || true
note "$(cat "$T/lk.lines")"
assert_eq 1 "$(wc -l <"$T/lk.lines")" "memsweep: lines besides the run's"
assert_contains "$T/lk.lines" "memsweep: $DB: " "the line names the database"
assert_eq hello "$(cat "$S/logs/run-0001.out")" "the worker's stdout"
assert_empty "$S/logs/run-0001.err" "the worker's stderr"
# Nothing was lost: the ticks taken while no fold could commit are in the database, and
# the process has its start, its end and no reading counted as lost.
assert_ge "$(sql "$DB" "SELECT count(*) FROM samples WHERE kind = 'tick'
                        AND t_ns > $held_ns AND t_ns < $release_ns")" 1 \
    "ticks taken while the database was locked"
assert_eq "1|1|1" "$(sql "$DB" "SELECT (SELECT count(*) FROM samples WHERE kind = 'start'),
                                      (SELECT count(*) FROM samples WHERE kind = 'end'),
                                      count(*) FROM processes WHERE ended_ns IS NOT NULL")" \
    "start, end and exit record"
check_collector_ticks "$DB" "$INTERVAL" "locked"
[ ! -e "$S/spool" ] || fail "pools left after the sweep: $(ls -la "$S/spool")"

# ---- Read-only filesystems (tmpfs) ----------------------------------------------------
M="$T/mnt"
mkdir "$M"
if ! mount -t tmpfs -o size=4m,mode=0700 memsweep-test "$M" 2>"$T/mount.err"; then
    skip_part "read-only filesystems: cannot mount a tmpfs here ($(head -c 200 "$T/mount.err"))"
    pass
fi
_cleanup_mount() { umount "$M" 2>/dev/null || umount -l "$M" 2>/dev/null || true; }
trap '_cleanup_mount; _cleanup' EXIT

note "a program measured alone whose spool directory is read-only"
mount -o remount,ro "$M"
run_cmd ro env MEMSWEEP_DB="$T/ro.db" MEMSWEEP_SPOOL_DIR="$M/sp" LD_PRELOAD="$MS_SHIM" \
    "$WL" --mib 8 --print hello --exit 5
assert_eq 5 "$RC" "exit status with a read-only spool directory"
cmp -s "$T/plain.out" "$T/ro.out" || fail "stdout differs with a read-only spool directory"
note "$(cat "$T/ro.err")"
assert_eq 1 "$(wc -l <"$T/ro.err")" "lines on stderr"
grep -q "^memsweep: $M/sp: .*; not measuring\$" "$T/ro.err" ||
    fail "the shim's line: $(cat "$T/ro.err")"
[ ! -e "$T/ro.db" ] || fail "a database appeared"
mount -o remount,rw "$M"

note "memsweep collect facing a read-only database"
DB="$M/c.db"
SP="$T/sp"
mkdir -m 0700 "$SP"
export MEMSWEEP_SPOOL_DIR="$SP"
env MEMSWEEP_DB="$DB" LD_PRELOAD="$MS_SHIM" "$WL" --mib 8 >/dev/null
run_cmd c1 "$MS_BIN" collect "$DB"
assert_eq 0 "$RC" "the first collect (stderr: $(cat "$T/c1.err"))"
env MEMSWEEP_DB="$DB" LD_PRELOAD="$MS_SHIM" "$WL" --mib 8 >/dev/null
assert_eq 1 "$(find "$SP" -name '*.msp' | wc -l)" "pools pending"
mount -o remount,ro "$M"
run_cmd c2 "$MS_BIN" collect "$DB"
note "$(cat "$T/c2.err")"
assert_eq 1 "$RC" "exit status of collect on a read-only database"
assert_empty "$T/c2.out" "stdout of collect on a read-only database"
assert_eq 1 "$(wc -l <"$T/c2.err")" "lines on stderr of collect on a read-only database"
assert_contains "$T/c2.err" "memsweep: $DB" "the line names the database"
assert_eq 1 "$(find "$SP" -name '*.msp' | wc -l)" "pools kept by the failed collect"
# The readers include what is pending, without writing.
run_cmd adv "$MS_BIN" peaks --json "$DB"
assert_eq 0 "$RC" "peaks on the read-only database (stderr: $(cat "$T/adv.err"))"
assert_eq 2 "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["summary"]["RunsTotal"])' "$T/adv.out")" \
    "runs that peaks sees, the pending one included"
mount -o remount,rw "$M"
run_cmd c3 "$MS_BIN" collect "$DB"
assert_eq 0 "$RC" "collect once the database is writable (stderr: $(cat "$T/c3.err"))"
assert_eq 0 "$(find "$SP" -name '*.msp' | wc -l)" "pools left after the collect"
assert_eq "2|2|2" "$(sql "$DB" "SELECT count(*), sum(ended_ns IS NOT NULL),
                               (SELECT count(*) FROM samples WHERE kind = 'end') FROM processes")" \
    "processes, exit records and end samples"

pass
